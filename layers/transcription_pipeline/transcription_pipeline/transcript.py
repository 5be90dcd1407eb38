"""Parse Amazon Transcribe batch output JSON into plain, immutable data.

Pure domain code: no AWS calls, no logging of transcript text. Handles the
legacy layout (speaker segments, per-channel item lists) and the newer one
(item ``id``, per-item ``speaker_label``, ``audio_segments``).
"""

from __future__ import annotations

import bisect
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from operator import itemgetter
from typing import Any, Literal

from transcription_pipeline.performance import without_cyclic_gc

__all__ = [
    "Item",
    "Transcript",
    "TranscriptFormatError",
    "is_sentence_end",
    "parse_transcript",
]

ItemKind = Literal["pronunciation", "punctuation"]
LabelKind = Literal["speaker", "channel"]

# Sentence-final punctuation, including the full-width forms of CJK output.
_SENTENCE_END = frozenset({".", "?", "!", "\u3002", "\uff1f", "\uff01"})


class TranscriptFormatError(ValueError):
    """The input is not an Amazon Transcribe transcript."""


@dataclass(frozen=True, slots=True)
class Item:
    kind: ItemKind
    content: str
    start: float | None
    end: float | None
    confidence: float | None
    speaker: str | None


@dataclass(frozen=True, slots=True)
class Transcript:
    job_name: str
    items: tuple[Item, ...]
    text: str
    language_code: str | None
    language_score: float | None
    labels: LabelKind | None
    redacted: bool


def is_sentence_end(item: Item) -> bool:
    return item.kind == "punctuation" and item.content in _SENTENCE_END


@dataclass(slots=True)
class _RawItem:
    """Mutable working copy of an item until its speaker is known.

    Keeps the raw time strings for exact matching against speaker segments;
    the frozen Item is built once at the end.
    """

    kind: ItemKind
    content: str
    start: float | None
    end: float | None
    confidence: float | None
    speaker: str | None
    start_raw: str | None
    end_raw: str | None
    redacted: bool

    def freeze(self) -> Item:
        return Item(self.kind, self.content, self.start, self.end, self.confidence, self.speaker)


def _num(value: Any) -> float | None:
    """Transcribe writes numbers as strings; accept numbers too, reject junk."""
    if isinstance(value, str):
        try:
            number = float(value)  # float() itself ignores surrounding whitespace
        except ValueError:
            return None
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        number = float(value)
    else:
        return None
    return number if math.isfinite(number) else None


def _time(value: Any) -> float | None:
    number = _num(value)
    return number if number is not None and number >= 0 else None


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _as_dict(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, dict) else {}


def _raw_item(obj: Any, speaker: str | None = None) -> _RawItem | None:
    """Convert one JSON item; None when it is unusable (skipped, not fatal)."""
    if not isinstance(obj, dict):
        return None
    kind = obj.get("type")
    if kind not in ("pronunciation", "punctuation"):
        return None
    alternatives = _as_list(obj.get("alternatives"))
    first = alternatives[0] if alternatives else None
    if not isinstance(first, dict):
        return None
    content = first.get("content")
    if not isinstance(content, str) or not content.strip():
        return None
    start_json, end_json = obj.get("start_time"), obj.get("end_time")
    start_raw = start_json if isinstance(start_json, str) else None
    end_raw = end_json if isinstance(end_json, str) else None
    start = _time(start_json)
    end = _time(end_json)
    if kind == "punctuation" or start is None or end is None:
        # Punctuation carries no times; a word with half a time range is as good as none.
        start = end = None
    elif end < start:
        end = start
    label = _str(obj.get("speaker_label")) or _str(obj.get("channel_label")) or speaker
    return _RawItem(
        kind="pronunciation" if kind == "pronunciation" else "punctuation",
        content=content.strip(),
        start=start,
        end=end,
        confidence=_num(first.get("confidence")),
        speaker=label,
        start_raw=start_raw,
        end_raw=end_raw,
        redacted=bool(first.get("redactions")),
    )


def _raw_items(objs: Sequence[Any], speaker: str | None = None) -> list[_RawItem]:
    out = []
    for obj in objs:
        raw = _raw_item(obj, speaker)
        if raw is not None:
            out.append(raw)
    return out


