"""The abstractive summary's plain data, the model it asks, and what that model raises.

No AWS here: aws/bedrock.py implements SummaryModel with Amazon Bedrock's Converse API,
tests with an in-memory fake or the local stand-in.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, NamedTuple, Protocol

__all__ = [
    "ActionItem",
    "ModelChapter",
    "ModelFailed",
    "ModelReply",
    "ModelSummary",
    "ModelSummaryResult",
    "ModelThrottled",
    "ModelUsage",
    "SummaryModel",
]


class ActionItem(NamedTuple):
    text: str
    owner: str | None  # only when the transcript says who


class ModelChapter(NamedTuple):
    start_seconds: float  # within the transcript; a summary's chapters ascend
    title: str


@dataclass(frozen=True)
class ModelSummary:
    summary: str
    key_points: tuple[str, ...]
    action_items: tuple[ActionItem, ...]
    chapters: tuple[ModelChapter, ...]
    language: str | None  # the language code (or name) the text is written in

    def to_dict(self) -> dict[str, Any]:
        return {
            "summary": self.summary,
            "key_points": list(self.key_points),
            "action_items": [{"text": a.text, "owner": a.owner} for a in self.action_items],
            "chapters": [
                {"start_seconds": c.start_seconds, "title": c.title} for c in self.chapters
            ],
            "language": self.language,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ModelSummary:
        return cls(
            summary=str(data["summary"]),
            key_points=tuple(str(point) for point in data.get("key_points", ())),
            action_items=tuple(
                ActionItem(str(item["text"]), _optional_text(item.get("owner")))
                for item in data.get("action_items", ())
            ),
            chapters=tuple(
                ModelChapter(float(chapter["start_seconds"]), str(chapter["title"]))
                for chapter in data.get("chapters", ())
            ),
            language=_optional_text(data.get("language")),
        )


@dataclass(frozen=True)
class ModelUsage:
    """What a summary cost: the model's own token counts, summed over every call made."""

    model_id: str
    calls: int
    input_tokens: int
    output_tokens: int
    chunks: int  # transcript parts summarised one call each (the map step)
    prompt_version: str  # e.g. "summary/v1"
    custom_instructions: bool  # the upload's summary_prompt replaced the instructions

    def to_dict(self) -> dict[str, Any]:
        return {
            "model_id": self.model_id,
            "calls": self.calls,
            "input_tokens": self.input_tokens,
            "output_tokens": self.output_tokens,
            "chunks": self.chunks,
            "prompt_version": self.prompt_version,
            "custom_instructions": self.custom_instructions,
        }


@dataclass(frozen=True)
class ModelSummaryResult:
    """A summary, or None with the reason to fall back to the offline summary."""

    summary: ModelSummary | None
    usage: ModelUsage
    fallback_reason: str | None

    @property
    def fell_back(self) -> bool:
        return self.summary is None

    def to_dict(self) -> dict[str, Any]:
        return {
            "summary": self.summary.to_dict() if self.summary is not None else None,
            "usage": self.usage.to_dict(),
            "fallback_reason": self.fallback_reason,
        }


class ModelReply(NamedTuple):
    text: str
    input_tokens: int  # as the model counted them
    output_tokens: int
    stop_reason: str  # Converse's stopReason: end_turn, max_tokens, content_filtered...


class SummaryModel(Protocol):
    def converse(self, *, system: str, prompt: str, max_output_tokens: int) -> ModelReply:
        """One system prompt and one user message in, the model's text out.

        Raises ModelThrottled when the service keeps throttling (after its client's own
        retries), ModelFailed for any other refusal or failure.
        """
        ...


class ModelThrottled(Exception):
    """The model service throttled the request, and kept doing so through the retries."""


class ModelFailed(Exception):
    """The model service refused or failed the request; ``code`` is its error code."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


def _optional_text(value: Any) -> str | None:
    return None if value is None else str(value)
