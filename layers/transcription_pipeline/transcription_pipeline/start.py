"""Use case: an object landed in the input bucket; validate it and start its job."""

from __future__ import annotations

import dataclasses
import enum
import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from transcription_pipeline.announcements import DetailType, not_transcribed
from transcription_pipeline.aws import (
    Announcer,
    CapacityExceeded,
    InFlightJob,
    InFlightJobs,
    JobRefused,
    ObjectGone,
    ObjectStore,
    OutgoingMessage,
    RegenerateRequests,
    TranscribeJobs,
    UploadQueue,
)
from transcription_pipeline.config import Settings
from transcription_pipeline.deletions import DeleteOutcome, follow_deleted_source
from transcription_pipeline.error_records import failure_record, rejection_record
from transcription_pipeline.events import (
    MalformedEvent,
    Origin,
    QueuedMessage,
    Upload,
    is_test_event,
    parse_queued_message,
    parse_upload,
    upload_records,
)
from transcription_pipeline.file_options import (
    is_sidecar,
    media_of,
    options_of_upload,
    stack_resolved,
)
from transcription_pipeline.media import MediaCheck, MediaFormat, check_media
from transcription_pipeline.naming import (
    S3Location,
    is_transcribe_check_file,
    job_name_for,
    raw_output_key,
    revision_of,
)
from transcription_pipeline.options import OptionError, ResolvedOptions
from transcription_pipeline.publish import (
    JOB_METADATA,
    REVISION_METADATA,
    final_record_metadata,
    publish_error,
    record_metadata,
)

# How long an in-flight item outlives its start: longer than a job can wait in
# Transcribe's queue (10,000 jobs) and the upload queue's retention (14 days).
IN_FLIGHT_DAYS = 15
# A message that cannot be handled yet (a quota, a 5xx) is retried after a delay that
# doubles from FIRST_RETRY_SECONDS up to LAST_RETRY_SECONDS (with jitter, so a burst
# does not come back at once). With the queue's maxReceiveCount of 300 in template.yaml
# a message reaches the dead-letter queue after six to twelve days of trying, never
# after minutes.
FIRST_RETRY_SECONDS = 60
LAST_RETRY_SECONDS = 3600
# A message that has waited this many receives for Transcribe capacity goes back as a fresh
# copy (receive count 1) instead: waiting for a quota never counts toward maxReceiveCount,
# however long the backlog (a backfill of a few hundred thousand files takes weeks).
FRESH_COPY_AFTER_RECEIVES = 48


class StartOutcome(enum.StrEnum):
    STARTED = "started"
    ALREADY_STARTED = "already_started"  # a repeated event for the same object version
    REJECTED = "rejected"  # error.json written
    REFUSED = "refused"  # Transcribe refused the request; error.json written
    SKIPPED = "skipped"  # folder marker or Transcribe's own file
    GONE = "gone"  # deleted or overwritten before we looked; its own event covers it
    ANSWERED = "answered"  # backfill or reconcile: this revision has its final record
    # A sidecar changed only what the outputs show (names, title): the process function
    # renders them again from the stored transcript.
    REGENERATE_REQUESTED = "regenerate_requested"
    SOURCE_DELETED = "source_deleted"  # DeleteFollowsSource: what named the upload is gone
    SOURCE_KEPT = "source_kept"  # a removal record, but an object is under the key now


@dataclass(frozen=True)
class StartResult:
    outcome: StartOutcome
    job_name: str | None = None
    check: MediaCheck | None = None
    bytes_read: int = 0


def retry_delay(receive_count: int, message_id: str) -> int:
    """Seconds before a message that could not be handled is delivered again.

    Doubling from a minute to an hour, then hourly; the jitter (50-100 %, fixed per
    message so a replay of the same run is identical) spreads a burst's retries.
    """
    exponent = min(max(receive_count - 1, 0), 12)
    delay = min(FIRST_RETRY_SECONDS * 2**exponent, LAST_RETRY_SECONDS)
    jitter = 0.5 + hashlib.sha256(message_id.encode()).digest()[0] / 510
    return max(1, int(delay * jitter))


