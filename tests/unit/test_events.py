from __future__ import annotations

import json
from typing import Any

import pytest

from tests.conftest import EVENTS
from transcription_pipeline.events import (
    MalformedEvent,
    Origin,
    Upload,
    is_test_event,
    parse_job_state_change,
    parse_queued_message,
    parse_upload,
    queued_records,
    s3_notification,
    upload_records,
)


def sample(name: str) -> dict[str, Any]:
    event: dict[str, Any] = json.loads((EVENTS / name).read_text())
    return event


def test_sample_put_event_key_is_decoded() -> None:
    (record,) = upload_records(sample("s3-put.json"))

    upload = parse_upload(record)

    assert upload.key == "uploads/My Talk.mp4"
    assert upload.bucket == "transcription-pipeline-input-123456789012-us-east-1"
    assert upload.size == 7796
    assert upload.etag == "7372c15e30c9f4dbbd8fa2cecd611189"
    assert upload.version_id is None


@pytest.mark.parametrize(
    ("encoded", "decoded"),
    [
        ("a+b.mp3", "a b.mp3"),
        ("C%2B%2B+talk.mp3", "C++ talk.mp3"),
        ("caf%C3%A9/%E2%9C%93.wav", "café/✓.wav"),
        ("100%25.mp3", "100%.mp3"),
        ("%22quoted%22+%27x%27.mp3", "\"quoted\" 'x'.mp3"),
    ],
)
def test_keys_are_decoded_like_s3_encodes_them(encoded: str, decoded: str) -> None:
    record = sample("s3-put.json")["Records"][0]
    record["s3"]["object"]["key"] = encoded
    assert parse_upload(record).key == decoded


def test_version_id_is_kept_when_present() -> None:
    record = sample("s3-put.json")["Records"][0]
    record["s3"]["object"]["versionId"] = "3HL4kqtJlcpXroDTDmJ.rmSpXd3dIbrHY"
    upload = parse_upload(record)
    assert upload.version_id == "3HL4kqtJlcpXroDTDmJ.rmSpXd3dIbrHY"


def test_version_id_null_of_a_suspended_bucket_is_no_version() -> None:
    # S3 sends the string "null" for objects written while versioning is suspended;
    # HEAD then reports no version, so the event must not name one either.
    record = sample("s3-put.json")["Records"][0]
    record["s3"]["object"]["versionId"] = "null"
    assert parse_upload(record).version_id is None


@pytest.mark.parametrize(
    "mutate",
    [
        lambda r: r.pop("s3"),
        lambda r: r["s3"].pop("bucket"),
        lambda r: r["s3"]["object"].pop("key"),
        lambda r: r["s3"]["object"].update(key=""),
        lambda r: r["s3"]["object"].update(size="12"),
        lambda r: r["s3"]["object"].update(size=-1),
        lambda r: r["s3"]["object"].update(size=True),
        lambda r: r["s3"].update(object=[]),
    ],
)
def test_malformed_records_are_refused(mutate: Any) -> None:
    record = sample("s3-put.json")["Records"][0]
    mutate(record)
    with pytest.raises(MalformedEvent):
        parse_upload(record)


@pytest.mark.parametrize("event", [{}, {"Records": "x"}, {"Event": "s3:TestEvent"}])
def test_event_without_records_is_malformed(event: dict[str, Any]) -> None:
    with pytest.raises(MalformedEvent):
        upload_records(event)


@pytest.mark.parametrize(
    ("name", "status"),
    [("transcribe-completed.json", "COMPLETED"), ("transcribe-failed.json", "FAILED")],
)
def test_sample_transcribe_events(name: str, status: str) -> None:
    change = parse_job_state_change(sample(name))
    assert change.job_name == "transcription-pipeline.My-Talk.1615274bbcc13e72"
    assert change.status == status
    assert change.time == "2026-11-24T10:03:00Z"


@pytest.mark.parametrize(
    "mutate",
    [
        lambda e: e.update(source="aws.s3"),
        lambda e: e.update({"detail-type": "Object Created"}),
        lambda e: e.pop("detail"),
        lambda e: e["detail"].pop("TranscriptionJobName"),
        lambda e: e["detail"].update(TranscriptionJobName=["x"]),
    ],
)
def test_malformed_transcribe_events(mutate: Any) -> None:
    event = sample("transcribe-completed.json")
    mutate(event)
    with pytest.raises(MalformedEvent):
        parse_job_state_change(event)


