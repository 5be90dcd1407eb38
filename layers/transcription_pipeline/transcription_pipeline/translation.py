"""Translations of the outputs with Amazon Translate: subtitles, transcript and summary texts.

Pure: the service is behind ``Translator`` (one TranslateText call), so this module only
decides what to send and how to put the answers back. Cues keep their count, times and
speakers; only their text changes. Texts are sent in batches of whole lines joined by
"\\n" within TranslateText's size limit and mapped back line by line; a batch whose answer
has another number of lines is sent again one line per request, so nothing shifts.

Rate: Amazon Translate publishes no TranslateText request-rate quota ("Amazon Translate
scales to serve customer operational traffic. If you encounter sustained throttling,
contact AWS Support", Developer Guide, "Guidelines and quotas",
https://docs.aws.amazon.com/translate/latest/dg/what-is-limits.html). Requests are
therefore sent one at a time per language (``max_workers`` languages at once, 1 by
default): every Lambda invocation already adds its own concurrency, and botocore's
standard retry mode backs off on throttling before ``TranslationThrottled`` reaches here.

A language that fails is reported with its reason and never stops the others; the caller
writes the main outputs regardless. Nothing here logs, and failure reasons never carry
transcript text.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from transcription_pipeline.naming import (
    SUBTITLES_SRT,
    SUBTITLES_VTT,
    SUMMARY_JSON,
    TRANSCRIPT_TEXT,
    translation_name,
)
from transcription_pipeline.render import Cue, srt_from_cues, vtt_from_cues
from transcription_pipeline.scripts import display_width, writing_system
from transcription_pipeline.stable_json import json_bytes

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

# TranslateText's Text: "The text string can be a maximum of 10,000 bytes long" (UTF-8; API
# reference, TranslateText; the botocore model's BoundedLengthString max is 10000 too).
MAX_REQUEST_BYTES = 10_000
AUTO = "auto"  # SourceLanguageCode that makes Translate detect the language (via Comprehend)
SUMMARY_SCHEMA_VERSION = 1

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
_FULL_WIDTH_PUNCTUATION = "\u3001\u3002\uff0c\uff1b\uff1a\uff01\uff1f"
# A space is a break point too where words are not spaced (Thai spaces phrases).
_BREAK_AFTER = frozenset(".,;:!? " + _FULL_WIDTH_PUNCTUATION)
_BREAK_BONUS = 12  # as render's layout: a break after punctuation is worth 12 columns
_SENTENCE_END = re.compile("(?<=[.!?\u3002\uff01\uff1f])")  # sentence ends, also full-width
_AFTER_SPACE = re.compile(r"(?<=\s)")
# transcript.txt paragraphs with speaker labels start "[mm:ss] label: " (render.text_from_words).
_TRANSCRIPT_PREFIX = re.compile(r"^\[(?:\d+:)?\d{2}:\d{2}\] [^\n]*?: ")
_MAX_REASON_CHARS = 300


class UnsupportedLanguage(ValueError):
    """A Transcribe language code without an Amazon Translate counterpart."""

    def __init__(self, code: str) -> None:
        super().__init__(f"Amazon Translate does not support the language {code!r}")
        self.code = code


class TranslationThrottled(Exception):
    """Translate kept throttling after the client's own retries: the same request works later."""


class TranslationFailed(Exception):
    """Translate refused or failed a request (``code`` is the AWS error code)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


class Translator(Protocol):
    """One TranslateText call: ``text`` is one request's worth (lines joined by "\\n")."""

    def translate_text(self, text: str, source: str, target: str) -> str: ...


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
def _utf8_size(text: str) -> int:
    return len(text.encode("utf-8"))


def batch_ranges(texts: Sequence[str], max_bytes: int = MAX_REQUEST_BYTES) -> list[range]:
    """Consecutive texts grouped so that each group joined by "\\n" fits in ``max_bytes``.

    Each text must fit on its own (see ``_pieces``) and hold no newline.
    """
    ranges: list[range] = []
    start = 0
    size = -1  # bytes of the current group joined by "\n"; -1 when empty
    for index, text in enumerate(texts):
        length = _utf8_size(text)
        if length > max_bytes:
            raise ValueError(f"text {index} is {length} bytes, over the {max_bytes}-byte limit")
        if size >= 0 and size + 1 + length > max_bytes:
            ranges.append(range(start, index))
            start, size = index, -1
        size += 1 + length
    if start < len(texts):
        ranges.append(range(start, len(texts)))
    return ranges


def _cut(text: str, pattern: re.Pattern[str]) -> list[str]:
    return [part for part in pattern.split(text) if part]


