"""Render a parsed Transcript as readable text, SubRip (SRT) and WebVTT.

Everything is a single linear pass over the words; cue layout only looks
back within the current cue (bounded size), so long recordings stay cheap.
"""

from __future__ import annotations

from dataclasses import dataclass

from transcription_pipeline.transcript import Transcript, is_sentence_end

__all__ = [
    "MAX_CUE_SECONDS",
    "MAX_LINES",
    "MAX_LINE_CHARS",
    "MIN_CHARS_BEFORE_SENTENCE_BREAK",
    "Cue",
    "Word",
    "build_cues",
    "format_clock",
    "group_words",
    "render_srt",
    "render_text",
    "render_vtt",
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


@dataclass(frozen=True, slots=True)
class Word:
    """A pronunciation item with the punctuation that follows it attached."""

    text: str
    content: str
    start: float
    end: float
    confidence: float | None
    speaker: str | None
    sentence_end: bool
    clause_end: bool


@dataclass(frozen=True, slots=True)
class Cue:
    start: float
    end: float
    lines: tuple[str, ...]


def group_words(t: Transcript) -> list[Word]:
    """Attach punctuation to words; give untimed words the previous word's end."""
    words: list[Word] = []
    # The word being assembled; it is emitted once its trailing punctuation is known.
    text = content = ""
    start = end = last_end = 0.0
    confidence: float | None = None
    speaker: str | None = None
    sentence_end = clause_end = False
    open_word = False
    prefix = ""
    for item in t.items:
        if item.kind == "punctuation":
            if open_word:
                text += item.content
                sentence_end = sentence_end or is_sentence_end(item)
                clause_end = True
            else:
                # Punctuation before any word leads the first word.
                prefix += item.content
            continue
        if open_word:
            words.append(
                Word(text, content, start, end, confidence, speaker, sentence_end, clause_end)
            )
        start = item.start if item.start is not None else last_end
        end = item.end if item.end is not None else start
        last_end = max(last_end, end)
        text, content = prefix + item.content, item.content
        confidence, speaker = item.confidence, item.speaker
        sentence_end = clause_end = False
        open_word = True
        prefix = ""
    if open_word:
        words.append(Word(text, content, start, end, confidence, speaker, sentence_end, clause_end))
    return words


def format_clock(seconds: float) -> str:
    """mm:ss, or h:mm:ss from one hour on (floored to the second)."""
    total = max(0, int(seconds))
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}:{minutes:02d}:{secs:02d}"
    return f"{minutes:02d}:{secs:02d}"


def render_text(t: Transcript) -> str:
    words = group_words(t)
    if not words:
        return ""
    paragraphs: list[str] = []
    current: list[str] = []
    prefix = ""
    sentences = 0
    prev: Word | None = None
    for word in words:
        if prev is None:
            new_paragraph = True
        elif t.labels is not None:
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
                f"[{format_clock(word.start)}] {word.speaker or 'unknown'}: "
                if t.labels is not None
                else ""
            )
        current.append(word.text)
        sentences += word.sentence_end
        prev = word
    paragraphs.append(prefix + " ".join(current))
    return "\n\n".join(paragraphs) + "\n"


def _line_count(lengths: list[int]) -> int:
    """Lines needed by greedy filling; greedy is minimal, so this decides fit.

    A word longer than a line occupies a line of its own.
    """
    lines = 0
    width = 0
    for length in lengths:
        if lines and width + 1 + length <= MAX_LINE_CHARS:
            width += 1 + length
        else:
            lines += 1
            width = length
    return lines


def _layout(words: list[Word]) -> tuple[str, ...]:
    """One line if it fits; else the most balanced valid two-line split,
    preferring to break after punctuation."""
    texts = [w.text for w in words]
    single = " ".join(texts)
    if len(single) <= MAX_LINE_CHARS or len(texts) == 1:
        return (single,)
    best: tuple[int, int] | None = None
    for j in range(1, len(texts)):
        first = " ".join(texts[:j])
        second = " ".join(texts[j:])
        ok_first = len(first) <= MAX_LINE_CHARS or j == 1
        ok_second = len(second) <= MAX_LINE_CHARS or j == len(texts) - 1
        if not (ok_first and ok_second):
            continue
        cost = abs(len(first) - len(second)) - (12 if words[j - 1].clause_end else 0)
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


def build_cues(t: Transcript) -> list[Cue]:
    groups: list[list[Word]] = []
    buf: list[Word] = []
    lengths: list[int] = []  # len(w.text) for buf, kept alongside to avoid recounting
    for word in group_words(t):
        if buf:
            prev = buf[-1]
            hard_break = (
                word.speaker != prev.speaker
                or word.start - prev.end >= CUE_PAUSE_SECONDS
                or (
                    prev.sentence_end
                    and sum(lengths) + len(lengths) - 1 >= MIN_CHARS_BEFORE_SENTENCE_BREAK
                )
            )
            if hard_break:
                groups.append(buf)
                buf, lengths = [], []
        size = len(word.text)
        while buf and (
            _line_count([*lengths, size]) > MAX_LINES or word.end - buf[0].start > MAX_CUE_SECONDS
        ):
            k = _split_point(buf)
            groups.append(buf[:k])
            buf, lengths = buf[k:], lengths[k:]
        buf.append(word)
        lengths.append(size)
    if buf:
        groups.append(buf)
    return _timed_cues(groups)


def _timed_cues(groups: list[list[Word]]) -> list[Cue]:
    """Turn word groups into cues with clamped, strictly forward times (in whole ms)."""
    raw = [(round(g[0].start * 1000), round(g[-1].end * 1000), _layout(g)) for g in groups]
    max_ms = round(MAX_CUE_SECONDS * 1000)
    min_ms = round(MIN_CUE_SECONDS * 1000)
    cues: list[Cue] = []
    prev_end = 0
    for index, (raw_start, raw_end, lines) in enumerate(raw):
        start = max(raw_start, prev_end)
        end = max(raw_end, start)
        next_start = raw[index + 1][0] if index + 1 < len(raw) else start + min_ms
        end = max(end, min(start + min_ms, next_start))
        end = min(end, start + max_ms)
        if end <= start:
            # Overlapping Transcribe timings: keep order with a 1 ms cue.
            end = start + 1
        cues.append(Cue(start / 1000, end / 1000, lines))
        prev_end = end
    return cues


def _timestamp(seconds: float, separator: str) -> str:
    ms = round(seconds * 1000)
    hours, rest = divmod(ms, 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    secs, millis = divmod(rest, 1000)
    return f"{hours:02d}:{minutes:02d}:{secs:02d}{separator}{millis:03d}"


def render_srt(t: Transcript) -> str:
    blocks = [
        f"{index}\n{_timestamp(cue.start, ',')} --> {_timestamp(cue.end, ',')}\n"
        + "\n".join(cue.lines)
        + "\n"
        for index, cue in enumerate(build_cues(t), start=1)
    ]
    return "\n".join(blocks)


def _vtt_escape(text: str) -> str:
    # WebVTT cue text treats & and < as markup; escaping > also rules out "-->".
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def render_vtt(t: Transcript) -> str:
    blocks = [
        f"{_timestamp(cue.start, '.')} --> {_timestamp(cue.end, '.')}\n"
        + "\n".join(_vtt_escape(line) for line in cue.lines)
        + "\n"
        for cue in build_cues(t)
    ]
    if not blocks:
        return "WEBVTT\n"
    return "WEBVTT\n\n" + "\n".join(blocks)
