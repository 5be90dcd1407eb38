"""How well subtitles read: measures over words and cues, and the cue builders compared.

    python -m bench.subtitle_quality      # the table per input and builder

Three measures, each a plain function of the words and the cues built from them (the
cues are matched back to the words by their text, so any builder's cues can be
measured, Amazon Transcribe's own included):

(a) break_misses: of the cue ends where a break point (punctuation, a pause of
    BREAK_PAUSE_SECONDS, a speaker change) lay within the limits of the cue (two lines
    of the writing system's width, MAX_CUE_SECONDS, one speaker), the share that do not
    end on one. Goal: at most 5 %.
(b) reading_speed: the share of cues shown faster than MAX_CHARS_PER_SECOND, raw and
    beyond what the speech forces; a cue is forced when its text could not be read at
    that speed even if it stayed up until the next word is spoken (or MAX_CUE_SECONDS).
    Goal: at most 2 % beyond forced.
(c) function_word_line_ends: lines (cue ends included) that end on an article, a
    preposition or a conjunction (render.function_words).

The builders: render.build_cues ("after"), a copy of the build_cues this project had
before the segmentation was reworked ("before", kept here as the baseline) and a greedy
splitter that fills lines to the limit without looking back ("greedy").
"""

from __future__ import annotations

import itertools
import math
import re
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import NamedTuple

from transcription_pipeline.render import Cue, build_cues, function_words
from transcription_pipeline.scripts import LATIN, WritingSystem, display_width, writing_system
from transcription_pipeline.transcript import parse_transcript
from transcription_pipeline.words import Word, group_words

REPO = Path(__file__).resolve().parent.parent
FIXTURES = REPO / "tests" / "fixtures" / "transcribe"
DEMO_OUTPUT = REPO / "demo-output"

MAX_LINES = 2
MAX_CUE_SECONDS = 7.0
MAX_CHARS_PER_SECOND = 20
BREAK_PAUSE_SECONDS = 0.25
_EPSILON = 1e-6  # times are whole milliseconds: 41 characters in 2.050 s is 20 a second

CueBuilder = Callable[[Sequence[Word], WritingSystem, "str | None"], tuple[Cue, ...]]


# -- matching cues to words ---------------------------------------------------------
class CueWords(NamedTuple):
    """The words a cue shows: words[first:stop]; each line ends before line_stops[k]."""

    first: int
    stop: int
    line_stops: tuple[int, ...]


_INVISIBLE = re.compile(r"[\s\u200e\u200f]")


def cue_words(words: Sequence[Word], cues: Sequence[Cue]) -> list[CueWords]:
    """Which words each cue and each of its lines shows, matched by text (spaces and
    direction marks aside), in order; ValueError when the cues do not hold the words."""
    spans: list[CueWords] = []
    index = 0
    for cue in cues:
        first = index
        line_stops = []
        for line in cue.lines:
            wanted = _INVISIBLE.sub("", line)
            taken = ""
            while len(taken) < len(wanted) and index < len(words):
                taken += _INVISIBLE.sub("", words[index].text)
                index += 1
            if taken != wanted:
                raise ValueError(f"cue at {cue.start:.3f} s does not match the words")
            line_stops.append(index)
        spans.append(CueWords(first, index, tuple(line_stops)))
    if index != len(words):
        raise ValueError(f"the cues hold {index} of {len(words)} words")
    return spans


# -- the limits and the break points -------------------------------------------------
def is_break(words: Sequence[Word], boundary: int) -> bool:
    """Whether the point before words[boundary] is a break: punctuation, a pause of
    BREAK_PAUSE_SECONDS, or a speaker change. The end of the words is one."""
    if boundary >= len(words):
        return True
    before, after = words[boundary - 1], words[boundary]
    return (
        before.clause_end
        or after.start - before.end >= BREAK_PAUSE_SECONDS
        or after.speaker != before.speaker
    )


def last_end_within_limits(words: Sequence[Word], first: int, writing: WritingSystem) -> int:
    """The largest stop such that words[first:stop] fits one cue: MAX_LINES greedy lines
    of the writing system's width (a word wider than a line takes one of its own),
    MAX_CUE_SECONDS from its first word's start to its last word's end, one speaker."""
    max_width = writing.max_line_width
    lines, width = 1, display_width(words[first].text)
    stop = first + 1
    while stop < len(words):
        word, previous = words[stop], words[stop - 1]
        if word.speaker != words[first].speaker:
            break
        if word.end - words[first].start > MAX_CUE_SECONDS:
            break
        size = display_width(word.text)
        gap = display_width(writing.separator(previous.text, word.text))
        if width + gap + size <= max_width:
            width += gap + size
        else:
            lines, width = lines + 1, size
        if lines > MAX_LINES:
            break
        stop += 1
    return stop


