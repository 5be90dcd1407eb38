"""Reading the incoming events into plain data, defensively.

S3 URL-encodes keys in its events (a space arrives as ``+``), so every key is decoded
with ``unquote_plus`` here, once, for every record. Uploads arrive as S3 notifications
inside SQS messages; backfill and reconciliation put messages of the same shape on the
same queue (``s3_notification``), marked by an ``origin`` message attribute.
"""

from __future__ import annotations

import enum
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote_plus, unquote_plus

from transcription_pipeline.naming import S3Location

JOB_STATE_CHANGE = "Transcribe Job State Change"
# What this stack asks of its own process function (make regenerate, a new sidecar); on
# the default bus with the source ``<EVENT_SOURCE>.requests``, never a completion event.
REGENERATE_REQUESTED = "Regenerate Requested"


class Origin(enum.StrEnum):
    """Who put an upload on the queue."""

    S3 = "s3"  # the bucket's own notification: a new upload
    BACKFILL = "backfill"  # make backfill: an object that may have its answer already
    RECONCILE = "reconcile"  # a job Transcribe does not know, started again
    SIDECAR = "sidecar"  # the upload's options sidecar changed: the media looked at again


class MalformedEvent(ValueError):
    """An event, or one record of it, lacks a field we need or has the wrong type."""


@dataclass(frozen=True)
class Upload:
    """One S3 ObjectCreated (or, with DeleteFollowsSource, ObjectRemoved) record, key
    already decoded."""

    bucket: str
    key: str
    size: int
    etag: str
    version_id: str | None
    event_time: str
    origin: Origin = Origin.S3
    # ObjectRemoved:Delete or :DeleteMarkerCreated: the key was deleted (or a version of it).
    removed: bool = False

    @property
    def location(self) -> S3Location:
        return S3Location(self.bucket, self.key)


@dataclass(frozen=True)
class QueuedMessage:
    """One SQS message of the upload queue, as the SQS event source hands it over."""

    message_id: str
    receipt_handle: str
    receive_count: int  # 1 on the first delivery
    origin: Origin
    notification: Mapping[str, Any]  # the S3 notification in the body


@dataclass(frozen=True)
class JobStateChange:
    job_name: str
    status: str
    time: str | None


def _text(mapping: Mapping[str, Any], name: str) -> str:
    value = mapping.get(name)
    if not isinstance(value, str) or not value:
        raise MalformedEvent(f"field {name!r} is missing or not a string")
    return value


def _mapping(mapping: Mapping[str, Any], name: str) -> Mapping[str, Any]:
    value = mapping.get(name)
    if not isinstance(value, Mapping):
        raise MalformedEvent(f"field {name!r} is missing or not an object")
    return value


def _real_version(version_id: object) -> str | None:
    """S3 sends versionId "null" for objects written while versioning is suspended: no
    version to read by, and HEAD reports none either (S3 user guide, "Working with
    objects in a versioning-suspended bucket")."""
    if not isinstance(version_id, str) or version_id in ("", "null"):
        return None
    return version_id


def parse_upload(record: Mapping[str, Any]) -> Upload:
    """One S3 event record as an Upload; raises MalformedEvent.

    S3's ObjectRemoved records carry no size and no eTag (S3 user guide, "Event message
    structure"): a removal is read with size 0.
    """
    if not isinstance(record, Mapping):
        raise MalformedEvent("record is not an object")
    s3 = _mapping(record, "s3")
    bucket = _text(_mapping(s3, "bucket"), "name")
    obj = _mapping(s3, "object")
    removed = str(record.get("eventName") or "").startswith("ObjectRemoved:")
    size = obj.get("size", 0 if removed else None)
    if not isinstance(size, int) or isinstance(size, bool) or size < 0:
        raise MalformedEvent("field 'size' is missing or not a non-negative integer")
    version_id = obj.get("versionId")
    return Upload(
        bucket=bucket,
        key=unquote_plus(_text(obj, "key")),
        size=size,
        etag=str(obj.get("eTag") or ""),
        version_id=_real_version(version_id),
        event_time=str(record.get("eventTime") or ""),
        removed=removed,
    )


