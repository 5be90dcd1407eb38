"""Amazon Translate's languages: which Transcribe code becomes which Translate code."""

from __future__ import annotations

from transcription_pipeline.scripts import writing_system

AUTO = "auto"  # SourceLanguageCode that makes Translate detect the language (via Comprehend)

# Amazon Translate's language codes (Developer Guide, "Supported languages and language
# codes", https://docs.aws.amazon.com/translate/latest/dg/what-is-languages.html).
TRANSLATE_LANGUAGE_CODES = frozenset(
    """
    af sq am ar hy az bn bs bg ca zh zh-TW hr cs da fa-AF nl en et fa tl fi fr fr-CA ka de
    el gu ht ha he hi hu is id ga it ja kn kk ko lv lt mk ms ml mt mr mn no ps pl pt pt-PT
    pa ro ru sr si sk sl so es es-MX sw sv ta te th tr uk ur uz vi cy
    """.split()  # noqa: SIM905
)

# Transcribe codes whose region picks a Translate variant; every other code maps to its
# language part when Translate has it (de-CH -> de, en-IN -> en, ar-AE -> ar, ...).
_VARIANTS = {
    "zh-CN": "zh",  # Simplified
    "zh-TW": "zh-TW",  # Traditional
    "zh-HK": "zh-TW",  # Hong Kong writes Traditional characters
    "fr-CA": "fr-CA",
    "pt-BR": "pt",  # Translate's "pt" is Portuguese (Brazil)
    "pt-PT": "pt-PT",
    "es-MX": "es-MX",
    "es-US": "es-MX",  # US Spanish is Latin American Spanish, nearest to Mexico's variant
    "fa-AF": "fa-AF",  # Dari
    "fa-IR": "fa",
}

# Ideographic comma and full stop; full-width comma, semicolon, colon, ! and ?.


class UnsupportedLanguage(ValueError):
    """A Transcribe language code without an Amazon Translate counterpart."""

    def __init__(self, code: str) -> None:
        super().__init__(f"Amazon Translate does not support the language {code!r}")
        self.code = code


def translate_code(transcribe_code: str) -> str:
    """The Amazon Translate code for a Transcribe language code (de-DE -> de, zh-TW -> zh-TW).

    Raises UnsupportedLanguage when Translate has no such language (e.g. eu-ES, zu-ZA).
    """
    if transcribe_code in _VARIANTS:
        return _VARIANTS[transcribe_code]
    if transcribe_code in TRANSLATE_LANGUAGE_CODES:
        return transcribe_code
    language = transcribe_code.split("-", 1)[0]
    if language in TRANSLATE_LANGUAGE_CODES:
        return language
    raise UnsupportedLanguage(transcribe_code)


def source_code(transcribe_code: str | None) -> str:
    """What to send as SourceLanguageCode: the transcript's language, or auto when unknown."""
    return AUTO if transcribe_code is None else translate_code(transcribe_code)


def default_line_layout(code: str) -> tuple[int, str]:
    """(maximum line width in display columns, word joiner) for subtitles in a Translate
    language: its writing system's (scripts.py; "" for Japanese, Chinese, Thai)."""
    writing = writing_system(code)
    return writing.max_line_width, writing.joiner


# -- batching ----------------------------------------------------------------------------
