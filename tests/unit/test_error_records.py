from __future__ import annotations

import json

import pytest

from transcription_pipeline.error_records import explain_failure, failure_record
from transcription_pipeline.naming import S3Location
from transcription_pipeline.stable_json import json_bytes


@pytest.mark.parametrize(
    ("reason", "fragment"),
    [
        ("Unsupported media format", "found no audio it could read"),
        ("Unsupported media format: the media file has no audio stream.", "no audio track"),
        ("The media format provided does not match the detected media format", "not the format"),
        ("Invalid sample rate for audio file", "sample rate"),
        ("Invalid file size: file size too large", "2 GB"),
        ("Invalid number of channels: number of channels too large", "2 channels"),
        ("The input media file length is too small. Minimum length is 500 ms", "too short"),
        ("Failed to parse audio file.", "no audio"),
    ],
)
def test_known_failure_reasons_in_plain_words(reason: str, fragment: str) -> None:
    assert fragment in explain_failure(reason)


def test_unknown_failure_reason_is_passed_through() -> None:
    assert explain_failure("Something new") == (
        "Amazon Transcribe could not transcribe the file: Something new"
    )
    assert "no reason" in explain_failure(None)


def test_failure_record_keeps_the_verbatim_reason() -> None:
    record = failure_record(
        S3Location("in", "a b.mp4"),
        job_name="stack.a-b.0123",
        failure_reason="Unsupported media format",
        stage="transcription",
        occurred_at="2026-01-01T00:00:00Z",
    )
    assert record["transcribe_failure_reason"] == "Unsupported media format"
    assert record["source"] == {"bucket": "in", "key": "a b.mp4"}
    assert record["status"] == "FAILED"


def test_json_bytes_is_stable_and_keeps_unicode() -> None:
    first = json_bytes({"b": 1, "a": "café"})
    assert first == json_bytes({"a": "café", "b": 1})
    assert "café" in first.decode()
    assert json.loads(first) == {"a": "café", "b": 1}
