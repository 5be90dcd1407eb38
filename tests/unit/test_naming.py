from __future__ import annotations

import re

import pytest

from transcription_pipeline.naming import (
    MAX_JOB_NAME_LENGTH,
    S3Location,
    is_transcribe_artifact,
    job_name_for,
    output_key,
    parse_s3_uri,
    parse_transcript_uri,
    raw_output_key,
)

PREFIX = "transcription-pipeline."
JOB_NAME = re.compile(r"^[0-9a-zA-Z._-]+$")
OUTPUT_KEY = re.compile(r"^[a-zA-Z0-9\-_.!*'()/]+$")


def test_job_name_is_readable_and_deterministic() -> None:
    source = S3Location("in", "uploads/My Talk.mp4")

    name = job_name_for(PREFIX, source, "etag-1")

    assert name.startswith("transcription-pipeline.My-Talk.")
    assert name == job_name_for(PREFIX, source, "etag-1")
    assert len(name.rsplit(".", 1)[1]) == 16


@pytest.mark.parametrize(
    ("other_bucket", "other_key", "other_revision"),
    [
        ("in2", "uploads/My Talk.mp4", "etag-1"),
        ("in", "uploads/My Talk.mp3", "etag-1"),
        ("in", "uploads/My Talk.mp4", "etag-2"),
        ("in", "other/My Talk.mp4", "etag-1"),
    ],
)
def test_job_name_changes_with_bucket_key_and_revision(
    other_bucket: str, other_key: str, other_revision: str
) -> None:
    base = job_name_for(PREFIX, S3Location("in", "uploads/My Talk.mp4"), "etag-1")
    other = job_name_for(PREFIX, S3Location(other_bucket, other_key), other_revision)
    assert base != other


@pytest.mark.parametrize(
    "key",
    [
        "café/naïve talk ✓.m4a",
        "x" * 1024,
        "日本語の会議.mp4",
        "a+b=c&d%20e \"quoted\" 'single'.wav",
        "no-extension",
        ".hidden.mp3",
        "---.mp3",
    ],
)
def test_job_name_is_valid_for_transcribe(key: str) -> None:
    name = job_name_for(PREFIX, S3Location("bucket", key), "v" * 64)

    assert JOB_NAME.match(name)
    assert 0 < len(name) <= MAX_JOB_NAME_LENGTH
    assert name.startswith(PREFIX)
    assert OUTPUT_KEY.match(raw_output_key("_transcribe/", name))


def test_job_name_keeps_folded_unicode_letters() -> None:
    name = job_name_for(PREFIX, S3Location("b", "café/Naïve Résumé.m4a"), "e")
    assert ".Naive-Resume." in name


def test_long_prefix_still_fits() -> None:
    prefix = "s" * 128 + "."
    name = job_name_for(prefix, S3Location("b", "y" * 500 + ".mp3"), "e")
    assert len(name) <= MAX_JOB_NAME_LENGTH
    assert JOB_NAME.match(name)


def test_outputs_live_under_the_decoded_input_key() -> None:
    assert output_key("uploads/My Talk.mp4", "summary.md") == "uploads/My Talk.mp4/summary.md"


@pytest.mark.parametrize(
    ("key", "expected"),
    [
        ("_transcribe/.write_access_check_file.temp", True),
        ("uploads/.write_access_check_file.temp", True),
        ("_transcribe/job.json", True),
        ("uploads/talk.mp4", False),
        ("uploads/_transcribe/talk.mp4", False),
    ],
)
def test_transcribe_artifacts(key: str, expected: bool) -> None:
    assert is_transcribe_artifact(key, "_transcribe/") is expected


def test_parse_s3_uri_keeps_the_key_verbatim() -> None:
    location = parse_s3_uri("s3://bucket/uploads/My Talk + more%20.mp4")
    assert location == S3Location("bucket", "uploads/My Talk + more%20.mp4")


@pytest.mark.parametrize("uri", ["https://bucket/key", "s3://bucket", "s3:///key"])
def test_parse_s3_uri_rejects_nonsense(uri: str) -> None:
    with pytest.raises(ValueError, match="URI"):
        parse_s3_uri(uri)


@pytest.mark.parametrize(
    "uri",
    [
        "https://s3.us-east-1.amazonaws.com/out-bucket/_transcribe/job%20x.json",
        "https://out-bucket.s3.us-east-1.amazonaws.com/_transcribe/job%20x.json",
        "https://s3.amazonaws.com/out-bucket/_transcribe/job%20x.json",
        "http://127.0.0.1:5000/out-bucket/_transcribe/job%20x.json",
        "s3://out-bucket/_transcribe/job x.json",
    ],
)
def test_parse_transcript_uri_styles(uri: str) -> None:
    assert parse_transcript_uri(uri) == S3Location("out-bucket", "_transcribe/job x.json")
