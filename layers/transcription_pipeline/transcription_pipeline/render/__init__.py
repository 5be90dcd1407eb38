"""Render words as readable text (text), and cues (cues) as SubRip and WebVTT (formats).

The words come from words.py, grouped once per transcript; the cues are built once and
serve both subtitle formats. How words are joined, how wide a line may be and whether
lines are right to left come from the transcript language's writing system (scripts.py);
every function takes it as the keyword ``writing``, LATIN (English layout) by default.
"""

from __future__ import annotations

from transcription_pipeline.render.cues import (
    MAX_CHARS_PER_SECOND,
    MAX_CUE_SECONDS,
    MAX_LINE_CHARS,
    MAX_LINES,
    MIN_CHARS_BEFORE_SENTENCE_BREAK,
    MIN_CUE_SECONDS,
    SOFT_PAUSE_SECONDS,
    Cue,
    build_cues,
    function_words,
)
from transcription_pipeline.render.formats import srt_from_cues, vtt_from_cues
from transcription_pipeline.render.text import text_from_turns, text_from_words
from transcription_pipeline.scripts import writing_system
from transcription_pipeline.transcript import Transcript
from transcription_pipeline.words import group_words

__all__ = [
    "MAX_CHARS_PER_SECOND",
    "MAX_CUE_SECONDS",
    "MAX_LINES",
    "MAX_LINE_CHARS",
    "MIN_CHARS_BEFORE_SENTENCE_BREAK",
    "MIN_CUE_SECONDS",
    "SOFT_PAUSE_SECONDS",
    "Cue",
    "build_cues",
    "function_words",
    "render_srt",
    "render_text",
    "render_vtt",
    "srt_from_cues",
    "text_from_turns",
    "text_from_words",
    "vtt_from_cues",
]


# The writing system is the transcript's language's.
def render_text(t: Transcript) -> str:
    return text_from_words(group_words(t.items), t.labels, writing=writing_system(t.language_code))


def render_srt(t: Transcript) -> str:
    writing = writing_system(t.language_code)
    return srt_from_cues(build_cues(group_words(t.items), writing=writing), writing=writing)


def render_vtt(t: Transcript) -> str:
    writing = writing_system(t.language_code)
    return vtt_from_cues(build_cues(group_words(t.items), writing=writing), writing=writing)