def build_job_request(
    settings: Settings,
    source: S3Location,
    media_format: MediaFormat,
    job_name: str,
    options: ResolvedOptions | None = None,
) -> dict[str, Any]:
    """The StartTranscriptionJob request for the upload's options (the stack's when None).

    No sample rate: a wrong one fails the job.
    """
    chosen = options or stack_resolved(settings)
    request: dict[str, Any] = {
        "TranscriptionJobName": job_name,
        "Media": {"MediaFileUri": source.uri},
        "MediaFormat": media_format.value,
        "OutputBucketName": settings.output_bucket,
        "OutputKey": raw_output_key(settings.raw_output_prefix, job_name),
    }
    if settings.output_kms_key_arn:
        request["OutputEncryptionKMSKeyId"] = settings.output_kms_key_arn
    if chosen.language_code is not None:
        request["LanguageCode"] = chosen.language_code
    else:
        request["IdentifyLanguage"] = True
        request["LanguageOptions"] = list(chosen.language_options)
    job_settings: dict[str, Any] = {}
    if chosen.channel_identification:
        job_settings["ChannelIdentification"] = True
    elif chosen.max_speakers is not None:
        job_settings["ShowSpeakerLabels"] = True
        job_settings["MaxSpeakerLabels"] = chosen.max_speakers
    if chosen.vocabulary:
        job_settings["VocabularyName"] = chosen.vocabulary
    if chosen.vocabulary_filter:
        job_settings["VocabularyFilterName"] = chosen.vocabulary_filter
        job_settings["VocabularyFilterMethod"] = chosen.vocabulary_filter_method
    if job_settings:
        request["Settings"] = job_settings
    if chosen.redaction:
        request["ContentRedaction"] = {"RedactionType": "PII", "RedactionOutput": "redacted"}
    if settings.data_access_role_arn:
        # Above the concurrent-job quota the job waits in Transcribe's queue instead of
        # being refused; queueing needs a role Transcribe assumes to read and write.
        request["JobExecutionSettings"] = {
            "AllowDeferredExecution": True,
            "DataAccessRoleArn": settings.data_access_role_arn,
        }
    return request


def should_skip(key: str) -> bool:
    """Folder markers, Transcribe's own check files and option sidecars are not uploads."""
    return key.endswith("/") or is_transcribe_check_file(key) or is_sidecar(key)


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


def _answer_with_error(
    detail_type: DetailType,
    upload: Upload,
    record: dict[str, Any],
    revision: str,
    job_name: str | None,
    settings: Settings,
    store: ObjectStore,
    announcer: Announcer,
) -> None:
    """The upload's answer is an error.json: written first, then announced."""
    metadata = record_metadata(revision, job_name)
    publish_error(store, settings.output_bucket, upload.key, record, metadata)
    announcer.emit(
        not_transcribed(
            detail_type,
            upload.location,
            revision=revision,
            job_name=job_name,
            output_bucket=settings.output_bucket,
            reason=str(record["reason"]),
        )
    )


def start_transcription(
    upload: Upload,
    settings: Settings,
    store: ObjectStore,
    jobs: TranscribeJobs,
    in_flight: InFlightJobs,
    announcer: Announcer,
    *,
    now: datetime,
) -> StartResult:
    """Validate one upload and start its job; raises CapacityExceeded when Transcribe is
    at a quota, and any other error a retry can fix."""
    if should_skip(upload.key):
        return StartResult(StartOutcome.SKIPPED)

    bytes_before = store.bytes_read
    last_modified: list[datetime] = []  # of the version read; the event does not carry it
    metadata: dict[str, str] = {}  # its S3 user metadata: per-file options may be there

    def read(offset: int, length: int) -> bytes:
        if length <= 0:
            return b""
        chunk = store.read_range(
            upload.location, offset, length, version_id=upload.version_id, etag=upload.etag
        )
        last_modified[:1] = [chunk.last_modified]
        metadata.update(chunk.metadata)
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
            metadata.update(head.metadata)
    except ObjectGone:
        return StartResult(StartOutcome.GONE, bytes_read=store.bytes_read - bytes_before)
    bytes_read = store.bytes_read - bytes_before
    revision = revision_of(upload.etag, upload.version_id, next(iter(last_modified), None))
    if upload.origin not in (Origin.S3, Origin.SIDECAR):
        # An existing object sent again: its answer may be there already (a new upload's
        # cannot, so its event costs no extra request).
        recorded = final_record_metadata(store, settings.output_bucket, upload.key)
        if recorded.get(REVISION_METADATA) == revision:
            return StartResult(StartOutcome.ANSWERED, check=check, bytes_read=bytes_read)

    options: ResolvedOptions | None = None
    reason = check.reason
    if check.media_format is not None:
        try:
            options = options_of_upload(upload.location, metadata, settings, store)
        except OptionError as error:
            reason = f"The upload's options cannot be used: {error}. Nothing was started."
    if check.media_format is None or options is None:
        record = rejection_record(
            upload.location,
            size=upload.size,
            reason=reason or "The file is not a supported audio or video format.",
            detected=check.detected,
            occurred_at=upload.event_time,
            revision=revision,
        )
        _answer_with_error(
            DetailType.REJECTED, upload, record, revision, None, settings, store, announcer
        )
        return StartResult(StartOutcome.REJECTED, check=check, bytes_read=bytes_read)

    variant = options.transcription_fingerprint(stack_resolved(settings))
    job_name = job_name_for(settings.job_name_prefix, upload.location, revision, variant)
    request = build_job_request(settings, upload.location, check.media_format, job_name, options)
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
        _answer_with_error(
            DetailType.FAILED, upload, record, revision, job_name, settings, store, announcer
        )
        return StartResult(StartOutcome.REFUSED, job_name, check, bytes_read)
    # Tracked until its answer exists: reconciliation looks here, not in the bucket.
    in_flight.add(
        InFlightJob(upload.key, job_name, revision, started_at=now),
        expires_at=now + timedelta(days=IN_FLIGHT_DAYS),
    )
    outcome = StartOutcome.STARTED if started else StartOutcome.ALREADY_STARTED
    return StartResult(outcome, job_name, check, bytes_read)


