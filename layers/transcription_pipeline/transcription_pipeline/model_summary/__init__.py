"""Abstractive summary with a language model: plain data and pure functions.

The use case is summarise_with_model; the model is anything with SummaryModel's
``converse`` (aws/bedrock.py: Amazon Bedrock; tests: a fake or the local stand-in).
Prompts are versioned files in transcription_pipeline/prompts/summary/.

Names are loaded on first use (PEP 562): the types (types.py) are imported by every
process function, the map-reduce code only when SummaryModelId is set.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from transcription_pipeline.model_summary.answers import (
        AnswerError,
        json_object_text,
        parse_answer,
        stated_owner,
        valid_chapters,
    )
    from transcription_pipeline.model_summary.chunks import Chunk, chunk_lines, line_tokens
    from transcription_pipeline.model_summary.languages import language_name
    from transcription_pipeline.model_summary.lines import (
        TranscriptLine,
        clock,
        parse_clock,
        transcript_lines,
    )
    from transcription_pipeline.model_summary.markdown import model_summary_markdown
    from transcription_pipeline.model_summary.prompts import PROMPT_VERSION, load_prompts
    from transcription_pipeline.model_summary.summarise import (
        DEFAULT_CHUNK_TOKENS,
        DEFAULT_MAX_OUTPUT_TOKENS,
        DEFAULT_OVERLAP_TOKENS,
        SummaryPlan,
        plan_model_summary,
        summarise_with_model,
    )
    from transcription_pipeline.model_summary.tokens import estimate_tokens
    from transcription_pipeline.model_summary.types import (
        ActionItem,
        ModelChapter,
        ModelFailed,
        ModelReply,
        ModelSummary,
        ModelSummaryResult,
        ModelThrottled,
        ModelUsage,
        SummaryModel,
    )

_MODULE_OF = {
    "ActionItem": "types",
    "AnswerError": "answers",
    "Chunk": "chunks",
    "DEFAULT_CHUNK_TOKENS": "summarise",
    "DEFAULT_MAX_OUTPUT_TOKENS": "summarise",
    "DEFAULT_OVERLAP_TOKENS": "summarise",
    "ModelChapter": "types",
    "ModelFailed": "types",
    "ModelReply": "types",
    "ModelSummary": "types",
    "ModelSummaryResult": "types",
    "ModelThrottled": "types",
    "ModelUsage": "types",
    "PROMPT_VERSION": "prompts",
    "SummaryModel": "types",
    "SummaryPlan": "summarise",
    "TranscriptLine": "lines",
    "chunk_lines": "chunks",
    "clock": "lines",
    "estimate_tokens": "tokens",
    "json_object_text": "answers",
    "language_name": "languages",
    "line_tokens": "chunks",
    "load_prompts": "prompts",
    "model_summary_markdown": "markdown",
    "parse_answer": "answers",
    "parse_clock": "lines",
    "plan_model_summary": "summarise",
    "stated_owner": "answers",
    "summarise_with_model": "summarise",
    "transcript_lines": "lines",
    "valid_chapters": "answers",
}


def __getattr__(name: str) -> Any:
    module = _MODULE_OF.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


__all__ = [
    "DEFAULT_CHUNK_TOKENS",
    "DEFAULT_MAX_OUTPUT_TOKENS",
    "DEFAULT_OVERLAP_TOKENS",
    "PROMPT_VERSION",
    "ActionItem",
    "AnswerError",
    "Chunk",
    "ModelChapter",
    "ModelFailed",
    "ModelReply",
    "ModelSummary",
    "ModelSummaryResult",
    "ModelThrottled",
    "ModelUsage",
    "SummaryModel",
    "SummaryPlan",
    "TranscriptLine",
    "chunk_lines",
    "clock",
    "estimate_tokens",
    "json_object_text",
    "language_name",
    "line_tokens",
    "load_prompts",
    "model_summary_markdown",
    "parse_answer",
    "parse_clock",
    "plan_model_summary",
    "stated_owner",
    "summarise_with_model",
    "transcript_lines",
    "valid_chapters",
]
