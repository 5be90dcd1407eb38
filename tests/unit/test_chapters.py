"""Tests for transcription_pipeline.chapters: topic segmentation and chapters.vtt."""

from __future__ import annotations

import itertools
import json
import re
from collections.abc import Sequence

import pytest

from bench.transcripts import scaled_transcript
from tests.unit.conftest import (
    EMPTY_FIXTURE,
    SPEECH_FIXTURES,
    TOPICS,
    parsed,
    talk,
    terms_of,
    timed,
)
from transcription_pipeline.chapters import (
    MAX_CHAPTERS,
    MIN_CHAPTER_SECONDS,
    SECONDS_PER_CHAPTER,
    Chapter,
    Passage,
    chapters_vtt,
    segment_chapters,
)
from transcription_pipeline.transcript import parse_transcript
from transcription_pipeline.words import Word, group_words


def first_passages(chapters: Sequence[Chapter], passages: Sequence[Passage]) -> list[int]:
    """The index of the passage each chapter after the first starts with."""
    starts = [round(p.start, 3) for p in passages]
    found = []
    for chapter in chapters[1:]:
        assert chapter.start_seconds in starts, "a chapter starts at a passage start"
        found.append(starts.index(chapter.start_seconds))
    return found


def assert_cover(chapters: Sequence[Chapter], passages: Sequence[Passage]) -> None:
    """Chapters in order, back to back, from 0 to the end of the last passage, each
    at least MIN_CHAPTER_SECONDS when there are several."""
    assert chapters[0].start_seconds == 0.0
    for before, after in itertools.pairwise(chapters):
        assert before.end_seconds == after.start_seconds
        assert after.start_seconds - before.start_seconds >= MIN_CHAPTER_SECONDS
    assert chapters[-1].end_seconds == round(max(p.end for p in passages), 3)
    if len(chapters) > 1:
        assert chapters[-1].end_seconds - chapters[-1].start_seconds >= MIN_CHAPTER_SECONDS


def test_three_topics_split_at_their_joins() -> None:
    passages, joins = talk(["cooking", "astronomy", "football"], per_topic=40)
    assert passages[-1].end > 3 * SECONDS_PER_CHAPTER  # room for three chapters

    chapters = segment_chapters(passages)

    assert len(chapters) == 3
    for found, join in zip(first_passages(chapters, passages), joins, strict=True):
        assert abs(found - join) <= 3
    assert_cover(chapters, passages)
    for chapter, topic in zip(chapters, ["cooking", "astronomy", "football"], strict=True):
        assert 2 <= len(chapter.title.split(", ")) <= 3
        assert chapter.title[0].isupper()
        # Every title word belongs to the topic: filler is everywhere, so never distinctive.
        assert set(chapter.title.lower().split(", ")) <= set(TOPICS[topic])
        assert chapter.terms[0] in TOPICS[topic]
        assert chapter.title.lower().startswith(chapter.terms[0])


def test_highlight_is_the_chapters_most_topical_sentence() -> None:
    passages, joins = talk(["cooking", "astronomy", "football"], per_topic=40)
    chapters = segment_chapters(passages)
    spans = [(0, joins[0]), (joins[0], joins[1]), (joins[1], len(passages))]
    for chapter, (first, stop), topic in zip(
        chapters, spans, ["cooking", "astronomy", "football"], strict=True
    ):
        texts = [p.text for p in passages if chapter.start_seconds <= p.start < chapter.end_seconds]
        assert chapter.highlight in texts
        topical = sum(word.strip(".") in TOPICS[topic] for word in chapter.highlight.split())
        share = topical / len(chapter.highlight.split())
        average = sum(
            sum(word.strip(".") in TOPICS[topic] for word in p.text.split()) / len(p.text.split())
            for p in passages[first:stop]
        ) / (stop - first)
        assert share > average


