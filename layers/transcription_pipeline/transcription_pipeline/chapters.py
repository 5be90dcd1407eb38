"""Chapters offline: topic segmentation of a transcript by lexical cohesion.

Every summary gets chapters, with or without a language model. Pure and deterministic
(same passages -> same chapters; ties go to the earlier position), linear in the number
of terms apart from sorting candidate boundaries.

How (TextTiling, Hearst 1997, adapted to speech and to chapter-sized topics):

- Candidate boundaries are passage (sentence) starts, so a chapter never starts mid
  sentence. Around each one, two windows of at least WINDOW_TERMS terms (about two
  minutes of speech, the shortest chapter) are compared by the cosine similarity of
  their term counts, each term weighted by its idf over passages so that filler used
  everywhere ("basically", "actually") counts little. Windows are measured in terms
  rather than passages (Hearst's pseudo-sentences) because spoken sentences range
  from "Yes." to a minute; they slide in one pass with running dot products.
- A boundary's depth is how far the similarity falls below the nearest peaks on
  either side (Hearst's depth score). Candidates are the valleys deeper than
  mean - sd/2 of all valley depths (Hearst's liberal cut-off) and, since that cut-off
  is relative and would split any recording, also deeper than MIN_RELATIVE_DEPTH of
  the peaks around them: one topic read on and on has shallow valleys only.
- Each candidate is moved to the best passage start within SNAP_PASSAGES: a speaker
  change or a long pause there is where people change topics.
- The deepest candidates win, one at a time, while every chapter stays at least
  MIN_CHAPTER_SECONDS long; at most one chapter per SECONDS_PER_CHAPTER of recording
  and MAX_CHAPTERS in all.

A chapter's title is its 2-3 most distinctive terms (tf in the chapter x idf over
chapters); its highlight is the passage with the highest sum of those weights
over sqrt(length), as the summary's highlights are chosen. Nothing here logs: the
text is personal data.
"""

from __future__ import annotations

import math
from bisect import bisect_left, insort
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import NamedTuple

from transcription_pipeline.render.formats import timestamp, vtt_escape

__all__ = [
    "MAX_CHAPTERS",
    "MIN_CHAPTER_SECONDS",
    "SECONDS_PER_CHAPTER",
    "Chapter",
    "Passage",
    "chapters_vtt",
    "segment_chapters",
]

# The shortest chapter worth navigating to; a shorter recording is one chapter.
MIN_CHAPTER_SECONDS = 120.0
# At most one chapter per this much recording (so a 10-minute talk has 2 at most).
SECONDS_PER_CHAPTER = 240.0
MAX_CHAPTERS = 20
# Terms in each window compared at a candidate boundary: about two minutes of speech
# (the real fixtures: 150 words and 61 terms a minute).
WINDOW_TERMS = 120
# A valley must fall this far below its surrounding peaks (as a share of them) to be
# a boundary. Inside one synthetic topic valleys stay under 0.2; at the joins of
# Python reference-manual sections read as talk, 0.6-0.9 (sub-sections 0.5-0.8).
MIN_RELATIVE_DEPTH = 0.35
# How many passages a boundary may move to reach a speaker change or a pause.
SNAP_PASSAGES = 3
# Pauses longer than this count in full when snapping; longer ones are no better.
MAX_PAUSE_CREDIT_SECONDS = 3.0
SPEAKER_CHANGE_CREDIT = 2.0  # seconds of pause a speaker change is worth
SNAP_DISTANCE_COST = 0.25  # seconds of pause one passage of moving costs
CHAPTER_TERMS = 5  # a chapter's top terms, kept as its keywords; the title shows 2-3
# A third title term must weigh at least this share of the chapter's top term.
MIN_THIRD_TITLE_TERM_SHARE = 0.5
# Highlight length in words that reads well; others only when no passage fits.
MIN_HIGHLIGHT_WORDS = 5
MAX_HIGHLIGHT_WORDS = 60
UNTITLED = "Chapter {number}"  # a chapter without terms (silence, all masked)


