"""Use case: Transcribe says a job finished; publish its outputs or its failure record."""

from __future__ import annotations

import dataclasses
import enum
from dataclasses import dataclass
from datetime import UTC, datetime

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
    ObjectStore,
    TranscribeJobs,
    TranscriptionJob,
)
from transcription_pipeline.config import Settings
from transcription_pipeline.error_records import failure_record
from transcription_pipeline.file_options import options_of_upload, stack_resolved
from transcription_pipeline.naming import (
    SUBTITLES_SRT,
    SUBTITLES_VTT,
    SUMMARY_JSON,
    SUMMARY_MARKDOWN,
    TRANSCRIPT_JSON,
    TRANSCRIPT_TEXT,
    S3Location,
    job_name_for,
    parse_s3_uri,
    parse_transcript_uri,
    raw_output_keys,
)
from transcription_pipeline.options import OptionError, SpeakerNames, names_by_label
from transcription_pipeline.performance import without_cyclic_gc
from transcription_pipeline.publish import publish_error, publish_outputs, record_metadata
from transcription_pipeline.render import build_cues, srt_from_cues, text_from_words, vtt_from_cues
from transcription_pipeline.summary import Summary, render_summary_markdown, summarise
from transcription_pipeline.transcript import Transcript, TranscriptFormatError, parse_transcript
from transcription_pipeline.words import group_words, name_speakers, speakers_in_order


class JobNotFinished(Exception):
    """The event said finished but the job is not (yet): raise so Lambda retries later."""


class ProcessOutcome(enum.StrEnum):
    PUBLISHED = "published"  # the six outputs written
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


@dataclass(frozen=True)
class RenderedOutputs:
    files: dict[str, bytes]  # output file name -> content
    summary: Summary


@without_cyclic_gc
def render_outputs(
    raw_transcript: bytes,
    transcript: Transcript,
    source: S3Location,
    created_at: str,
    *,
    title: str | None = None,
    speaker_names: SpeakerNames = (),
) -> RenderedOutputs:
    """All six output files for one transcript; pure, so it is tested without AWS.

    The words are grouped once (with the speakers' names, when given, in place of their
    labels) and the cues built once; each output gets them.
    """
    words = group_words(transcript.items)
    names = names_by_label(speaker_names, speakers_in_order(words))
    words = name_speakers(words, names)
    cues = build_cues(words)
    summary = summarise(
        transcript,
        words,
        source_bucket=source.bucket,
        source_key=source.key,
        created_at=created_at,
        title=title,
        speaker_names=names,
    )
    files = {
        TRANSCRIPT_JSON: raw_transcript,
        TRANSCRIPT_TEXT: text_from_words(words, transcript.labels).encode("utf-8"),
        SUBTITLES_SRT: srt_from_cues(cues).encode("utf-8"),
        SUBTITLES_VTT: vtt_from_cues(cues).encode("utf-8"),
        SUMMARY_JSON: summary.to_json(),
        SUMMARY_MARKDOWN: render_summary_markdown(summary).encode("utf-8"),
    }
    return RenderedOutputs(files, summary)


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
) -> ProcessResult:
    """Publish a finished job's answer, announce it, then stop tracking it as in flight."""
    result = _publish_answer(job_name, settings, store, jobs, event_time)
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

    rendered = render_outputs(
        raw,
        transcript,
        source,
        created_at,
        title=options.title,
        speaker_names=options.speaker_names,
    )
    publish_outputs(store, settings.output_bucket, source.key, rendered.files, metadata)
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
        ),
    )