def _pieces(text: str, max_bytes: int) -> list[str]:
    """``text`` (one line) in pieces of at most ``max_bytes``: whole sentences where they
    fit, else whole words, else characters (scripts without spaces)."""
    if _utf8_size(text) <= max_bytes:
        return [text]
    units: list[str] = []
    for sentence in _cut(text, _SENTENCE_END):
        if _utf8_size(sentence) <= max_bytes:
            units.append(sentence)
            continue
        for word in _cut(sentence, _AFTER_SPACE):
            if _utf8_size(word) <= max_bytes:
                units.append(word)
            else:
                units.extend(word)  # one character each; any character is <= 4 bytes
    pieces: list[str] = []
    current, size = "", 0
    for unit in units:
        length = _utf8_size(unit)
        if current and size + length > max_bytes:
            pieces.append(current)
            current, size = "", 0
        current += unit
        size += length
    pieces.append(current)
    return [piece.strip() for piece in pieces if piece.strip()]


@dataclass
class RequestCounts:
    """What one language's translation cost, kept up to date as requests are answered."""

    requests: int = 0
    characters: int = 0  # billed: every character of every answered request
    fallback_requests: int = 0

    def call(self, translator: Translator, text: str, source: str, target: str) -> str:
        answer = translator.translate_text(text, source, target)
        self.requests += 1
        self.characters += len(text)
        return answer


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _translate_batch(
    batch: Sequence[str], source: str, target: str, translator: Translator, counts: RequestCounts
) -> list[str]:
    answer = counts.call(translator, "\n".join(batch), source, target)
    lines = answer.replace("\r\n", "\n").strip("\n").split("\n")
    if len(batch) == 1:
        return [_one_line(answer)]
    if len(lines) == len(batch):
        return [line.strip() for line in lines]
    # The service merged or split lines: one request per line keeps every text in place.
    translated = []
    for text in batch:
        translated.append(_one_line(counts.call(translator, text, source, target)))
        counts.fallback_requests += 1
    return translated


def translate_texts(
    texts: Sequence[str],
    *,
    source: str,
    target: str,
    translator: Translator,
    max_bytes: int = MAX_REQUEST_BYTES,
    joiner: str = " ",
    counts: RequestCounts | None = None,
) -> list[str]:
    """Each text translated, in order, one line each (empty texts stay empty, unsent).

    Texts over ``max_bytes`` are sent in pieces and their translations joined by ``joiner``.
    """
    counts = counts if counts is not None else RequestCounts()
    pieces: list[str] = []
    owners: list[int] = []
    for index, text in enumerate(texts):
        line = _one_line(text)
        if not line:
            continue  # TranslateText wants at least one character; nothing to translate
        for piece in _pieces(line, max_bytes):
            pieces.append(piece)
            owners.append(index)
    translated_pieces: list[str] = []
    for batch in batch_ranges(pieces, max_bytes):
        translated_pieces.extend(
            _translate_batch(pieces[batch.start : batch.stop], source, target, translator, counts)
        )
    parts: list[list[str]] = [[] for _ in texts]
    for owner, piece in zip(owners, translated_pieces, strict=True):
        parts[owner].append(piece)
    return [joiner.join(part) for part in parts]


# -- subtitle layout ---------------------------------------------------------------------
def _clusters(text: str) -> list[str]:
    """Characters with the marks that follow them (a Thai vowel stays on its consonant)."""
    clusters: list[str] = []
    for char in text:
        if clusters and display_width(char) == 0:
            clusters[-1] += char
        else:
            clusters.append(char)
    return clusters


def wrap_cue_text(text: str, *, max_line_width: int = 42, joiner: str = " ") -> tuple[str, ...]:
    """A translated cue text as at most two lines, like render's layout: one line if it
    fits, else the most balanced split (preferring a break after punctuation) that keeps
    both lines within ``max_line_width`` display columns; a text too long for that still
    gets two lines, the most balanced ones. ``joiner`` "" splits between characters
    (Japanese, Chinese, Thai), keeping the text's own spaces."""
    text = text.strip()
    tokens = text.split() if joiner else _clusters(text)
    if not tokens:
        return ("",)
    lengths = [display_width(token) for token in tokens]
    total = sum(lengths) + len(joiner) * (len(tokens) - 1)
    if total <= max_line_width or len(tokens) == 1:
        return (joiner.join(tokens),)
    best: tuple[int, int, int] | None = None  # (overflow, cost, split index)
    first = -len(joiner)
    for j in range(1, len(tokens)):
        first += len(joiner) + lengths[j - 1]
        second = total - first - len(joiner)
        overflow = max(0, first - max_line_width) + max(0, second - max_line_width)
        bonus = _BREAK_BONUS if tokens[j - 1][-1] in _BREAK_AFTER else 0
        candidate = (overflow, abs(first - second) - bonus, j)
        if best is None or candidate[:2] < best[:2]:
            best = candidate
    assert best is not None  # at least two tokens
    j = best[2]
    lines = (joiner.join(tokens[:j]).strip(), joiner.join(tokens[j:]).strip())
    return tuple(line for line in lines if line) or ("",)


