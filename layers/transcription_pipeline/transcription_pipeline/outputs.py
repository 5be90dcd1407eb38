"""The outputs of one transcript: the words stage, the files, the model summary and the
translations. Pure but for the two optional services (a SummaryModel, a Translator),
which come in as arguments; process.py publishes what these return."""

from __future__ import annotations

import dataclasses
import posixpath
from dataclasses import dataclass
from typing import TYPE_CHECKING

from transcription_pipeline.chapters import chapters_vtt
from transcription_pipeline.config import Settings
from transcription_pipeline.media.duration import MediaDuration
from transcription_pipeline.model_summary.types import ModelSummaryResult, SummaryModel
from transcription_pipeline.naming import (
    CHAPTERS_VTT,
    SUBTITLES_SRT,
    SUBTITLES_VTT,
    SUMMARY_JSON,
    SUMMARY_MARKDOWN,
    TRANSCRIPT_DOCX,
    TRANSCRIPT_HTML,
    TRANSCRIPT_JSON,
    TRANSCRIPT_TEXT,
    S3Location,
)
from transcription_pipeline.options import ResolvedOptions, SpeakerNames, names_by_label
from transcription_pipeline.performance import without_cyclic_gc
from transcription_pipeline.render import (
    Cue,
    build_cues,
    srt_from_cues,
    text_from_turns,
    vtt_from_cues,
)
from transcription_pipeline.scripts import WritingSystem, writing_system
from transcription_pipeline.summary import (
    Summary,
    render_summary_markdown,
    shown_chapters,
    summarise,
)
from transcription_pipeline.transcript import Transcript
from transcription_pipeline.transcript_docx import render_transcript_docx
from transcription_pipeline.transcript_page import render_transcript_page
from transcription_pipeline.turns import Turn, turns_of
from transcription_pipeline.words import Word, group_words, name_speakers, speakers_in_order

if TYPE_CHECKING:
    # Imported when an upload asks for a language (translations_of): cold starts stay short.
    from transcription_pipeline.translation import TranslationOutcome, Translator

__all__ = [
    "RenderedOutputs",
    "TranscriptWords",
    "model_summary_of",
    "render_outputs",
    "translations_of",
    "words_stage",
]

# Model calls in flight at once for one transcript (map step): a 4-hour transcript's
# dozen chunks take a few minutes instead of ten, well inside Bedrock's request quotas.
MODEL_PARALLEL_CALLS = 4
# Languages translated at once: Translate publishes no TranslateText rate quota, and a
# few sequential streams keep a burst of uploads from being throttled.
TRANSLATION_WORKERS = 2


@dataclass(frozen=True)
class TranscriptWords:
    """The words stage, once per transcript: every output, the model summary and the
    translations start from these words and cues, none recomputes them."""

    transcript: Transcript
    words: tuple[Word, ...]  # with the speakers' names, when given, in place of labels
    speaker_names: dict[str, str]  # label -> name
    writing: WritingSystem  # how the transcript's language is written
    cues: tuple[Cue, ...]
    turns: tuple[Turn, ...]  # paragraphs: transcript.txt, the page, the document


def words_stage(transcript: Transcript, speaker_names: SpeakerNames = ()) -> TranscriptWords:
    words = group_words(transcript.items)
    names = names_by_label(speaker_names, speakers_in_order(words))
    words = name_speakers(words, names)
    writing = writing_system(transcript.language_code)
    cues = build_cues(words, writing=writing, language_code=transcript.language_code)
    turns = turns_of(words, transcript.labels)
    return TranscriptWords(transcript, words, names, writing, cues, turns)


@dataclass(frozen=True)
class RenderedOutputs:
    files: dict[str, bytes]  # output file name -> content
    summary: Summary
    text: str  # transcript.txt, as translations start from it


