"""S3 ObjectCreated -> validate each upload and start its Amazon Transcribe job."""

from __future__ import annotations

from functools import cache
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from transcription_pipeline.events import MalformedEvent, upload_records
from transcription_pipeline.lambda_support import (
    build_dependencies,
    lambda_entry,
    logger,
    metrics,
)
from transcription_pipeline.start import StartOutcome, start_every_record

_METRIC_BY_OUTCOME = {
    StartOutcome.STARTED: "JobsStarted",
    StartOutcome.ALREADY_STARTED: "DuplicateUploadEvents",
    StartOutcome.REJECTED: "UploadsRejected",
    StartOutcome.REFUSED: "JobsRefused",
    StartOutcome.SKIPPED: "ObjectsSkipped",
    StartOutcome.GONE: "ObjectsGone",
}

_dependencies = cache(build_dependencies)


@lambda_entry
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, int]:
    settings, store, jobs = _dependencies()
    counts: dict[str, int] = {}
    try:
        records = upload_records(event)
    except MalformedEvent as error:
        # S3 sends an s3:TestEvent (no Records) when the notification is set up.
        logger.warning("event without S3 records ignored", extra={"error": str(error)})
        metrics.add_metric(name="IgnoredEvents", unit=MetricUnit.Count, value=1)
        return counts
    batch = start_every_record(records, settings, store, jobs)
    for unreadable in batch.unreadable:
        logger.error(
            "malformed S3 record",
            extra={"record_index": unreadable.index, "error": unreadable.error},
        )
        metrics.add_metric(name="MalformedRecords", unit=MetricUnit.Count, value=1)
    if batch.unreadable:
        counts["malformed"] = len(batch.unreadable)
    for handled in batch.handled:
        upload, result = handled.upload, handled.result
        counts[result.outcome] = counts.get(result.outcome, 0) + 1
        metrics.add_metric(name=_METRIC_BY_OUTCOME[result.outcome], unit=MetricUnit.Count, value=1)
        metrics.add_metric(
            name="BytesReadToValidate", unit=MetricUnit.Bytes, value=result.bytes_read
        )
        logger.info(
            "upload handled",
            extra={
                "outcome": result.outcome,
                "bucket": upload.bucket,
                "key": upload.key,
                "size": upload.size,
                "job_name": result.job_name,
                "detected": result.check.detected if result.check else None,
                "reason": result.check.reason if result.check else None,
                "bytes_read": result.bytes_read,
            },
        )
    for failure in batch.retryable:
        logger.error(
            "could not start transcription; the event will be retried",
            extra={"bucket": failure.upload.bucket, "key": failure.upload.key},
            exc_info=failure.error,
        )
    batch.raise_first_retryable()
    return counts
