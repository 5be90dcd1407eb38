"""Subtitle cues from words: where each cue ends, how its lines break, how long it shows.

The words are measured once (widths, pauses, break costs), then where each cue ends is
chosen by a dynamic programme in which every cue start tries only a few ends within the
cue limits, so long recordings stay cheap (a 4-hour transcript, ~36,000 words, takes
well under 0.1 s). How wide a line may be (in display columns) comes from the
transcript language's writing system (scripts.py), LATIN by default.
"""

from __future__ import annotations

import bisect
import functools
import itertools
import math
import operator
from collections.abc import Sequence
from typing import NamedTuple

from transcription_pipeline.scripts import LATIN, WritingSystem, display_width
from transcription_pipeline.words import Word

MAX_LINE_CHARS = LATIN.max_line_width
MAX_LINES = 2
MAX_CUE_SECONDS = 7.0
# A silence this long always starts a new cue, so text does not linger over it.
CUE_PAUSE_SECONDS = 1.0
# A shorter silence is still a good place to end a cue or a line.
SOFT_PAUSE_SECONDS = 0.25
# Netflix's minimum (5/6 s, 20 frames at 24 fps; General Requirements, cited below):
# shorter cues flash. Stretched up to this, but never into the next cue.
MIN_CUE_SECONDS = 5 / 6
# Reading speed: a cue stays up until it can be read at this many characters (display
# columns) a second, where the silence before the next cue allows (Netflix's adult
# limit for English subtitles is 20).
MAX_CHARS_PER_SECOND = 20
# A sentence end only closes a cue that already holds this much text (display columns),
# so "Yes." can share a cue with what follows.
MIN_CHARS_BEFORE_SENTENCE_BREAK = 16


class Cue(NamedTuple):
    start: float  # seconds, whole milliseconds
    end: float
    lines: tuple[str, ...]
    speaker: str | None = None  # every cue holds one speaker's words


def _word_set(words: str) -> frozenset[str]:
    return frozenset(words.split())


# Line and cue breaks: the Netflix Timed Text Style Guide, General Requirements
# https://partnerhelp.netflixstudios.com/hc/en-us/articles/215758617-Timed-Text-Style-Guide-General-Requirements
# : break a line after punctuation, before a conjunction or a preposition, never between an article
# and its noun. So a line or a cue should not end on these words (lower case, matched
# against the bare word, never when punctuation follows it). Kept short on purpose:
# articles, prepositions, conjunctions and possessive determiners; words that are also
# common verbs or particles ("like", "up", "out") are left out.
_FUNCTION_WORDS: dict[str, frozenset[str]] = {
    "en": _word_set(
        "a an the about above across after against among as at before behind below "
        "beneath beside between beyond by despite during except for from in into near of "
        "on onto per since than through till to toward towards under unlike until upon via "
        "with within without and or nor but so yet because although though if unless "
        "whereas while whether that my your his its our their"
    ),
    "es": _word_set(
        "el la los las un una unos unas al del a ante bajo con contra de desde en entre "
        "hacia hasta para por según sin sobre tras y e o u ni pero sino que porque aunque "
        "si mi mis tu tus su sus"
    ),
    "fr": _word_set(
        "le la les un une des du de au aux à avec chez dans en entre par pour sans sous "
        "sur vers et ou mais donc car ni que si quand mon ma mes ton ta tes son sa ses "
        "notre nos votre vos leur leurs"
    ),
    "de": _word_set(
        "der die das den dem des ein eine einen einem einer eines an auf aus bei durch für "
        "gegen mit nach ohne über um unter von vor zu zum zur im am ins vom und oder aber "
        "denn sondern dass weil wenn ob als mein meine dein deine sein seine unser unsere"
    ),
    "pt": _word_set(
        "o a os as um uma uns umas de do da dos das em no na nos nas por pelo pela para com "
        "sem sobre entre até ao à e ou mas nem que porque se meu minha seu sua nosso nossa"
    ),
    "it": _word_set(
        "il lo la i gli le un uno una di del della dei degli delle a al alla ai da dal dalla "
        "in nel nella con su sul sulla per tra fra e o ma né che perché se mio mia tuo tua "
        "suo sua nostro nostra"
    ),
}


