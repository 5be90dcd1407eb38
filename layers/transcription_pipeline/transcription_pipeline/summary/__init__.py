"""The summary of a transcript: summary.json (document), the offline summary (offline),
and summary.md (markdown). Imported from here, as one module."""

from transcription_pipeline.summary.document import (
    LOW_CONFIDENCE_THRESHOLD,
    SCHEMA_VERSION,
    DurationSource,
    Highlight,
    Source,
    SpeakerShare,
    Summary,
    SummarySource,
)
from transcription_pipeline.summary.markdown import render_summary_markdown, shown_chapters
from transcription_pipeline.summary.offline import (
    MAX_KEYWORDS,
    STOP_WORDS,
    build_summary,
    summarise,
)

__all__ = [
    "LOW_CONFIDENCE_THRESHOLD",
    "MAX_KEYWORDS",
    "SCHEMA_VERSION",
    "STOP_WORDS",
    "DurationSource",
    "Highlight",
    "Source",
    "SpeakerShare",
    "Summary",
    "SummarySource",
    "build_summary",
    "render_summary_markdown",
    "shown_chapters",
    "summarise",
]
