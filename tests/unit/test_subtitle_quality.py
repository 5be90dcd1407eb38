"""Tests for bench/subtitle_quality.py: the measures on hand-made cues, and the goals
the pipeline's subtitles meet on every fixture."""

from __future__ import annotations

import pytest

from bench.subtitle_quality import (
    BenchInput,
    BreakScore,
    SpeedScore,
    bench_inputs,
    break_misses,
    build_before,
    build_greedy,
    cue_words,
    cues_from_srt,
    function_word_line_ends,
    pooled,
    quality_rows,
    reading_speed,
    transcribe_subtitles_note,
)
from transcription_pipeline.render import Cue, build_cues
from transcription_pipeline.scripts import LATIN
from transcription_pipeline.words import Word


def words_of(spec: str) -> list[Word]:
    """Words 0.3 s long, 0.05 s apart; "/" after a word marks a 0.3 s pause after it,
    punctuation written after a word is its punctuation."""
    words: list[Word] = []
    clock = 0.0
    for token in spec.split():
        pause = token.endswith("/")
        text = token.rstrip("/")
        content = text.rstrip(",.?!")
        sentence_end = text.endswith((".", "?", "!"))
        clause_end = text != content
        words.append(Word(text, content, clock, clock + 0.3, 0.9, None, sentence_end, clause_end))
        clock += 0.3 + (0.3 if pause else 0.05)
    return words


def cues_for(words: list[Word], *groups: int, lines: tuple[int, ...] = ()) -> list[Cue]:
    """Cues of consecutive groups of ``groups`` words, on one line each, shown from the
    first word's start to the last word's end."""
    cues = []
    first = 0
    for size in groups:
        chosen = words[first : first + size]
        text = " ".join(w.text for w in chosen)
        cues.append(Cue(chosen[0].start, chosen[-1].end, (text,)))
        first += size
    return cues


SENTENCE = "one two three four/ five six seven eight nine ten"


def test_a_cue_ending_mid_phrase_where_a_pause_existed_is_a_miss() -> None:
    words = words_of(SENTENCE)
    score = break_misses(words, cues_for(words, 6, 4))  # ends after "six"
    assert score == BreakScore(cue_ends=1, counted=1, missed=1)
    assert score.missed_percent == 100.0


def test_a_cue_ending_at_the_pause_is_a_hit() -> None:
    words = words_of(SENTENCE)
    assert break_misses(words, cues_for(words, 4, 6)) == BreakScore(1, 1, 0)


def test_a_cue_end_with_no_break_within_reach_is_not_counted() -> None:
    # Three 10-letter words a line: six a cue, and the end of the words is out of reach.
    words = words_of(" ".join(["abcdefghij"] * 12))
    score = break_misses(words, cues_for(words, 6, 6))
    assert score == BreakScore(cue_ends=1, counted=0, missed=0)
    assert score.missed_percent == 0.0


def test_a_break_beyond_the_cue_limits_does_not_count() -> None:
    # The only pause comes after 12 long words (over two 42-column lines): out of reach.
    words = words_of(" ".join(["abcdefghij"] * 12) + "/ " + " ".join(["abcdefghij"] * 3))
    cues = cues_for(words, 6, 9)
    assert break_misses(words, cues) == BreakScore(1, 0, 0)


def test_punctuation_and_speaker_changes_are_breaks() -> None:
    words = words_of("one two three, four five six")
    assert break_misses(words, cues_for(words, 3, 3)) == BreakScore(1, 1, 0)
    assert break_misses(words, cues_for(words, 4, 2)) == BreakScore(1, 1, 1)
    labelled = [w._replace(speaker="spk_0" if i < 2 else "spk_1") for i, w in enumerate(words)]
    assert break_misses(labelled, cues_for(labelled, 2, 4)).missed == 0


def test_reading_speed_over_and_forced() -> None:
    words = words_of("Reading takes longer than saying it aloud")
    # 41 characters in 2.45 s (the words' own times): 16.7 a second, fine.
    assert reading_speed(words, cues_for(words, 7)) == SpeedScore(1, 0, 0, 0)
    # Shown for 1 s with nothing after it: too fast, and not forced (it could stay).
    short = [Cue(0.0, 1.0, ("Reading takes longer than saying it aloud",))]
    score = reading_speed(words, short)
    assert score == SpeedScore(cues=1, over=1, forced=0, over_not_forced=1)
    assert score.beyond_forced_percent == 100.0


def test_a_cue_spoken_too_fast_for_its_gap_is_forced() -> None:
    fast = [
        Word(text, text, 0.05 * n, 0.05 * n + 0.05, 0.9, None, False, False)
        for n, text in enumerate(
            ["Reading", "takes", "longer", "than", "saying", "it", "aloud", "next"]
        )
    ]
    # The first seven words (41 characters) are said in 0.35 s and "next" follows at once.
    cues = [Cue(0.0, 0.35, (" ".join(w.text for w in fast[:7]),)), Cue(0.35, 1.0, ("next",))]
    score = reading_speed(fast, cues)
    assert score.over == 1
    assert score.forced == 1
    assert score.over_not_forced == 0
    assert score.over_percent == 50.0


