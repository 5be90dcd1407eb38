"""Use case: an object landed in the input bucket; validate it and start its job."""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from transcription_pipeline.aws import JobRefused, ObjectGone, ObjectStore, TranscribeJobs
from transcription_pipeline.config import Settings
from transcription_pipeline.error_records import failure_record, rejection_record
from transcription_pipeline.events import MalformedEvent, Upload, parse_upload
from transcription_pipeline.media import MediaCheck, MediaFormat, check_media
from transcription_pipeline.naming import (
    S3Location,
    is_transcribe_check_file,
    job_name_for,
    raw_output_key,
    revision_of,
)
from transcription_pipeline.publish import publish_error, record_metadata


class StartOutcome(enum.StrEnum):
    STARTED = "started"
    ALREADY_STARTED = "already_started"  # a repeated event for the same object version
    REJECTED = "rejected"  # error.json written
    REFUSED = "refused"  # Transcribe refused the request; error.json written
    SKIPPED = "skipped"  # folder marker or Transcribe's own file
    GONE = "gone"  # deleted or overwritten before we looked; its own event covers it


@dataclass(frozen=True)
class StartResult:
    outcome: StartOutcome
    job_name: str | None = None
    check: MediaCheck | None = None
    bytes_read: int = 0


def build_job_request(
    settings: Settings, source: S3Location, media_format: MediaFormat, job_name: str
) -> dict[str, Any]:
    """The StartTranscriptionJob request (no sample rate: a wrong one fails the job)."""
    request: dict[str, Any] = {
        "TranscriptionJobName": job_name,
        "Media": {"MediaFileUri": source.uri},
        "MediaFormat": media_format.value,
        "OutputBucketName": settings.output_bucket,
        "OutputKey": raw_output_key(settings.raw_output_prefix, job_name),
    }
    if settings.output_kms_key_arn:
        request["OutputEncryptionKMSKeyId"] = settings.output_kms_key_arn
    if settings.language_code is not None:
        request["LanguageCode"] = settings.language_code
    else:
        request["IdentifyLanguage"] = True
        request["LanguageOptions"] = list(settings.language_options)
    job_settings: dict[str, Any] = {}
    if settings.speaker_labels:
        job_settings["ShowSpeakerLabels"] = True
        job_settings["MaxSpeakerLabels"] = settings.max_speakers
    if settings.vocabulary_name:
        job_settings["VocabularyName"] = settings.vocabulary_name
    if job_settings:
        request["Settings"] = job_settings
    if settings.pii_redaction:
        request["ContentRedaction"] = {"RedactionType": "PII", "RedactionOutput": "redacted"}
    return request


def should_skip(key: str) -> bool:
    """Folder markers and Transcribe's own check files are not uploads."""
    return key.endswith("/") or is_transcribe_check_file(key)


def _reserved_key_check(key: str, settings: Settings) -> MediaCheck | None:
    """Outputs of a key under the raw-output prefix would expire with Transcribe's output."""
    if not key.startswith(settings.raw_output_prefix):
        return None
    return MediaCheck(
        media_format=None,
        detected="not checked",
        reason=(
            f"Keys under {settings.raw_output_prefix} are reserved for Amazon Transcribe's "
            "own output (deleted after a few days), so this upload's results would vanish. "
            "Upload it under another folder."
        ),
    )


def start_transcription(
    upload: Upload, settings: Settings, store: ObjectStore, jobs: TranscribeJobs
) -> StartResult:
    if should_skip(upload.key):
        return StartResult(StartOutcome.SKIPPED)

    bytes_before = store.bytes_read
    last_modified: list[datetime] = []  # of the version read; the event does not carry it

    def read(offset: int, length: int) -> bytes:
        if length <= 0:
            return b""
        chunk = store.read_range(
            upload.location, offset, length, version_id=upload.version_id, etag=upload.etag
        )
        last_modified[:1] = [chunk.last_modified]
        return chunk.data

    try:
        check = _reserved_key_check(upload.key, settings) or check_media(
            upload.key, upload.size, read
        )
        if not last_modified and not upload.version_id:
            # Nothing read (an empty or a reserved object): its upload time from S3.
            head = store.head(upload.location)
            if head is None or head.etag != upload.etag.strip('"'):
                raise ObjectGone(upload.location.uri)
            last_modified.append(head.last_modified)
    except ObjectGone:
        return StartResult(StartOutcome.GONE, bytes_read=store.bytes_read - bytes_before)
    bytes_read = store.bytes_read - bytes_before
    revision = revision_of(upload.etag, upload.version_id, next(iter(last_modified), None))

    if check.media_format is None:
        record = rejection_record(
            upload.location,
            size=upload.size,
            reason=check.reason or "The file is not a supported audio or video format.",
            detected=check.detected,
            occurred_at=upload.event_time,
            revision=revision,
        )
        metadata = record_metadata(revision, None)
        publish_error(store, settings.output_bucket, upload.key, record, metadata)
        return StartResult(StartOutcome.REJECTED, check=check, bytes_read=bytes_read)

    job_name = job_name_for(settings.job_name_prefix, upload.location, revision)
    request = build_job_request(settings, upload.location, check.media_format, job_name)
    try:
        started = jobs.start(request)
    except JobRefused as refusal:
        record = failure_record(
            upload.location,
            job_name=job_name,
            failure_reason=str(refusal),
            stage="start",
            occurred_at=upload.event_time,
        )
        metadata = record_metadata(revision, job_name)
        publish_error(store, settings.output_bucket, upload.key, record, metadata)
        return StartResult(StartOutcome.REFUSED, job_name, check, bytes_read)
    outcome = StartOutcome.STARTED if started else StartOutcome.ALREADY_STARTED
    return StartResult(outcome, job_name, check, bytes_read)


@dataclass(frozen=True)
class HandledUpload:
    upload: Upload
    result: StartResult


@dataclass(frozen=True)
class UnreadableRecord:
    index: int  # position in the event's Records
    error: str


@dataclass(frozen=True)
class RetryableFailure:
    upload: Upload
    error: Exception


@dataclass
class StartBatch:
    """What became of every record of one S3 event."""

    handled: list[HandledUpload] = field(default_factory=list)
    unreadable: list[UnreadableRecord] = field(default_factory=list)
    retryable: list[RetryableFailure] = field(default_factory=list)

    def raise_first_retryable(self) -> None:
        """Hand Lambda the first error a retry can fix, once every record had its turn.

        The records already handled are idempotent (a repeated upload event starts
        nothing), so Lambda retrying the whole event is safe.
        """
        if self.retryable:
            raise self.retryable[0].error


def start_every_record(
    records: Sequence[Any], settings: Settings, store: ObjectStore, jobs: TranscribeJobs
) -> StartBatch:
    """Each record of an S3 event on its own: one bad record never blocks the others.

    A malformed record will not get better on a retry: it is reported and skipped. Any
    other error (throttling, 5xx, a quota) is kept for ``raise_first_retryable``.
    """
    batch = StartBatch()
    for index, record in enumerate(records):
        try:
            upload = parse_upload(record)
        except MalformedEvent as error:
            batch.unreadable.append(UnreadableRecord(index, str(error)))
            continue
        try:
            result = start_transcription(upload, settings, store, jobs)
        except Exception as error:  # noqa: BLE001 - raised after the other records
            batch.retryable.append(RetryableFailure(upload, error))
            continue
        batch.handled.append(HandledUpload(upload, result))
    return batch
