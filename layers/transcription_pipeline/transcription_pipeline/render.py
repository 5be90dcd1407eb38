"""Render words as readable text, and cues as SubRip (SRT) and WebVTT.

Everything is a single linear pass; cue layout only looks back within the current
cue (bounded size), so long recordings stay cheap. The words come from words.py,
grouped once per transcript; the cues are built once and serve both subtitle formats.
How words are joined, how wide a line may be (in display columns) and whether lines
are right to left come from the transcript language's writing system (scripts.py);
every function takes it as the keyword ``writing``, LATIN (English layout) by default.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from typing import NamedTuple

from transcription_pipeline.scripts import (
    LATIN,
    RIGHT_TO_LEFT_MARK,
    WritingSystem,
    display_width,
    writing_system,
)
from transcription_pipeline.transcript import LabelKind, Transcript
from transcription_pipeline.turns import turns_of
from transcription_pipeline.words import Word, format_clock, group_words

__all__ = [
    "MAX_CUE_SECONDS",
    "MAX_LINES",
    "MAX_LINE_CHARS",
    "MIN_CHARS_BEFORE_SENTENCE_BREAK",
    "Cue",
    "build_cues",
    "render_srt",
    "render_text",
    "render_vtt",
    "srt_from_cues",
    "text_from_words",
    "vtt_from_cues",
]

# A line's width in display columns is the writing system's (scripts.py); this is the
# width of most scripts, LATIN's, kept for callers that read it.
MAX_LINE_CHARS = LATIN.max_line_width
MAX_LINES = 2
MAX_CUE_SECONDS = 7.0
# A silence this long always starts a new cue, so text does not linger over it.
CUE_PAUSE_SECONDS = 1.0
# A shorter silence is still a good place to split when a cue is full.
SOFT_PAUSE_SECONDS = 0.3
# Very short cues flash; stretch them up to this, but never into the next cue.
MIN_CUE_SECONDS = 1.0
# A sentence end only closes a cue that already holds this much text (display columns),
# so "Yes." can share a cue with what follows.
MIN_CHARS_BEFORE_SENTENCE_BREAK = 16


class Cue(NamedTuple):
    start: float  # seconds, whole milliseconds
    end: float
    lines: tuple[str, ...]
    speaker: str | None = None  # every cue holds one speaker's words


def text_from_words(
    words: Sequence[Word], labels: LabelKind | None, *, writing: WritingSystem = LATIN
) -> str:
    """Paragraphs: one per speaker turn with labels, else split at long pauses and every
    few sentences; words joined as the writing system joins them.

    No direction marks, even for right-to-left text: transcript.txt is the text people
    search, copy and feed to other tools, where invisible marks get in the way (a
    search for a word preceded by one fails). Editors that detect a plain-text
    paragraph's direction do it per paragraph from its first strong letter: the
    speech's own in an unlabelled paragraph; a labelled one reads as a left-to-right
    "[00:15] spk_1:" label followed by right-to-left runs, which stay in order.
    """
    if not words:
        return ""
    labelled = labels is not None
    paragraphs = [
        (f"[{format_clock(turn.start)}] {turn.speaker or 'unknown'}: " if labelled else "")
        + writing.join([word.text for word in turn.words])
        for turn in turns_of(words, labels)
    ]
    return "\n\n".join(paragraphs) + "\n"


def _greedy_lines(sizes: Sequence[int], gaps: Sequence[int], max_width: int) -> tuple[int, int]:
    """Lines needed by greedy filling, and the width of the last one.

    sizes are the words' display widths, gaps the widths of the separators before them
    (the first is not used). Greedy is minimal, so this decides whether words fit; a
    word wider than a line occupies a line of its own.
    """
    lines = width = 0
    for size, gap in zip(sizes, gaps, strict=True):
        if lines and width + gap + size <= max_width:
            width += gap + size
        else:
            lines += 1
            width = size
    return lines, width


def _layout(words: Sequence[Word], writing: WritingSystem) -> tuple[str, ...]:
    """One line if it fits; else the most balanced valid two-line split,
    preferring to break after punctuation. Widths in display columns."""
    texts = [w.text for w in words]
    single = writing.join(texts)
    max_width = writing.max_line_width
    if len(texts) == 1:
        return (single,)
    sizes = [len(t) if t.isascii() else display_width(t) for t in texts]
    # gaps[i]: the separator's width between texts[i] and texts[i + 1].
    if writing.joiner:
        gaps = [display_width(writing.joiner)] * (len(texts) - 1)
    else:
        gaps = [len(writing.separator(a, b)) for a, b in itertools.pairwise(texts)]
    total = sum(sizes) + sum(gaps)
    if total <= max_width:
        return (single,)
    best: tuple[int, int] | None = None
    last = len(texts) - 1
    first_width = 0  # display width of texts[:j] joined, grown word by word
    for j in range(1, len(texts)):
        first_width += (gaps[j - 2] if j > 1 else 0) + sizes[j - 1]
        second_width = total - first_width - gaps[j - 1]
        ok_first = first_width <= max_width or j == 1
        ok_second = second_width <= max_width or j == last
        if not (ok_first and ok_second):
            continue
        cost = abs(first_width - second_width) - (12 if words[j - 1].clause_end else 0)
        if best is None or cost < best[0]:
            best = (cost, j)
    if best is None:
        # Unreachable when the caller kept the cue within two greedy lines.
        return (single,)
    j = best[1]
    return (writing.join(texts[:j]), writing.join(texts[j:]))


def _split_point(buf: list[Word]) -> int:
    """How many leading words of a full cue to emit: the latest good break
    in the second half (sentence end > pause > clause end), else all."""
    best_rank, best_k = 0, len(buf)
    for k in range(len(buf) - 1, (len(buf) + 1) // 2 - 1, -1):
        if k <= 0:
            break
        word, following = buf[k - 1], buf[k]
        if word.sentence_end:
            rank = 3
        elif following.start - word.end >= SOFT_PAUSE_SECONDS:
            rank = 2
        elif word.clause_end:
            rank = 1
        else:
            rank = 0
        if rank > best_rank:
            best_rank, best_k = rank, k
    return best_k


def build_cues(words: Sequence[Word], *, writing: WritingSystem = LATIN) -> tuple[Cue, ...]:
    """Subtitle cues: at most two lines of the writing system's width and MAX_CUE_SECONDS
    each, one speaker per cue, a new cue after a pause or (once it holds some text) a
    sentence. Widths are display columns: a CJK character counts two, a mark none."""
    max_width = writing.max_line_width
    # Between two words: the joiner's width, or (no word spaces) 0 or 1, see separator.
    joiner_width = display_width(writing.joiner) if writing.joiner else None
    separator = writing.separator
    groups: list[list[Word]] = []
    buf: list[Word] = []
    # Kept alongside buf so that no word is measured again: each text's width and the
    # separator's before it, the greedy line filling (lines, width of the last one) and
    # the width of the buffered texts joined.
    sizes: list[int] = []
    gaps: list[int] = []
    lines = width = chars = 0
    # The previous word's fields, as locals: this loop runs once per word.
    prev_text = ""
    prev_speaker: str | None = None
    prev_end = 0.0
    prev_sentence_end = False
    for word in words:
        text, _, start, end, _, speaker, sentence_end, _ = word
        if buf and (
            speaker != prev_speaker
            or start - prev_end >= CUE_PAUSE_SECONDS
            or (prev_sentence_end and chars >= MIN_CHARS_BEFORE_SENTENCE_BREAK)
        ):
            groups.append(buf)
            buf, sizes, gaps = [], [], []
            lines = width = chars = 0
        # Inlined display_width's ASCII case: this loop runs once per word.
        size = len(text) if text.isascii() else display_width(text)
        gap = len(separator(prev_text, text)) if joiner_width is None else joiner_width
        while buf and (
            (lines if width + gap + size <= max_width else lines + 1) > MAX_LINES
            or end - buf[0].start > MAX_CUE_SECONDS
        ):
            k = _split_point(buf)
            groups.append(buf[:k])
            buf, sizes, gaps = buf[k:], sizes[k:], gaps[k:]
            lines, width = _greedy_lines(sizes, gaps, max_width)
            chars = sum(sizes) + sum(gaps[1:])
        if buf:
            chars += gap + size
        else:
            chars = size
        buf.append(word)
        sizes.append(size)
        gaps.append(gap)
        if lines and width + gap + size <= max_width:
            width += gap + size
        else:
            lines += 1
            width = size
        prev_text, prev_speaker, prev_end, prev_sentence_end = text, speaker, end, sentence_end
    if buf:
        groups.append(buf)
    return _timed_cues(groups, writing)


def _timed_cues(groups: list[list[Word]], writing: WritingSystem) -> tuple[Cue, ...]:
    """Turn word groups into cues with clamped, strictly forward times (in whole ms)."""
    raw = [
        (round(g[0].start * 1000), round(g[-1].end * 1000), _layout(g, writing), g[0].speaker)
        for g in groups
    ]
    max_ms = round(MAX_CUE_SECONDS * 1000)
    min_ms = round(MIN_CUE_SECONDS * 1000)
    cues: list[Cue] = []
    prev_end = 0
    for index, (raw_start, raw_end, lines, speaker) in enumerate(raw):
        start = max(raw_start, prev_end)
        end = max(raw_end, start)
        next_start = raw[index + 1][0] if index + 1 < len(raw) else start + min_ms
        end = max(end, min(start + min_ms, next_start))
        end = min(end, start + max_ms)
        if end <= start:
            # Overlapping Transcribe timings: keep order with a 1 ms cue.
            end = start + 1
        cues.append(Cue(start / 1000, end / 1000, lines, speaker))
        prev_end = end
    return tuple(cues)


def _timestamp(seconds: float, separator: str) -> str:
    ms = round(seconds * 1000)
    hours, rest = divmod(ms, 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    secs, millis = divmod(rest, 1000)
    return f"{hours:02d}:{minutes:02d}:{secs:02d}{separator}{millis:03d}"


def _srt_lines(cues: Sequence[Cue]) -> list[tuple[str, ...]]:
    """SubRip has no speaker markup: the speaker's name (or label) leads the first line of
    a cue where the speaker changes, as broadcast subtitles do."""
    shown: list[tuple[str, ...]] = []
    previous: str | None = None
    for cue in cues:
        lines = cue.lines
        if cue.speaker is not None and cue.speaker != previous:
            lines = (f"{cue.speaker}: {lines[0]}", *lines[1:])
        previous = cue.speaker
        shown.append(lines)
    return shown


def _line_start(writing: WritingSystem) -> str:
    """What starts every subtitle line: U+200F RIGHT-TO-LEFT MARK in right-to-left text.

    Players lay a line out in the direction of its first strong character (Unicode bidi
    rules P2/P3, https://www.unicode.org/reports/tr9/#P2; WebVTT treats each line of a
    cue as its own paragraph, https://www.w3.org/TR/webvtt1/#cue-text-rendering-rules).
    An Arabic or Hebrew line that starts with a number, a Latin word ("AWS"), a speaker
    label (spk_0) or punctuation would otherwise be laid out left to right, its words
    in the wrong order on screen. The mark is invisible and a strong right-to-left
    character, so the line is right to left whatever comes first.
    """
    return RIGHT_TO_LEFT_MARK if writing.right_to_left else ""


def srt_from_cues(cues: Sequence[Cue], *, writing: WritingSystem = LATIN) -> str:
    """SubRip; every line of right-to-left text starts with a right-to-left mark, the
    line led by a speaker's name too (before the name)."""
    mark = _line_start(writing)
    blocks = [
        f"{index}\n{_timestamp(cue.start, ',')} --> {_timestamp(cue.end, ',')}\n"
        + "\n".join([mark + line for line in lines] if mark else lines)
        + "\n"
        for index, (cue, lines) in enumerate(zip(cues, _srt_lines(cues), strict=True), start=1)
    ]
    return "\n".join(blocks)


def _vtt_escape(text: str) -> str:
    # WebVTT cue text treats & and < as markup; escaping > also rules out "-->".
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _voice(speaker: str | None) -> str:
    """A WebVTT voice span start (``<v Ana>``); the name may not hold '>' or a newline."""
    if speaker is None:
        return ""
    name = " ".join(_vtt_escape(speaker).split())
    return f"<v {name}>"


def vtt_from_cues(cues: Sequence[Cue], *, writing: WritingSystem = LATIN) -> str:
    """WebVTT; in right-to-left text every line starts with a right-to-left mark (after
    the ``<v name>`` tag, which is markup, not text)."""
    mark = _line_start(writing)
    blocks = [
        f"{_timestamp(start, '.')} --> {_timestamp(end, '.')}\n"
        + _voice(speaker)
        + "\n".join(mark + _vtt_escape(line) for line in lines)
        + "\n"
        for start, end, lines, speaker in cues
    ]
    if not blocks:
        return "WEBVTT\n"
    return "WEBVTT\n\n" + "\n".join(blocks)


# One output of one transcript, for callers that want only that (tests, local tools).
# process.render_outputs groups the words and builds the cues once for all outputs.
# The writing system is the transcript's language's.
def render_text(t: Transcript) -> str:
    return text_from_words(group_words(t.items), t.labels, writing=writing_system(t.language_code))


def render_srt(t: Transcript) -> str:
    writing = writing_system(t.language_code)
    return srt_from_cues(build_cues(group_words(t.items), writing=writing), writing=writing)


def render_vtt(t: Transcript) -> str:
    writing = writing_system(t.language_code)
    return vtt_from_cues(build_cues(group_words(t.items), writing=writing), writing=writing)
