"""summary.json: the Summary and its parts as plain, typed data, and the document itself.

One Summary per transcript: the offline facts, speakers, highlights, keywords and
chapters (summary.offline), and, when a model was asked, its summary and what it cost
(model_summary). Field names are the document's keys.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from transcription_pipeline.chapters import Chapter
from transcription_pipeline.model_summary.types import ModelSummary, ModelUsage
from transcription_pipeline.stable_json import json_bytes
from transcription_pipeline.transcript import LabelKind

__all__ = [
    "LOW_CONFIDENCE_THRESHOLD",
    "SCHEMA_VERSION",
    "DurationSource",
    "Highlight",
    "Source",
    "SpeakerShare",
    "Summary",
    "SummarySource",
]

SCHEMA_VERSION = 1
# A word whose first alternative scores below this counts as low confidence.
LOW_CONFIDENCE_THRESHOLD = 0.5

# Who wrote the summary people read first: the Bedrock model, or this package offline
# (no model configured, or the model's answer could not be used: model_fallback_reason).
SummarySource = Literal["offline", "bedrock"]
DurationSource = Literal["media header", "media header (estimated)", "transcript"]


@dataclass(frozen=True, slots=True)
class Source:
    bucket: str
    key: str


@dataclass(frozen=True, slots=True)
class SpeakerShare:
    label: str
    talk_time_seconds: float  # the sum of the speaker's word durations (pauses excluded)
    word_count: int
    share: float  # of the word count


@dataclass(frozen=True, slots=True)
class Highlight:
    start_seconds: float
    speaker: str | None
    text: str


# Keys present only when set, so the outputs of uploads without them are unchanged.
_OPTIONAL_KEYS = ("title", "speaker_names", "model_summary", "model_usage", "model_fallback_reason")


@dataclass(frozen=True)
class Summary:
    """What summary.json says; its field names are the document's keys."""

    source: Source
    job_name: str
    created_at: str
    no_speech: bool
    redacted: bool
    language_code: str | None
    language_score: float | None
    labels: LabelKind | None
    duration_seconds: float
    word_count: int
    words_per_minute: float | None
    average_confidence: float | None
    low_confidence_ratio: float | None
    speakers: tuple[SpeakerShare, ...]
    highlights: tuple[Highlight, ...]
    keywords: tuple[str, ...]
    low_confidence_threshold: float = LOW_CONFIDENCE_THRESHOLD
    speaker_share_basis: str = "word_count"
    schema_version: int = SCHEMA_VERSION
    title: str | None = None  # the upload's title option; the file name stands in without it
    speaker_names: dict[str, str] | None = None  # label -> name, when names were given
    # Topic segments found offline (always, even with a model): summary.md and chapters.vtt.
    chapters: tuple[Chapter, ...] = ()
    summary_source: SummarySource = "offline"
    # With SummaryModelId: the model's summary (None when it fell back), its usage, and
    # why the offline summary stands in when it does.
    model_summary: ModelSummary | None = None
    model_usage: ModelUsage | None = None
    model_fallback_reason: str | None = None
    # Where duration_seconds comes from: the media's own header (the recording's length),
    # an estimate from it (MP3 without a VBR header), or the transcript's last word.
    duration_source: DurationSource = "transcript"

    def to_dict(self) -> dict[str, Any]:
        """The summary.json document as plain data (objects and lists)."""
        document = {field.name: getattr(self, field.name) for field in dataclasses.fields(self)}
        document["source"] = dataclasses.asdict(self.source)
        document["speakers"] = [dataclasses.asdict(s) for s in self.speakers]
        document["highlights"] = [dataclasses.asdict(h) for h in self.highlights]
        document["keywords"] = list(self.keywords)
        document["chapters"] = [
            {**dataclasses.asdict(c), "terms": list(c.terms)} for c in self.chapters
        ]
        if self.model_summary is not None:
            document["model_summary"] = self.model_summary.to_dict()
        if self.model_usage is not None:
            document["model_usage"] = self.model_usage.to_dict()
        for optional in _OPTIONAL_KEYS:
            if document[optional] is None:
                del document[optional]
        return document

    def to_json(self) -> bytes:
        """summary.json: stable JSON (sorted keys), so the same summary is the same bytes."""
        return json_bytes(self.to_dict())

    @classmethod
    def from_dict(cls, document: Mapping[str, Any]) -> Summary:
        """Read a summary.json document back; TypeError or KeyError if it is not one.
        Documents written before chapters and model summaries existed read back too."""
        fields = dict(document)
        fields["source"] = Source(**document["source"])
        fields["speakers"] = tuple(SpeakerShare(**s) for s in document["speakers"])
        fields["highlights"] = tuple(Highlight(**h) for h in document["highlights"])
        fields["keywords"] = tuple(document["keywords"])
        fields["chapters"] = tuple(
            Chapter(**{**c, "terms": tuple(c["terms"])}) for c in document.get("chapters", ())
        )
        if document.get("model_summary") is not None:
            fields["model_summary"] = ModelSummary.from_dict(document["model_summary"])
        if document.get("model_usage") is not None:
            fields["model_usage"] = ModelUsage(**document["model_usage"])
        return cls(**fields)