def test_four_longer_topics_give_no_extra_chapters() -> None:
    passages, joins = talk(list(TOPICS), per_topic=80, seed=11)
    chapters = segment_chapters(passages)
    assert len(chapters) == 4
    for found, join in zip(first_passages(chapters, passages), joins, strict=True):
        assert abs(found - join) <= 3
    for chapter, topic in zip(chapters, TOPICS, strict=True):
        assert set(chapter.terms[:3]) <= set(TOPICS[topic])


def test_one_topic_is_one_chapter() -> None:
    passages, _ = talk(["finance"], per_topic=200)
    assert passages[-1].end > 6 * SECONDS_PER_CHAPTER
    chapters = segment_chapters(passages)
    assert len(chapters) == 1
    assert_cover(chapters, passages)
    assert set(chapters[0].title.lower().split(", ")) <= set(TOPICS["finance"])


def test_empty_transcript_has_no_chapters() -> None:
    assert segment_chapters([]) == ()
    assert chapters_vtt(()) == "WEBVTT\n"


def test_short_recording_is_one_chapter_even_with_topic_changes() -> None:
    passages, _ = talk(["cooking", "astronomy", "football"], per_topic=5)
    assert passages[-1].end < MIN_CHAPTER_SECONDS
    chapters = segment_chapters(passages)
    assert len(chapters) == 1
    assert (chapters[0].start_seconds, chapters[0].end_seconds) == (0.0, round(passages[-1].end, 3))
    assert chapters[0].highlight in [p.text for p in passages]


def test_at_most_one_chapter_per_four_minutes() -> None:
    # A topic change every ~2.5 minutes, for ~12.5 minutes: 3 chapters at most.
    passages, _ = talk(["cooking", "astronomy", "football", "finance", "cooking"], per_topic=20)
    assert 3 * SECONDS_PER_CHAPTER < passages[-1].end < 4 * SECONDS_PER_CHAPTER
    chapters = segment_chapters(passages)
    assert 2 <= len(chapters) <= 3
    assert_cover(chapters, passages)


def test_four_hours_stay_within_the_caps() -> None:
    # 2,000 passages, ~28,000 words; a new topic every ~6 minutes.
    passages, _ = talk([topic for _ in range(10) for topic in TOPICS], per_topic=50)
    assert 4 * 3600 <= passages[-1].end < 4.5 * 3600
    chapters = segment_chapters(passages)
    assert len(chapters) == 20 == MAX_CHAPTERS
    assert_cover(chapters, passages)
    # Every chapter starts where a topic starts (give or take a few sentences).
    joins = range(0, len(passages), 50)
    for found in first_passages(chapters, passages):
        assert min(abs(found - join) for join in joins) <= 3


def test_same_input_same_chapters() -> None:
    passages, _ = talk(list(TOPICS), per_topic=60, seed=3)
    first = segment_chapters(passages)
    assert segment_chapters(tuple(passages)) == first
    assert chapters_vtt(segment_chapters(list(passages))) == chapters_vtt(first)


def test_boundary_moves_to_a_nearby_speaker_change_and_pause() -> None:
    passages, joins = talk(["cooking", "astronomy"], per_topic=40)
    [join] = joins
    turn = join + 2  # the new speaker starts two sentences after the topic changes
    speakers = ["spk_0" if i < turn else "spk_1" for i in range(len(passages))]
    shifted = [
        p._replace(speaker=speakers[i], start=p.start + 3.0, end=p.end + 3.0)
        if i >= turn
        else p._replace(speaker=speakers[i])
        for i, p in enumerate(passages)
    ]
    chapters = segment_chapters(shifted)
    assert first_passages(chapters, shifted) == [turn]