def options_changed(
    sidecar: Upload,
    settings: Settings,
    store: ObjectStore,
    jobs: TranscribeJobs,
    in_flight: InFlightJobs,
    announcer: Announcer,
    requests: RegenerateRequests | None,
    *,
    now: datetime,
) -> StartResult:
    """A sidecar was uploaded (or, with DeleteFollowsSource, deleted): look at its media again.

    If the media's answer is already the job its options ask for now, only what the outputs
    show can have changed (names, title): a regenerate is requested. Otherwise the media
    goes the normal start path as it is now: a new job for new transcription options (its
    variant), an error.json for options that cannot be used, or the job already running.
    """
    media = S3Location(sidecar.bucket, media_of(sidecar.key))
    head = store.head(media)
    if head is None:
        # The sidecar came first: the media's own upload event reads it.
        return StartResult(StartOutcome.SKIPPED)
    try:
        options = options_of_upload(media, head.metadata, settings, store)
    except OptionError:
        options = None  # the start path below writes the error.json that names the option
    if options is not None:
        variant = options.transcription_fingerprint(stack_resolved(settings))
        job_name = job_name_for(settings.job_name_prefix, media, head.revision, variant)
        recorded = final_record_metadata(store, settings.output_bucket, media.key)
        if recorded.get(JOB_METADATA) == job_name:
            if requests is None:  # simulations without EventBridge
                return StartResult(StartOutcome.ANSWERED, job_name)
            # Outputs or a failure of this very job; regenerate tells them apart.
            requests.request(media.key)
            return StartResult(StartOutcome.REGENERATE_REQUESTED, job_name)
    upload = Upload(
        bucket=media.bucket,
        key=media.key,
        size=head.size,
        etag=head.etag,
        version_id=head.version_id,
        event_time=sidecar.event_time,
        origin=Origin.SIDECAR,
    )
    return start_transcription(upload, settings, store, jobs, in_flight, announcer, now=now)


def handle_record(
    upload: Upload,
    settings: Settings,
    store: ObjectStore,
    jobs: TranscribeJobs,
    in_flight: InFlightJobs,
    announcer: Announcer,
    requests: RegenerateRequests | None,
    *,
    now: datetime,
) -> StartResult:
    """One S3 record: an upload, a sidecar change, or a deletion."""
    if is_sidecar(upload.key) and (not upload.removed or settings.delete_follows_source):
        return options_changed(
            upload, settings, store, jobs, in_flight, announcer, requests, now=now
        )
    if upload.removed:
        # Only sent when DeleteFollowsSource is on; ignored otherwise, whatever sent it.
        if should_skip(upload.key):
            return StartResult(StartOutcome.SKIPPED)
        deleted = follow_deleted_source(upload.key, settings, store, jobs, in_flight)
        outcome = {
            DeleteOutcome.DELETED: StartOutcome.SOURCE_DELETED,
            DeleteOutcome.KEPT: StartOutcome.SOURCE_KEPT,
            DeleteOutcome.IGNORED: StartOutcome.SKIPPED,
        }[deleted.outcome]
        return StartResult(outcome)
    return start_transcription(upload, settings, store, jobs, in_flight, announcer, now=now)


