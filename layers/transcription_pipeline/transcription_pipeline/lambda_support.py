"""What the three handlers share: Powertools Logger and Metrics, the entry decorator, and
the dependencies every use case takes (built on first use, not at import: cold starts
stay short, and each handler module caches its own, so tests get fresh clients)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar, cast

from aws_lambda_powertools import Logger, Metrics

from transcription_pipeline.aws import (
    Announcer,
    InFlightJobs,
    ObjectStore,
    RegenerateRequests,
    TranscribeJobs,
    UploadQueue,
)
from transcription_pipeline.config import ConfigError, Settings, load_settings
from transcription_pipeline.model_summary.types import SummaryModel
from transcription_pipeline.observability import trace_handler

if TYPE_CHECKING:
    from transcription_pipeline.translation import Translator

Handler = TypeVar("Handler", bound=Callable[..., Any])

logger = Logger()
metrics = Metrics()


@dataclass(frozen=True)
class Dependencies:
    settings: Settings
    store: ObjectStore
    jobs: TranscribeJobs
    in_flight: InFlightJobs
    queue: UploadQueue
    announcer: Announcer
    regenerate_requests: RegenerateRequests
    summary_model: SummaryModel | None  # SummaryModelId set: Bedrock writes a summary too
    translator: Translator  # Amazon Translate, loaded when an upload asks for a language


def build_dependencies(transcribe_attempts: int = 5) -> Dependencies:
    """Every adapter a use case takes; ``transcribe_attempts``: botocore's attempts for
    Transcribe (the first try included)."""
    settings = load_settings()
    if not settings.upload_queue_url or not settings.in_flight_table:
        raise ConfigError("UPLOAD_QUEUE_URL and IN_FLIGHT_TABLE are required (template.yaml)")
    return Dependencies(
        settings,
        ObjectStore(),
        TranscribeJobs(max_attempts=transcribe_attempts),
        InFlightJobs(settings.in_flight_table),
        UploadQueue(settings.upload_queue_url),
        Announcer(settings.event_source),
        RegenerateRequests(settings.request_source),
        _summary_model(settings),
        TranslatorOnFirstUse(),
    )


def _summary_model(settings: Settings) -> SummaryModel | None:
    if not settings.summary_model_id:
        return None
    from transcription_pipeline.aws.bedrock import BedrockSummaryModel

    return BedrockSummaryModel(settings.summary_model_id)


class TranslatorOnFirstUse:
    """Amazon Translate, its adapter and client loaded by the first translation: most
    invocations translate nothing, and cold starts pay only for what they use."""

    def __init__(self) -> None:
        self._translator: Translator | None = None

    def translate_text(self, text: str, source: str, target: str) -> str:
        if self._translator is None:
            from transcription_pipeline.aws.translate import AmazonTranslator

            self._translator = AmazonTranslator()
        return self._translator.translate_text(text, source, target)


def lambda_entry(handler: Handler) -> Handler:
    """Log context (cleared per invocation: keys never leak into the next one), optional
    detailed tracing, and metrics flushed at the end of every invocation."""
    traced = trace_handler(metrics.log_metrics(handler))
    return cast("Handler", logger.inject_lambda_context(traced, clear_state=True))
