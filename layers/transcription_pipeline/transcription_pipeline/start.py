"""Use case: an object landed in the input bucket; validate it and start its job."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from transcription_pipeline.aws import JobRefused, ObjectGone, ObjectStore, TranscribeJobs
from transcription_pipeline.config import Settings
from transcription_pipeline.media import MediaCheck, MediaFormat, check_media
from transcription_pipeline.naming import (
    S3Location,
    is_transcribe_check_file,
    job_name_for,
    raw_output_key,
    revision_of,
)
from transcription_pipeline.publish import publish_error, record_metadata
from transcription_pipeline.records import failure_record, rejection_record


@dataclass(frozen=True)
class Upload:
    """One S3 ObjectCreated record, key already decoded."""

    bucket: str
    key: str
    size: int
    etag: str
    version_id: str | None
    event_time: str

    @property
    def location(self) -> S3Location:
        return S3Location(self.bucket, self.key)


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