def upload_records(event: Mapping[str, Any]) -> list[Any]:
    """The records of an S3 notification; an event without a list of records is malformed."""
    records = event.get("Records") if isinstance(event, Mapping) else None
    if not isinstance(records, list):
        raise MalformedEvent("event has no 'Records' list")
    return records


def parse_job_state_change(event: Mapping[str, Any]) -> JobStateChange:
    """The Transcribe completion event; only the job name is trusted, the rest is hints."""
    if not isinstance(event, Mapping):
        raise MalformedEvent("event is not an object")
    if event.get("detail-type") != JOB_STATE_CHANGE or event.get("source") != "aws.transcribe":
        raise MalformedEvent("not a Transcribe Job State Change event")
    detail = _mapping(event, "detail")
    return JobStateChange(
        job_name=_text(detail, "TranscriptionJobName"),
        status=str(detail.get("TranscriptionJobStatus") or ""),
        time=event.get("time") if isinstance(event.get("time"), str) else None,
    )


@dataclass(frozen=True)
class RegenerateRequest:
    source_key: str  # the upload whose outputs are rendered again


def parse_regenerate_request(event: Mapping[str, Any], source: str) -> RegenerateRequest:
    """A Regenerate Requested event of this stack (``source``); raises MalformedEvent."""
    if not isinstance(event, Mapping):
        raise MalformedEvent("event is not an object")
    if event.get("detail-type") != REGENERATE_REQUESTED or event.get("source") != source:
        raise MalformedEvent("not a Regenerate Requested event of this stack")
    return RegenerateRequest(_text(_mapping(event, "detail"), "key"))


def regenerate_detail(source_key: str) -> dict[str, Any]:
    """The detail of a Regenerate Requested event (what parse_regenerate_request reads)."""
    return {"version": 1, "key": source_key}


def parse_queued_message(record: Mapping[str, Any]) -> QueuedMessage:
    """One record of an SQS event; raises MalformedEvent (its id is then unknown)."""
    if not isinstance(record, Mapping):
        raise MalformedEvent("SQS record is not an object")
    message_id = _text(record, "messageId")
    attributes = record.get("attributes")
    count = attributes.get("ApproximateReceiveCount") if isinstance(attributes, Mapping) else None
    origin_attribute = (record.get("messageAttributes") or {}).get("origin") or {}
    origin_value = (
        origin_attribute.get("stringValue") if isinstance(origin_attribute, Mapping) else None
    )
    try:
        origin = Origin(origin_value or Origin.S3)
        receive_count = int(count) if count is not None else 1
        notification = json.loads(_text(record, "body"))
    except (ValueError, TypeError) as error:
        raise MalformedEvent(f"SQS message {message_id}: {error}") from error
    if not isinstance(notification, Mapping):
        raise MalformedEvent(f"SQS message {message_id}: the body is not a JSON object")
    return QueuedMessage(
        message_id=message_id,
        receipt_handle=_text(record, "receiptHandle"),
        receive_count=max(receive_count, 1),
        origin=origin,
        notification=notification,
    )


def queued_records(event: Mapping[str, Any]) -> list[Any]:
    """The records of an SQS event."""
    records = event.get("Records") if isinstance(event, Mapping) else None
    if not isinstance(records, list):
        raise MalformedEvent("event has no 'Records' list")
    return records


def is_test_event(notification: Mapping[str, Any]) -> bool:
    """S3 sends one s3:TestEvent when a notification is configured; it names no object."""
    return notification.get("Event") == "s3:TestEvent"


def s3_notification(upload: Upload) -> str:
    """An S3 ObjectCreated notification for ``upload``, as S3 itself writes one (key
    URL-encoded), so every path onto the queue is read by the same code."""
    obj: dict[str, Any] = {
        "key": quote_plus(upload.key, safe="/"),
        "size": upload.size,
        "eTag": upload.etag,
    }
    if upload.version_id:
        obj["versionId"] = upload.version_id
    record = {
        "eventVersion": "2.1",
        "eventSource": "aws:s3",
        "eventTime": upload.event_time,
        "eventName": "ObjectCreated:Put",
        "s3": {"s3SchemaVersion": "1.0", "bucket": {"name": upload.bucket}, "object": obj},
    }
    return json.dumps({"Records": [record]}, separators=(",", ":"))