class Passage(NamedTuple):
    """One sentence of the transcript, as summary.py builds them."""

    start: float
    end: float
    speaker: str | None
    text: str
    terms: tuple[str, ...]  # lower-cased content words, stop words removed


@dataclass(frozen=True, slots=True)
class Chapter:
    start_seconds: float  # the first chapter starts at 0: chapters cover the media
    end_seconds: float  # the next chapter's start; the last passage's end for the last
    title: str
    highlight: str  # the chapter's most representative passage, text as given
    terms: tuple[str, ...]  # its most distinctive terms, best first


def segment_chapters(
    passages: Sequence[Passage], *, title_separator: str = ", "
) -> tuple[Chapter, ...]:
    """The chapters of a transcript given as its passages in order; () when empty."""
    if not passages:
        return ()
    # Starts as a running maximum: overlapping channels may step back in time, and
    # chapter starts must increase.
    starts: list[float] = []
    latest = 0.0
    for passage in passages:
        latest = max(latest, passage.start)
        starts.append(latest)
    end = max(max(p.end for p in passages), starts[-1])
    wanted = max(1, min(MAX_CHAPTERS, int(end // SECONDS_PER_CHAPTER)))
    firsts = [0]
    if wanted > 1:
        firsts += _boundaries(passages, starts, end, wanted - 1)
    return _chapters(passages, firsts, starts, end, title_separator)


def _idf(passages: Sequence[Passage]) -> dict[str, float]:
    df: Counter[str] = Counter()
    for passage in passages:
        df.update(set(passage.terms))
    n = len(passages)
    return {term: math.log(1.0 + n / count) for term, count in df.items()}


def _similarities(passages: Sequence[Passage]) -> list[float]:
    """Cosine similarity of the WINDOW_TERMS-term windows before and after each passage
    start (index 0 unused); windows slide, so each term enters and leaves each once."""
    idf = _idf(passages)
    square = {term: weight * weight for term, weight in idf.items()}
    lengths = [len(p.terms) for p in passages]
    n = len(passages)
    left: Counter[str] = Counter()
    right: Counter[str] = Counter()
    dot = left_norm = right_norm = 0.0
    left_first = right_stop = 0  # left window: [left_first, gap); right: [gap, right_stop)
    left_terms = right_terms = 0
    similarities = [0.0] * n
    for gap in range(1, n):
        # Passage gap - 1 moves from the right window to the left one.
        moving = gap - 1
        if right_stop <= moving:  # the right window was empty (no terms ahead)
            right_stop = moving + 1
        else:
            for term in passages[moving].terms:
                right[term] -= 1
                w2 = square[term]
                dot -= left[term] * w2
                right_norm -= (2 * right[term] + 1) * w2
            right_terms -= lengths[moving]
        for term in passages[moving].terms:
            w2 = square[term]
            dot += right[term] * w2
            left_norm += (2 * left[term] + 1) * w2
            left[term] += 1
        left_terms += lengths[moving]
        # Drop passages from the left window's far end while it stays full without them.
        while left_first < moving and left_terms - lengths[left_first] >= WINDOW_TERMS:
            for term in passages[left_first].terms:
                left[term] -= 1
                w2 = square[term]
                dot -= right[term] * w2
                left_norm -= (2 * left[term] + 1) * w2
            left_terms -= lengths[left_first]
            left_first += 1
        # Grow the right window until it is full.
        while right_stop < n and right_terms < WINDOW_TERMS:
            for term in passages[right_stop].terms:
                w2 = square[term]
                dot += left[term] * w2
                right_norm += (2 * right[term] + 1) * w2
                right[term] += 1
            right_terms += lengths[right_stop]
            right_stop += 1
        if left_norm > 0.0 and right_norm > 0.0:
            similarities[gap] = min(1.0, max(0.0, dot / math.sqrt(left_norm * right_norm)))
    return similarities


def _depths(similarities: list[float]) -> list[float]:
    """Relative depth of each valley (0 elsewhere): the fall from the peaks reached by
    climbing left and right, over the sum of those peaks."""
    n = len(similarities)
    left_peak = similarities[:]
    for i in range(2, n):
        if similarities[i - 1] >= similarities[i]:
            left_peak[i] = left_peak[i - 1]
    right_peak = similarities[:]
    for i in range(n - 2, 0, -1):
        if similarities[i + 1] >= similarities[i]:
            right_peak[i] = right_peak[i + 1]
    depths = [0.0] * n
    for i in range(1, n):
        s = similarities[i]
        peaks = left_peak[i] + right_peak[i]
        if peaks > 0.0 and left_peak[i] > s and right_peak[i] > s:
            depths[i] = (peaks - 2 * s) / peaks
    return depths


def _snap(passages: Sequence[Passage], gap: int, lowest: int, highest: int) -> int:
    """The best passage start near ``gap``: a speaker change or a long pause, not far."""
    best, best_score = gap, -math.inf
    for candidate in range(max(lowest, gap - SNAP_PASSAGES), min(highest, gap + SNAP_PASSAGES) + 1):
        before, after = passages[candidate - 1], passages[candidate]
        pause = min(MAX_PAUSE_CREDIT_SECONDS, max(0.0, after.start - before.end))
        changed = after.speaker != before.speaker
        score = (
            pause
            + (SPEAKER_CHANGE_CREDIT if changed else 0.0)
            - SNAP_DISTANCE_COST * abs(candidate - gap)
        )
        if score > best_score:  # strict: the earlier of equals
            best, best_score = candidate, score
    return best


def _boundaries(
    passages: Sequence[Passage], starts: list[float], end: float, most: int
) -> list[int]:
    """Indices of the passages that start chapters 2.., in order; at most ``most``."""
    n = len(passages)
    # Gaps that leave MIN_CHAPTER_SECONDS on both sides; starts increase, so a range.
    lowest = bisect_left(starts, starts[0] + MIN_CHAPTER_SECONDS)
    highest = bisect_left(starts, end - MIN_CHAPTER_SECONDS) - 1
    lowest = max(lowest, 1)
    if lowest > highest:
        return []
    depths = _depths(_similarities(passages))
    valleys = [depths[i] for i in range(1, n) if depths[i] > 0.0]
    if not valleys:
        return []
    mean = sum(valleys) / len(valleys)
    sd = math.sqrt(sum((d - mean) ** 2 for d in valleys) / len(valleys))
    cut = max(mean - sd / 2, MIN_RELATIVE_DEPTH)
    candidates = [
        (depths[i], _snap(passages, i, lowest, highest))
        for i in range(lowest, highest + 1)
        if depths[i] >= cut
    ]
    candidates.sort(key=lambda c: (-c[0], c[1]))
    chosen: list[int] = []
    chosen_times: list[float] = []
    for _, gap in candidates:
        time = starts[gap]
        at = bisect_left(chosen_times, time)
        if at > 0 and time - chosen_times[at - 1] < MIN_CHAPTER_SECONDS:
            continue
        if at < len(chosen_times) and chosen_times[at] - time < MIN_CHAPTER_SECONDS:
            continue
        insort(chosen_times, time)
        chosen.insert(at, gap)
        if len(chosen) == most:
            break
    return chosen


def _ranked_terms(
    counts: Counter[str], idf: dict[str, float], order: dict[str, int]
) -> list[tuple[str, float]]:
    """The chapter's terms with their tf x idf weights, best first (ties: first seen)."""
    return sorted(
        ((term, count * idf[term]) for term, count in counts.items()),
        key=lambda weighted: (-weighted[1], order[weighted[0]]),
    )


def _same_word(term: str, other: str) -> bool:
    # "model" and "models" say the same thing once.
    return term in (other + "s", other + "es") or other in (term + "s", term + "es")


def _top_terms(ranked: list[tuple[str, float]]) -> tuple[str, ...]:
    chosen: list[str] = []
    for term, _ in ranked:
        if not any(_same_word(term, other) for other in chosen):
            chosen.append(term)
            if len(chosen) == CHAPTER_TERMS:
                break
    return tuple(chosen)


def _title(terms: tuple[str, ...], weights: dict[str, float], separator: str, number: int) -> str:
    """Two terms, a third when it weighs enough; first letter in title case (a no-op for
    scripts without case)."""
    if not terms:
        return UNTITLED.format(number=number)
    shown = list(terms[:2])
    if len(terms) > 2 and weights[terms[2]] >= MIN_THIRD_TITLE_TERM_SHARE * weights[terms[0]]:
        shown.append(terms[2])
    title = separator.join(shown)
    return title[:1].title() + title[1:]


def _word_count(passage: Passage) -> int:
    # Scripts written without spaces split into one "word": the terms count instead.
    return max(1, len(passage.text.split()), len(passage.terms))


def _highlight(passages: Sequence[Passage], weights: dict[str, float]) -> str:
    def score(passage: Passage) -> float:
        return sum(weights.get(term, 0.0) for term in set(passage.terms)) / math.sqrt(
            _word_count(passage)
        )

    fitting = [p for p in passages if MIN_HIGHLIGHT_WORDS <= _word_count(p) <= MAX_HIGHLIGHT_WORDS]
    pool = fitting or list(passages)
    best = pool[0]
    best_score = score(best)
    for passage in pool[1:]:
        s = score(passage)
        if s > best_score:
            best, best_score = passage, s
    return best.text


def _chapters(
    passages: Sequence[Passage],
    firsts: list[int],
    starts: list[float],
    end: float,
    title_separator: str,
) -> tuple[Chapter, ...]:
    stops = [*firsts[1:], len(passages)]
    counts: list[Counter[str]] = []
    order: dict[str, int] = {}
    for first, stop in zip(firsts, stops, strict=True):
        chapter_counts: Counter[str] = Counter()
        for passage in passages[first:stop]:
            chapter_counts.update(passage.terms)
            for term in passage.terms:
                order.setdefault(term, len(order))
        counts.append(chapter_counts)
    df: Counter[str] = Counter()
    for chapter_counts in counts:
        df.update(chapter_counts.keys())
    # Smoothed so that one chapter (or a term in every chapter) still ranks by tf.
    idf = {term: math.log(1.0 + len(counts) / count) for term, count in df.items()}
    chapters: list[Chapter] = []
    bounds = [0.0, *(starts[i] for i in firsts[1:]), end]
    for number, (first, stop) in enumerate(zip(firsts, stops, strict=True), start=1):
        weights = dict(_ranked_terms(counts[number - 1], idf, order))
        terms = _top_terms(list(weights.items()))
        chapters.append(
            Chapter(
                start_seconds=round(bounds[number - 1], 3),
                end_seconds=round(bounds[number], 3),
                title=_title(terms, weights, title_separator, number),
                highlight=_highlight(passages[first:stop], weights),
                terms=terms,
            )
        )
    return tuple(chapters)


def chapters_vtt(chapters: Sequence[Chapter]) -> str:
    """chapters.vtt, for <track kind="chapters">: one cue per chapter, the title as its
    text, with "Chapter N" as the cue id so players and scripts can address it.

    Back-to-back cues with plain escaped text, as a "WebVTT file using chapter title
    text" must be (https://www.w3.org/TR/webvtt1/#webvtt-file-using-chapter-title-text).
    """
    blocks: list[str] = []
    previous_end = 0
    for number, chapter in enumerate(chapters, start=1):
        start = max(round(chapter.start_seconds * 1000), previous_end)
        # A cue must end after it starts, and chapters must not overlap.
        stop = max(round(chapter.end_seconds * 1000), start + 1)
        blocks.append(
            f"Chapter {number}\n{timestamp(start / 1000, '.')} --> {timestamp(stop / 1000, '.')}\n"
            f"{' '.join(vtt_escape(chapter.title).split())}\n"  # one line per title
        )
        previous_end = stop
    if not blocks:
        return "WEBVTT\n"
    return "WEBVTT\n\n" + "\n".join(blocks)