def function_words(language_code: str | None) -> frozenset[str]:
    """Words a subtitle line should not end on, for a language code (``es-ES``).

    English for None (callers that do not know the language, the default before
    languages were told apart); an empty set for languages without a list here, so
    their breaks fall back to punctuation, pauses and balance alone.
    """
    if not language_code:
        return _FUNCTION_WORDS["en"]
    primary = language_code.replace("_", "-").split("-")[0].lower()
    return _FUNCTION_WORDS.get(primary, frozenset())


@functools.lru_cache(maxsize=64)
def _spellings(language_code: str | None) -> frozenset[str]:
    """The function words as they appear in a transcript: lower case, capitalised at a
    sentence start, upper case; matching these spares lowering every word."""
    return frozenset(
        spelling
        for word in function_words(language_code)
        for spelling in (word, word.capitalize(), word.upper())
    )


def _layout(
    words: Sequence[Word], first: int, stop: int, measured: _Measured, writing: WritingSystem
) -> tuple[str, ...]:
    """The lines of the cue words[first:stop]: one if it fits; else the most balanced
    valid two-line split, preferring a break after a sentence end, punctuation or a
    pause, and never after a function word when another split fits. Widths in display
    columns and break costs come from ``measured``."""
    widths, gaps, break_cost = measured.widths, measured.gaps, measured.break_cost
    max_width = writing.max_line_width
    base = widths[first] + gaps[first]
    total = widths[stop] - base
    texts = [w.text for w in words[first:stop]]
    if stop - first == 1 or total <= max_width:
        return (writing.join(texts),)
    best: tuple[float, int] | None = None
    for j in range(first + 1, stop):
        first_width = widths[j] - base
        second_width = widths[stop] - widths[j] - gaps[j]
        # A word wider than a line may stand alone on one.
        if first_width > max_width and j > first + 1:
            break  # the first line only grows from here
        if second_width > max_width and j < stop - 1:
            continue
        cost = abs(first_width - second_width) + _LINE_BREAK_COST.get(break_cost[j], _NEVER)
        if best is None or cost < best[0]:
            best = (cost, j)
    if best is None:
        # Unreachable when the cue was kept within two greedy lines.
        return (writing.join(texts),)
    split = best[1] - first
    return (writing.join(texts[:split]), writing.join(texts[split:]))


# What ending a cue after a word costs (the segmentation's score, lower is better). A
# sentence end or a hard break (speaker change, long pause) is free; then a pause, then
# punctuation; a plain word boundary costs more, and more again after a function word.
_BREAK_SENTENCE = 0.0
_BREAK_PAUSE = 1.0
_BREAK_CLAUSE = 2.0
_BREAK_PLAIN = 8.0
_BREAK_WEAK = 20.0  # a plain boundary after a function word
# Ending a cue on a plain boundary while a good break was within its limits.
_MISSED_BREAK = 10.0
# A cue shorter than half a line that no hard break cut short: it flashes by.
_SHORT_CUE = 2.0
# A two-line cue whose first line can only end on a function word.
_DANGLING_LINE = 6.0
# Every cue costs this: among equally good breaks, fewer and fuller cues read better.
_CUE_COST = 3.0
# Per character a second above MAX_CHARS_PER_SECOND, with the time up to the next cue.
_SPEED_COST = 0.5
# A line break after a function word, when another fits: never chosen over any other.
_NEVER = 1_000_000
# What a line break inside a cue adds to the lines' difference in width (columns), by
# the boundary's break cost: a sentence end, a pause or punctuation is worth an uneven
# split; a function word (with or without a pause) is never chosen while another fits.
_LINE_BREAK_COST = {_BREAK_SENTENCE: -20, _BREAK_PAUSE: -12, _BREAK_CLAUSE: -12, _BREAK_PLAIN: 0}


