"""Scheduled: process finished jobs whose event was lost, restart uploads that never started."""

from __future__ import annotations

from datetime import UTC, datetime
from functools import cache
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from transcription_pipeline.aws import ObjectStore, TranscribeJobs
from transcription_pipeline.config import Settings, load_settings
from transcription_pipeline.observability import trace_handler
from transcription_pipeline.reconcile import reconcile

logger = Logger()
metrics = Metrics()


@cache
def _dependencies() -> tuple[Settings, ObjectStore, TranscribeJobs]:
    return load_settings(), ObjectStore(), TranscribeJobs()


@logger.inject_lambda_context
@trace_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, int]:
    settings, store, jobs = _dependencies()
    report = reconcile(settings, store, jobs, now=datetime.now(UTC))
    recovered = sum(report.jobs_recovered.values())
    restarted = sum(report.uploads_restarted.values())
    metrics.add_metric(name="LostJobEventsRecovered", unit=MetricUnit.Count, value=recovered)
    metrics.add_metric(name="StalledUploadsRestarted", unit=MetricUnit.Count, value=restarted)
    counts = report.as_dict()
    logger.info("reconciled", extra=counts)
    return counts