# -- (a) cue ends on break points ----------------------------------------------------
class BreakScore(NamedTuple):
    cue_ends: int  # every cue end but the last cue's
    counted: int  # those where a break point lay within the cue's limits
    missed: int  # counted, but not ending on a break point

    @property
    def missed_percent(self) -> float:
        return 100.0 * self.missed / self.counted if self.counted else 0.0


def break_misses(
    words: Sequence[Word], cues: Sequence[Cue], *, writing: WritingSystem = LATIN
) -> BreakScore:
    """(a): cue ends not on a break point, where one lay within the cue's limits."""
    spans = cue_words(words, cues)
    counted = missed = 0
    for span in spans[:-1]:
        on_break = is_break(words, span.stop)
        reach = max(last_end_within_limits(words, span.first, writing), span.stop)
        existed = on_break or any(is_break(words, k) for k in range(span.first + 1, reach + 1))
        if existed:
            counted += 1
            missed += not on_break
    return BreakScore(max(len(spans) - 1, 0), counted, missed)


# -- (b) reading speed ---------------------------------------------------------------
class SpeedScore(NamedTuple):
    cues: int
    over: int  # shown faster than MAX_CHARS_PER_SECOND
    forced: int  # spoken too fast to be read at that speed whatever the timing
    over_not_forced: int

    @property
    def over_percent(self) -> float:
        return 100.0 * self.over / self.cues if self.cues else 0.0

    @property
    def beyond_forced_percent(self) -> float:
        return 100.0 * self.over_not_forced / self.cues if self.cues else 0.0


def cue_characters(cue: Cue, writing: WritingSystem) -> int:
    """What a viewer reads: the lines' display columns, a line break counted as the
    separator it replaces (a space, or nothing in scripts without word spaces)."""
    breaks = (len(cue.lines) - 1) * display_width(writing.joiner)
    return sum(map(display_width, cue.lines)) + breaks


def reading_speed(
    words: Sequence[Word], cues: Sequence[Cue], *, writing: WritingSystem = LATIN
) -> SpeedScore:
    """(b): cues over MAX_CHARS_PER_SECOND, and how many of them the speech forced."""
    spans = cue_words(words, cues)
    over = forced = over_not_forced = 0
    for cue, span in zip(cues, spans, strict=True):
        chars = cue_characters(cue, writing)
        too_fast = chars > MAX_CHARS_PER_SECOND * (cue.end - cue.start) + _EPSILON
        following = words[span.stop].start if span.stop < len(words) else math.inf
        available = min(following - words[span.first].start, MAX_CUE_SECONDS)
        must = chars > MAX_CHARS_PER_SECOND * available + _EPSILON
        over += too_fast
        forced += must
        over_not_forced += too_fast and not must
    return SpeedScore(len(cues), over, forced, over_not_forced)


# -- (c) line ends on function words -------------------------------------------------
class LineEndScore(NamedTuple):
    lines: int
    on_function_word: int

    @property
    def percent(self) -> float:
        return 100.0 * self.on_function_word / self.lines if self.lines else 0.0


def function_word_line_ends(
    words: Sequence[Word], cues: Sequence[Cue], *, language_code: str | None = None
) -> LineEndScore:
    """(c): lines ending on a function word of the language (no punctuation after it)."""
    vocabulary = function_words(language_code)
    lines = on_function_word = 0
    for span in cue_words(words, cues):
        for stop in span.line_stops:
            last = words[stop - 1]
            lines += 1
            on_function_word += not last.clause_end and last.content.lower() in vocabulary
    return LineEndScore(lines, on_function_word)


class SubtitleQuality(NamedTuple):
    breaks: BreakScore
    speed: SpeedScore
    line_ends: LineEndScore


def subtitle_quality(
    words: Sequence[Word],
    cues: Sequence[Cue],
    *,
    writing: WritingSystem = LATIN,
    language_code: str | None = None,
) -> SubtitleQuality:
    """All three measures of one set of cues."""
    return SubtitleQuality(
        break_misses(words, cues, writing=writing),
        reading_speed(words, cues, writing=writing),
        function_word_line_ends(words, cues, language_code=language_code),
    )