def build_cues(
    words: Sequence[Word], *, writing: WritingSystem = LATIN, language_code: str | None = None
) -> tuple[Cue, ...]:
    """Subtitle cues: at most MAX_LINES lines of the writing system's width and
    MAX_CUE_SECONDS each, one speaker per cue, strictly forward times.

    Where a cue ends is chosen, not hit: within the limits it ends at a sentence end, a
    pause of SOFT_PAUSE_SECONDS or punctuation when there is one, else at a word that
    is not a function word (function_words(language_code)). A pause of
    CUE_PAUSE_SECONDS or a speaker change always ends a cue; a sentence end does once
    the cue holds MIN_CHARS_BEFORE_SENTENCE_BREAK columns ("Yes." may share a cue).
    A cue stays on screen long enough to be read at MAX_CHARS_PER_SECOND and at least
    MIN_CUE_SECONDS, where the silence before the next cue allows. Widths are display
    columns: a CJK character counts two, a mark none. Linear in the words.
    """
    if not words:
        return ()
    spellings = _spellings(language_code)
    measured = _measure(words, writing, spellings)
    stops = _cue_stops(measured, writing)
    return _timed_cues(words, stops, measured, writing)


class _Measured(NamedTuple):
    """What segmentation and layout need of the words, computed once per transcript."""

    starts: tuple[float, ...]
    ends: tuple[float, ...]
    # widths[k]: the display width of words[:k], each word with the separator before
    # it, so that words[i:j] on one line is widths[j] - widths[i] - gaps[i] wide.
    widths: list[int]
    gaps: list[int]
    sentence_ends: tuple[bool, ...]
    # break_cost[j]: what ending a cue at boundary j (between words[j - 1] and words[j])
    # costs; hard[j - 1]: a cue must end at boundary j.
    break_cost: list[float]
    hard: list[bool]


def _measure(words: Sequence[Word], writing: WritingSystem, spellings: frozenset[str]) -> _Measured:
    """Widths, times and break costs of the words, with comprehensions: this runs on
    ~36,000 words for a 4-hour recording."""
    n = len(words)
    texts, contents, starts, ends, _, speakers, sentence_ends, clause_ends = zip(
        *words, strict=True
    )
    if all(map(str.isascii, texts)):
        sizes = list(map(len, texts))  # one column a character: the common case
    else:
        sizes = list(map(display_width, texts))
    if writing.joiner:
        gaps = [display_width(writing.joiner)] * n
    else:
        separator = writing.separator
        gaps = [0, *(len(separator(a, b)) for a, b in itertools.pairwise(texts))]
    widths = [0, *itertools.accumulate(map(operator.add, gaps, sizes))]
    # What ending a cue after each word costs, pauses aside: plain or after a function
    # word, then punctuation and sentence ends over those (they are the fewer words).
    after_word = list(
        map((_BREAK_PLAIN, _BREAK_WEAK).__getitem__, map(spellings.__contains__, contents))
    )
    for index in itertools.compress(range(n), clause_ends):
        after_word[index] = _BREAK_SENTENCE if sentence_ends[index] else _BREAK_CLAUSE
    pauses = list(map(operator.sub, starts[1:], ends))
    hard = list(map(CUE_PAUSE_SECONDS.__le__, pauses))
    if speakers[0] is not None or any(speakers):
        changes = map(operator.ne, speakers[1:], speakers)
        hard = list(map(operator.or_, hard, changes))
    break_cost = [
        0.0,
        *(
            0.0
            if is_hard
            else cost
            if pause < SOFT_PAUSE_SECONDS or cost <= _BREAK_PAUSE
            # A pause after a function word ("the ... um") stays a weak break.
            else _BREAK_PAUSE + (_BREAK_WEAK - _BREAK_PLAIN if cost > _BREAK_PLAIN else 0.0)
            for cost, pause, is_hard in zip(after_word, pauses, hard, strict=False)
        ),
        0.0,
    ]
    return _Measured(starts, ends, widths, gaps, sentence_ends, break_cost, hard)