@dataclass(frozen=True)
class HandledUpload:
    upload: Upload
    result: StartResult


@dataclass(frozen=True)
class UnreadableMessage:
    message_id: str  # "" when even the id could not be read
    error: str


@dataclass(frozen=True)
class DeferredMessage:
    """A message handed back to the queue, to be delivered again in ``delay_seconds``."""

    message_id: str
    delay_seconds: int
    error: Exception | None  # what stopped it; None when an earlier message hit a quota
    fresh_copy: bool = False  # sent again as a new message; the original is let go

    @property
    def waits_for_capacity(self) -> bool:
        return self.error is None or isinstance(self.error, CapacityExceeded)


@dataclass
class QueueBatch:
    """What became of every message of one SQS batch."""

    handled: list[HandledUpload] = field(default_factory=list)
    unreadable: list[UnreadableMessage] = field(default_factory=list)
    deferred: list[DeferredMessage] = field(default_factory=list)
    test_events: int = 0

    def batch_item_failures(self) -> dict[str, list[dict[str, str]]]:
        """The partial batch response: SQS deletes every other message of the batch."""
        return {
            "batchItemFailures": [
                {"itemIdentifier": d.message_id} for d in self.deferred if not d.fresh_copy
            ]
        }


def _put_back(
    message: QueuedMessage, delay: int, error: Exception | None, queue: UploadQueue
) -> DeferredMessage:
    """Back on the queue for ``delay`` seconds: the same message (its receive count grows
    toward the dead-letter queue), or, after a long wait for capacity, a fresh copy."""
    deferred = DeferredMessage(message.message_id, delay, error)
    if deferred.waits_for_capacity and message.receive_count >= FRESH_COPY_AFTER_RECEIVES:
        copy = OutgoingMessage(
            "fresh", json.dumps(message.notification), message.origin, delay_seconds=delay
        )
        if not queue.send([copy]):  # sent: SQS deletes the original with the batch
            return dataclasses.replace(deferred, fresh_copy=True)
    queue.retry_later(message.receipt_handle, delay)
    return deferred


def _uploads_of(message: QueuedMessage) -> list[Upload]:
    return [
        dataclasses.replace(parse_upload(record), origin=message.origin)
        for record in upload_records(message.notification)
    ]


def start_queued_uploads(
    records: Sequence[Any],
    settings: Settings,
    store: ObjectStore,
    jobs: TranscribeJobs,
    in_flight: InFlightJobs,
    queue: UploadQueue,
    announcer: Announcer,
    *,
    now: datetime,
    requests: RegenerateRequests | None = None,
) -> QueueBatch:
    """Each message of an SQS batch on its own: one bad message never blocks the others.

    A malformed message will not get better: it is reported and let go. A message that
    fails for a reason a later try can fix (a quota, throttling, a 5xx) goes back to the
    queue with a growing delay (``retry_delay``) and is reported as a batch item failure;
    once Transcribe says it is at a quota, the rest of the batch goes back unread, since
    every one of them would meet the same answer. The uploads already handled are
    idempotent, so a message that is delivered again is harmless.
    """
    batch = QueueBatch()
    at_capacity = False
    for record in records:
        try:
            message = parse_queued_message(record)
            if is_test_event(message.notification):
                batch.test_events += 1
                continue
            uploads = _uploads_of(message)
        except MalformedEvent as error:
            message_id = record.get("messageId", "") if isinstance(record, dict) else ""
            batch.unreadable.append(UnreadableMessage(str(message_id), str(error)))
            continue
        delay = retry_delay(message.receive_count, message.message_id)
        if at_capacity:
            batch.deferred.append(_put_back(message, delay, None, queue))
            continue
        try:
            results = [
                HandledUpload(
                    upload,
                    handle_record(
                        upload, settings, store, jobs, in_flight, announcer, requests, now=now
                    ),
                )
                for upload in uploads
            ]
        except Exception as error:  # noqa: BLE001 - retried through the queue, reported
            at_capacity = isinstance(error, CapacityExceeded)
            batch.deferred.append(_put_back(message, delay, error, queue))
            continue
        batch.handled.extend(results)
    return batch