# -- the builders compared -----------------------------------------------------------
def build_after(
    words: Sequence[Word], writing: WritingSystem, language_code: str | None
) -> tuple[Cue, ...]:
    """render.build_cues, as the pipeline calls it."""
    return build_cues(words, writing=writing, language_code=language_code)


def build_greedy(
    words: Sequence[Word], writing: WritingSystem, language_code: str | None = None
) -> tuple[Cue, ...]:
    """Fill each line to the width, MAX_LINES lines a cue; a new cue only when the next
    word does not fit, would pass MAX_CUE_SECONDS or is another speaker's. No look-back,
    no pauses, the words' own times (strictly forward)."""
    del language_code  # greedy knows no words
    max_width = writing.max_line_width
    groups: list[list[list[Word]]] = []  # cues of lines of words
    widths: list[int] = []  # of the current cue's last line
    for word in words:
        size = display_width(word.text)
        cue = groups[-1] if groups else None
        if cue is not None and (
            word.speaker != cue[0][0].speaker or word.end - cue[0][0].start > MAX_CUE_SECONDS
        ):
            cue = None
        if cue is not None:
            gap = display_width(writing.separator(cue[-1][-1].text, word.text))
            if widths[-1] + gap + size <= max_width:
                cue[-1].append(word)
                widths[-1] += gap + size
                continue
            if len(cue) < MAX_LINES:
                cue.append([word])
                widths[-1] = size
                continue
        groups.append([[word]])
        widths.append(size)
    cues: list[Cue] = []
    previous_end = 0
    for cue_lines in groups:
        start = max(round(cue_lines[0][0].start * 1000), previous_end)
        end = max(round(cue_lines[-1][-1].end * 1000), start + 1)
        lines = tuple(writing.join([w.text for w in line]) for line in cue_lines)
        cues.append(Cue(start / 1000, end / 1000, lines, cue_lines[0][0].speaker))
        previous_end = end
    return tuple(cues)


# The previous render.build_cues, copied unchanged but for names (it is the baseline):
# a cue was cut where the 42-column / 2-line / 7-s limit was reached, at the latest good
# break in the second half of the full cue.
_BEFORE_CUE_PAUSE_SECONDS = 1.0
_BEFORE_SOFT_PAUSE_SECONDS = 0.3
_BEFORE_MIN_CUE_SECONDS = 1.0
_BEFORE_MIN_CHARS_BEFORE_SENTENCE_BREAK = 16


def _before_greedy_lines(
    sizes: Sequence[int], gaps: Sequence[int], max_width: int
) -> tuple[int, int]:
    lines = width = 0
    for size, gap in zip(sizes, gaps, strict=True):
        if lines and width + gap + size <= max_width:
            width += gap + size
        else:
            lines += 1
            width = size
    return lines, width


def _before_layout(words: Sequence[Word], writing: WritingSystem) -> tuple[str, ...]:
    texts = [w.text for w in words]
    single = writing.join(texts)
    max_width = writing.max_line_width
    if len(texts) == 1:
        return (single,)
    sizes = [len(t) if t.isascii() else display_width(t) for t in texts]
    if writing.joiner:
        gaps = [display_width(writing.joiner)] * (len(texts) - 1)
    else:
        gaps = [len(writing.separator(a, b)) for a, b in itertools.pairwise(texts)]
    total = sum(sizes) + sum(gaps)
    if total <= max_width:
        return (single,)
    best: tuple[int, int] | None = None
    last = len(texts) - 1
    first_width = 0
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
        return (single,)
    j = best[1]
    return (writing.join(texts[:j]), writing.join(texts[j:]))


