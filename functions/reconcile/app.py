"""Scheduled: process finished jobs whose event was lost, restart uploads that never started."""

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
from transcription_pipeline.reconcile import reconcile

# Stop taking new items this long before Lambda's timeout: one item (processing a 4-hour
# transcript) takes a few seconds, and the run must end cleanly to report what it did.
SAFETY_MARGIN_SECONDS = 60


_dependencies = cache(build_dependencies)


@lambda_entry
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, int]:
    settings, store, jobs = _dependencies()
    deadline = time.monotonic() + context.get_remaining_time_in_millis() / 1000
    report = reconcile(
        settings,
        store,
        jobs,
        now=datetime.now(UTC),
        time_is_up=lambda: time.monotonic() > deadline - SAFETY_MARGIN_SECONDS,
    )
    recovered = sum(report.jobs_recovered.values())
    restarted = sum(report.uploads_restarted.values())
    metrics.add_metric(name="LostJobEventsRecovered", unit=MetricUnit.Count, value=recovered)
    metrics.add_metric(name="StalledUploadsRestarted", unit=MetricUnit.Count, value=restarted)
    metrics.add_metric(
        name="ReconcileItemsFailed", unit=MetricUnit.Count, value=len(report.failures)
    )
    for failure in report.failures:
        # Ids and AWS error codes only: the error text never holds transcript content.
        logger.warning(
            "reconcile skipped an item; the next run retries it",
            extra={"item_kind": failure.kind, "item": failure.name, "error": failure.error},
        )
    if report.stopped_early:
        metrics.add_metric(name="ReconcileStoppedEarly", unit=MetricUnit.Count, value=1)
        logger.warning("reconcile stopped before the timeout; the next run carries on")
    counts = report.as_dict()
    logger.info("reconciled", extra=counts)
    return counts
