"""Upload queue (S3 notifications in SQS messages) -> validate each upload, start its job.

Returns a partial batch response: the messages that could not be handled yet (a
Transcribe quota, throttling, a 5xx) go back to the queue with a growing delay; SQS
deletes the others.
"""

from __future__ import annotations

from datetime import UTC, datetime
from functools import cache, partial
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from transcription_pipeline.events import MalformedEvent, queued_records
from transcription_pipeline.lambda_support import (
    build_dependencies,
    lambda_entry,
    logger,
    metrics,
)
from transcription_pipeline.start import StartOutcome, start_queued_uploads

_METRIC_BY_OUTCOME = {
    StartOutcome.STARTED: "JobsStarted",
    StartOutcome.ALREADY_STARTED: "DuplicateUploadEvents",
    StartOutcome.REJECTED: "UploadsRejected",
    StartOutcome.REFUSED: "JobsRefused",
    StartOutcome.SKIPPED: "ObjectsSkipped",
    StartOutcome.GONE: "ObjectsGone",
    StartOutcome.ANSWERED: "ObjectsAlreadyAnswered",
    StartOutcome.REGENERATE_REQUESTED: "RegeneratesRequested",
    StartOutcome.SOURCE_DELETED: "DeletedUploadsFollowed",
    StartOutcome.SOURCE_KEPT: "RemovalsOfKeptUploads",
}

# The upload queue retries a quota answer for days: botocore's own retries of it (5
# attempts, backing off up to 20 s) would only hold the batch and its other uploads.
_dependencies = cache(partial(build_dependencies, transcribe_attempts=2))


@lambda_entry
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    deps = _dependencies()
    try:
        records = queued_records(event)
    except MalformedEvent as error:
        logger.error("event without SQS records ignored", extra={"error": str(error)})
        metrics.add_metric(name="MalformedEvents", unit=MetricUnit.Count, value=1)
        return {"batchItemFailures": []}
    batch = start_queued_uploads(
        records,
        deps.settings,
        deps.store,
        deps.jobs,
        deps.in_flight,
        deps.queue,
        deps.announcer,
        now=datetime.now(UTC),
        requests=deps.regenerate_requests,
    )
    for unreadable in batch.unreadable:
        # Nothing a retry can fix: recorded here, and the message is let go.
        logger.error(
            "malformed upload message",
            extra={"message_id": unreadable.message_id, "error": unreadable.error},
        )
        metrics.add_metric(name="MalformedRecords", unit=MetricUnit.Count, value=1)
    for handled in batch.handled:
        upload, result = handled.upload, handled.result
        metrics.add_metric(name=_METRIC_BY_OUTCOME[result.outcome], unit=MetricUnit.Count, value=1)
        metrics.add_metric(
            name="BytesReadToValidate", unit=MetricUnit.Bytes, value=result.bytes_read
        )
        logger.info(
            "upload handled",
            extra={
                "outcome": result.outcome,
                "origin": upload.origin,
                "removed": upload.removed,
                "bucket": upload.bucket,
                "key": upload.key,
                "size": upload.size,
                "job_name": result.job_name,
                "detected": result.check.detected if result.check else None,
                "reason": result.check.reason if result.check else None,
                "bytes_read": result.bytes_read,
            },
        )
    at_capacity = sum(d.waits_for_capacity for d in batch.deferred)
    fresh_copies = sum(d.fresh_copy for d in batch.deferred)
    if fresh_copies:
        # A long wait for capacity restarts its receive count (never dead-lettered).
        metrics.add_metric(
            name="UploadsRequeuedAfterLongWait", unit=MetricUnit.Count, value=fresh_copies
        )
    if at_capacity:
        # Expected in a burst: Transcribe's queue is full and SQS holds the rest.
        metrics.add_metric(
            name="UploadsWaitingForCapacity", unit=MetricUnit.Count, value=at_capacity
        )
    after_errors = [d for d in batch.deferred if not d.waits_for_capacity]
    if after_errors:
        # Not a quota: something is wrong (StartRetriesAlarm), though the queue keeps trying.
        metrics.add_metric(
            name="UploadsRetriedAfterErrors", unit=MetricUnit.Count, value=len(after_errors)
        )
    for deferred in after_errors:
        logger.warning(
            "upload put back on the queue; it is retried later",
            extra={"message_id": deferred.message_id, "delay_seconds": deferred.delay_seconds},
            exc_info=deferred.error,
        )
    if batch.test_events:
        metrics.add_metric(name="IgnoredEvents", unit=MetricUnit.Count, value=batch.test_events)
    logger.info(
        "batch handled",
        extra={
            "messages": len(records),
            "handled": len(batch.handled),
            "deferred": len(batch.deferred),
            "at_capacity": at_capacity,
            "unreadable": len(batch.unreadable),
        },
    )
    return batch.batch_item_failures()
