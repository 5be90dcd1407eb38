"""Use case: Transcribe says a job finished; publish its outputs or its failure record."""

from __future__ import annotations

import dataclasses
import enum
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from transcription_pipeline.announcements import (
    Announcement,
    DetailType,
    not_transcribed,
    published,
)
from transcription_pipeline.aws import (
    Announcer,
    InFlightJobs,
    ObjectGone,
    ObjectHead,
    ObjectStore,
    TranscribeJobs,
    TranscriptionJob,
)
from transcription_pipeline.config import Settings
from transcription_pipeline.error_records import failure_record
from transcription_pipeline.file_options import options_of_upload, stack_resolved
from transcription_pipeline.media.duration import MediaDuration, media_duration
from transcription_pipeline.model_summary.types import ModelUsage, SummaryModel
from transcription_pipeline.naming import (
    S3Location,
    job_name_for,
    parse_s3_uri,
    parse_transcript_uri,
    raw_output_keys,
)
from transcription_pipeline.options import OptionError
from transcription_pipeline.outputs import (
    model_summary_of,
    render_outputs,
    translations_of,
    words_stage,
)
from transcription_pipeline.publish import (
    publish_error,
    publish_outputs,
    publish_translations,
    record_metadata,
)
from transcription_pipeline.transcript import Transcript, TranscriptFormatError, parse_transcript

if TYPE_CHECKING:
    from transcription_pipeline.translation import TranslationOutcome, Translator


class JobNotFinished(Exception):
    """The event said finished but the job is not (yet): raise so Lambda retries later."""


class ProcessOutcome(enum.StrEnum):
    PUBLISHED = "published"  # the outputs written
    FAILURE_RECORDED = "failure_recorded"  # error.json written
    SUPERSEDED = "superseded"  # the source key holds newer content now; nothing written
    FOREIGN = "foreign"  # not one of this stack's jobs
    UNKNOWN = "unknown"  # Transcribe does not know the job (deleted, or a forged event)
    # DeleteFollowsSource and the upload is gone: nothing written, and the job's raw
    # output and record removed, so a job that ends after the deletion leaves nothing.
    SOURCE_DELETED = "source_deleted"


@dataclass(frozen=True)
class ProcessResult:
    outcome: ProcessOutcome
    source: S3Location | None = None
    word_count: int = 0
    duration_seconds: float = 0.0
    transcript_bytes: int = 0
    announcement: Announcement | None = None  # what the record written tells subscribers
    model_usage: ModelUsage | None = None  # with SummaryModelId: the tokens it took
    model_fallback_reason: str | None = None  # why the offline summary stands in
    translations: TranslationOutcome | None = None  # when languages were asked for


def _timestamp(job: TranscriptionJob, fallback: str) -> str:
    """The job's completion time, so processing the same job twice writes the same bytes."""
    if job.completed_at is None:
        return fallback
    completed = job.completed_at
    if completed.tzinfo is None:
        completed = completed.replace(tzinfo=UTC)
    return completed.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _with_job_facts(transcript: Transcript, job: TranscriptionJob) -> Transcript:
    """Name and language as Transcribe reports them for the job (the transcript may lack them)."""
    return dataclasses.replace(
        transcript,
        job_name=job.name,
        language_code=transcript.language_code or job.language_code,
        language_score=(
            transcript.language_score
            if transcript.language_score is not None
            else job.language_score
        ),
    )


def _recording_length(
    store: ObjectStore, source: S3Location, current: ObjectHead | None
) -> MediaDuration | None:
    """The recording's length from its header (the first 64 KiB, the revision the job
    transcribed), or None: the summary then counts to the transcript's last word."""
    if current is None:
        return None

    def read(offset: int, length: int) -> bytes:
        if length <= 0:
            return b""
        # The current object, guarded by its eTag: s3:GetObject suffices (a versionId in
        # the request would be authorised as s3:GetObjectVersion).
        return store.read_range(source, offset, length, etag=current.etag).data

    try:
        return media_duration(current.size, read)
    except ObjectGone:  # replaced or deleted meanwhile: the transcript's length will do
        return None


def publishable_transcript_uri(job: TranscriptionJob) -> str | None:
    """The transcript to publish: with PII redaction only ever the redacted one.

    Transcribe reports it at RedactedTranscriptFileUri; TranscriptFileUri is then absent
    (RedactionOutput=redacted) or the *unredacted* file (redacted_and_unredacted).
    """
    if job.redacts_pii:
        return job.redacted_transcript_uri
    return job.transcript_uri


def process_job(
    job_name: str,
    settings: Settings,
    store: ObjectStore,
    jobs: TranscribeJobs,
    in_flight: InFlightJobs,
    announcer: Announcer,
    *,
    event_time: str | None = None,
    summary_model: SummaryModel | None = None,
    translator: Translator | None = None,
) -> ProcessResult:
    """Publish a finished job's answer, announce it, then stop tracking it as in flight.

    ``summary_model`` writes the abstractive summary (SummaryModelId); ``translator``
    translates the outputs into the languages the options ask for, after they are
    published, so a failed translation never holds them back.
    """
    result = _publish_answer(job_name, settings, store, jobs, event_time, summary_model, translator)
    if result.announcement is not None:
        # After the record: a failed emit raises, and the retry writes the same bytes again.
        announcer.emit(result.announcement)
    if result.source is not None:
        # After the record is written, never before: an item left behind is only looked
        # at again, an item removed too early could leave an upload without an answer.
        in_flight.remove(result.source.key, job_name)
    return result


