"""StartTranscriptionFunction under moto, driven by the files in events/."""

from __future__ import annotations

import hashlib
import json
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from tests.conftest import MEDIA, load_event
from tests.handlers.conftest import Stack, jobs, put_media, s3_record

START = "StartTranscriptionFunction"
TALK_KEY = "uploads/My Talk.mp4"  # what events/s3-put.json names, decoded


def uploaded_at(stack: Stack, key: str) -> str:
    """The object's Last-Modified time as revisions carry it."""
    head = stack.s3.head_object(Bucket=stack.input_bucket, Key=key)
    return str(head["LastModified"].strftime("%Y%m%dT%H%M%SZ"))


def test_sample_event_starts_one_job_with_the_decoded_key(stack: Stack) -> None:
    put_media(stack, TALK_KEY, "video.mp4")

    counts = stack.invoke(START, load_event("s3-put.json"))

    assert counts == {"started": 1}
    (job,) = jobs(stack)
    assert job["TranscriptionJobName"] == stack.job_name_of(TALK_KEY)
    assert job["TranscriptionJobName"].startswith("transcription-pipeline.My-Talk.")
    assert job["Media"]["MediaFileUri"] == (f"s3://{stack.input_bucket}/uploads/My Talk.mp4")
    assert job["MediaFormat"] == "mp4"
    assert job["LanguageCode"] == "en-US"
    assert job["Settings"]["ShowSpeakerLabels"] is True
    assert job["Settings"]["MaxSpeakerLabels"] == 10


def test_job_writes_into_the_output_bucket_reserved_prefix(stack: Stack) -> None:
    put_media(stack, TALK_KEY, "video.mp4")
    stack.invoke(START, load_event("s3-put.json"))

    name = stack.job_name_of(TALK_KEY)
    job = stack.finish_job(name)

    assert job["Transcript"]["TranscriptFileUri"].endswith(
        f"/{stack.output_bucket}/_transcribe/{name}.json"
    )


def test_repeated_event_does_not_start_a_second_job(stack: Stack) -> None:
    put_media(stack, TALK_KEY, "video.mp4")

    first = stack.invoke(START, load_event("s3-put.json"))
    second = stack.invoke(START, load_event("s3-put.json"))

    assert first == {"started": 1}
    assert second == {"already_started": 1}
    assert len(jobs(stack)) == 1


def test_new_content_under_the_same_key_starts_a_new_job(stack: Stack) -> None:
    first_body = put_media(stack, "talk.mp3", "tone.mp3")
    stack.invoke(START, {"Records": [s3_record(stack.input_bucket, "talk.mp3", first_body)]})
    second_body = put_media(stack, "talk.mp3", "tone-noid3.mp3")
    stack.invoke(START, {"Records": [s3_record(stack.input_bucket, "talk.mp3", second_body)]})

    names = {job["TranscriptionJobName"] for job in jobs(stack)}
    assert len(names) == 2
    assert all(name.startswith("transcription-pipeline.talk.") for name in names)


def test_unsupported_sample_event_writes_error_json_and_returns(stack: Stack) -> None:
    stack.s3.put_object(
        Bucket=stack.input_bucket, Key="uploads/meeting notes.txt", Body=b"x" * 1234
    )
    event = load_event("s3-put-unsupported.json")
    event["Records"][0]["s3"]["object"]["eTag"] = hashlib.md5(b"x" * 1234).hexdigest()

    key = "uploads/meeting notes.txt"

    counts = stack.invoke(START, event)

    assert counts == {"rejected": 1}
    record = json.loads(stack.output(f"{key}/error.json"))
    assert record["status"] == "REJECTED"
    assert record["source"] == {
        "bucket": stack.input_bucket,
        "key": "uploads/meeting notes.txt",
        # its eTag and its upload time (identical bytes uploaded again are a new upload)
        "revision": hashlib.md5(b"x" * 1234).hexdigest() + "@" + uploaded_at(stack, key),
    }
    assert record["size_bytes"] == 1234
    assert record["detected"] == "text"
    assert ".txt" in record["reason"] or "extension" in record["reason"]
    assert jobs(stack) == []