def _cue_stops(measured: _Measured, writing: WritingSystem) -> list[int]:
    """Where the cues end (word indices, the last is the number of words): the
    cheapest cover of the words by cues within the limits, by dynamic programming over
    break points.

    Boundary j lies between words[j - 1] and words[j]. Every start i has a last possible
    end (two greedy lines, MAX_CUE_SECONDS, the next hard break, the first sentence end
    after the lead-in), found with pointers that only move forward; from each start only
    the good breaks up to it and the two fullest ends that do not follow a function word
    are tried.
    So the work is linear in the words, a few candidate cues per reachable start.
    """
    starts, ends, widths, gaps, sentence_ends, break_cost, hard = measured
    n = len(starts)
    max_width = writing.max_line_width
    # Boundaries in order, each list ending past n so that scans stop without a check.
    boundaries = range(n + 1)
    goods = list(itertools.compress(boundaries, map(_BREAK_CLAUSE.__ge__, break_cost)))
    goods[0:1] = []  # boundary 0 starts the first cue; it ends none
    goods.append(n + 1)
    plains = list(itertools.compress(boundaries, map(_BREAK_PLAIN.__ge__, break_cost)))
    plains.append(n + 1)  # 0 first: "no plain boundary yet"
    hards = list(itertools.compress(boundaries[1:], hard))
    hards += (n, n + 1)
    sentences = list(itertools.compress(boundaries[1:], sentence_ends))
    sentences += (n, n + 1)
    # With an end past the last word, so that the forward scans need no bounds check.
    reach = [*widths, math.inf]
    ends_then = [*ends, math.inf]
    shown_until = [*starts, math.inf]  # the next cue's start: a cue may stay up until then
    # line_from[k]: where a line starting at words[k] begins in widths' terms, so that a
    # second line words[k:j] fits when line_from[k] >= widths[j] - max_width (it grows
    # with k); plain_before[k]: how many boundaries up to k do not follow a function word.
    line_from = list(map(operator.add, widths, gaps))
    plain_before = [0, *itertools.accumulate(cost <= _BREAK_PLAIN for cost in break_cost[1:])]

    max_seconds = MAX_CUE_SECONDS
    speed = MAX_CHARS_PER_SECOND
    short = max_width // 2
    nearly_full = max_width + max_width // 2
    hard_stop = [False] * (n + 1)
    for j in hards[:-1]:
        hard_stop[j] = True
    total = [math.inf] * (n + 1)  # the cheapest cost of cues covering words[:j]
    back = [0] * (n + 1)  # where the last of those cues starts
    total[0] = 0.0
    # Pointers that only move forward: the end of the first greedy line, of the second,
    # of MAX_CUE_SECONDS, of the lead-in before a sentence end closes the cue; and
    # positions in the boundary lists.
    first_line = second_line = timed = lead_in = 0
    good_at = plain_at = hard_at = sentence_at = 0
    for i in range(n):
        so_far = total[i]
        if so_far == math.inf:
            continue  # no cue ends here: nothing starts here either
        base = widths[i] + gaps[i]
        start_i = starts[i]
        if first_line <= i:
            first_line = i + 1
        line_limit = base + max_width
        while reach[first_line + 1] <= line_limit:
            first_line += 1
        last = n
        if first_line < n:
            if second_line <= first_line:
                second_line = first_line + 1
            line_limit = widths[first_line] + gaps[first_line] + max_width
            while reach[second_line + 1] <= line_limit:
                second_line += 1
            last = second_line
        if timed <= i:
            timed = i + 1
        time_limit = start_i + max_seconds
        while ends_then[timed] <= time_limit:
            timed += 1
        if timed < last:
            last = timed
        while hards[hard_at] <= i:
            hard_at += 1
        if hards[hard_at] < last:
            last = hards[hard_at]
        if lead_in <= i:
            lead_in = i + 1
        lead_in_limit = base + MIN_CHARS_BEFORE_SENTENCE_BREAK
        while reach[lead_in] < lead_in_limit:
            lead_in += 1
        while sentences[sentence_at] < lead_in:
            sentence_at += 1
        if sentences[sentence_at] < last:
            last = sentences[sentence_at]
        while goods[good_at] <= i:
            good_at += 1
        candidates = goods[good_at : bisect.bisect_right(goods, last, good_at)]
        while plains[plain_at + 1] <= last:
            plain_at += 1
        fullest = plains[plain_at] if plains[plain_at] > i else last
        if break_cost[fullest] > _BREAK_CLAUSE:
            # Passing over a good break within reach costs extra: a cue ends at one
            # when it can, even if that takes one more cue later.
            missed = _MISSED_BREAK if candidates else 0.0
            candidates.append(fullest)
            # And the one before: the fullest may leave no good line break.
            fuller = plains[plain_at - 1] if plain_at else 0
            if fuller > i and fullest == plains[plain_at] and break_cost[fuller] > _BREAK_CLAUSE:
                candidates.insert(-1, fuller)
        else:
            missed = 0.0
        for j in candidates:
            # The cue words[i:j]; it may stay up until the next cue starts.
            chars = widths[j] - base
            shown = shown_until[j] - start_i
            if shown > max_seconds:
                shown = max_seconds
            cost = so_far + break_cost[j] + _CUE_COST
            if break_cost[j] > _BREAK_CLAUSE:
                cost += missed
            if chars < short and not hard_stop[j]:
                cost += _SHORT_CUE
            elif chars > nearly_full:
                # A full two-line cue leaves few places for the line break: can the
                # first line end on anything but a function word? (A fuller cue has
                # a dozen places or more; checking them all would cost more than it
                # finds.)
                second = bisect.bisect_left(line_from, widths[j] - max_width, i + 1)
                if plain_before[first_line] == plain_before[second - 1]:
                    cost += _DANGLING_LINE
            if chars > speed * shown:
                cost += (chars / (shown if shown > 0.05 else 0.05) - speed) * _SPEED_COST
            if cost < total[j]:
                total[j] = cost
                back[j] = i
    stops: list[int] = []
    j = n
    while j:
        stops.append(j)
        j = back[j]
    stops.reverse()
    return stops