def _publish_answer(
    job_name: str,
    settings: Settings,
    store: ObjectStore,
    jobs: TranscribeJobs,
    event_time: str | None,
    summary_model: SummaryModel | None,
    translator: Translator | None,
) -> ProcessResult:
    if not job_name.startswith(settings.job_name_prefix):
        return ProcessResult(ProcessOutcome.FOREIGN)
    job = jobs.get(job_name)
    if job is None or not job.media_uri:
        return ProcessResult(ProcessOutcome.UNKNOWN)
    source = parse_s3_uri(job.media_uri)
    current = store.head(source)
    try:
        options = options_of_upload(source, current.metadata if current else {}, settings, store)
    except OptionError:
        # Options made invalid since the job started: that change was rejected in its own
        # right (error.json), so this job is not the upload's current one.
        options = stack_resolved(settings)
    variant = options.transcription_fingerprint(stack_resolved(settings))
    if current is not None and (
        job_name_for(settings.job_name_prefix, source, current.revision, variant) != job.name
    ):
        # The key now holds newer content, or asks for other options, with its own job: an
        # older job's late answer must not overwrite the newer one.
        return ProcessResult(ProcessOutcome.SUPERSEDED, source)
    if current is None and settings.delete_follows_source:
        if job.status not in ("COMPLETED", "FAILED"):
            raise JobNotFinished(f"job {job.name} is {job.status or 'in an unknown state'}")
        store.delete(settings.output_bucket, raw_output_keys(settings.raw_output_prefix, job.name))
        jobs.delete(job.name)
        return ProcessResult(ProcessOutcome.SOURCE_DELETED, source)
    # The source may be deleted already (DeleteFollowsSource off); its answer is written.
    revision = current.revision if current else None
    metadata = record_metadata(revision, job.name)
    created_at = _timestamp(job, event_time or datetime.now(UTC).isoformat())

    def record_failure(
        reason: str | None, stage: str = "processing", transcript_bytes: int = 0
    ) -> ProcessResult:
        """This source's answer is an error.json: the job failed or its output is unusable."""
        record = failure_record(
            source, job_name=job.name, failure_reason=reason, stage=stage, occurred_at=created_at
        )
        publish_error(store, settings.output_bucket, source.key, record, metadata)
        announcement = not_transcribed(
            DetailType.FAILED,
            source,
            revision=revision,
            job_name=job.name,
            output_bucket=settings.output_bucket,
            reason=str(record["reason"]),
        )
        return ProcessResult(
            ProcessOutcome.FAILURE_RECORDED,
            source,
            transcript_bytes=transcript_bytes,
            announcement=announcement,
        )

    if job.status == "FAILED":
        return record_failure(job.failure_reason, "transcription")
    if job.status != "COMPLETED":
        raise JobNotFinished(f"job {job.name} is {job.status or 'in an unknown state'}")
    transcript_uri = publishable_transcript_uri(job)
    if transcript_uri is None:
        return record_failure(
            "Amazon Transcribe reported no redacted transcript for a job with PII "
            "redaction; the unredacted one is never published."
            if job.redacts_pii
            else "Amazon Transcribe reported no transcript file for the job."
        )
    try:
        raw = store.read_all(parse_transcript_uri(transcript_uri))
    except ObjectGone:
        # The raw output expires (RawTranscriptRetentionDays); a retry cannot bring it back.
        return record_failure(
            "Transcribe's output file no longer exists (the raw output under "
            f"{settings.raw_output_prefix} expires after a set number of days). "
            "Upload the file again to transcribe it anew."
        )
    try:
        transcript = _with_job_facts(parse_transcript(raw), job)
    except TranscriptFormatError as error:
        return record_failure(f"Transcript could not be read: {error}", transcript_bytes=len(raw))

    stage = words_stage(transcript, options.speaker_names)
    recording_length = _recording_length(store, source, current)
    model_result = model_summary_of(stage, options, settings, summary_model)
    rendered = render_outputs(
        raw,
        transcript,
        source,
        created_at,
        title=options.title,
        model_result=model_result,
        stage=stage,
        document=settings.transcript_document,
        recording_length=recording_length,
    )
    publish_outputs(store, settings.output_bucket, source.key, rendered.files, metadata)
    translations = translations_of(stage, rendered, options.target_languages, translator)
    if translations is not None:
        publish_translations(
            store, settings.output_bucket, source.key, translations, metadata, created_at
        )
    summary = rendered.summary
    return ProcessResult(
        ProcessOutcome.PUBLISHED,
        source,
        word_count=summary.word_count,
        duration_seconds=summary.duration_seconds,
        transcript_bytes=len(raw),
        announcement=published(
            source,
            revision=revision,
            job_name=job.name,
            output_bucket=settings.output_bucket,
            language_code=summary.language_code,
            duration_seconds=summary.duration_seconds,
            word_count=summary.word_count,
            output_names=tuple(rendered.files),
            summary_source=summary.summary_source,
            translations=(
                {result.target: result.status for result in translations.languages}
                if translations is not None
                else None
            ),
        ),
        model_usage=summary.model_usage,
        model_fallback_reason=summary.model_fallback_reason,
        translations=translations,
    )
