"""StartTranscriptionFunction under moto, fed through the upload queue from events/.

Every upload is an S3 notification on the upload queue, delivered by the SQS event
source (``Stack.start``); the function answers only with the messages to retry, so each
test checks what it did: the jobs started, the records written, the in-flight items.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

import boto3
import pytest

from tests.conftest import MEDIA, load_event
from tests.handlers.conftest import (
    SAMPLE_KEY,
    Stack,
    job_names,
    jobs,
    put_media,
    s3_record,
    upload,
)


def uploaded_at(stack: Stack, key: str) -> str:
    """The object's Last-Modified time as revisions carry it."""
    head = stack.s3.head_object(Bucket=stack.input_bucket, Key=key)
    return str(head["LastModified"].strftime("%Y%m%dT%H%M%SZ"))


def test_sample_event_starts_one_job_with_the_decoded_key(stack: Stack) -> None:
    put_media(stack, SAMPLE_KEY, "video.mp4")

    delivery = stack.start(load_event("s3-put.json"))

    assert delivery.responses == [{"batchItemFailures": []}]
    (job,) = jobs(stack)
    assert job["TranscriptionJobName"] == stack.job_name_of(SAMPLE_KEY)
    assert job["TranscriptionJobName"].startswith("transcription-pipeline.My-Talk.")
    assert job["Media"]["MediaFileUri"] == f"s3://{stack.input_bucket}/uploads/My Talk.mp4"
    assert job["MediaFormat"] == "mp4"
    assert job["LanguageCode"] == "en-US"
    assert job["Settings"]["ShowSpeakerLabels"] is True
    assert job["Settings"]["MaxSpeakerLabels"] == 10
    assert stack.queued_ids() == []  # the event source deleted the handled message


def test_the_sample_sqs_event_describes_the_sample_upload(stack: Stack) -> None:
    """events/sqs-upload.json (for `sam local invoke`) carries events/s3-put.json as S3
    puts it on the queue; run as it is (its receipt handle is not moto's, and nothing
    needs it: the upload is started, not put back)."""
    put_media(stack, SAMPLE_KEY, "video.mp4")
    event = load_event("sqs-upload.json")

    response = stack.invoke("StartTranscriptionFunction", event)

    assert response == {"batchItemFailures": []}
    (record,) = event["Records"]
    assert json.loads(record["body"]) == load_event("s3-put.json")
    assert record["eventSourceARN"] == stack.upload_queue_arn
    assert job_names(stack) == [stack.job_name_of(SAMPLE_KEY)]


def test_job_writes_into_the_output_bucket_reserved_prefix(stack: Stack) -> None:
    put_media(stack, SAMPLE_KEY, "video.mp4")
    stack.start(load_event("s3-put.json"))

    name = stack.job_name_of(SAMPLE_KEY)
    job = stack.finish_job(name)

    assert job["Transcript"]["TranscriptFileUri"].endswith(
        f"/{stack.output_bucket}/_transcribe/{name}.json"
    )


def test_the_job_waits_in_transcribe_s_queue_with_the_data_access_role(stack: Stack) -> None:
    """Above the concurrent-job quota a job with AllowDeferredExecution waits in
    Transcribe's queue instead of being refused; queueing needs the role Transcribe
    assumes, and the start role may pass exactly that one (iam:PassRole, checked)."""
    stack.start(upload(stack, "talk.mp3", "tone.mp3"))

    (job,) = jobs(stack)
    role_arn = stack.template.resolve({"Fn::GetAtt": ["TranscribeDataAccessRole", "Arn"]})
    assert job["JobExecutionSettings"] == {
        "AllowDeferredExecution": True,
        "DataAccessRoleArn": role_arn,
    }
    environment = stack.template.function("StartTranscriptionFunction").environment
    assert environment["TRANSCRIBE_DATA_ACCESS_ROLE_ARN"] == role_arn


def test_the_start_role_may_pass_no_other_role(stack: Stack) -> None:
    other_role = "arn:aws:iam::123456789012:role/admin"
    record = upload(stack, "talk.mp3", "tone.mp3")

    delivery = stack.start(record, TRANSCRIBE_DATA_ACCESS_ROLE_ARN=other_role)

    (denial,) = stack.take_denials()
    assert denial.request.action == "iam:PassRole"
    assert denial.request.resource == other_role
    assert delivery.failures == delivery.message_ids  # AccessDenied: retried, not dropped
    assert job_names(stack) == []


def test_a_started_job_is_tracked_in_flight(stack: Stack) -> None:
    record = upload(stack, "talks/a talk.mp3", "tone.mp3")
    before = int(stack.clock.now_millis() / 1000)

    stack.start(record)

    (item,) = stack.in_flight()
    assert item["source_key"] == "talks/a talk.mp3"
    assert item["job_name"] == stack.job_name_of("talks/a talk.mp3")
    assert item["revision"] == stack.revision_of("talks/a talk.mp3")
    started = int(item["started_at"])
    assert before - 5 <= started <= before + 60
    # Outlives Transcribe's queue and the upload queue's 14-day retention; TTL removes it.
    assert int(item["expires_at"]) - started == 15 * 24 * 3600


def test_repeated_event_does_not_start_a_second_job(stack: Stack) -> None:
    put_media(stack, SAMPLE_KEY, "video.mp4")

    first = stack.start(load_event("s3-put.json"))
    second = stack.start(load_event("s3-put.json"))  # S3 delivers at least once

    assert first.failures == second.failures == []
    assert len(jobs(stack)) == 1
    assert len(stack.in_flight()) == 1  # the same item, written again