def test_starts_stepping_back_still_give_increasing_chapters() -> None:
    # Two channels can overlap: a passage may start before the previous one ended.
    passages, _ = talk(["cooking", "astronomy", "football"], per_topic=40)
    jittered = [
        p._replace(start=p.start - 4.0, end=p.end - 4.0) if i % 2 and i > 1 else p
        for i, p in enumerate(passages)
    ]
    chapters = segment_chapters(jittered)
    assert len(chapters) == 3
    starts = [c.start_seconds for c in chapters]
    assert starts == sorted(set(starts))
    vtt_times = parse_vtt(chapters_vtt(chapters))
    assert all(a[1] <= b[0] for a, b in itertools.pairwise(vtt_times))


def test_chapter_starts_after_every_earlier_passage() -> None:
    # The second speaker cuts in a second before the first one's last sentence started.
    passages, [join] = talk(["cooking", "astronomy"], per_topic=40)
    turn = join + 1
    overlapping = [
        p._replace(speaker="spk_0" if i < turn else "spk_1") for i, p in enumerate(passages)
    ]
    overlapping[turn] = overlapping[turn]._replace(start=passages[turn - 1].start - 1.0)
    first, second = segment_chapters(overlapping)
    assert first.end_seconds == second.start_seconds == round(passages[turn - 1].start, 3)
    assert second.highlight in [p.text for p in passages[turn:]]


def test_title_separator_case_and_plurals() -> None:
    texts = ["Models models model training training data data."] * 3
    [chapter] = segment_chapters(timed(texts), title_separator=" / ")
    assert chapter.title == "Models / training / data"
    assert chapter.terms == ("models", "training", "data")
    # A script without case is left as it is.
    japanese = [
        Passage(0.0, 3.0, None, "東京の天気は晴れです。", ("東京", "東京", "東京", "天気", "晴れ"))
    ]
    [chapter] = segment_chapters(japanese, title_separator="、")
    assert chapter.title == "東京、天気"  # the third term weighs too little to show
    assert chapter.highlight == "東京の天気は晴れです。"


def test_chapter_without_terms_is_numbered() -> None:
    passages = [Passage(0.0, 1.0, None, "[PII] [PII].", ()), Passage(2.0, 3.0, None, "Oh.", ())]
    [chapter] = segment_chapters(passages)
    assert chapter.title == "Chapter 1"
    assert chapter.terms == ()
    assert chapter.highlight == "[PII] [PII]."


def test_highlight_prefers_readable_length() -> None:
    long_text = " ".join(["galaxy telescope orbit"] * 30)  # 90 words, all distinctive
    passages = timed(["Galaxy!", "The galaxy is seen with a telescope.", long_text])
    [chapter] = segment_chapters(passages)
    assert chapter.highlight == "The galaxy is seen with a telescope."


# -- chapters.vtt ---------------------------------------------------------------------

_CUE = re.compile(
    r"(?P<id>[^\n]+)\n(?P<start>\d\d:\d\d:\d\d\.\d{3}) --> (?P<end>\d\d:\d\d:\d\d\.\d{3})\n"
    r"(?P<text>[^\n]+)\n"
)


def _seconds(stamp: str) -> float:
    hours, minutes, seconds = stamp.split(":")
    return int(hours) * 3600 + int(minutes) * 60 + float(seconds)


def parse_vtt(vtt: str) -> list[tuple[float, float, str, str]]:
    """(start, end, id, text) of each cue; fails unless the whole file is cues."""
    assert vtt.startswith("WEBVTT\n\n")
    blocks = vtt[len("WEBVTT\n\n") :].split("\n\n")
    cues = []
    for block in blocks:
        match = _CUE.fullmatch(block if block.endswith("\n") else block + "\n")
        assert match, block
        cues.append(
            (
                _seconds(match["start"]),
                _seconds(match["end"]),
                match["id"],
                match["text"],
            )
        )
    return cues