# -- the upload queue: SQS records carrying S3 notifications ------------------------------------


def sqs_record(**changes: Any) -> dict[str, Any]:
    (record,) = queued_records(sample("sqs-upload.json"))
    assert isinstance(record, dict)
    record.update(changes)
    return record


def test_sample_sqs_event_carries_the_sample_s3_notification() -> None:
    message = parse_queued_message(sqs_record())

    assert message.message_id == "2e1424d4-f796-459a-8184-9c92662be6da"
    assert message.receipt_handle.startswith("AQEB")
    assert message.receive_count == 1
    assert message.origin is Origin.S3  # no origin attribute: S3's own notification
    assert message.notification == sample("s3-put.json")
    (record,) = upload_records(message.notification)
    assert parse_upload(record).key == "uploads/My Talk.mp4"


@pytest.mark.parametrize(("count", "expected"), [("1", 1), ("7", 7), ("0", 1), (None, 1)])
def test_receive_count_comes_from_the_sqs_attributes(count: str | None, expected: int) -> None:
    attributes = {} if count is None else {"ApproximateReceiveCount": count}

    assert parse_queued_message(sqs_record(attributes=attributes)).receive_count == expected


@pytest.mark.parametrize("origin", ["backfill", "reconcile", "s3"])
def test_origin_is_the_message_attribute_as_lambda_spells_it(origin: str) -> None:
    attributes = {"origin": {"stringValue": origin, "dataType": "String"}}

    message = parse_queued_message(sqs_record(messageAttributes=attributes))

    assert message.origin == Origin(origin)


@pytest.mark.parametrize(
    "changes",
    [
        {"messageId": ""},
        {"messageId": None},
        {"receiptHandle": None},
        {"body": "not json"},
        {"body": "[1]"},
        {"body": None},
        {"attributes": {"ApproximateReceiveCount": "many"}},
        {"messageAttributes": {"origin": {"stringValue": "elsewhere", "dataType": "String"}}},
    ],
    ids=lambda changes: ",".join(f"{k}={v}" for k, v in changes.items()),
)
def test_malformed_sqs_records_are_refused(changes: dict[str, Any]) -> None:
    with pytest.raises(MalformedEvent):
        parse_queued_message(sqs_record(**changes))


@pytest.mark.parametrize("event", [{}, {"Records": "x"}, {"Records": None}])
def test_an_sqs_event_without_records_is_malformed(event: dict[str, Any]) -> None:
    with pytest.raises(MalformedEvent):
        queued_records(event)


def test_s3_test_event_is_told_apart() -> None:
    assert is_test_event({"Service": "Amazon S3", "Event": "s3:TestEvent", "Bucket": "b"})
    assert not is_test_event(sample("s3-put.json"))


@pytest.mark.parametrize(
    ("key", "version_id"),
    [
        ("uploads/My Talk.mp4", None),
        ("C++ & 100% sure/caf\u00e9 \u2713.mp3", "3HL4kqtJlcpXroDTDmJ.rmSpXd3dIbrHY"),
        ("a+b/%41.wav", None),
    ],
)
def test_s3_notification_is_read_back_as_the_same_upload(key: str, version_id: str | None) -> None:
    """Backfill and reconciliation write S3's shape (key encoded as S3 encodes it), so the
    start function reads their messages with the code it reads S3's with."""
    upload = Upload(
        bucket="in-bucket",
        key=key,
        size=1234,
        etag="7372c15e30c9f4dbbd8fa2cecd611189",
        version_id=version_id,
        event_time="2026-11-24T10:00:00Z",
        origin=Origin.RECONCILE,
    )

    (record,) = upload_records(json.loads(s3_notification(upload)))

    assert record["eventSource"] == "aws:s3"
    assert record["eventName"].startswith("ObjectCreated:")
    assert " " not in record["s3"]["object"]["key"]
    assert parse_upload(record) == Upload(**{**upload.__dict__, "origin": Origin.S3})
