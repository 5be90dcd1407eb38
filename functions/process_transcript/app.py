"""Transcribe Job State Change -> transcript, subtitles and summary (or error.json);
Regenerate Requested -> the same outputs rendered again from the stored transcript."""

from __future__ import annotations

from functools import cache
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from transcription_pipeline.events import (
    REGENERATE_REQUESTED,
    MalformedEvent,
    parse_job_state_change,
    parse_regenerate_request,
)
from transcription_pipeline.lambda_support import (
    build_dependencies,
    lambda_entry,
    logger,
    metrics,
)
from transcription_pipeline.process import ProcessOutcome, ProcessResult, process_job
from transcription_pipeline.regenerate import RegenerateOutcome, regenerate

_METRIC_BY_OUTCOME = {
    ProcessOutcome.PUBLISHED: "TranscriptsPublished",
    ProcessOutcome.FAILURE_RECORDED: "JobsFailed",
    ProcessOutcome.SUPERSEDED: "SupersededJobs",
    ProcessOutcome.FOREIGN: "ForeignJobEvents",
    ProcessOutcome.UNKNOWN: "UnknownJobEvents",
    ProcessOutcome.SOURCE_DELETED: "JobsOfDeletedUploads",
}
_REGENERATE_METRIC = {
    RegenerateOutcome.REGENERATED: "OutputsRegenerated",
    RegenerateOutcome.UNCHANGED: "OutputsUnchanged",
}


_dependencies = cache(build_dependencies)


@lambda_entry
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    deps = _dependencies()
    if isinstance(event, dict) and event.get("detail-type") == REGENERATE_REQUESTED:
        return _regenerate(event)
    try:
        change = parse_job_state_change(event)
    except MalformedEvent as error:
        # Nothing a retry can fix: record it in the log and stop.
        logger.error("malformed Transcribe event", extra={"error": str(error)})
        metrics.add_metric(name="MalformedEvents", unit=MetricUnit.Count, value=1)
        return {"outcome": "malformed"}
    logger.append_keys(job_name=change.job_name)
    result = process_job(
        change.job_name,
        deps.settings,
        deps.store,
        deps.jobs,
        deps.in_flight,
        deps.announcer,
        event_time=change.time,
        summary_model=deps.summary_model,
        translator=deps.translator,
    )
    metrics.add_metric(name=_METRIC_BY_OUTCOME[result.outcome], unit=MetricUnit.Count, value=1)
    if result.outcome is ProcessOutcome.PUBLISHED:
        metrics.add_metric(
            name="TranscribedSeconds", unit=MetricUnit.Seconds, value=result.duration_seconds
        )
    report_enrichments(result)
    logger.info(
        "job handled",
        extra={
            "outcome": result.outcome,
            "event_status": change.status,
            "source_bucket": result.source.bucket if result.source else None,
            "source_key": result.source.key if result.source else None,
            "word_count": result.word_count,
            "duration_seconds": result.duration_seconds,
            "transcript_bytes": result.transcript_bytes,
        },
    )
    return {"outcome": result.outcome, "job_name": change.job_name}


def report_enrichments(result: ProcessResult) -> None:
    """Tokens the model took and how translations went: counts and codes, never text."""
    usage = result.model_usage
    if usage is not None:
        metrics.add_metric(name="SummaryModelCalls", unit=MetricUnit.Count, value=usage.calls)
        metrics.add_metric(
            name="SummaryModelInputTokens", unit=MetricUnit.Count, value=usage.input_tokens
        )
        metrics.add_metric(
            name="SummaryModelOutputTokens", unit=MetricUnit.Count, value=usage.output_tokens
        )
        if result.model_fallback_reason is not None:
            metrics.add_metric(name="SummaryModelFallbacks", unit=MetricUnit.Count, value=1)
        logger.info(
            "model summary",
            extra={**usage.to_dict(), "fallback_reason": result.model_fallback_reason},
        )
    translations = result.translations
    if translations is not None:
        metrics.add_metric(
            name="TranslationsWritten",
            unit=MetricUnit.Count,
            value=len(translations.with_status("translated")),
        )
        metrics.add_metric(
            name="TranslationsFailed",
            unit=MetricUnit.Count,
            value=len(translations.with_status("failed")),
        )
        metrics.add_metric(
            name="TranslatedCharacters", unit=MetricUnit.Count, value=translations.characters
        )
        logger.info("translations", extra=translations.report())


def _regenerate(event: dict[str, Any]) -> dict[str, Any]:
    deps = _dependencies()
    try:
        request = parse_regenerate_request(event, deps.settings.request_source)
    except MalformedEvent as error:
        logger.error("malformed regenerate request", extra={"error": str(error)})
        metrics.add_metric(name="MalformedEvents", unit=MetricUnit.Count, value=1)
        return {"outcome": "malformed"}
    result = regenerate(request.source_key, deps.settings, deps.store)
    metrics.add_metric(
        name=_REGENERATE_METRIC.get(result.outcome, "RegeneratesNotDone"),
        unit=MetricUnit.Count,
        value=1,
    )
    logger.info(
        "regenerate handled",
        extra={
            "outcome": result.outcome,
            "source_key": request.source_key,
            "job_name": result.job_name,
            "files_written": list(result.files_written),
            "detail": result.detail,
        },
    )
    return {
        "outcome": result.outcome,
        "source_key": request.source_key,
        "files_written": list(result.files_written),
    }