# -- the use case ------------------------------------------------------------------------
Status = Literal["translated", "failed", "skipped"]


@dataclass(frozen=True)
class LanguageResult:
    """One target language: its files, or why there are none. Never holds transcript text
    outside ``files``."""

    target: str  # as requested: a Transcribe code such as de-DE
    translate_code: str | None  # de; None when Translate has no such language
    status: Status
    files: Mapping[str, bytes] = field(default_factory=dict)  # file name -> bytes
    reason: str | None = None  # why failed or skipped
    error_code: str | None = None  # UnsupportedLanguage, TooManyRequestsException, ...
    retryable: bool = False  # the same request may work later (throttling)
    requests: int = 0
    characters: int = 0  # billed characters (answered requests only)
    fallback_requests: int = 0  # sent one line at a time after a line-count mismatch
    overlong_cues: int = 0  # cues with a line over the width (long translations)

    def report(self) -> dict[str, Any]:
        """Counts and statuses for logs and records (no text)."""
        return {
            "target": self.target,
            "translate_code": self.translate_code,
            "status": self.status,
            "reason": self.reason,
            "error_code": self.error_code,
            "retryable": self.retryable,
            "requests": self.requests,
            "characters": self.characters,
            "fallback_requests": self.fallback_requests,
            "overlong_cues": self.overlong_cues,
            "files": sorted(self.files),
        }


@dataclass(frozen=True)
class TranslationOutcome:
    source: str  # the SourceLanguageCode sent (or that would have been): de, auto, ...
    languages: tuple[LanguageResult, ...]

    @property
    def requests(self) -> int:
        return sum(result.requests for result in self.languages)

    @property
    def characters(self) -> int:
        return sum(result.characters for result in self.languages)

    def with_status(self, status: Status) -> tuple[LanguageResult, ...]:
        return tuple(result for result in self.languages if result.status == status)

    def output_files(self) -> dict[str, bytes]:
        """Every translated file by its name under the output folder
        (``translations/<target>/<file>``)."""
        return {
            translation_name(result.target, name): content
            for result in self.languages
            for name, content in result.files.items()
        }

    def report(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "requests": self.requests,
            "characters": self.characters,
            "languages": [result.report() for result in self.languages],
        }


@dataclass(frozen=True)
class _Line:
    prefix: str  # kept as is: a transcript paragraph's "[mm:ss] speaker: "
    body: str  # what is translated; "" for blank lines


def _transcript_lines(text: str) -> list[_Line]:
    lines = []
    for line in text.split("\n"):
        match = _TRANSCRIPT_PREFIX.match(line)
        prefix = match.group(0) if match else ""
        lines.append(_Line(prefix, line[len(prefix) :]))
    return lines


@dataclass(frozen=True)
class _Sources:
    """What every target translates, prepared once."""

    cues: tuple[Cue, ...]
    transcript: tuple[_Line, ...]
    summary_keys: tuple[str, ...]
    summary_lines: tuple[tuple[str, ...], ...]  # each summary text by lines

    def texts(self) -> list[str]:
        return [
            *(" ".join(cue.lines) for cue in self.cues),
            *(line.body for line in self.transcript),
            *(line for lines in self.summary_lines for line in lines),
        ]


def _reason(error: Exception) -> str:
    return str(error)[:_MAX_REASON_CHARS]


