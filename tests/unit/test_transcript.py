"""Tests for transcription_pipeline.transcript against real and derived Transcribe outputs."""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

import pytest

from tests.conftest import TRANSCRIPTS
from tests.unit.conftest import ALL_FIXTURES, fixture_bytes, fixture_json, parsed
from transcription_pipeline.transcript import (
    Item,
    Transcript,
    TranscriptFormatError,
    parse_transcript,
)


def json_words(doc: dict[str, Any]) -> list[dict[str, Any]]:
    """Pronunciation items straight from the JSON (channel jobs: from the channel lists)."""
    results = doc["results"]
    channels = results.get("channel_labels", {}).get("channels")
    source = [i for c in channels for i in c["items"]] if channels else results["items"]
    return [i for i in source if i["type"] == "pronunciation"]


def words(t: Transcript) -> list[Item]:
    return [i for i in t.items if i.kind == "pronunciation"]


def test_fixture_licence_travels_with_copies() -> None:
    assert (TRANSCRIPTS / "LICENSE").read_text().startswith("MIT License")
    assert "derived" in (TRANSCRIPTS / "SOURCE.md").read_text()


@pytest.mark.parametrize("name", ALL_FIXTURES)
def test_word_count_matches_json(name: str) -> None:
    doc = fixture_json(name)
    t = parsed(name)
    assert len(words(t)) == len(json_words(doc))
    assert t.job_name == doc["jobName"]
    assert t.text == doc["results"]["transcripts"][0]["transcript"]


@pytest.mark.parametrize("name", ALL_FIXTURES)
def test_items_time_ordered_and_punctuation_follows_a_word(name: str) -> None:
    t = parsed(name)
    starts = [i.start for i in words(t)]
    assert all(s is not None for s in starts)
    assert starts == sorted(starts)  # type: ignore[type-var]
    for index, item in enumerate(t.items):
        if item.kind == "punctuation":
            assert index > 0
            assert item.start is None
            assert item.end is None
        else:
            assert item.start is not None
            assert item.end is not None
            assert item.end >= item.start


@pytest.mark.parametrize(
    "name",
    ["01-plain.json", "03-speaker-identification.json", "07-vocabulary-filter-mask.json"],
)
def test_contents_and_times_match_json_in_order(name: str) -> None:
    doc = fixture_json(name)
    expected = [
        (i["alternatives"][0]["content"], float(i["start_time"]), float(i["end_time"]))
        for i in json_words(doc)
    ]
    assert [(i.content, i.start, i.end) for i in words(parsed(name))] == expected


def test_plain_has_no_labels() -> None:
    t = parsed("01-plain.json")
    assert t.labels is None
    assert {i.speaker for i in t.items} == {None}
    assert t.redacted is False
    assert t.language_code is None
    assert t.language_score is None


def test_confidence_is_parsed_from_strings() -> None:
    doc = fixture_json("01-plain.json")
    t = parsed("01-plain.json")
    expected = [float(i["alternatives"][0]["confidence"]) for i in json_words(doc)]
    assert [i.confidence for i in words(t)] == expected


def test_speaker_labels_legacy_match_segments() -> None:
    doc = fixture_json("03-speaker-identification.json")
    t = parsed("03-speaker-identification.json")
    assert t.labels == "speaker"
    expected = {
        (float(s["start_time"]), float(s["end_time"])): s["speaker_label"]
        for seg in doc["results"]["speaker_labels"]["segments"]
        for s in seg["items"]
    }
    got = {(i.start, i.end): i.speaker for i in words(t)}
    assert got == expected
    assert {i.speaker for i in t.items} == {"spk_0", "spk_1", "spk_2"}
    # Punctuation carries the speaker of the word it follows.
    for prev, item in zip(t.items, t.items[1:], strict=False):
        if item.kind == "punctuation":
            assert item.speaker == prev.speaker


def test_newer_layout_equals_legacy_parse() -> None:
    legacy = parsed("03-speaker-identification.json")
    newer = parsed("v1-newer-layout-speaker-labels.json")
    assert newer.labels == "speaker"
    assert newer.items == legacy.items


def test_per_item_speaker_label_without_segments() -> None:
    doc = fixture_json("v1-newer-layout-speaker-labels.json")
    del doc["results"]["speaker_labels"]
    del doc["results"]["audio_segments"]
    t = parse_transcript(json.dumps(doc))
    assert t.labels == "speaker"
    assert t.items == parsed("03-speaker-identification.json").items


def test_segments_without_items_map_by_time() -> None:
    doc = fixture_json("03-speaker-identification.json")
    segments = doc["results"]["speaker_labels"]["segments"]
    for seg in segments:
        seg["items"] = []
    t = parse_transcript(json.dumps(doc))
    for item in words(t):
        assert item.start is not None
        owner = [
            s["speaker_label"]
            for s in segments
            if float(s["start_time"]) <= item.start <= float(s["end_time"])
        ]
        assert item.speaker in owner