@pytest.mark.parametrize(
    ("key", "media_file", "expected_format"),
    [
        ("a/b/c/deep folder/Interview 2026 (final).wav", "tone.wav", "wav"),
        ("unicode/café \u2013 naïve talk ✓.m4a", "tone.m4a", "m4a"),
        ("plus/C++ & 100%+more.flac", "tone.flac", "flac"),
        ("voice/memo.amr", "tone.amr", "amr"),
        ("web/clip.webm", "opus.webm", "webm"),
        ("web/clip.ogg", "opus.ogg", "ogg"),
        ("music/song.MP3", "tone.mp3", "mp3"),
    ],
)
def test_every_supported_format_and_awkward_keys(
    stack: Stack, key: str, media_file: str, expected_format: str
) -> None:
    body = put_media(stack, key, media_file)

    counts = stack.invoke(START, {"Records": [s3_record(stack.input_bucket, key, body)]})

    assert counts == {"started": 1}
    (job,) = jobs(stack)
    assert job["Media"]["MediaFileUri"] == f"s3://{stack.input_bucket}/{key}"
    assert job["MediaFormat"] == expected_format
    name = job["TranscriptionJobName"]
    assert len(name) <= 200
    assert name.startswith("transcription-pipeline.")
    assert all(c.isalnum() or c in "._-" for c in name)


@pytest.mark.parametrize(
    ("key", "media_file", "reason_fragment"),
    [
        ("video.mkv", "video.mkv", "Matroska"),
        ("clip.mov", "video.mov", ".mov"),
        ("vorbis.ogg", "vorbis.ogg", "Opus"),
        ("vorbis.webm", "vorbis.webm", "Opus"),
        ("renamed.mp3", "tone.wav", "WAV"),
    ],
)
def test_rejected_media_get_a_specific_reason(
    stack: Stack, key: str, media_file: str, reason_fragment: str
) -> None:
    body = put_media(stack, key, media_file)

    counts = stack.invoke(START, {"Records": [s3_record(stack.input_bucket, key, body)]})

    assert counts == {"rejected": 1}
    record = json.loads(stack.output(f"{key}/error.json"))
    assert reason_fragment.lower() in record["reason"].lower()
    assert jobs(stack) == []


def test_every_record_is_handled_and_markers_are_skipped(stack: Stack) -> None:
    mp3 = put_media(stack, "one.mp3", "tone.mp3")
    wav = put_media(stack, "two.wav", "tone.wav")
    records = [
        s3_record(stack.input_bucket, "one.mp3", mp3),
        s3_record(stack.input_bucket, "folder/", b""),
        s3_record(stack.input_bucket, "x/.write_access_check_file.temp", b""),
        {"s3": {"object": {"key": 42}}},  # malformed: must not hide the others
        s3_record(stack.input_bucket, "two.wav", wav),
    ]

    counts = stack.invoke(START, {"Records": records})

    assert counts == {"started": 2, "skipped": 2, "malformed": 1}
    formats = sorted(job["MediaFormat"] for job in jobs(stack))
    assert formats == ["mp3", "wav"]
    assert stack.output_keys() == []


@pytest.mark.parametrize(("size", "fragment"), [(0, "empty"), (3 * 1024**3, "2 GB")])
def test_size_limits_are_checked_from_the_event_alone(
    stack: Stack, size: int, fragment: str
) -> None:
    # moto cannot hold 3 GB: a stand-in object, and the event says the size. No byte is
    # read (a HEAD gives the upload time, part of the revision).
    stack.s3.put_object(Bucket=stack.input_bucket, Key="big/or empty.mp4", Body=b"")
    record = s3_record(stack.input_bucket, "big/or empty.mp4", b"", size=size)

    counts = stack.invoke(START, {"Records": [record]})

    assert counts == {"rejected": 1}
    error = json.loads(stack.output("big/or empty.mp4/error.json"))
    assert fragment.lower() in error["reason"].lower()
    assert error["size_bytes"] == size


def test_object_deleted_before_validation_is_not_an_error(stack: Stack) -> None:
    record = s3_record(stack.input_bucket, "gone.mp3", (MEDIA / "tone.mp3").read_bytes())

    counts = stack.invoke(START, {"Records": [record]})

    assert counts == {"gone": 1}
    assert stack.output_keys() == []
    assert jobs(stack) == []


def test_overwritten_object_is_not_validated_in_place_of_the_event_s(stack: Stack) -> None:
    old = (MEDIA / "tone.mp3").read_bytes()
    put_media(stack, "talk.mp3", "tone.wav")  # the key now holds other content

    counts = stack.invoke(START, {"Records": [s3_record(stack.input_bucket, "talk.mp3", old)]})

    assert counts == {"gone": 1}
    assert jobs(stack) == []


def wav_of_size(data_size: int) -> bytes:
    """A valid WAV whose RIFF and data sizes describe the silent body that follows."""
    header = bytearray((MEDIA / "tone.wav").read_bytes()[:44])
    header[4:8] = (36 + data_size).to_bytes(4, "little")
    header[40:44] = data_size.to_bytes(4, "little")
    return bytes(header) + bytes(data_size)


