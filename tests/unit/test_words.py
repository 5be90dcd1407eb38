"""Tests for transcription_pipeline.words: items grouped into words, and the clock."""

from __future__ import annotations

import pytest

from tests.unit.conftest import ALL_FIXTURES, fixture_json, parsed
from transcription_pipeline.transcript import Item
from transcription_pipeline.words import Word, format_clock, group_words


def word(content: str, start: float | None, end: float | None, speaker: str | None = None) -> Item:
    return Item("pronunciation", content, start, end, 0.9, speaker)


def punct(content: str, speaker: str | None = None) -> Item:
    return Item("punctuation", content, None, None, 0.0, speaker)


def test_punctuation_attaches_to_the_word_before() -> None:
    words = group_words([word("Hello", 0.0, 0.4), punct(","), word("world", 0.5, 0.9), punct(".")])
    assert [w.text for w in words] == ["Hello,", "world."]
    assert [w.content for w in words] == ["Hello", "world"]
    assert [(w.clause_end, w.sentence_end) for w in words] == [(True, False), (True, True)]


def test_several_marks_and_full_width_sentence_ends() -> None:
    words = group_words(
        [
            word("Really", 0, 0.3),
            punct("?"),
            punct("!"),
            word("\u306f\u3044", 0.4, 0.6),
            punct("\u3002"),
        ]
    )
    assert [w.text for w in words] == ["Really?!", "\u306f\u3044\u3002"]
    assert all(w.sentence_end for w in words)


@pytest.mark.parametrize("mark", [",", ";", ":", "\u3001"])
def test_other_marks_end_a_clause_not_a_sentence(mark: str) -> None:
    (w,) = group_words([word("so", 0, 0.2), punct(mark)])
    assert w.clause_end
    assert not w.sentence_end


def test_punctuation_before_any_word_leads_the_first_word() -> None:
    words = group_words([punct("\u00bf"), word("Qu\u00e9", 0.1, 0.3), punct("?")])
    assert words == (Word("\u00bfQu\u00e9?", "Qu\u00e9", 0.1, 0.3, 0.9, None, True, True),)


def test_untimed_words_take_the_previous_end() -> None:
    words = group_words([word("a", 1.0, 1.5), word("b", None, None), word("c", 2.0, 2.2)])
    assert [(w.start, w.end) for w in words] == [(1.0, 1.5), (1.5, 1.5), (2.0, 2.2)]
    # The latest end so far, not merely the previous word's.
    words = group_words([word("long", 0.0, 3.0), word("short", 1.0, 1.2), word("x", None, None)])
    assert (words[2].start, words[2].end) == (3.0, 3.0)
    (first,) = group_words([word("first", None, None)])
    assert (first.start, first.end) == (0.0, 0.0)


def test_no_words() -> None:
    assert group_words([]) == ()
    assert group_words([punct(".")]) == ()


def test_speakers_and_channels_are_the_words_own() -> None:
    words = group_words(
        [word("hi", 0, 0.2, "spk_0"), punct(".", "spk_0"), word("yes", 0.3, 0.5, "spk_1")]
    )
    assert [(w.text, w.speaker) for w in words] == [("hi.", "spk_0"), ("yes", "spk_1")]
    channels = group_words(parsed("02-channel-identification.json").items)
    assert {w.speaker for w in channels} == {"ch_0", "ch_1"}
    assert group_words(parsed("01-plain.json").items)[0].speaker is None


def test_speaker_fixture_words_follow_segments() -> None:
    segments = fixture_json("03-speaker-identification.json")["results"]["speaker_labels"]
    expected = [item["speaker_label"] for s in segments["segments"] for item in s["items"]]
    words = group_words(parsed("03-speaker-identification.json").items)
    assert [w.speaker for w in words] == expected


@pytest.mark.parametrize("name", ALL_FIXTURES)
def test_one_word_per_pronunciation_item_with_every_mark(name: str) -> None:
    items = parsed(name).items
    words = group_words(items)
    assert len(words) == sum(1 for i in items if i.kind == "pronunciation")
    assert "".join(w.text for w in words) == "".join(i.content for i in items)
    starts = [w.start for w in words]
    assert starts == sorted(starts)
    assert all(w.end >= w.start for w in words)


def test_words_are_immutable() -> None:
    (w,) = group_words([word("a", 0, 1)])
    with pytest.raises(AttributeError):
        w.text = "b"  # type: ignore[misc]


@pytest.mark.parametrize(
    ("seconds", "clock"),
    [
        (0, "00:00"),
        (-3, "00:00"),
        (59.99, "00:59"),
        (83, "01:23"),
        (3599.9, "59:59"),
        (3600, "1:00:00"),
        (3725.9, "1:02:05"),
        (36000, "10:00:00"),
    ],
)
def test_format_clock(seconds: float, clock: str) -> None:
    assert format_clock(seconds) == clock


@pytest.mark.parametrize(
    "mark",
    [
        "\u061f",  # Arabic question mark
        "\u06d4",  # Arabic full stop (Urdu)
        "\u0964",  # Devanagari danda (Hindi)
        "\u1362",  # Ethiopic full stop (Amharic)
        "\uff0e",  # full-width full stop
    ],
)
def test_sentence_ends_of_other_scripts(mark: str) -> None:
    (w,) = group_words([word("x", 0, 0.2), punct(mark)])
    assert w.text == "x" + mark
    assert (w.clause_end, w.sentence_end) == (True, True)