def unescape(text: str) -> str:
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def test_vtt_cues_are_the_chapters() -> None:
    passages, _ = talk(["cooking", "astronomy", "football"], per_topic=40)
    chapters = segment_chapters(passages)
    cues = parse_vtt(chapters_vtt(chapters))
    assert [text for *_, text in cues] == [c.title for c in chapters]
    assert [cue_id for _, _, cue_id, _ in cues] == ["Chapter 1", "Chapter 2", "Chapter 3"]
    assert cues[0][0] == 0.0
    assert cues[-1][1] == pytest.approx(passages[-1].end, abs=0.001)
    for start, end, _, _ in cues:
        assert 0.0 <= start < end <= passages[-1].end + 0.001
    for before, after in itertools.pairwise(cues):
        assert before[0] < after[0]
        assert before[1] == after[0]  # back to back: every moment is in one chapter


def test_vtt_escapes_markup_and_formats_hours() -> None:
    chapters = [
        Chapter(0.0, 3725.5, "Fish & <chips> --> more", "x", ("fish",)),
        Chapter(3725.5, 7200.0, "Tea\nand cake", "y", ("tea",)),
    ]
    vtt = chapters_vtt(chapters)
    assert "Fish &amp; &lt;chips&gt; --&gt; more\n" in vtt
    cues = parse_vtt(vtt)
    assert [unescape(text) for *_, text in cues] == ["Fish & <chips> --> more", "Tea and cake"]
    assert "01:02:05.500 --> 02:00:00.000" in vtt
    assert cues[0][:2] == (0.0, 3725.5)


def test_vtt_cue_of_a_silent_instant_still_ends_after_it_starts() -> None:
    [chapter] = segment_chapters([Passage(0.0, 0.0, None, "Hm.", ())])
    [(start, end, _, _)] = parse_vtt(chapters_vtt([chapter]))
    assert start < end


# -- Real Transcribe outputs ------------------------------------------------------------


def passages_of(words: Sequence[Word]) -> list[Passage]:
    """Sentences split at Word.sentence_end, the way summary.py builds them."""
    passages: list[Passage] = []
    sentence: list[Word] = []
    for word in words:
        sentence.append(word)
        if word.sentence_end:
            passages.append(_passage(sentence))
            sentence = []
    if sentence:
        passages.append(_passage(sentence))
    return passages


def _passage(words: Sequence[Word]) -> Passage:
    text = " ".join(w.text for w in words)
    terms = tuple(t for w in words for t in terms_of(w.content))
    return Passage(words[0].start, words[-1].end, words[0].speaker, text, terms)


@pytest.mark.parametrize("name", SPEECH_FIXTURES)
def test_real_transcripts_are_covered_in_order(name: str) -> None:
    words = group_words(parsed(name).items)
    passages = passages_of(words)
    chapters = segment_chapters(passages)
    assert len(chapters) == 1  # about 141 seconds: one chapter
    assert_cover(chapters, passages)
    assert chapters[0].end_seconds == round(words[-1].end, 3)
    assert chapters[0].highlight in [p.text for p in passages]
    assert chapters[0].title
    assert chapters[0].terms
    assert all(term.islower() for term in chapters[0].terms)


def test_empty_real_transcript_has_no_chapters() -> None:
    assert segment_chapters(passages_of(group_words(parsed(EMPTY_FIXTURE).items))) == ()


def test_long_real_transcript_is_covered_in_order() -> None:
    # Fixture 03 (speaker labels) back to back for 20 minutes.
    t = parse_transcript(json.dumps(scaled_transcript(20 * 60)))
    passages = passages_of(group_words(t.items))
    chapters = segment_chapters(passages)
    assert 1 <= len(chapters) <= 5
    assert_cover(chapters, passages)
    first_passages(chapters, passages)  # each chapter starts at a sentence
    for chapter in chapters:
        inside = [
            p.text for p in passages if chapter.start_seconds <= p.start < chapter.end_seconds
        ]
        assert chapter.highlight in inside
    cues = parse_vtt(chapters_vtt(chapters))
    assert [unescape(text) for *_, text in cues] == [c.title for c in chapters]
