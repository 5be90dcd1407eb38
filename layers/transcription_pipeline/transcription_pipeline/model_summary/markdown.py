"""The abstractive summary's sections of summary.md."""

from __future__ import annotations

from transcription_pipeline.markdown_text import markdown_inline as _md
from transcription_pipeline.model_summary.types import ModelSummary
from transcription_pipeline.words import format_clock

__all__ = ["model_summary_markdown"]


def model_summary_markdown(summary: ModelSummary) -> list[str]:
    """Lines for summary.md: ## Summary, ## Key points, ## Action items (with the owner
    in parentheses when there is one), ## Chapters with [mm:ss] times. A section with
    nothing in it is left out; every section ends with a blank line."""
    lines = ["## Summary", "", _md(summary.summary), ""]
    if summary.key_points:
        lines += ["## Key points", "", *(f"- {_md(point)}" for point in summary.key_points), ""]
    if summary.action_items:
        lines += ["## Action items", ""]
        for item in summary.action_items:
            owner = f" ({_md(item.owner)})" if item.owner else ""
            lines.append(f"- {_md(item.text)}{owner}")
        lines.append("")
    if summary.chapters:
        lines += ["## Chapters", ""]
        for chapter in summary.chapters:
            lines.append(f"- [{format_clock(chapter.start_seconds)}] {_md(chapter.title)}")
        lines.append("")
    return lines