def test_new_content_under_the_same_key_starts_a_new_job(stack: Stack) -> None:
    stack.start(upload(stack, "talk.mp3", "tone.mp3"))
    stack.start(upload(stack, "talk.mp3", "tone-noid3.mp3"))

    names = job_names(stack)
    assert len(names) == 2
    assert all(name.startswith("transcription-pipeline.talk.") for name in names)
    assert {item["job_name"] for item in stack.in_flight()} == set(names)


def test_unsupported_sample_event_writes_error_json(stack: Stack) -> None:
    key = "uploads/meeting notes.txt"
    stack.s3.put_object(Bucket=stack.input_bucket, Key=key, Body=b"x" * 1234)
    event = load_event("s3-put-unsupported.json")
    event["Records"][0]["s3"]["object"]["eTag"] = hashlib.md5(b"x" * 1234).hexdigest()

    delivery = stack.start(event)

    assert delivery.failures == []
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
    assert stack.in_flight() == []  # a rejection is a final answer: nothing in flight


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
    delivery = stack.start(upload(stack, key, media_file))

    assert delivery.failures == []
    (job,) = jobs(stack)
    assert job["Media"]["MediaFileUri"] == f"s3://{stack.input_bucket}/{key}"
    assert job["MediaFormat"] == expected_format
    name = job["TranscriptionJobName"]
    assert len(name) <= 200
    assert name.startswith("transcription-pipeline.")
    assert all(c.isalnum() or c in "._-" for c in name)
    assert [item["source_key"] for item in stack.in_flight()] == [key]


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
    delivery = stack.start(upload(stack, key, media_file))

    assert delivery.failures == []
    record = json.loads(stack.output(f"{key}/error.json"))
    assert reason_fragment.lower() in record["reason"].lower()
    assert jobs(stack) == []


def test_every_message_is_handled_and_markers_are_skipped(stack: Stack) -> None:
    stack.s3.put_object(Bucket=stack.input_bucket, Key="folder/", Body=b"")
    messages = [
        upload(stack, "one.mp3", "tone.mp3"),
        s3_record(stack.input_bucket, "folder/", b""),
        s3_record(stack.input_bucket, "x/.write_access_check_file.temp", b""),
        {"Records": [{"s3": {"object": {"key": 42}}}]},  # malformed: must not hide the others
        upload(stack, "two.wav", "tone.wav"),
    ]

    delivery = stack.start(*messages)

    assert delivery.failures == []  # nothing to retry: the malformed one is let go
    assert stack.queued_ids() == []
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

    delivery = stack.start(record)

    assert delivery.failures == []
    error = json.loads(stack.output("big/or empty.mp4/error.json"))
    assert fragment.lower() in error["reason"].lower()
    assert error["size_bytes"] == size


def test_object_deleted_before_validation_is_not_an_error(stack: Stack) -> None:
    record = s3_record(stack.input_bucket, "gone.mp3", (MEDIA / "tone.mp3").read_bytes())

    delivery = stack.start(record)

    assert delivery.failures == []  # its deletion has its own story; nothing to retry
    assert stack.output_keys() == []
    assert jobs(stack) == []
    assert stack.in_flight() == []


def test_overwritten_object_is_not_validated_in_place_of_the_event_s(stack: Stack) -> None:
    old = (MEDIA / "tone.mp3").read_bytes()
    put_media(stack, "talk.mp3", "tone.wav")  # the key now holds other content

    delivery = stack.start(s3_record(stack.input_bucket, "talk.mp3", old))

    assert delivery.failures == []
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
        delivery = stack.start(s3_record(stack.input_bucket, "long.wav", body))
    finally:
        session.events.unregister("after-call.s3.GetObject", count_bytes)

    assert delivery.failures == []
    assert len(jobs(stack)) == 1
    assert 0 < sum(fetched) <= 64 * 1024


def test_transcribe_refusal_is_recorded_not_retried(stack: Stack, fake_aws_answer: Any) -> None:
    record = upload(stack, "talk.mp3", "tone.mp3")
    fake_aws_answer(
        "transcribe",
        "StartTranscriptionJob",
        400,
        {"Error": {"Code": "BadRequestException", "Message": "The vocabulary isn't ready."}},
    )

    delivery = stack.start(record)

    assert delivery.failures == []  # a refusal is an answer: the message is done
    record_json = json.loads(stack.output("talk.mp3/error.json"))
    assert record_json["stage"] == "start"
    assert record_json["transcribe_failure_reason"] == "The vocabulary isn't ready."
    assert stack.in_flight() == []


def test_rejection_replaces_outputs_of_an_earlier_upload(stack: Stack) -> None:
    stack.s3.put_object(Bucket=stack.output_bucket, Key="talk.mp3/summary.json", Body=b"{}")
    stack.s3.put_object(Bucket=stack.input_bucket, Key="talk.mp3", Body=b"not audio at all")

    stack.start(s3_record(stack.input_bucket, "talk.mp3", b"not audio at all"))

    assert stack.output_keys() == ["talk.mp3/error.json"]


def test_upload_under_the_reserved_prefix_is_answered_not_dropped(stack: Stack) -> None:
    delivery = stack.start(upload(stack, "_transcribe/talk.mp3", "tone.mp3"))

    assert delivery.failures == []
    record = json.loads(stack.output("_transcribe/talk.mp3/error.json"))
    assert "reserved" in record["reason"]
    assert jobs(stack) == []
