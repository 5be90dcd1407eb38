"""TranslateText requests: the service behind ``Translator``, texts batched within its size
limit and mapped back line by line (one line per request when the line count changes)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

# TranslateText's Text: "The text string can be a maximum of 10,000 bytes long" (UTF-8; API
# reference, TranslateText; the botocore model's BoundedLengthString max is 10000 too).
MAX_REQUEST_BYTES = 10_000
_SENTENCE_END = re.compile("(?<=[.!?\u3002\uff01\uff1f])")  # sentence ends, also full-width
_AFTER_SPACE = re.compile(r"(?<=\s)")


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
