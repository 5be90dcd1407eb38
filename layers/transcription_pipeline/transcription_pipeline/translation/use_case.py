"""The use case: the outputs translated with Amazon Translate (subtitles, transcript, summary).

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
from typing import Any, Literal

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
from transcription_pipeline.translation.languages import (
    AUTO,
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
    translate_texts,
)

SUMMARY_SCHEMA_VERSION = 1
# transcript.txt paragraphs with speaker labels start "[mm:ss] label: " (render.text_from_words).
_TRANSCRIPT_PREFIX = re.compile(r"^\[(?:\d+:)?\d{2}:\d{2}\] [^\n]*?: ")
_MAX_REASON_CHARS = 300


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
