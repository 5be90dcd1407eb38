"""Scheduled: settle the in-flight jobs whose completion event was lost or that never ran."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from functools import cache
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from transcription_pipeline.lambda_support import (
    build_dependencies,
    lambda_entry,
    logger,
    metrics,
)
from transcription_pipeline.reconcile import LIST_REQUESTS_PER_SECOND, RateLimit, reconcile

# Stop taking new items this long before Lambda's timeout: one item (processing a 4-hour
# transcript) takes a few seconds, and the run must end cleanly to report what it did.
SAFETY_MARGIN_SECONDS = 60


_dependencies = cache(build_dependencies)


@lambda_entry
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, int]:
    deps = _dependencies()
    deadline = time.monotonic() + context.get_remaining_time_in_millis() / 1000
    report = reconcile(
        deps.settings,
        deps.store,
        deps.jobs,
        deps.in_flight,
        deps.queue,
        deps.announcer,
        now=datetime.now(UTC),
        summary_model=deps.summary_model,
        translator=deps.translator,
        time_is_up=lambda: time.monotonic() > deadline - SAFETY_MARGIN_SECONDS,
        before_list_request=RateLimit(LIST_REQUESTS_PER_SECOND),
    )
    recovered = sum(report.jobs_recovered.values())
    metrics.add_metric(name="LostJobEventsRecovered", unit=MetricUnit.Count, value=recovered)
    metrics.add_metric(
        name="StalledUploadsRequeued", unit=MetricUnit.Count, value=report.uploads_requeued
    )
    metrics.add_metric(name="JobsInFlight", unit=MetricUnit.Count, value=report.items_in_flight)
    metrics.add_metric(
        name="ReconcileItemsFailed", unit=MetricUnit.Count, value=len(report.failures)
    )
    for failure in report.failures:
        # Ids and AWS error codes only: the error text never holds transcript content.
        logger.warning(
            "reconcile skipped an item; the next run retries it",
            extra={
                "job_name": failure.job_name,
                "source_key": failure.source_key,
                "error": failure.error,
            },
        )
    if report.stopped_early:
        metrics.add_metric(name="ReconcileStoppedEarly", unit=MetricUnit.Count, value=1)
        logger.warning("reconcile stopped before the timeout; the next run carries on")
    counts = report.as_dict()
    logger.info("reconciled", extra=counts)
    return counts
