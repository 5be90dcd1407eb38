"""Use case: render an upload's outputs again from its stored transcript, without a new job.

After an upgrade of the renderers, new speaker names or a new title, the outputs are
rebuilt from ``<key>/transcript.json`` — the copy of Transcribe's JSON in the outputs, which
outlives both ``_transcribe/`` (RawTranscriptRetentionDays) and GetTranscriptionJob (90
days). The job's facts (name, language, completion time) come from the record's own
summary.json, so with unchanged code and options every byte is the same, and nothing is
written. Only files whose bytes differ are written, with the record's metadata unchanged:
the record still answers the same revision with the same job.

No completion event is emitted: the record (revision and job) is the same one that was
announced, subscribers dedupe on its ``record_id``, and a bulk regenerate after an upgrade
must not send one e-mail per file.
"""

from __future__ import annotations

import dataclasses
import enum
import json
from dataclasses import dataclass
from typing import Any

from transcription_pipeline.aws import ObjectGone, ObjectStore
from transcription_pipeline.config import Settings
from transcription_pipeline.file_options import options_of_upload, stack_resolved
from transcription_pipeline.media.duration import MediaDuration
from transcription_pipeline.model_summary.types import ModelSummary, ModelSummaryResult, ModelUsage
from transcription_pipeline.naming import (
    ERROR_RECORD,
    SUMMARY_JSON,
    TRANSCRIPT_JSON,
    S3Location,
    job_name_for,
    output_key,
)
from transcription_pipeline.options import OptionError
from transcription_pipeline.outputs import render_outputs
from transcription_pipeline.publish import JOB_METADATA, REVISION_METADATA, record_metadata
from transcription_pipeline.transcript import Transcript, TranscriptFormatError, parse_transcript


class RegenerateOutcome(enum.StrEnum):
    REGENERATED = "regenerated"  # some outputs had other bytes and were written
    UNCHANGED = "unchanged"  # every output already had these bytes; nothing written
    NEEDS_NEW_JOB = "needs_new_job"  # the upload or its transcription options changed
    ERROR_RECORD = "error_record"  # the answer is an error.json: no transcript to render
    NO_RECORD = "no_record"  # no final record (not answered yet, or not an upload)
    SOURCE_DELETED = "source_deleted"  # the upload is gone: its outputs are left as they are
    OPTIONS_INVALID = "options_invalid"  # the upload's options cannot be used now
    UNREADABLE = "unreadable"  # the stored transcript or summary cannot be read


@dataclass(frozen=True)
class RegenerateResult:
    outcome: RegenerateOutcome
    files_written: tuple[str, ...] = ()
    job_name: str | None = None
    detail: str = ""  # why, for the log (ids and option names only, never transcript text)


def _with_recorded_facts(transcript: Transcript, summary: dict[str, object]) -> Transcript:
    """The job facts process_job took from GetTranscriptionJob, read back from the record."""
    language_code = summary.get("language_code")
    language_score = summary.get("language_score")
    return dataclasses.replace(
        transcript,
        job_name=str(summary["job_name"]),
        language_code=transcript.language_code
        or (language_code if isinstance(language_code, str) else None),
        language_score=(
            transcript.language_score
            if transcript.language_score is not None
            else float(language_score)
            if isinstance(language_score, int | float)
            else None
        ),
    )


def _recorded_model_result(summary: dict[str, Any]) -> ModelSummaryResult | None:
    """The model summary the record holds, kept as it is: regenerating never asks the
    model again (no tokens spent; names and titles change, the model's text does not)."""
    if summary.get("model_usage") is None:
        return None
    recorded = summary.get("model_summary")
    return ModelSummaryResult(
        summary=ModelSummary.from_dict(recorded) if recorded is not None else None,
        usage=ModelUsage(**summary["model_usage"]),
        fallback_reason=summary.get("model_fallback_reason"),
    )


def _recorded_length(summary: dict[str, Any]) -> MediaDuration | None:
    """The recording's length the record took from the media header (not read again)."""
    source = summary.get("duration_source", "transcript")
    if source == "transcript":
        return None
    return MediaDuration(float(summary["duration_seconds"]), exact=source == "media header")


def regenerate(source_key: str, settings: Settings, store: ObjectStore) -> RegenerateResult:
    """Render the outputs of ``source_key`` again with today's code and options."""
    output = settings.output_bucket
    try:
        summary_bytes, metadata = store.read_with_metadata(
            S3Location(output, output_key(source_key, SUMMARY_JSON))
        )
    except ObjectGone:
        error = store.head(S3Location(output, output_key(source_key, ERROR_RECORD)))
        if error is not None:
            return RegenerateResult(RegenerateOutcome.ERROR_RECORD, detail="error.json")
        return RegenerateResult(RegenerateOutcome.NO_RECORD)
    job_name = metadata.get(JOB_METADATA)
    if not job_name:
        return RegenerateResult(RegenerateOutcome.UNREADABLE, detail="record names no job")
    source = S3Location(settings.input_bucket, source_key)
    current = store.head(source)
    if current is None:
        return RegenerateResult(RegenerateOutcome.SOURCE_DELETED, job_name=job_name)
    try:
        options = options_of_upload(source, current.metadata, settings, store)
    except OptionError as error:
        return RegenerateResult(
            RegenerateOutcome.OPTIONS_INVALID, job_name=job_name, detail=error.option
        )
    variant = options.transcription_fingerprint(stack_resolved(settings))
    if job_name_for(settings.job_name_prefix, source, current.revision, variant) != job_name:
        # Another upload under the key, or options that change what Transcribe does: only a
        # new job answers it (the start path starts one for a new upload or sidecar).
        return RegenerateResult(RegenerateOutcome.NEEDS_NEW_JOB, job_name=job_name)
    try:
        raw = store.read_all(S3Location(output, output_key(source_key, TRANSCRIPT_JSON)))
        summary = json.loads(summary_bytes)
        transcript = _with_recorded_facts(parse_transcript(raw), summary)
        created_at = str(summary["created_at"])
        model_result = _recorded_model_result(summary)
        recording_length = _recorded_length(summary)
    except (ObjectGone, TranscriptFormatError, ValueError, KeyError, TypeError) as error:
        return RegenerateResult(
            RegenerateOutcome.UNREADABLE, job_name=job_name, detail=type(error).__name__
        )
    rendered = render_outputs(
        raw,
        transcript,
        source,
        created_at,
        title=options.title,
        speaker_names=options.speaker_names,
        model_result=model_result,
        document=settings.transcript_document,
        recording_length=recording_length,
    )
    # The metadata exactly as the record has it: same revision, same job.
    record = record_metadata(metadata.get(REVISION_METADATA), job_name)
    written = []
    for name, body in rendered.files.items():
        location = S3Location(output, output_key(source_key, name))
        existing: bytes | None
        if name in (SUMMARY_JSON, TRANSCRIPT_JSON):
            existing = summary_bytes if name == SUMMARY_JSON else raw
        else:
            try:
                existing = store.read_all(location)
            except ObjectGone:
                existing = None
        if existing != body:
            store.put(location, body, record)
            written.append(name)
    outcome = RegenerateOutcome.REGENERATED if written else RegenerateOutcome.UNCHANGED
    return RegenerateResult(outcome, tuple(written), job_name)