def test_channel_identification_each_word_once() -> None:
    doc = fixture_json("02-channel-identification.json")
    t = parsed("02-channel-identification.json")
    assert t.labels == "channel"
    keys = [(i.content, i.start, i.end) for i in words(t)]
    assert len(keys) == len(set(keys))
    # Same words as the merged top-level list, in the same time order.
    top = [
        (i["alternatives"][0]["content"], float(i["start_time"]), float(i["end_time"]))
        for i in doc["results"]["items"]
        if i["type"] == "pronunciation"
    ]
    assert keys == top
    per_channel = Counter(i.speaker for i in words(t))
    expected = {
        c["channel_label"]: sum(1 for i in c["items"] if i["type"] == "pronunciation")
        for c in doc["results"]["channel_labels"]["channels"]
    }
    assert per_channel == expected
    assert t.items[0].speaker == "ch_1"
    assert t.items[0].content == "She"
    # Punctuation count is that of the channel lists, not doubled by the top-level copy.
    channel_punct = sum(
        1
        for c in doc["results"]["channel_labels"]["channels"]
        for i in c["items"]
        if i["type"] == "punctuation"
    )
    assert sum(1 for i in t.items if i.kind == "punctuation") == channel_punct


def test_channel_duplicate_word_on_both_channels_kept_once() -> None:
    word = {
        "start_time": "1.0",
        "end_time": "1.5",
        "type": "pronunciation",
        "alternatives": [{"confidence": "0.9", "content": "Hello"}],
    }
    stop = {"type": "punctuation", "alternatives": [{"confidence": "0.0", "content": "."}]}
    later = {
        **word,
        "start_time": "2.0",
        "end_time": "2.4",
        "alternatives": [{"confidence": "0.8", "content": "Bye"}],
    }
    doc = {
        "jobName": "dup",
        "results": {
            "transcripts": [{"transcript": "Hello. Hello. Bye"}],
            "channel_labels": {
                "number_of_channels": 2,
                "channels": [
                    {"channel_label": "ch_0", "items": [word, stop]},
                    {"channel_label": "ch_1", "items": [word, stop, later]},
                ],
            },
            "items": [word, stop, word, stop, later],
        },
    }
    t = parse_transcript(json.dumps(doc))
    assert [(i.content, i.speaker) for i in t.items] == [
        ("Hello", "ch_0"),
        (".", "ch_0"),
        ("Bye", "ch_1"),
    ]


def test_alternatives_take_the_first() -> None:
    t = parsed("v2-alternatives.json")
    assert not any(i.content.endswith("-alt") for i in t.items)
    assert [i.content for i in t.items] == [i.content for i in parsed("01-plain.json").items]


def test_vocabulary_filter_mask_and_remove() -> None:
    masked = parsed("07-vocabulary-filter-mask.json")
    removed = parsed("v3-vocabulary-filter-remove.json")
    stars = sum(1 for i in words(masked) if i.content == "***")
    assert stars > 0
    assert len(words(removed)) == len(words(masked)) - stars
    assert not any(i.content == "***" for i in removed.items)


def test_redaction_flags_and_pii_kept() -> None:
    assert parsed("05-automatic-content-redaction-with-undredacted-redacted.json").redacted
    t = parsed("v6-pii-redaction.json")
    assert t.redacted
    pii = [i for i in t.items if i.content == "[PII]"]
    doc = fixture_json("v6-pii-redaction.json")
    assert len(pii) == sum(1 for i in json_words(doc) if i["alternatives"][0]["content"] == "[PII]")
    assert len(pii) == 3
    # Per-item redactions alone also mark the transcript as redacted.
    del doc["isRedacted"]
    assert parse_transcript(json.dumps(doc)).redacted
    assert not parsed("01-plain.json").redacted


def test_empty_transcript() -> None:
    t = parsed("v4-empty.json")
    assert t.items == ()
    assert t.text == ""
    assert t.labels is None
    assert t.redacted is False


def test_empty_transcript_with_label_settings_reports_no_labels() -> None:
    doc = {
        "jobName": "e",
        "results": {
            "transcripts": [{"transcript": ""}],
            "speaker_labels": {"speakers": 0, "segments": []},
            "items": [],
            "audio_segments": [],
        },
    }
    t = parse_transcript(json.dumps(doc))
    assert t.items == ()
    assert t.labels is None


def test_language_identification() -> None:
    t = parsed("v5-language-identification.json")
    assert t.language_code == "en-US"
    assert t.language_score == pytest.approx(0.9921)


def test_multi_language_picks_longest() -> None:
    doc = {
        "jobName": "m",
        "results": {
            "transcripts": [{"transcript": ""}],
            "items": [],
            "language_codes": [
                {"language_code": "en-US", "duration_in_seconds": "12.5"},
                {"language_code": "es-US", "duration_in_seconds": "40.0"},
            ],
        },
    }
    t = parse_transcript(json.dumps(doc))
    assert t.language_code == "es-US"
    assert t.language_score is None


