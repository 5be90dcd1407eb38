"""What the three handlers share: Powertools Logger and Metrics, the entry decorator, and
the dependencies every use case takes (built on first use, not at import: cold starts
stay short, and each handler module caches its own, so tests get fresh clients)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar, cast

from aws_lambda_powertools import Logger, Metrics

from transcription_pipeline.aws import ObjectStore, TranscribeJobs
from transcription_pipeline.config import Settings, load_settings
from transcription_pipeline.observability import trace_handler

Handler = TypeVar("Handler", bound=Callable[..., Any])

logger = Logger()
metrics = Metrics()


def build_dependencies() -> tuple[Settings, ObjectStore, TranscribeJobs]:
    return load_settings(), ObjectStore(), TranscribeJobs()


def lambda_entry(handler: Handler) -> Handler:
    """Log context (cleared per invocation: keys never leak into the next one), optional
    detailed tracing, and metrics flushed at the end of every invocation."""
    traced = trace_handler(metrics.log_metrics(handler))
    return cast("Handler", logger.inject_lambda_context(traced, clear_state=True))
