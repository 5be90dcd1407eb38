"""S3 ObjectCreated -> validate each upload and start its Amazon Transcribe job."""

from __future__ import annotations

from functools import cache
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from transcription_pipeline.aws import ObjectStore, TranscribeJobs
from transcription_pipeline.config import Settings, load_settings
from transcription_pipeline.events import MalformedEvent, parse_upload, upload_records
from transcription_pipeline.observability import trace_handler
from transcription_pipeline.start import StartOutcome, start_transcription

logger = Logger()
metrics = Metrics()

_METRIC_BY_OUTCOME = {
    StartOutcome.STARTED: "JobsStarted",
    StartOutcome.ALREADY_STARTED: "DuplicateUploadEvents",
    StartOutcome.REJECTED: "UploadsRejected",
    StartOutcome.REFUSED: "JobsRefused",
    StartOutcome.SKIPPED: "ObjectsSkipped",
    StartOutcome.GONE: "ObjectsGone",
}


@cache
def _dependencies() -> tuple[Settings, ObjectStore, TranscribeJobs]:
    # Built on first use, not at import: keeps cold starts short and tests simple.
    return load_settings(), ObjectStore(), TranscribeJobs()


@logger.inject_lambda_context
@trace_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, int]:
    settings, store, jobs = _dependencies()
    counts: dict[str, int] = {}
    retryable: list[Exception] = []
    try:
        records = upload_records(event)
    except MalformedEvent as error:
        # S3 sends an s3:TestEvent (no Records) when the notification is set up.
        logger.warning("event without S3 records ignored", extra={"error": str(error)})
        metrics.add_metric(name="IgnoredEvents", unit=MetricUnit.Count, value=1)
        return counts
    for index, record in enumerate(records):
        try:
            upload = parse_upload(record)
        except MalformedEvent as error:
            # Bad data will not get better on retry; say so and carry on with the rest.
            logger.error("malformed S3 record", extra={"record_index": index, "error": str(error)})
            counts["malformed"] = counts.get("malformed", 0) + 1
            metrics.add_metric(name="MalformedRecords", unit=MetricUnit.Count, value=1)
            continue
        try:
            result = start_transcription(upload, settings, store, jobs)
        except Exception as error:  # re-raised below, once the other records are done
            logger.exception(
                "could not start transcription; the event will be retried",
                extra={"bucket": upload.bucket, "key": upload.key, "size": upload.size},
            )
            retryable.append(error)
            continue
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
    if retryable:
        # Records already handled are idempotent, so retrying the whole event is safe.
        raise retryable[0]
    return counts
