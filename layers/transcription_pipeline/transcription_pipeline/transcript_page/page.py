"""transcript.html: the transcript as one self-contained page.

Pure: from a Summary and the turns to a string. Deterministic (the same input gives the
same bytes) and linear in the number of words. Every transcript-derived text is
HTML-escaped; none goes into the script, which reads the page's markup only.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterator, Sequence
from html import escape
from importlib import resources

from transcription_pipeline.chapters import Chapter
from transcription_pipeline.model_summary.types import ModelSummary
from transcription_pipeline.scripts import WritingSystem, writing_system
from transcription_pipeline.summary import Summary, shown_chapters
from transcription_pipeline.turns import Turn
from transcription_pipeline.words import Word, format_clock

__all__ = ["CONTENT_SECURITY_POLICY", "SPEAKER_COLOURS", "render_transcript_page"]

# Nothing but the page itself: inline style and script, the attached recording (a blob:
# URL) or the one beside the page, and the data: favicon that stops a /favicon.ico
# request. base-uri and form-action are not covered by default-src.
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; "
    "media-src blob: file: 'self'; img-src data:; base-uri 'none'; form-action 'none'"
)

# Speaker colours, in order of the summary's speakers: each has a contrast of at least
# 4.5:1 on white and on the bar's #f6f8fa (WCAG 2 AA for text). The names are always
# written too: colour is never the only cue.
SPEAKER_COLOURS = (
    "#1f5fa8",  # blue
    "#b3261e",  # red
    "#2e7d32",  # green
    "#7b1fa2",  # purple
    "#9a5400",  # brown
    "#00796b",  # teal
    "#c2185b",  # pink
    "#283593",  # indigo
    "#6d6100",  # olive
    "#5d4037",  # dark brown
)

_LANGUAGE_TAG = re.compile(r"[A-Za-z]{2,3}(?:-[A-Za-z0-9]{1,8})*")


@functools.cache
def _asset(name: str) -> str:
    text = resources.files(__package__).joinpath(name).read_text(encoding="utf-8")
    # Neither may close its own element early.
    if "</script" in text.lower() or "</style" in text.lower():
        raise ValueError(f"{name} closes its element")
    return text


def _text(text: str) -> str:
    return escape(text, quote=False)


def _attr(text: str) -> str:
    return escape(text, quote=True)


def _seconds(seconds: float) -> str:
    """A data-t value: seconds with at most two decimals (Transcribe's precision), no
    quotes needed (digits and a dot)."""
    return f"{max(0.0, seconds):.2f}".rstrip("0").rstrip(".")


def _timestamp(seconds: float) -> str:
    clock = format_clock(seconds)
    return (
        f'<button type="button" class="ts" data-t={_seconds(seconds)} '
        f'aria-label="Play from {clock}">{clock}</button>'
    )


def _language_attrs(language: str | None, right_to_left: bool | None = None) -> str:
    """lang, and dir="rtl" for right-to-left text (by default, as the language is
    written), for an element holding text in that language."""
    if right_to_left is None:
        right_to_left = writing_system(language).right_to_left
    direction = ' dir="rtl"' if right_to_left else ""
    if not language or not _LANGUAGE_TAG.fullmatch(language):
        return direction
    return f' lang="{_attr(language)}"{direction}'


def _page_title(summary: Summary) -> str:
    key = summary.source.key
    name = key.rsplit("/", 1)[-1] if key else ""
    return summary.title or name or summary.job_name or "Transcript"


def _speaker_classes(summary: Summary, turns: Sequence[Turn]) -> dict[str, str]:
    """Speaker -> CSS class (s0, s1, ...): the summary's order, then any other speaker
    in order of appearance; the colours repeat beyond SPEAKER_COLOURS."""
    order: dict[str, None] = dict.fromkeys(share.label for share in summary.speakers)
    for turn in turns:
        if turn.speaker is not None and turn.speaker not in order:
            order[turn.speaker] = None
    return {speaker: f"s{index}" for index, speaker in enumerate(order)}


def _speaker_css(classes: dict[str, str]) -> str:
    return "".join(
        f".s{index}{{--c:{SPEAKER_COLOURS[index % len(SPEAKER_COLOURS)]}}}"
        for index in range(len(classes))
    )


def _facts(summary: Summary) -> str:
    facts = [f"Duration {format_clock(summary.duration_seconds)}"]
    if summary.language_code:
        facts.append(f"Language {_text(summary.language_code)}")
    facts.append(f"{summary.word_count:,} words")
    if summary.speakers:
        facts.append(f"{len(summary.speakers)} speakers")
    if summary.model_summary is not None and summary.model_usage is not None:
        facts.append(f"Summary by Amazon Bedrock ({_text(summary.model_usage.model_id)})")
    badge = ' <span class="badge">Redacted</span>' if summary.redacted else ""
    return f'<p class="facts">{" · ".join(facts)}{badge}</p>'


def _model_summary(model: ModelSummary, fallback_language: str | None) -> Iterator[str]:
    # The model names the language it wrote in, as a code or a name: a code only is a lang.
    language = model.language
    if not language or not _LANGUAGE_TAG.fullmatch(language):
        language = fallback_language
    yield f"<div{_language_attrs(language)}>"
    for paragraph in model.summary.split("\n\n"):
        if paragraph.strip():
            yield f"<p>{_text(paragraph.strip())}</p>"
    if model.key_points:
        yield "<h3>Key points</h3><ul>"
        yield from (f"<li>{_text(point)}</li>" for point in model.key_points)
        yield "</ul>"
    if model.action_items:
        yield "<h3>Action items</h3><ul>"
        for item in model.action_items:
            owner = f' <span class="owner">({_text(item.owner)})</span>' if item.owner else ""
            yield f"<li>{_text(item.text)}{owner}</li>"
        yield "</ul>"
    yield "</div>"


def _summary_block(
    summary: Summary, chapters: Sequence[Chapter], classes: dict[str, str], right_to_left: bool
) -> Iterator[str]:
    language = _language_attrs(summary.language_code, right_to_left)
    yield '<section class="summary" aria-labelledby="summary-heading">'
    yield '<h2 id="summary-heading">Summary</h2>'
    if summary.model_summary is not None:
        yield from _model_summary(summary.model_summary, summary.language_code)
    if summary.highlights:
        yield f'<h3>Highlights</h3><ul class="highlights"{language}>'
        for highlight in summary.highlights:
            who = ""
            if highlight.speaker is not None:
                css = " ".join(filter(None, ("who", classes.get(highlight.speaker))))
                who = f' <span class="{css}">{_text(highlight.speaker)}</span>'
            yield f"<li>{_timestamp(highlight.start_seconds)}{who} {_text(highlight.text)}</li>"
        yield "</ul>"
    if chapters:
        yield '<h3 id="chapters-heading">Chapters</h3>'
        yield f'<nav aria-labelledby="chapters-heading"><ol class="chapters"{language}>'
        for number, chapter in enumerate(chapters, 1):
            yield (
                f"<li>{_timestamp(chapter.start_seconds)} "
                f'<a href="#chapter-{number}">{_text(chapter.title)}</a></li>'
            )
        yield "</ol></nav>"
    if summary.speakers:
        yield '<h3>Speakers</h3><ul class="speakers">'
        for share in summary.speakers:
            yield (
                f'<li class="{classes[share.label]}"><span class="swatch"></span>'
                f'<span class="who">{_text(share.label)}</span>: '
                f"{format_clock(share.talk_time_seconds)} talk time, "
                f"{share.word_count:,} words ({share.share:.0%})</li>"
            )
        yield "</ul>"
    if summary.keywords:
        yield f'<h3>Keywords</h3><ul class="keywords"{language}>'
        yield from (
            f'<li><button type="button" class="kw" title="Search">{_text(keyword)}</button></li>'
            for keyword in summary.keywords
        )
        yield "</ul>"
    yield "</section>"


def _words(words: Sequence[Word], writing: WritingSystem, escaped: dict[str, str]) -> str:
    """One span per word with its start time; the joiner (or none) between words.

    The hot loop of a long page (36,000 words in 4 hours): no call per word but the
    formatting; ``escaped`` keeps each distinct word's escaped text (speech repeats its
    words), shared by all the turns of one page.
    """
    parts: list[str] = []
    append = parts.append
    joiner = writing.joiner
    separator = writing.separator
    previous = ""
    for word in words:
        text = word.text
        if previous:
            append(joiner or separator(previous, text))
        safe = escaped.get(text)
        if safe is None:
            safe = escaped[text] = escape(text, False)
        seconds = f"{word.start:.2f}".rstrip("0").rstrip(".")  # as _seconds
        append(f"<span data-t={seconds}>{safe}</span>")
        previous = text
    return "".join(parts)


def _turn(
    speaker: str | None,
    words: Sequence[Word],
    css: str,
    writing: WritingSystem,
    escaped: dict[str, str],
) -> str:
    who = f' <span class="who">{_text(speaker)}</span>' if speaker is not None else ""
    turn_class = f"turn {css}" if css else "turn"
    return (
        f'<div class="{turn_class}"><p class="head">{_timestamp(words[0].start)}{who}</p>'
        f'<p class="words">{_words(words, writing, escaped)}</p></div>'
    )


def _chapter_heading(number: int, chapter: Chapter) -> str:
    return (
        f'<h3 class="chapter" id="chapter-{number}" tabindex="-1">'
        f"{_timestamp(chapter.start_seconds)} {_text(chapter.title)}</h3>"
    )


def _transcript(
    turns: Sequence[Turn],
    chapters: Sequence[Chapter],
    classes: dict[str, str],
    writing: WritingSystem,
) -> Iterator[str]:
    """The turns, a chapter heading before the word each chapter starts at: a chapter
    starting inside a turn splits it (the rest keeps the speaker, with its own time)."""
    starts = [chapter.start_seconds for chapter in chapters]
    next_chapter = 0
    escaped: dict[str, str] = {}
    for turn in turns:
        css = classes.get(turn.speaker, "") if turn.speaker is not None else ""
        piece: list[Word] = []
        for word in turn.words:
            while next_chapter < len(starts) and starts[next_chapter] <= word.start:
                if piece:
                    yield _turn(turn.speaker, piece, css, writing, escaped)
                    piece = []
                yield _chapter_heading(next_chapter + 1, chapters[next_chapter])
                next_chapter += 1
            piece.append(word)
        if piece:
            yield _turn(turn.speaker, piece, css, writing, escaped)
    for number in range(next_chapter, len(chapters)):  # chapters after the last word
        yield _chapter_heading(number + 1, chapters[number])


def _controls(media_name: str) -> Iterator[str]:
    yield '<div class="bar"><div class="bar-inner">'
    yield '<div class="player" role="region" aria-label="Recording">'
    # No src: the file beside the page is asked for on the first play (page.js).
    yield (
        f'<video id="player" controls playsinline preload="metadata" hidden '
        f'data-media="{_attr(media_name)}"></video>'
    )
    yield (
        '<div class="attach"><label for="media-file">Attach the recording</label> '
        '<input type="file" id="media-file" accept="audio/*,video/*"> '
        '<span class="hint">It stays on this computer: nothing is uploaded.</span></div>'
    )
    yield (
        '<label class="follow"><input type="checkbox" id="follow" checked> '
        "Follow the playback</label>"
    )
    yield '<p id="player-status" class="status" role="status"></p></div>'
    yield (
        '<div class="search" role="search"><label for="search">Search</label>'
        '<input type="search" id="search" autocomplete="off" spellcheck="false" '
        'aria-describedby="search-count">'
        '<button type="button" id="search-prev" aria-label="Previous match">&uarr; Prev</button>'
        '<button type="button" id="search-next" aria-label="Next match">&darr; Next</button>'
        '<span id="search-count" class="count" role="status"></span></div>'
    )
    yield "</div></div>"


def render_transcript_page(
    summary: Summary,
    turns: Sequence[Turn],
    *,
    writing: WritingSystem,
    media_name: str,
) -> str:
    """transcript.html: title, summary, player, search and the transcript, inline CSS and
    JS only (no request to any host). ``media_name``: the recording's file name, played
    when the page sits beside it; otherwise the reader attaches it."""
    title = _page_title(summary)
    spoken = not summary.no_speech and any(turn.words for turn in turns)
    chapters = shown_chapters(summary) if spoken else ()
    classes = _speaker_classes(summary, turns)
    parts = [
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n',
        f'<meta http-equiv="Content-Security-Policy" content="{CONTENT_SECURITY_POLICY}">\n',
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n',
        '<meta name="referrer" content="no-referrer">\n<link rel="icon" href="data:,">\n',
        f"<title>{_text(title)} · transcript</title>\n",
        f"<style>\n{_asset('page.css')}{_speaker_css(classes)}\n</style>\n</head>\n<body>\n",
        '<a class="skip" href="#transcript-heading">Skip to the transcript</a>\n',
        f'<header class="page-head"><h1>{_text(title)}</h1>{_facts(summary)}</header>\n',
    ]
    if spoken:
        parts += [*_controls(media_name), "\n"]
    parts.append("<main>\n")
    if spoken:
        parts += [*_summary_block(summary, chapters, classes, writing.right_to_left), "\n"]
    parts.append('<section aria-labelledby="transcript-heading">')
    parts.append('<h2 id="transcript-heading" tabindex="-1">Transcript</h2>\n')
    if spoken:
        language = _language_attrs(summary.language_code, writing.right_to_left)
        parts.append(f'<div id="turns"{language}>\n')
        parts += [line + "\n" for line in _transcript(turns, chapters, classes, writing)]
        parts.append("</div>")
    else:
        parts.append('<p class="no-speech">No speech was detected in this recording.</p>')
    parts.append("</section>\n</main>\n")
    if spoken:
        parts.append(f"<script>\n{_asset('page.js')}</script>\n")
    parts.append("</body>\n</html>\n")
    return "".join(parts)
