"""Render words as readable text, and cues as SubRip (SRT) and WebVTT.

Everything is a single linear pass; cue layout only looks back within the current
cue (bounded size), so long recordings stay cheap. The words come from words.py,
grouped once per transcript; the cues are built once and serve both subtitle formats.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

from transcription_pipeline.transcript import LabelKind, Transcript
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

MAX_LINE_CHARS = 42
MAX_LINES = 2
MAX_CUE_SECONDS = 7.0
# A silence this long always starts a new cue, so text does not linger over it.
CUE_PAUSE_SECONDS = 1.0
# A shorter silence is still a good place to split when a cue is full.
SOFT_PAUSE_SECONDS = 0.3
# Very short cues flash; stretch them up to this, but never into the next cue.
MIN_CUE_SECONDS = 1.0
# A sentence end only closes a cue that already holds this much text, so
# "Yes." can share a cue with what follows.
MIN_CHARS_BEFORE_SENTENCE_BREAK = 16

PARAGRAPH_PAUSE_SECONDS = 2.0
PARAGRAPH_MAX_SENTENCES = 6


class Cue(NamedTuple):
    start: float  # seconds, whole milliseconds
    end: float
    lines: tuple[str, ...]
    speaker: str | None = None  # every cue holds one speaker's words


def text_from_words(words: Sequence[Word], labels: LabelKind | None) -> str:
    """Paragraphs: one per speaker turn with labels, else split at long pauses and every
    few sentences."""
    if not words:
        return ""
    labelled = labels is not None
    paragraphs: list[str] = []
    current: list[str] = []
    prefix = ""
    sentences = 0
    prev: Word | None = None
    for word in words:
        if prev is None:
            new_paragraph = True
        elif labelled:
            new_paragraph = word.speaker != prev.speaker
        else:
            new_paragraph = prev.sentence_end and (
                word.start - prev.end >= PARAGRAPH_PAUSE_SECONDS
                or sentences >= PARAGRAPH_MAX_SENTENCES
            )
        if new_paragraph:
            if current:
                paragraphs.append(prefix + " ".join(current))
            current, sentences = [], 0
            prefix = (
                f"[{format_clock(word.start)}] {word.speaker or 'unknown'}: " if labelled else ""
            )
        current.append(word.text)
        sentences += word.sentence_end
        prev = word
    paragraphs.append(prefix + " ".join(current))
    return "\n\n".join(paragraphs) + "\n"


def _greedy_lines(lengths: Sequence[int]) -> tuple[int, int]:
    """Lines needed by greedy filling, and the width of the last one.

    Greedy is minimal, so this decides whether words fit; a word longer than a
    line occupies a line of its own.
    """
    lines = width = 0
    for length in lengths:
        if lines and width + 1 + length <= MAX_LINE_CHARS:
            width += 1 + length
        else:
            lines += 1
            width = length
    return lines, width


def _layout(words: Sequence[Word]) -> tuple[str, ...]:
    """One line if it fits; else the most balanced valid two-line split,
    preferring to break after punctuation."""
    texts = [w.text for w in words]
    single = " ".join(texts)
    if len(single) <= MAX_LINE_CHARS or len(texts) == 1:
        return (single,)
    best: tuple[int, int] | None = None
    last = len(texts) - 1
    first_length = -1  # len(" ".join(texts[:j])), grown word by word
    for j in range(1, len(texts)):
        first_length += 1 + len(texts[j - 1])
        second_length = len(single) - first_length - 1
        ok_first = first_length <= MAX_LINE_CHARS or j == 1
        ok_second = second_length <= MAX_LINE_CHARS or j == last
        if not (ok_first and ok_second):
            continue
        cost = abs(first_length - second_length) - (12 if words[j - 1].clause_end else 0)
        if best is None or cost < best[0]:
            best = (cost, j)
    if best is None:
        # Unreachable when the caller kept the cue within two greedy lines.
        return (single,)
    j = best[1]
    return (" ".join(texts[:j]), " ".join(texts[j:]))


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


def build_cues(words: Sequence[Word]) -> tuple[Cue, ...]:
    """Subtitle cues: at most two lines of MAX_LINE_CHARS and MAX_CUE_SECONDS each, one
    speaker per cue, a new cue after a pause or (once it holds some text) a sentence."""
    groups: list[list[Word]] = []
    buf: list[Word] = []
    # Kept alongside buf so that no word recounts it: each text's length, the greedy
    # line filling (lines, width of the last one) and the width of the joined texts.
    lengths: list[int] = []
    lines = width = 0
    chars = -1
    # The previous word's fields, as locals: this loop runs once per word.
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
            buf, lengths = [], []
            lines = width = 0
            chars = -1
        size = len(text)
        while buf and (
            (lines if width + 1 + size <= MAX_LINE_CHARS else lines + 1) > MAX_LINES
            or end - buf[0].start > MAX_CUE_SECONDS
        ):
            k = _split_point(buf)
            groups.append(buf[:k])
            buf, lengths = buf[k:], lengths[k:]
            lines, width = _greedy_lines(lengths)
            chars = sum(lengths) + len(lengths) - 1
        buf.append(word)
        lengths.append(size)
        if lines and width + 1 + size <= MAX_LINE_CHARS:
            width += 1 + size
        else:
            lines += 1
            width = size
        chars += 1 + size
        prev_speaker, prev_end, prev_sentence_end = speaker, end, sentence_end
    if buf:
        groups.append(buf)
    return _timed_cues(groups)


def _timed_cues(groups: list[list[Word]]) -> tuple[Cue, ...]:
    """Turn word groups into cues with clamped, strictly forward times (in whole ms)."""
    raw = [
        (round(g[0].start * 1000), round(g[-1].end * 1000), _layout(g), g[0].speaker)
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


def srt_from_cues(cues: Sequence[Cue]) -> str:
    blocks = [
        f"{index}\n{_timestamp(cue.start, ',')} --> {_timestamp(cue.end, ',')}\n"
        + "\n".join(lines)
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


def vtt_from_cues(cues: Sequence[Cue]) -> str:
    blocks = [
        f"{_timestamp(start, '.')} --> {_timestamp(end, '.')}\n"
        + _voice(speaker)
        + "\n".join(_vtt_escape(line) for line in lines)
        + "\n"
        for start, end, lines, speaker in cues
    ]
    if not blocks:
        return "WEBVTT\n"
    return "WEBVTT\n\n" + "\n".join(blocks)


# One output of one transcript, for callers that want only that (tests, local tools).
# process.render_outputs groups the words and builds the cues once for all outputs.
def render_text(t: Transcript) -> str:
    return text_from_words(group_words(t.items), t.labels)


def render_srt(t: Transcript) -> str:
    return srt_from_cues(build_cues(group_words(t.items)))


def render_vtt(t: Transcript) -> str:
    return vtt_from_cues(build_cues(group_words(t.items)))