def _time_ordered(groups: Sequence[list[_RawItem]]) -> list[_RawItem]:
    """Merge item lists into time order, keeping punctuation after its word.

    Each word plus the punctuation that follows it forms a unit; units are
    stably sorted by start time (identity for already-sorted input), so a
    merge of several channels costs O(n log n), never O(n^2).
    """
    units: list[tuple[float, int, int, list[_RawItem]]] = []
    seq = 0
    for group_no, group in enumerate(groups):
        last_key = 0.0
        current: list[_RawItem] | None = None
        for raw in group:
            if raw.kind == "punctuation" and current is not None:
                current.append(raw)
                continue
            if raw.start is not None:
                last_key = raw.start
            current = [raw]
            units.append((last_key, group_no, seq, current))
            seq += 1
    units.sort(key=itemgetter(0, 1, 2))
    return [raw for unit in units for raw in unit[3]]


def _dedupe_words(raws: list[_RawItem]) -> list[_RawItem]:
    """Drop a word repeated with identical times and text (e.g. on both channels).

    Punctuation directly after a dropped word is dropped with it.
    """
    seen: set[tuple[str | None, str | None, str]] = set()
    out: list[_RawItem] = []
    dropping = False
    for raw in raws:
        if raw.kind == "punctuation":
            if not dropping:
                out.append(raw)
            continue
        dropping = False
        if raw.start_raw is not None and raw.end_raw is not None:
            key = (raw.start_raw, raw.end_raw, raw.content)
            if key in seen:
                dropping = True
                continue
            seen.add(key)
        out.append(raw)
    return out


def _channel_items(results: Mapping[str, Any]) -> list[_RawItem] | None:
    """Words from channel_labels.channels[].items, or None when there are none.

    In the legacy layout the top-level items are a merged copy of these lists,
    so only the per-channel lists are read (each word once, with its channel).
    """
    channels = _as_list(_as_dict(results.get("channel_labels")).get("channels"))
    groups: list[list[_RawItem]] = []
    for index, channel in enumerate(channels):
        channel = _as_dict(channel)
        label = _str(channel.get("channel_label")) or f"ch_{index}"
        items = _raw_items(_as_list(channel.get("items")), label)
        if items:
            groups.append(items)
    if not groups:
        return None
    return _dedupe_words(_time_ordered(groups))


class _SpeakerMap:
    """Legacy speaker segments, indexed for O(1) / O(log n) lookups per word.

    Exact (start_time, end_time) strings of the segment items match almost
    every word; the numeric index is built only if some word misses.
    """

    def __init__(self, results: Mapping[str, Any]) -> None:
        self._subs: list[tuple[str, str, str]] = []
        self._by_exact: dict[tuple[str, str], str] = {}
        self._by_time: dict[tuple[float, float], str] | None = None
        segs: list[tuple[float, float, str]] = []
        segments = _as_list(_as_dict(results.get("speaker_labels")).get("segments"))
        for segment in segments:
            segment = _as_dict(segment)
            seg_label = _str(segment.get("speaker_label"))
            seg_start = _time(segment.get("start_time"))
            seg_end = _time(segment.get("end_time"))
            if seg_label and seg_start is not None and seg_end is not None:
                segs.append((seg_start, max(seg_start, seg_end), seg_label))
            for sub in _as_list(segment.get("items")):
                sub = _as_dict(sub)
                label = _str(sub.get("speaker_label")) or seg_label
                start_raw, end_raw = sub.get("start_time"), sub.get("end_time")
                if label and isinstance(start_raw, str) and isinstance(end_raw, str):
                    self._by_exact[(start_raw, end_raw)] = label
                    self._subs.append((start_raw, end_raw, label))
        segs.sort(key=lambda seg: seg[0])
        self._segs = segs
        self._seg_starts = [seg[0] for seg in segs]

    def _time_index(self) -> dict[tuple[float, float], str]:
        if self._by_time is None:
            self._by_time = {}
            for start_raw, end_raw, label in self._subs:
                start, end = _time(start_raw), _time(end_raw)
                if start is not None and end is not None:
                    self._by_time[(start, end)] = label
        return self._by_time

    def lookup(self, raw: _RawItem) -> str | None:
        if raw.start_raw is not None and raw.end_raw is not None:
            label = self._by_exact.get((raw.start_raw, raw.end_raw))
            if label is not None:
                return label
        start, end = raw.start, raw.end
        if start is None or end is None:
            return None
        label = self._time_index().get((start, end))
        if label is not None or not self._segs:
            return label
        # Last segment starting at or before the word's midpoint (bisect, O(log n)).
        pos = bisect.bisect_right(self._seg_starts, (start + end) / 2) - 1
        return self._segs[max(pos, 0)][2]