def _before_split_point(buf: list[Word]) -> int:
    best_rank, best_k = 0, len(buf)
    for k in range(len(buf) - 1, (len(buf) + 1) // 2 - 1, -1):
        if k <= 0:
            break
        word, following = buf[k - 1], buf[k]
        if word.sentence_end:
            rank = 3
        elif following.start - word.end >= _BEFORE_SOFT_PAUSE_SECONDS:
            rank = 2
        elif word.clause_end:
            rank = 1
        else:
            rank = 0
        if rank > best_rank:
            best_rank, best_k = rank, k
    return best_k


def build_before(
    words: Sequence[Word], writing: WritingSystem, language_code: str | None = None
) -> tuple[Cue, ...]:
    """The previous render.build_cues (the baseline "before")."""
    del language_code  # it knew no function words
    max_width = writing.max_line_width
    joiner_width = display_width(writing.joiner) if writing.joiner else None
    separator = writing.separator
    groups: list[list[Word]] = []
    buf: list[Word] = []
    sizes: list[int] = []
    gaps: list[int] = []
    lines = width = chars = 0
    prev_text = ""
    prev_speaker: str | None = None
    prev_end = 0.0
    prev_sentence_end = False
    for word in words:
        text, _, start, end, _, speaker, sentence_end, _ = word
        if buf and (
            speaker != prev_speaker
            or start - prev_end >= _BEFORE_CUE_PAUSE_SECONDS
            or (prev_sentence_end and chars >= _BEFORE_MIN_CHARS_BEFORE_SENTENCE_BREAK)
        ):
            groups.append(buf)
            buf, sizes, gaps = [], [], []
            lines = width = chars = 0
        size = len(text) if text.isascii() else display_width(text)
        gap = len(separator(prev_text, text)) if joiner_width is None else joiner_width
        while buf and (
            (lines if width + gap + size <= max_width else lines + 1) > MAX_LINES
            or end - buf[0].start > MAX_CUE_SECONDS
        ):
            k = _before_split_point(buf)
            groups.append(buf[:k])
            buf, sizes, gaps = buf[k:], sizes[k:], gaps[k:]
            lines, width = _before_greedy_lines(sizes, gaps, max_width)
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
    raw = [
        (
            round(g[0].start * 1000),
            round(g[-1].end * 1000),
            _before_layout(g, writing),
            g[0].speaker,
        )
        for g in groups
    ]
    max_ms = round(MAX_CUE_SECONDS * 1000)
    min_ms = round(_BEFORE_MIN_CUE_SECONDS * 1000)
    cues: list[Cue] = []
    previous_end = 0
    for index, (raw_start, raw_end, cue_lines, cue_speaker) in enumerate(raw):
        cue_start = max(raw_start, previous_end)
        cue_end = max(raw_end, cue_start)
        next_start = raw[index + 1][0] if index + 1 < len(raw) else cue_start + min_ms
        cue_end = max(cue_end, min(cue_start + min_ms, next_start))
        cue_end = min(cue_end, cue_start + max_ms)
        if cue_end <= cue_start:
            cue_end = cue_start + 1
        cues.append(Cue(cue_start / 1000, cue_end / 1000, cue_lines, cue_speaker))
        previous_end = cue_end
    return tuple(cues)


BUILDERS: dict[str, CueBuilder] = {
    "after": build_after,
    "before": build_before,
    "greedy": build_greedy,
}


# -- inputs --------------------------------------------------------------------------
class BenchInput(NamedTuple):
    name: str
    label: str  # where the speech comes from
    words: tuple[Word, ...]
    writing: WritingSystem
    language_code: str | None
    transcribe_cues: tuple[Cue, ...] | None  # Amazon Transcribe's own subtitles, if kept


_LANGUAGE_IN_NAME = re.compile(r"^([a-z]{2,3}(?:-[A-Z]{2})?)-")
_SRT_TIME = r"(\d+):(\d{2}):(\d{2})[,.](\d{3})"
_SRT_CUE = re.compile(rf"^\d+\n{_SRT_TIME} --> {_SRT_TIME}\n((?:.+\n?)+)", re.MULTILINE)


def cues_from_srt(text: str) -> tuple[Cue, ...]:
    """SubRip cues as Cue values (no speakers: a leading "-- " speaker dash is dropped)."""
    cues = []
    for match in _SRT_CUE.finditer(text.replace("\r\n", "\n")):
        h1, m1, s1, ms1, h2, m2, s2, ms2 = (int(g) for g in match.groups()[:8])
        lines = tuple(
            line.removeprefix("-- ").strip() for line in match.group(9).splitlines() if line
        )
        start = h1 * 3600 + m1 * 60 + s1 + ms1 / 1000
        end = h2 * 3600 + m2 * 60 + s2 + ms2 / 1000
        cues.append(Cue(start, end, lines))
    return tuple(cues)


def _input(path: Path, label: str, language_code: str | None) -> BenchInput:
    transcript = parse_transcript(path.read_bytes())
    code = transcript.language_code or language_code
    subtitles = path.with_suffix(".srt")
    own = cues_from_srt(subtitles.read_text(encoding="utf-8")) if subtitles.exists() else None
    return BenchInput(
        path.name, label, group_words(transcript.items), writing_system(code), code, own
    )


def bench_inputs() -> list[BenchInput]:
    """Every Transcribe fixture with speech (tests/fixtures/transcribe, its languages/),
    and the local engine's transcripts of the demo's synthetic speech when present."""
    inputs = [_input(path, "Transcribe fixture", None) for path in sorted(FIXTURES.glob("*.json"))]
    for path in sorted((FIXTURES / "languages").glob("*.json")):
        match = _LANGUAGE_IN_NAME.match(path.name)
        inputs.append(_input(path, "Transcribe fixture", match.group(1) if match else None))
    for path in sorted(DEMO_OUTPUT.glob("*/transcript.json")):
        inputs.append(
            _input(path, "synthetic flite speech, local engine", None)._replace(
                name=f"demo-output/{path.parent.name}"
            )
        )
    return [item for item in inputs if item.words]


NO_TRANSCRIBE_SUBTITLES = "no fixture has Transcribe's own subtitles"


def transcribe_subtitles_note(inputs: Sequence[BenchInput]) -> str:
    with_own = [item.name for item in inputs if item.transcribe_cues is not None]
    return (
        f"Transcribe's own subtitles: {', '.join(with_own)}"
        if with_own
        else (NO_TRANSCRIBE_SUBTITLES)
    )


# -- results -------------------------------------------------------------------------
class Row(NamedTuple):
    input: str
    label: str
    builder: str
    words: int
    quality: SubtitleQuality


def quality_rows(inputs: Sequence[BenchInput]) -> list[Row]:
    """Every builder (and Transcribe's own subtitles, where kept) on every input."""
    rows = []
    for item in inputs:
        built = {
            name: build(item.words, item.writing, item.language_code)
            for name, build in BUILDERS.items()
        }
        if item.transcribe_cues is not None:
            built["transcribe"] = item.transcribe_cues
        for name, cues in built.items():
            quality = subtitle_quality(
                item.words, cues, writing=item.writing, language_code=item.language_code
            )
            rows.append(Row(item.name, item.label, name, len(item.words), quality))
    return rows


def pooled(rows: Sequence[Row], builder: str) -> SubtitleQuality:
    """One builder's measures summed over the inputs."""
    mine = [row.quality for row in rows if row.builder == builder]
    return SubtitleQuality(
        BreakScore(*(sum(q.breaks[k] for q in mine) for k in range(3))),
        SpeedScore(*(sum(q.speed[k] for q in mine) for k in range(4))),
        LineEndScore(*(sum(q.line_ends[k] for q in mine) for k in range(2))),
    )


def table(rows: Sequence[Row]) -> str:
    lines = [
        "| input | words | builder | cues | (a) ends not on a break | (b) > 20 cps raw "
        "| (b) beyond forced | (c) line ends on a function word |",
        "|---|---:|---|---:|---:|---:|---:|---:|",
    ]
    for row in rows:
        breaks, speed, ends = row.quality
        lines.append(
            f"| {row.input} ({row.label}) | {row.words} | {row.builder} | {speed.cues} "
            f"| {breaks.missed_percent:.1f} % ({breaks.missed}/{breaks.counted}) "
            f"| {speed.over_percent:.1f} % ({speed.over}) "
            f"| {speed.beyond_forced_percent:.1f} % ({speed.over_not_forced}) "
            f"| {ends.on_function_word}/{ends.lines} |"
        )
    return "\n".join(lines)


def main() -> int:
    inputs = bench_inputs()
    rows = quality_rows(inputs)
    print(table(rows))
    for builder in BUILDERS:
        breaks, speed, ends = pooled(rows, builder)
        print(
            f"{builder}: (a) {breaks.missed_percent:.1f} %, (b) raw {speed.over_percent:.1f} %"
            f", beyond forced {speed.beyond_forced_percent:.1f} %, (c) "
            f"{ends.on_function_word}/{ends.lines}"
        )
    print(transcribe_subtitles_note(inputs))
    return 0


if __name__ == "__main__":
    sys.exit(main())
