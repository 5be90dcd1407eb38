"""Translations of the outputs with Amazon Translate (the use case: use_case.py; requests
and their batching: requests.py; language codes: languages.py; re-wrapped lines: lines.py).
"""

from transcription_pipeline.translation.languages import (
    AUTO,
    TRANSLATE_LANGUAGE_CODES,
    UnsupportedLanguage,
    default_line_layout,
    source_code,
    translate_code,
)
from transcription_pipeline.translation.lines import wrap_cue_text
from transcription_pipeline.translation.requests import (
    MAX_REQUEST_BYTES,
    RequestCounts,
    TranslationFailed,
    TranslationThrottled,
    Translator,
    batch_ranges,
    translate_texts,
)
from transcription_pipeline.translation.use_case import (
    LanguageResult,
    TranslationOutcome,
    translate_outputs,
)

__all__ = [
    "AUTO",
    "MAX_REQUEST_BYTES",
    "TRANSLATE_LANGUAGE_CODES",
    "LanguageResult",
    "RequestCounts",
    "TranslationFailed",
    "TranslationOutcome",
    "TranslationThrottled",
    "Translator",
    "UnsupportedLanguage",
    "batch_ranges",
    "default_line_layout",
    "source_code",
    "translate_code",
    "translate_outputs",
    "translate_texts",
    "wrap_cue_text",
]
