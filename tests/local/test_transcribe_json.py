"""Tests for local_pipeline.transcribe_json and local_pipeline.wer (pure, no model needed)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from local_pipeline.speech import RecognisedSegment, RecognisedWord, Recognition
from local_pipeline.transcribe_json import split_word, transcript_document
from local_pipeline.wer import normalise_words, word_error_rate
from transcription_pipeline.render import render_srt, render_text, render_vtt
from transcription_pipeline.summary import build_summary, render_summary_markdown
from transcription_pipeline.transcript import parse_transcript

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "transcribe"
TIME = re.compile(r"^\d+\.\d{1,3}$")


def recognition(*segments: list[tuple[str, float, float]], prob: float = 0.9) -> Recognition:
    """Words given per segment as (text, start, end)."""
    words: list[RecognisedWord] = []
    segs: list[RecognisedSegment] = []
    for seg in segments:
        first = len(words)
        words += [RecognisedWord(text, start, end, prob) for text, start, end in seg]
        segs.append(RecognisedSegment(seg[0][1], seg[-1][2], first, len(words) - 1))
    return Recognition(tuple(words), tuple(segs), "en", 30.0)


SAMPLE = recognition(
    [("Hello,", 0.5, 0.9), ("world.", 1.0, 1.4)],
    [("This", 2.0, 2.2), ("is", 2.2, 2.3), ("a", 2.3, 2.35), ("real-time", 2.4, 2.9)],
    [("test", 3.0, 3.3), ("of", 3.3, 3.4), ("3.5", 3.4, 3.8), ("seconds?", 3.8, 4.4)],
)


def doc_of(rec: Recognition, **kwargs: Any) -> dict[str, Any]:
    return transcript_document("local-job", "123456789012", rec, **kwargs)


def contents(doc: dict[str, Any]) -> list[tuple[str, str]]:
    return [(i["type"], i["alternatives"][0]["content"]) for i in doc["results"]["items"]]


# --- the document ---------------------------------------------------------------


def test_top_level_layout_matches_transcribe() -> None:
    doc = doc_of(SAMPLE)
    assert list(doc) == ["jobName", "accountId", "status", "results"]
    assert doc["jobName"] == "local-job"
    assert doc["accountId"] == "123456789012"
    assert doc["status"] == "COMPLETED"
    assert list(doc["results"]) == ["transcripts", "items", "audio_segments"]
    assert "language_code" not in doc["results"]
    json.dumps(doc)  # plain JSON types only


def test_language_code_only_when_given() -> None:
    assert doc_of(SAMPLE, language_code="en-US")["results"]["language_code"] == "en-US"


def test_trailing_punctuation_becomes_its_own_item() -> None:
    assert contents(doc_of(SAMPLE)) == [
        ("pronunciation", "Hello"),
        ("punctuation", ","),
        ("pronunciation", "world"),
        ("punctuation", "."),
        ("pronunciation", "This"),
        ("pronunciation", "is"),
        ("pronunciation", "a"),
        ("pronunciation", "real-time"),
        ("pronunciation", "test"),
        ("pronunciation", "of"),
        ("pronunciation", "3.5"),
        ("pronunciation", "seconds"),
        ("punctuation", "?"),
    ]


def test_transcript_text_is_built_like_transcribe() -> None:
    doc = doc_of(SAMPLE)
    assert doc["results"]["transcripts"] == [
        {"transcript": "Hello, world. This is a real-time test of 3.5 seconds?"}
    ]


def test_ids_are_sequential_from_zero() -> None:
    items = doc_of(SAMPLE)["results"]["items"]
    assert [i["id"] for i in items] == list(range(len(items)))


def test_numbers_are_strings_and_punctuation_has_no_times() -> None:
    for item in doc_of(SAMPLE)["results"]["items"]:
        (alternative,) = item["alternatives"]
        assert isinstance(alternative["confidence"], str)
        if item["type"] == "punctuation":
            assert alternative["confidence"] == "0.0"
            assert "start_time" not in item
            assert "end_time" not in item
        else:
            assert alternative["confidence"] == "0.9"
            assert TIME.match(item["start_time"])
            assert TIME.match(item["end_time"])
            assert float(item["start_time"]) <= float(item["end_time"])


def test_time_and_confidence_formatting() -> None:
    rec = recognition([("one", 0.0, 1.23456), ("two", 12.0, 12.5)], prob=0.98765)
    items = doc_of(rec)["results"]["items"]
    assert (items[0]["start_time"], items[0]["end_time"]) == ("0.0", "1.235")
    assert (items[1]["start_time"], items[1]["end_time"]) == ("12.0", "12.5")
    assert items[0]["alternatives"][0]["confidence"] == "0.988"
    sure = doc_of(recognition([("yes", 1.0, 2.0)], prob=1.0000001))
    assert sure["results"]["items"][0]["alternatives"][0]["confidence"] == "1.0"


def test_audio_segments_reference_their_items() -> None:
    results = doc_of(SAMPLE)["results"]
    segments = results["audio_segments"]
    assert [s["id"] for s in segments] == [0, 1, 2]
    assert [s["items"] for s in segments] == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9, 10, 11, 12]]
    assert [s["transcript"] for s in segments] == [
        "Hello, world.",
        "This is a real-time",
        "test of 3.5 seconds?",
    ]
    assert [(s["start_time"], s["end_time"]) for s in segments] == [
        ("0.5", "1.4"),
        ("2.0", "2.9"),
        ("3.0", "4.4"),
    ]
    # Every item lies in exactly one segment, in order.
    all_ids = [i for s in segments for i in s["items"]]
    assert all_ids == [i["id"] for i in results["items"]]


def test_empty_recognition() -> None:
    doc = doc_of(Recognition((), (), "en", 3.0))
    assert doc["status"] == "COMPLETED"
    assert doc["results"] == {
        "transcripts": [{"transcript": ""}],
        "items": [],
        "audio_segments": [],
    }
    parsed = parse_transcript(json.dumps(doc))
    assert parsed.items == ()
    assert parsed.text == ""


def test_leading_quotes_dropped_and_lone_marks_attach_to_previous_word() -> None:
    rec = recognition(
        [("\u201cQuoted", 0.0, 0.5), ("words,\u201d", 0.5, 1.0), ("(aside)", 1.0, 1.5)],
        [("...", 1.6, 1.7), ("-", 1.7, 1.8), ("next", 2.0, 2.5), ("!", 2.5, 2.6)],
    )
    doc = doc_of(rec)
    assert contents(doc) == [
        ("pronunciation", "Quoted"),
        ("pronunciation", "words"),
        ("punctuation", ","),
        ("pronunciation", "aside"),
        ("punctuation", "."),  # the "..." that opened the next segment
        ("pronunciation", "next"),
        ("punctuation", "!"),
    ]
    segments = doc["results"]["audio_segments"]
    assert [s["items"] for s in segments] == [[0, 1, 2, 3, 4], [5, 6]]
    assert [s["transcript"] for s in segments] == ["Quoted words, aside.", "next!"]


def test_punctuation_before_any_word_is_dropped() -> None:
    rec = recognition([("...", 0.0, 0.1), ("Hi.", 0.2, 0.5)])
    assert contents(doc_of(rec)) == [("pronunciation", "Hi"), ("punctuation", ".")]


@pytest.mark.parametrize(
    ("word", "expected"),
    [
        ("Hello,", ("Hello", ",")),
        ("pipeline.", ("pipeline", ".")),
        ("really?", ("really", "?")),
        ("wow!", ("wow", "!")),
        ("note;", ("note", ";")),
        ("as follows:", ("as follows", ":")),
        (" spaced ", ("spaced", None)),
        ('"Hello', ("Hello", None)),
        ("(the", ("the", None)),
        ('said."', ("said", ".")),
        ("end.)", ("end", ".")),
        ("real-time", ("real-time", None)),
        ("3.5", ("3.5", None)),
        ("1,000.", ("1,000", ".")),
        ("$5.00", ("$5.00", None)),
        ("don't", ("don't", None)),
        ("students'", ("students'", None)),
        ("'quoted'", ("quoted", None)),
        ("Wait...", ("Wait", ".")),
        ("hmm\u2026", ("hmm", ".")),
        ("Really?!", ("Really", "!")),
        ("well-", ("well", None)),
        (",", ("", ",")),
        ("-", ("", None)),
    ],
)
def test_split_word(word: str, expected: tuple[str, str | None]) -> None:
    assert split_word(word) == expected


# --- round trip through the project's own parser and renderers ------------------


def test_document_parses_with_the_pipeline_parser() -> None:
    doc = doc_of(SAMPLE, language_code="en-US")
    parsed = parse_transcript(json.dumps(doc).encode())
    assert parsed.job_name == "local-job"
    assert parsed.language_code == "en-US"
    assert parsed.text == doc["results"]["transcripts"][0]["transcript"]
    assert [(i.kind, i.content) for i in parsed.items] == contents(doc)
    words = [i for i in parsed.items if i.kind == "pronunciation"]
    assert [w.content for w in words] == [split_word(w.text)[0] for w in SAMPLE.words]
    assert [(w.start, w.end) for w in words] == [(w.start, w.end) for w in SAMPLE.words]
    assert [w.confidence for w in words] == [0.9] * len(SAMPLE.words)
    assert parsed.labels is None


def test_document_renders_text_subtitles_and_summary() -> None:
    parsed = parse_transcript(json.dumps(doc_of(SAMPLE)))
    assert "Hello, world." in render_text(parsed)
    assert "00:00:00,500 --> " in render_srt(parsed)
    assert render_vtt(parsed).startswith("WEBVTT")
    summary = build_summary(
        parsed, source_bucket="in", source_key="talk.mp4", created_at="2026-01-01T00:00:00Z"
    )
    assert "talk.mp4" in render_summary_markdown(summary)


def test_same_shape_as_the_newer_layout_fixture() -> None:
    """Keys of items and segments are those of the newer Transcribe layout."""
    fixture = json.loads((FIXTURES / "v1-newer-layout-speaker-labels.json").read_bytes())
    ours = doc_of(SAMPLE)["results"]
    theirs = fixture["results"]
    for kind in ("pronunciation", "punctuation"):
        our_item = next(i for i in ours["items"] if i["type"] == kind)
        their_item = next(i for i in theirs["items"] if i["type"] == kind)
        assert set(our_item) == set(their_item) - {"speaker_label"}
    assert set(ours["audio_segments"][0]) == set(theirs["audio_segments"][0]) - {"speaker_label"}


# --- word error rate -------------------------------------------------------------


def test_normalise_words() -> None:
    assert normalise_words("Hello, World! It's real-time\u2026 3.5") == [
        "hello",
        "world",
        "it's",
        "real-time",
        "3",
        "5",
    ]


@pytest.mark.parametrize(
    ("reference", "hypothesis", "expected"),
    [
        ("the cat sat", "the cat sat", 0.0),
        ("The cat, sat.", "the CAT sat", 0.0),  # case and punctuation do not count
        ("the cat sat", "the bat sat", 1 / 3),  # substitution
        ("the cat sat", "the sat", 1 / 3),  # deletion
        ("the cat sat", "the cat sat down", 1 / 3),  # insertion
        ("the cat sat", "", 1.0),
        ("a b", "c d e f", 2.0),  # can exceed 1
        ("", "", 0.0),
        ("", "noise", 1.0),
    ],
)
def test_word_error_rate(reference: str, hypothesis: str, expected: float) -> None:
    assert word_error_rate(reference, hypothesis) == pytest.approx(expected)