def _assign_speakers(raws: list[_RawItem], results: Mapping[str, Any]) -> None:
    """Give every item a speaker in place; punctuation inherits the word before it."""
    smap: _SpeakerMap | None = None
    previous: str | None = None
    for raw in raws:
        if raw.speaker is None and raw.kind == "pronunciation":
            if smap is None:
                smap = _SpeakerMap(results)
            raw.speaker = smap.lookup(raw)
        if raw.speaker is None:
            raw.speaker = previous
        previous = raw.speaker
    # Leading items before the first known speaker take the first one seen.
    first = next((r.speaker for r in raws if r.speaker is not None), None)
    for raw in raws:
        if raw.speaker is not None:
            break
        raw.speaker = first


def _language(results: Mapping[str, Any]) -> tuple[str | None, float | None]:
    code = _str(results.get("language_code"))
    if code is None:
        # Multi-language jobs: report the language spoken longest.
        best: tuple[float, str] | None = None
        for entry in _as_list(results.get("language_codes")):
            entry = _as_dict(entry)
            entry_code = _str(entry.get("language_code"))
            duration = _num(entry.get("duration_in_seconds")) or 0.0
            if entry_code and (best is None or duration > best[0]):
                best = (duration, entry_code)
        code = best[1] if best else None
    score: float | None = None
    if code is not None:
        for entry in _as_list(results.get("language_identification")):
            entry = _as_dict(entry)
            if entry.get("code") == code:
                score = _num(entry.get("score"))
                break
    return code, score


def _loads(raw: bytes | str) -> Any:
    try:
        if isinstance(raw, (bytes, bytearray)):
            return json.loads(raw)
        return json.loads(raw.lstrip("\ufeff"))
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        # Message only: never echo the payload (it is transcript text).
        raise TranscriptFormatError(f"not valid JSON: {type(exc).__name__}") from None


@without_cyclic_gc
def parse_transcript(raw: bytes | str) -> Transcript:
    """Parse Transcribe output; raise TranscriptFormatError if it is not one."""
    doc = _loads(raw)
    if not isinstance(doc, dict):
        raise TranscriptFormatError("top level is not an object")
    results = doc.get("results")
    if not isinstance(results, dict):
        raise TranscriptFormatError("missing 'results' object")
    transcripts = results.get("transcripts")
    items_json = results.get("items")
    if not isinstance(transcripts, list) and not isinstance(items_json, list):
        raise TranscriptFormatError("'results' has neither 'transcripts' nor 'items'")

    first_transcript = _as_dict(_as_list(transcripts)[0]) if _as_list(transcripts) else {}
    text = first_transcript.get("transcript")
    text = text if isinstance(text, str) else ""

    labels: LabelKind | None = None
    raws = _channel_items(results)
    if raws is not None:
        labels = "channel"
    else:
        raws = _time_ordered([_raw_items(_as_list(items_json))])
        if "channel_labels" in results:
            # Channel job whose per-channel lists are empty: per-item labels, if any.
            labels = "channel"
            _assign_speakers(raws, results)
        elif "speaker_labels" in results or any(r.speaker for r in raws):
            labels = "speaker"
            _assign_speakers(raws, results)
    if labels is None or not any(r.speaker for r in raws):
        # Label settings on but no labels found (e.g. no speech): report no labels.
        labels = None
        for entry in raws:
            entry.speaker = None

    code, score = _language(results)
    redacted = doc.get("isRedacted") is True or any(r.redacted for r in raws)
    job_name = doc.get("jobName")
    return Transcript(
        job_name=job_name if isinstance(job_name, str) else "",
        items=tuple(r.freeze() for r in raws),
        text=text,
        language_code=code,
        language_score=score,
        labels=labels,
        redacted=redacted,
    )