def test_defensive_item_parsing() -> None:
    items: list[Any] = [
        {
            "type": "pronunciation",
            "start_time": "0.1",
            "end_time": "0.4",
            "alternatives": [{"content": "ok"}],
        },  # no confidence
        {"type": "pronunciation", "start_time": "0.5", "end_time": "0.9"},  # no alternatives
        {"type": "pronunciation", "start_time": "0.5", "end_time": "0.9", "alternatives": []},
        {"type": "weird", "alternatives": [{"content": "x", "confidence": "1"}]},
        "not an item",
        {
            "type": "pronunciation",
            "start_time": "abc",
            "end_time": "1.2",
            "alternatives": [{"content": "late", "confidence": "nan"}],
        },
        {"type": "punctuation", "alternatives": [{"content": ".", "confidence": "0.0"}]},
    ]
    doc = {"jobName": "d", "results": {"items": items}}
    t = parse_transcript(json.dumps(doc).encode())
    assert [(i.kind, i.content, i.start, i.confidence) for i in t.items] == [
        ("pronunciation", "ok", 0.1, None),
        ("pronunciation", "late", None, None),
        ("punctuation", ".", None, 0.0),
    ]
    assert t.text == ""


def test_bytes_str_and_bom_agree() -> None:
    raw = fixture_bytes("01-plain.json")
    assert parse_transcript(raw) == parse_transcript(raw.decode())
    assert parse_transcript(b"\xef\xbb\xbf" + raw) == parse_transcript(raw)
    assert parse_transcript("\ufeff" + raw.decode()) == parse_transcript(raw)


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        b"not json",
        b"\xff\xfe\x00garbage",
        "[1, 2]",
        '{"jobName": "x"}',
        '{"results": []}',
        '{"results": {"foo": 1}}',
        "null",
    ],
)
def test_not_a_transcript_raises(raw: bytes | str) -> None:
    with pytest.raises(TranscriptFormatError):
        parse_transcript(raw)
    assert issubclass(TranscriptFormatError, ValueError)


def test_error_message_does_not_echo_content() -> None:
    secret = '{"results": {"transcripts": [{"transcript": "my secret words"}]'  # truncated
    with pytest.raises(TranscriptFormatError) as info:
        parse_transcript(secret)
    assert "secret" not in str(info.value)


def word_item(start: Any, end: Any, content: str = "w", **extra: Any) -> dict[str, Any]:
    return {
        "type": "pronunciation",
        "start_time": start,
        "end_time": end,
        "alternatives": [{"content": content, "confidence": "0.9"}],
        **extra,
    }


@pytest.mark.parametrize(
    ("start", "end", "expected"),
    [
        ("1.5", "2.0", (1.5, 2.0)),
        (" 1.5 ", "2", (1.5, 2.0)),  # float() ignores surrounding whitespace
        (1.5, 2, (1.5, 2.0)),  # numbers as numbers
        ("2.0", "1.5", (2.0, 2.0)),  # end before start: clamped
        ("-1", "2.0", (None, None)),  # negative
        ("inf", "2.0", (None, None)),
        ("1.0", "nan", (None, None)),
        (True, "2.0", (None, None)),  # a boolean is not a time
        ("1.0", None, (None, None)),  # half a range is none
        ("1.0", "soon", (None, None)),
    ],
)
def test_word_times(start: Any, end: Any, expected: tuple[float | None, float | None]) -> None:
    doc = {"jobName": "t", "results": {"items": [word_item(start, end)]}}
    (item,) = parse_transcript(json.dumps(doc)).items
    assert (item.start, item.end) == expected


@pytest.mark.parametrize(
    ("confidence", "expected"),
    [("0.25", 0.25), (0.5, 0.5), ("high", None), ("inf", None), (None, None), (False, None)],
)
def test_confidence_values(confidence: Any, expected: float | None) -> None:
    item = word_item("0.1", "0.2")
    item["alternatives"][0]["confidence"] = confidence
    (parsed_item,) = parse_transcript(json.dumps({"results": {"items": [item]}})).items
    assert parsed_item.confidence == expected


def test_items_out_of_time_order_are_sorted_with_their_punctuation() -> None:
    comma = {"type": "punctuation", "alternatives": [{"content": ",", "confidence": "0"}]}
    items = [word_item("2.0", "2.5", "second"), comma, word_item("1.0", "1.5", "first")]
    t = parse_transcript(json.dumps({"jobName": "o", "results": {"items": items}}))
    assert [i.content for i in t.items] == ["first", "second", ","]


def test_items_are_immutable() -> None:
    item = parsed("01-plain.json").items[0]
    with pytest.raises(AttributeError):
        item.content = "changed"  # type: ignore[misc]