@pytest.mark.parametrize("data_size", [1024 * 1024, 48 * 1024 * 1024])
def test_an_upload_is_validated_from_at_most_64_kib(stack: Stack, data_size: int) -> None:
    body = wav_of_size(data_size)
    stack.s3.put_object(Bucket=stack.input_bucket, Key="long.wav", Body=body)
    fetched: list[int] = []

    def count_bytes(parsed: dict[str, Any], **_: Any) -> None:
        fetched.append(int(parsed.get("ContentLength", 0)))

    session = boto3._get_default_session()
    session.events.register("after-call.s3.GetObject", count_bytes)
    try:
        counts = stack.invoke(START, {"Records": [s3_record(stack.input_bucket, "long.wav", body)]})
    finally:
        session.events.unregister("after-call.s3.GetObject", count_bytes)

    assert counts == {"started": 1}
    assert 0 < sum(fetched) <= 64 * 1024


def test_throttling_is_raised_for_lambda_to_retry(stack: Stack, fake_aws_answer: Any) -> None:
    body = put_media(stack, "talk.mp3", "tone.mp3")
    calls = fake_aws_answer(
        "transcribe",
        "StartTranscriptionJob",
        400,
        {"Error": {"Code": "LimitExceededException", "Message": "Rate exceeded"}},
    )

    with pytest.raises(ClientError) as raised:
        stack.invoke(START, {"Records": [s3_record(stack.input_bucket, "talk.mp3", body)]})

    assert raised.value.response["Error"]["Code"] == "LimitExceededException"
    assert calls  # the job was really attempted
    assert stack.output_keys() == []  # a retryable error is not a rejection


def test_one_failing_record_does_not_stop_the_others(stack: Stack, fake_aws_answer: Any) -> None:
    body = put_media(stack, "talk.mp3", "tone.mp3")
    txt_record = s3_record(stack.input_bucket, "notes.txt", b"hello")
    stack.s3.put_object(Bucket=stack.input_bucket, Key="notes.txt", Body=b"hello")
    fake_aws_answer(
        "transcribe",
        "StartTranscriptionJob",
        500,
        {"Error": {"Code": "InternalFailureException", "Message": "boom"}},
    )

    with pytest.raises(ClientError):
        stack.invoke(
            START,
            {"Records": [s3_record(stack.input_bucket, "talk.mp3", body), txt_record]},
        )

    # The text file after the failing record was still answered.
    assert json.loads(stack.output("notes.txt/error.json"))["status"] == "REJECTED"


def test_transcribe_refusal_is_recorded_not_retried(stack: Stack, fake_aws_answer: Any) -> None:
    body = put_media(stack, "talk.mp3", "tone.mp3")
    fake_aws_answer(
        "transcribe",
        "StartTranscriptionJob",
        400,
        {"Error": {"Code": "BadRequestException", "Message": "The vocabulary isn't ready."}},
    )

    counts = stack.invoke(START, {"Records": [s3_record(stack.input_bucket, "talk.mp3", body)]})

    assert counts == {"refused": 1}
    record = json.loads(stack.output("talk.mp3/error.json"))
    assert record["stage"] == "start"
    assert record["transcribe_failure_reason"] == "The vocabulary isn't ready."


def test_s3_test_event_is_ignored(stack: Stack) -> None:
    event = {"Service": "Amazon S3", "Event": "s3:TestEvent", "Bucket": stack.input_bucket}

    assert stack.invoke(START, event) == {}
    assert jobs(stack) == []


def test_rejection_replaces_outputs_of_an_earlier_upload(stack: Stack) -> None:
    stack.s3.put_object(Bucket=stack.output_bucket, Key="talk.mp3/summary.json", Body=b"{}")
    stack.s3.put_object(Bucket=stack.input_bucket, Key="talk.mp3", Body=b"not audio at all")

    stack.invoke(
        START, {"Records": [s3_record(stack.input_bucket, "talk.mp3", b"not audio at all")]}
    )

    assert stack.output_keys() == ["talk.mp3/error.json"]


def test_upload_under_the_reserved_prefix_is_answered_not_dropped(stack: Stack) -> None:
    body = put_media(stack, "_transcribe/talk.mp3", "tone.mp3")

    counts = stack.invoke(
        START, {"Records": [s3_record(stack.input_bucket, "_transcribe/talk.mp3", body)]}
    )

    assert counts == {"rejected": 1}
    record = json.loads(stack.output("_transcribe/talk.mp3/error.json"))
    assert "reserved" in record["reason"]
    assert jobs(stack) == []