def test_function_word_line_ends() -> None:
    words = words_of("she kept a small notebook with the names of all the ships")
    cues = [
        Cue(0.0, 2.0, ("she kept a small notebook with the", "names of all the ships")),
    ]
    score = function_word_line_ends(words, cues)
    assert (score.lines, score.on_function_word) == (2, 1)
    fine = [Cue(0.0, 2.0, ("she kept a small notebook", "with the names of all the ships"))]
    assert function_word_line_ends(words, fine).on_function_word == 0
    # Punctuation after the word ends the phrase: "of," is no dangling preposition.
    assert function_word_line_ends(
        words_of("what is it of,"), [Cue(0, 1, ("what is it of,",))]
    ) == (
        1,
        0,
    )


def test_cues_that_do_not_hold_the_words_are_refused() -> None:
    words = words_of("one two three")
    with pytest.raises(ValueError, match="does not match"):
        cue_words(words, [Cue(0.0, 1.0, ("one three",))])
    with pytest.raises(ValueError, match="hold 2 of 3"):
        cue_words(words, [Cue(0.0, 1.0, ("one two",))])


def test_greedy_fills_lines_without_looking_back() -> None:
    words = words_of(SENTENCE + " " + SENTENCE)
    cues = build_greedy(words, LATIN)
    assert cues[0].lines == (
        "one two three four five six seven eight",
        "nine ten one two three four five six seven",
    )
    assert break_misses(words, cues).missed == 1  # the pause after "four" is passed over


def test_the_baseline_is_the_previous_build_cues() -> None:
    # Cut where the 7-second limit was reached, between "can" and "do".
    words = [
        Word(t, t, s, e, 0.9, None, False, False)
        for t, s, e in [
            ("And", 0.00, 0.30), ("so", 0.35, 0.90), ("my", 1.00, 1.20),
            ("fellow", 1.25, 1.60), ("Americans", 1.65, 2.60), ("ask", 3.50, 3.90),
            ("not", 3.95, 4.50), ("what", 4.55, 4.80), ("your", 4.85, 5.05),
            ("country", 5.10, 5.70), ("can", 5.75, 6.30), ("do", 6.35, 7.10),
            ("for", 7.15, 7.35), ("you", 7.40, 7.90),
        ]
    ]  # fmt: skip
    before = build_before(words, LATIN)
    assert before[0].lines == ("And so my fellow Americans", "ask not what your country can")
    assert break_misses(words, before) == BreakScore(1, 1, 1)
    assert break_misses(words, build_cues(words)) == BreakScore(1, 1, 0)


def test_transcribe_srt_is_read_as_cues() -> None:
    srt = (
        "1\n00:00:00,000 --> 00:00:01,500\none two\n\n2\n00:00:01,500 --> 00:00:03,000\n-- three\n"
    )
    cues = cues_from_srt(srt)
    assert cues == (Cue(0.0, 1.5, ("one two",)), Cue(1.5, 3.0, ("three",)))
    assert cue_words(words_of("one two three"), cues)[1].first == 2


@pytest.fixture(scope="module")
def inputs() -> list[BenchInput]:
    return bench_inputs()


def test_every_fixture_is_an_input(inputs: list[BenchInput]) -> None:
    names = {item.name for item in inputs}
    assert {"01-plain.json", "03-speaker-identification.json"} <= names
    assert {"es-transcritter-test-input.json", "ja-JP-asr-srtize-sample.json"} <= names
    assert "v4-empty.json" not in names  # no speech, nothing to measure
    spanish = next(item for item in inputs if item.name.startswith("es-"))
    assert spanish.language_code == "es"
    # None of the fixtures keeps Transcribe's own subtitles (see the bench output).
    assert transcribe_subtitles_note(inputs) == "no fixture has Transcribe's own subtitles"


def test_build_cues_meets_both_goals_on_every_fixture(inputs: list[BenchInput]) -> None:
    rows = quality_rows(inputs)
    for row in rows:
        if row.builder != "after":
            continue
        breaks, speed, _ = row.quality
        assert breaks.counted > 0 or breaks.cue_ends <= 1, row.input
        assert breaks.missed_percent <= 5.0, (row.input, breaks)
        assert speed.beyond_forced_percent <= 2.0, (row.input, speed)
    after, before = pooled(rows, "after"), pooled(rows, "before")
    assert after.breaks.missed_percent < before.breaks.missed_percent
    assert after.speed.over_percent < before.speed.over_percent
    assert after.line_ends.on_function_word < before.line_ends.on_function_word
