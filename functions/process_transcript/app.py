"""Transcribe Job State Change -> transcript, subtitles and summary (or error.json)."""

from __future__ import annotations

from functools import cache
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from transcription_pipeline.events import MalformedEvent, parse_job_state_change
from transcription_pipeline.lambda_support import (
    build_dependencies,
    lambda_entry,
    logger,
    metrics,
)
from transcription_pipeline.process import ProcessOutcome, process_job

_METRIC_BY_OUTCOME = {
    ProcessOutcome.PUBLISHED: "TranscriptsPublished",
    ProcessOutcome.FAILURE_RECORDED: "JobsFailed",
    ProcessOutcome.SUPERSEDED: "SupersededJobs",
    ProcessOutcome.FOREIGN: "ForeignJobEvents",
    ProcessOutcome.UNKNOWN: "UnknownJobEvents",
}


_dependencies = cache(build_dependencies)


@lambda_entry
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    deps = _dependencies()
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
    )
    metrics.add_metric(name=_METRIC_BY_OUTCOME[result.outcome], unit=MetricUnit.Count, value=1)
    if result.outcome is ProcessOutcome.PUBLISHED:
        metrics.add_metric(
            name="TranscribedSeconds", unit=MetricUnit.Seconds, value=result.duration_seconds
        )
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