@without_cyclic_gc
def render_outputs(
    raw_transcript: bytes,
    transcript: Transcript,
    source: S3Location,
    created_at: str,
    *,
    title: str | None = None,
    speaker_names: SpeakerNames = (),
    model_result: ModelSummaryResult | None = None,
    stage: TranscriptWords | None = None,
    document: bool = True,
    recording_length: MediaDuration | None = None,
) -> RenderedOutputs:
    """Every output file of one transcript; pure, so it is tested without AWS.

    ``stage``: the words stage when the caller has it already (the model summary needed
    it); ``model_result``: the Bedrock summary, or why it fell back; ``document``:
    transcript.docx too (TranscriptDocument); ``recording_length``: the media header's,
    the summary's duration when known (else the transcript's last word).
    """
    if stage is None:
        stage = words_stage(transcript, speaker_names)
    writing = stage.writing
    summary = summarise(
        transcript,
        stage.words,
        source_bucket=source.bucket,
        source_key=source.key,
        created_at=created_at,
        title=title,
        speaker_names=stage.speaker_names,
        writing=writing,
    )
    if recording_length is not None:
        summary = dataclasses.replace(
            summary,
            duration_seconds=round(recording_length.seconds, 2),
            duration_source="media header"
            if recording_length.exact
            else "media header (estimated)",
        )
    if model_result is not None:
        summary = dataclasses.replace(
            summary,
            summary_source="offline" if model_result.summary is None else "bedrock",
            model_summary=model_result.summary,
            model_usage=model_result.usage,
            model_fallback_reason=model_result.fallback_reason,
        )
    text = text_from_turns(stage.turns, transcript.labels, writing=writing)
    files = {
        TRANSCRIPT_JSON: raw_transcript,
        TRANSCRIPT_TEXT: text.encode("utf-8"),
        SUBTITLES_SRT: srt_from_cues(stage.cues, writing=writing).encode("utf-8"),
        SUBTITLES_VTT: vtt_from_cues(stage.cues, writing=writing).encode("utf-8"),
        CHAPTERS_VTT: chapters_vtt(shown_chapters(summary)).encode("utf-8"),
        SUMMARY_JSON: summary.to_json(),
        SUMMARY_MARKDOWN: render_summary_markdown(summary).encode("utf-8"),
    }
    files[TRANSCRIPT_HTML] = render_transcript_page(
        summary, stage.turns, writing=writing, media_name=posixpath.basename(source.key)
    ).encode("utf-8")
    if document:
        files[TRANSCRIPT_DOCX] = render_transcript_docx(summary, stage.turns, writing=writing)
    return RenderedOutputs(files, summary, text)


def model_summary_of(
    stage: TranscriptWords,
    options: ResolvedOptions,
    settings: Settings,
    model: SummaryModel | None,
) -> ModelSummaryResult | None:
    """The Bedrock summary (map-reduce), or why it fell back; None without a model.
    Built from the published transcript only: with redaction, the redacted one."""
    if model is None or settings.summary_model_id is None:
        return None
    from transcription_pipeline.model_summary.summarise import summarise_with_model

    return summarise_with_model(
        stage.words,
        model,
        model_id=settings.summary_model_id,
        language_code=stage.transcript.language_code,
        output_language=options.summary_language,
        joiner=stage.writing.joiner,
        instructions=options.summary_prompt,
        chunk_tokens=settings.summary_chunk_tokens,
        token_budget=settings.summary_token_budget,
        max_parallel_calls=MODEL_PARALLEL_CALLS,
    )


def translations_of(
    stage: TranscriptWords,
    rendered: RenderedOutputs,
    targets: tuple[str, ...],
    translator: Translator | None,
) -> TranslationOutcome | None:
    """The subtitles, transcript.txt and the model's summary in each target language."""
    if not targets or translator is None:
        return None
    from transcription_pipeline.translation import translate_outputs

    model_summary = rendered.summary.model_summary
    summary_texts = (
        {
            "summary": model_summary.summary,
            "key_points": "\n".join(model_summary.key_points),
            "action_items": "\n".join(item.text for item in model_summary.action_items),
        }
        if model_summary is not None
        else None
    )
    return translate_outputs(
        stage.cues,
        rendered.text,
        source_language=stage.transcript.language_code,
        target_languages=targets,
        translator=translator,
        summary_texts=summary_texts,
        max_workers=TRANSLATION_WORKERS,
    )
