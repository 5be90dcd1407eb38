"""Build Amazon Transcribe's batch output JSON from a local recognition.

Pure and stdlib only. The layout is the current one: items carry an ``id``
and ``results.audio_segments`` lists each segment's item ids. As in
Transcribe's output, every number is a string and punctuation marks are items
of their own, without times, after the word they follow.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from local_pipeline.speech import Recognition

__all__ = ["split_word", "transcript_document"]

# Marks that become punctuation items (ASCII and the full-width CJK forms).
_MARKS = frozenset(",.?!;:\u3002\uff0c\uff1f\uff01\uff1a\uff1b\u3001")
_SENTENCE_FINAL = frozenset(".?!\u3002\uff1f\uff01")
_ELLIPSIS = "\u2026"
# Quotes, brackets and dashes that Whisper glues to a word; Transcribe writes none.
_OPENERS = frozenset("\"'\u201c\u2018\u00ab\u00bf\u00a1([{<-\u2013\u2014")
_CLOSERS = frozenset('"\u201d\u2019\u00bb)]}>-\u2013\u2014')


def split_word(text: str) -> tuple[str, str | None]:
    """A Whisper word as (spoken content, trailing punctuation mark or None).

    Leading quotes, brackets and dashes are dropped; so are closing ones.
    Of several trailing marks one is kept, as Transcribe writes at most one:
    the last sentence-final mark (``?!.``), otherwise the first. Inner
    punctuation stays: "real-time", "3.5", "1,000" and "don't" are one word.
    Content can be empty for a word that was only punctuation.
    """
    s = text.strip().replace(_ELLIPSIS, "...")
    start = 0
    quoted = False
    while start < len(s) and (s[start] in _OPENERS or s[start] in _MARKS):
        quoted = quoted or s[start] == "'"
        start += 1
    end = len(s)
    marks: list[str] = []
    while end > start:
        char = s[end - 1]
        if char in _MARKS:
            marks.append(char)
        elif char in _CLOSERS or (char == "'" and (quoted or marks)):
            # A lone trailing apostrophe is a possessive ("students'"), not a quote.
            pass
        else:
            break
        end -= 1
    marks.reverse()
    core = s[start:end]
    if not marks:
        # A word that was only punctuation ("...", ",") still carries its mark.
        marks = [char for char in s[:start] if char in _MARKS]
    if not marks:
        return core, None
    final = [mark for mark in marks if mark in _SENTENCE_FINAL]
    return core, final[-1] if final else marks[0]


def _time(seconds: float) -> str:
    """Seconds as Transcribe writes them: a string, at most 3 decimals ("1.23", "4.0")."""
    if not math.isfinite(seconds) or seconds <= 0:
        return "0.0"
    return str(round(seconds, 3))


def _confidence(probability: float) -> str:
    if not math.isfinite(probability):
        return "0.0"
    return str(round(min(max(probability, 0.0), 1.0), 3))


def _text(items: list[dict[str, Any]]) -> str:
    """Words separated by single spaces, punctuation attached to the word before it."""
    parts: list[str] = []
    for item in items:
        content = item["alternatives"][0]["content"]
        if item["type"] == "pronunciation" and parts:
            parts.append(" ")
        parts.append(content)
    return "".join(parts)


def transcript_document(
    job_name: str,
    account_id: str,
    recognition: Recognition,
    *,
    language_code: str | None = None,
) -> dict[str, Any]:
    """The JSON document Transcribe writes for a COMPLETED batch job."""
    items: list[dict[str, Any]] = []
    word_items: list[list[int]] = []  # item ids per recognised word
    last_spoken = -1  # index of the last word that produced a pronunciation item
    for index, word in enumerate(recognition.words):
        core, mark = split_word(word.text)
        ids: list[int] = []
        if core:
            ids.append(len(items))
            items.append(
                {
                    "id": len(items),
                    "type": "pronunciation",
                    "alternatives": [
                        {"confidence": _confidence(word.probability), "content": core}
                    ],
                    "start_time": _time(word.start),
                    "end_time": _time(max(word.end, word.start)),
                }
            )
            last_spoken = index
        target = ids if core else (word_items[last_spoken] if last_spoken >= 0 else None)
        # A mark goes after a word only, and never twice in a row.
        if mark is not None and target is not None and items[-1]["type"] == "pronunciation":
            target.append(len(items))
            items.append(
                {
                    "id": len(items),
                    "type": "punctuation",
                    "alternatives": [{"confidence": "0.0", "content": mark}],
                }
            )
        word_items.append(ids)

    audio_segments: list[dict[str, Any]] = []
    for segment in recognition.segments:
        ids = sorted(
            item_id
            for word_ids in word_items[segment.first_word : segment.last_word + 1]
            for item_id in word_ids
        )
        if not ids:
            continue
        audio_segments.append(
            {
                "id": len(audio_segments),
                "transcript": _text([items[item_id] for item_id in ids]),
                "start_time": _time(segment.start),
                "end_time": _time(max(segment.end, segment.start)),
                "items": ids,
            }
        )

    results: dict[str, Any] = {
        "transcripts": [{"transcript": _text(items)}],
        "items": items,
        "audio_segments": audio_segments,
    }
    if language_code is not None:
        results["language_code"] = language_code
    return {
        "jobName": job_name,
        "accountId": account_id,
        "status": "COMPLETED",
        "results": results,
    }