def _translate_one(
    target: str,
    code: str,
    source: str,
    sources: _Sources,
    translator: Translator,
    line_layout: Callable[[str], tuple[int, str]],
    max_bytes: int,
) -> LanguageResult:
    width, joiner = line_layout(code)
    counts = RequestCounts()
    try:
        translated = translate_texts(
            sources.texts(),
            source=source,
            target=code,
            translator=translator,
            max_bytes=max_bytes,
            joiner=joiner,
            counts=counts,
        )
    except TranslationThrottled as error:
        return LanguageResult(
            target,
            code,
            "failed",
            reason=_reason(error) or "Amazon Translate kept throttling after retries",
            error_code="TooManyRequestsException",
            retryable=True,
            requests=counts.requests,
            characters=counts.characters,
            fallback_requests=counts.fallback_requests,
        )
    except TranslationFailed as error:
        return LanguageResult(
            target,
            code,
            "failed",
            reason=_reason(error),
            error_code=error.code,
            requests=counts.requests,
            characters=counts.characters,
            fallback_requests=counts.fallback_requests,
        )
    cue_count, line_count = len(sources.cues), len(sources.transcript)
    cue_texts = translated[:cue_count]
    transcript_texts = translated[cue_count : cue_count + line_count]
    rest = translated[cue_count + line_count :]
    cues = tuple(
        Cue(
            cue.start,
            cue.end,
            wrap_cue_text(text, max_line_width=width, joiner=joiner),
            cue.speaker,
        )
        for cue, text in zip(sources.cues, cue_texts, strict=True)
    )
    transcript = "\n".join(
        line.prefix + text for line, text in zip(sources.transcript, transcript_texts, strict=True)
    )
    files = {
        # The target's script: right-to-left marks for Arabic or Hebrew subtitles.
        SUBTITLES_SRT: srt_from_cues(cues, writing=writing_system(target)).encode("utf-8"),
        SUBTITLES_VTT: vtt_from_cues(cues, writing=writing_system(target)).encode("utf-8"),
        TRANSCRIPT_TEXT: transcript.encode("utf-8"),
    }
    if sources.summary_keys:
        texts: dict[str, str] = {}
        for key, lines in zip(sources.summary_keys, sources.summary_lines, strict=True):
            texts[key] = "\n".join(rest[: len(lines)])
            rest = rest[len(lines) :]
        files[SUMMARY_JSON] = json_bytes(
            {
                "schema_version": SUMMARY_SCHEMA_VERSION,
                "source_language": source,
                "target_language": target,
                "texts": texts,
            }
        )
    overlong = sum(any(display_width(line) > width for line in cue.lines) for cue in cues)
    return LanguageResult(
        target,
        code,
        "translated",
        files=files,
        requests=counts.requests,
        characters=counts.characters,
        fallback_requests=counts.fallback_requests,
        overlong_cues=overlong,
    )


def translate_outputs(
    cues: Sequence[Cue],
    transcript_text: str,
    *,
    source_language: str | None,
    target_languages: Sequence[str],
    translator: Translator,
    summary_texts: Mapping[str, str] | None = None,
    line_layout: Callable[[str], tuple[int, str]] = default_line_layout,
    max_workers: int = 1,
    max_bytes: int = MAX_REQUEST_BYTES,
) -> TranslationOutcome:
    """Translate the subtitles, transcript.txt and (when given) the summary texts into each
    target language (Transcribe codes, as the upload options give them).

    ``source_language`` is the transcript's Transcribe language code, None when unknown
    (then Translate detects it). A target in the source's Translate language is skipped; two
    targets with the same Translate language (en-GB, en-US) are translated once. A failure
    is reported per language and never stops the others. ``line_layout`` gives the
    subtitle line width and word joiner of a Translate language.
    """
    try:
        source = source_code(source_language)
    except UnsupportedLanguage as error:
        return TranslationOutcome(
            source_language or AUTO,
            tuple(
                LanguageResult(
                    target, None, "failed", reason=str(error), error_code="UnsupportedLanguage"
                )
                for target in target_languages
            ),
        )
    summary = dict(summary_texts or {})
    sources = _Sources(
        cues=tuple(cues),
        transcript=tuple(_transcript_lines(transcript_text)),
        summary_keys=tuple(summary),
        summary_lines=tuple(tuple(text.split("\n")) for text in summary.values()),
    )
    codes: dict[str, str | None] = {}
    problems: dict[str, LanguageResult] = {}
    for target in target_languages:
        try:
            code = translate_code(target)
        except UnsupportedLanguage as error:
            codes[target] = None
            problems[target] = LanguageResult(
                target, None, "failed", reason=str(error), error_code="UnsupportedLanguage"
            )
            continue
        codes[target] = code
        if code == source:
            problems[target] = LanguageResult(
                target,
                code,
                "skipped",
                reason=f"the transcript is already in {code!r} (Translate language of {target})",
            )
    # One translation per Translate language, in the order first asked for.
    work: dict[str, str] = {}
    for target, maybe_code in codes.items():
        if maybe_code is not None and target not in problems and maybe_code not in work:
            work[maybe_code] = target

    def run(code: str) -> LanguageResult:
        return _translate_one(work[code], code, source, sources, translator, line_layout, max_bytes)

    workers = max(1, min(max_workers, len(work)))
    if workers == 1:
        done = {code: run(code) for code in work}
    else:
        with ThreadPoolExecutor(max_workers=workers) as pool:
            done = dict(zip(work, pool.map(run, work), strict=True))
    results: list[LanguageResult] = []
    for target in target_languages:
        if target in problems:
            results.append(problems[target])
            continue
        first = done[str(codes[target])]
        if first.target == target:
            results.append(first)
        else:  # the same Translate language as an earlier target: its files, no new requests
            results.append(
                LanguageResult(
                    target,
                    first.translate_code,
                    first.status,
                    files=first.files,
                    reason=first.reason,
                    error_code=first.error_code,
                    retryable=first.retryable,
                    overlong_cues=first.overlong_cues,
                )
            )
    return TranslationOutcome(source, tuple(results))
