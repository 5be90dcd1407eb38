"""summary.md: the summary people read, from a Summary (or a summary.json document)."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from transcription_pipeline.chapters import Chapter
from transcription_pipeline.markdown_text import markdown_inline as _md
from transcription_pipeline.model_summary.markdown import model_summary_markdown
from transcription_pipeline.summary.document import Summary
from transcription_pipeline.words import format_clock

__all__ = ["render_summary_markdown", "shown_chapters"]


def _hms(seconds: float) -> str:
    """h:mm:ss, rounded to the nearest second (an 11.0 s clip is 0:00:11, not 0:00:10)."""
    total = max(0, round(seconds))
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}"


def render_summary_markdown(summary: Summary | Mapping[str, Any]) -> str:
    """summary.md; a summary.json document (a mapping) is read into a Summary first."""
    if not isinstance(summary, Summary):
        summary = Summary.from_dict(summary)
    key = summary.source.key
    name = key.rsplit("/", 1)[-1] if key else summary.job_name or "transcript"
    lines = [f"# Transcript summary: {_md(summary.title or name)}", ""]

    language = summary.language_code
    language_text = _md(language) if language else "unknown"
    score = summary.language_score
    if language and score is not None:
        language_text += f" (identified with score {score:.2f})"
    duration = _hms(summary.duration_seconds)
    if summary.duration_source != "transcript":
        duration += f" (from the {summary.duration_source})"
    lines.append(f"- **Duration:** {duration}")
    lines.append(f"- **Language:** {language_text}")
    lines.append(f"- **Words:** {summary.word_count}")
    wpm = summary.words_per_minute
    if wpm is not None:
        lines.append(f"- **Speaking rate:** {wpm:.0f} words per minute")
    confidence = summary.average_confidence
    if confidence is not None:
        text = f"- **Average confidence:** {confidence:.1%}"
        ratio = summary.low_confidence_ratio
        if ratio is not None:
            text += f" ({ratio:.1%} of words below {summary.low_confidence_threshold:.0%})"
        lines.append(text)
    if summary.redacted:
        lines.append("- **Redacted:** yes")
    if summary.model_usage is not None:
        usage = summary.model_usage
        if summary.model_summary is not None:
            written = f"Amazon Bedrock, {_md(usage.model_id)}"
        else:
            reason = _md(summary.model_fallback_reason or "")
            written = f"offline; the model's summary was not used: {reason}"
        lines.append(f"- **Summary written by:** {written}")
    lines.append("")

    if summary.no_speech:
        lines.append("No speech was detected in this recording.")
        return "\n".join(lines) + "\n"

    if summary.model_summary is not None:
        # The model's own chapters are shown with the rest (shown_chapters), not twice.
        lines += model_summary_markdown(dataclasses.replace(summary.model_summary, chapters=()))

    if summary.speakers:
        lines += ["## Speakers", "", "| Speaker | Talk time | Words | Share of words |"]
        lines.append("|---|---:|---:|---:|")
        for s in summary.speakers:
            lines.append(
                f"| {_md(s.label)} | {format_clock(s.talk_time_seconds)} | {s.word_count} "
                f"| {s.share:.1%} |"
            )
        lines.append("")

    chapters = shown_chapters(summary)
    if chapters:
        lines += ["## Chapters", ""]
        for chapter in chapters:
            entry = f"- **[{format_clock(chapter.start_seconds)}] {_md(chapter.title)}**"
            lines.append(entry + (f": {_md(chapter.highlight)}" if chapter.highlight else ""))
        lines.append("")

    if summary.highlights:
        lines += ["## Highlights", ""]
        for h in summary.highlights:
            lines.append(f"- **[{format_clock(h.start_seconds)}]** {_md(h.text)}")
        lines.append("")

    if summary.keywords:
        lines.append(f"**Keywords:** {', '.join(_md(k) for k in summary.keywords)}")
        lines.append("")
    return "\n".join(lines).rstrip("\n") + "\n"


def shown_chapters(summary: Summary) -> tuple[Chapter, ...]:
    """The chapters summary.md lists and chapters.vtt holds: the model's when it wrote
    some (each ending where the next starts), else the offline topic segments."""
    marks = summary.model_summary.chapters if summary.model_summary is not None else ()
    if not marks:
        return summary.chapters
    ends = [mark.start_seconds for mark in marks[1:]] + [
        max(summary.duration_seconds, marks[-1].start_seconds)
    ]
    return tuple(
        Chapter(mark.start_seconds, end, mark.title, "", ())
        for mark, end in zip(marks, ends, strict=True)
    )