def _timed_cues(
    words: Sequence[Word],
    stops: list[int],
    measured: _Measured,
    writing: WritingSystem,
) -> tuple[Cue, ...]:
    """The cues ending at ``stops``, with clamped, strictly forward times in whole ms.

    A cue ends with its last word, or later: long enough to be read at
    MAX_CHARS_PER_SECOND (display columns, the line break counted as a space) and to
    last MIN_CUE_SECONDS, but never past the next cue's start nor MAX_CUE_SECONDS; the
    last cue has nothing to run into.
    """
    widths, gaps = measured.widths, measured.gaps
    starts = [round(words[first].start * 1000) for first in (0, *stops[:-1])]
    max_ms = round(MAX_CUE_SECONDS * 1000)
    min_ms = round(MIN_CUE_SECONDS * 1000)
    ms_per_char = 1000 / MAX_CHARS_PER_SECOND
    cues: list[Cue] = []
    prev_end = 0
    first = 0
    for index, stop in enumerate(stops):
        chars = widths[stop] - widths[first] - gaps[first]
        start = max(starts[index], prev_end)
        end = max(round(words[stop - 1].end * 1000), start)
        readable = start + max(min_ms, math.ceil(chars * ms_per_char))
        if index + 1 < len(stops):
            readable = min(readable, starts[index + 1])
        end = min(max(end, readable), start + max_ms)
        if end <= start:
            # Overlapping Transcribe timings: keep order with a 1 ms cue.
            end = start + 1
        lines = _layout(words, first, stop, measured, writing)
        cues.append(Cue(start / 1000, end / 1000, lines, words[first].speaker))
        prev_end = end
        first = stop
    return tuple(cues)
