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
from typing import Any, Literal, NamedTuple

from transcription_pipeline.performance import without_cyclic_gc

__all__ = [
    "SENTENCE_END",
    "Item",
    "Transcript",
    "TranscriptFormatError",
    "is_sentence_end",
    "parse_transcript",
]

ItemKind = Literal["pronunciation", "punctuation"]
LabelKind = Literal["speaker", "channel"]

# Sentence-final punctuation, including the full-width forms of CJK output.
SENTENCE_END = frozenset({".", "?", "!", "\u3002", "\uff1f", "\uff01"})


class TranscriptFormatError(ValueError):
    """The input is not an Amazon Transcribe transcript."""


class Item(NamedTuple):
    """One word or punctuation mark.

    A NamedTuple rather than a frozen dataclass: just as immutable, and several times
    cheaper to build (a 4-hour transcript has ~40,000 items; a frozen dataclass took
    ~2 us each to construct, a NamedTuple ~0.3 us).
    """

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
    return item.kind == "punctuation" and item.content in SENTENCE_END


# An item while the transcript is being assembled: the Item (its speaker may still be
# unknown), the raw time strings for exact matching (speaker segments, duplicate words
# on two channels), and whether Transcribe redacted it.
_Work = tuple[Item, str | None, str | None, bool]

_INF = math.inf


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
    return number if -_INF < number < _INF else None  # finite (NaN compares false)


def _time(value: Any) -> float | None:
    number = _num(value)
    return number if number is not None and number >= 0 else None


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _as_dict(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, dict) else {}


def _time_range(start_json: Any, end_json: Any) -> tuple[float | None, float | None]:
    """A word's times: both or neither (half a range is as good as none), end >= start."""
    start = end = None
    if isinstance(start_json, str) and isinstance(end_json, str):
        # Transcribe's way, two number strings: converted here, without _time's checks.
        try:
            start, end = float(start_json), float(end_json)
        except ValueError:
            start = end = None
        if (
            start is not None
            and end is not None
            and not (0.0 <= start < _INF and 0.0 <= end < _INF)
        ):
            start = end = None  # negative, infinite or NaN: as _time would say
    else:
        start, end = _time(start_json), _time(end_json)
    if start is None or end is None:
        return None, None
    return start, (start if end < start else end)


def _confidence(value: Any) -> float | None:
    if isinstance(value, str):  # Transcribe's way: converted here, without _num's checks
        try:
            number = float(value)
        except ValueError:
            return None
        return number if -_INF < number < _INF else None
    return _num(value)


def _scan(
    objs: Sequence[Any], speaker: str | None = None, speakers: _SpeakerMap | None = None
) -> list[_Work]:
    """Convert the JSON items; an unusable one is skipped (not fatal).

    The label of a word is its own ``speaker_label`` or ``channel_label``, else
    ``speaker`` (its channel), else what ``speakers`` (the legacy segments) say.
    This loop runs once per item of a long transcript, so it is written out flat.
    """
    out: list[_Work] = []
    append = out.append
    exact: dict[tuple[str, str], str] | None = None
    for obj in objs:
        if not isinstance(obj, dict):
            continue
        kind = obj.get("type")
        if kind != "pronunciation" and kind != "punctuation":
            continue
        alternatives = obj.get("alternatives")
        first = alternatives[0] if isinstance(alternatives, list) and alternatives else None
        if not isinstance(first, dict):
            continue
        content = first.get("content")
        if not isinstance(content, str):
            continue
        content = content.strip()
        if not content:
            continue
        start_json, end_json = obj.get("start_time"), obj.get("end_time")
        start_raw = start_json if isinstance(start_json, str) else None
        end_raw = end_json if isinstance(end_json, str) else None
        # Punctuation carries no times.
        start, end = _time_range(start_json, end_json) if kind == "pronunciation" else (None, None)
        label = obj.get("speaker_label")
        if not isinstance(label, str) or not label:
            label = obj.get("channel_label")
            if not isinstance(label, str) or not label:
                label = speaker
                if label is None and speakers is not None and kind == "pronunciation":
                    if start_raw is not None and end_raw is not None:
                        if exact is None:
                            exact = speakers.exact_index()
                        label = exact.get((start_raw, end_raw))
                    if label is None:
                        label = speakers.lookup(start_raw, end_raw, start, end)
        item = Item(kind, content, start, end, _confidence(first.get("confidence")), label)
        append((item, start_raw, end_raw, bool(first.get("redactions"))))
    return out


def _in_time_order(work: list[_Work]) -> bool:
    """Whether _time_ordered would leave this single list as it is (the usual case)."""
    last_key = previous_key = 0.0
    started = False
    for item, _, _, _ in work:
        if started and item.kind == "punctuation":
            continue
        if item.start is not None:
            last_key = item.start
        if started and last_key < previous_key:
            return False
        previous_key, started = last_key, True
    return True


def _time_ordered(groups: Sequence[list[_Work]]) -> list[_Work]:
    """Merge item lists into time order, keeping punctuation after its word.

    Each word plus the punctuation that follows it forms a unit; units are
    stably sorted by start time (identity for already-sorted input), so a
    merge of several channels costs O(n log n), never O(n^2).
    """
    if len(groups) == 1 and _in_time_order(groups[0]):
        return groups[0]
    units: list[tuple[float, int, int, list[_Work]]] = []
    seq = 0
    for group_no, group in enumerate(groups):
        last_key = 0.0
        current: list[_Work] | None = None
        for work in group:
            item = work[0]
            if item.kind == "punctuation" and current is not None:
                current.append(work)
                continue
            if item.start is not None:
                last_key = item.start
            current = [work]
            units.append((last_key, group_no, seq, current))
            seq += 1
    units.sort(key=itemgetter(0, 1, 2))
    return [work for unit in units for work in unit[3]]


def _dedupe_words(works: list[_Work]) -> list[_Work]:
    """Drop a word repeated with identical times and text (e.g. on both channels).

    Punctuation directly after a dropped word is dropped with it.
    """
    seen: set[tuple[str | None, str | None, str]] = set()
    out: list[_Work] = []
    dropping = False
    for work in works:
        item, start_raw, end_raw, _ = work
        if item.kind == "punctuation":
            if not dropping:
                out.append(work)
            continue
        dropping = False
        if start_raw is not None and end_raw is not None:
            key = (start_raw, end_raw, item.content)
            if key in seen:
                dropping = True
                continue
            seen.add(key)
        out.append(work)
    return out


def _channel_items(results: Mapping[str, Any]) -> list[_Work] | None:
    """Words from channel_labels.channels[].items, or None when there are none.

    In the legacy layout the top-level items are a merged copy of these lists,
    so only the per-channel lists are read (each word once, with its channel).
    """
    channels = _as_list(_as_dict(results.get("channel_labels")).get("channels"))
    groups: list[list[_Work]] = []
    for index, channel in enumerate(channels):
        channel = _as_dict(channel)
        label = _str(channel.get("channel_label")) or f"ch_{index}"
        items = _scan(_as_list(channel.get("items")), label)
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
        self._segments = _as_list(_as_dict(results.get("speaker_labels")).get("segments"))
        self._by_exact: dict[tuple[str, str], str] | None = None
        self._by_time: dict[tuple[float, float], str] | None = None
        self._segs: list[tuple[float, float, str]] = []
        self._seg_starts: list[float] = []

    def exact_index(self) -> dict[tuple[str, str], str]:
        """Built at the first lookup: newer transcripts label every word themselves."""
        if self._by_exact is not None:
            return self._by_exact
        by_exact: dict[tuple[str, str], str] = {}
        segs: list[tuple[float, float, str]] = []
        for segment in self._segments:
            if not isinstance(segment, dict):
                continue
            seg_label = _str(segment.get("speaker_label"))
            seg_start = _time(segment.get("start_time"))
            seg_end = _time(segment.get("end_time"))
            if seg_label and seg_start is not None and seg_end is not None:
                segs.append((seg_start, max(seg_start, seg_end), seg_label))
            for sub in _as_list(segment.get("items")):
                if not isinstance(sub, dict):
                    continue
                label = sub.get("speaker_label")
                if not isinstance(label, str) or not label:
                    label = seg_label
                start_raw, end_raw = sub.get("start_time"), sub.get("end_time")
                if label and isinstance(start_raw, str) and isinstance(end_raw, str):
                    by_exact[(start_raw, end_raw)] = label
        segs.sort(key=lambda seg: seg[0])
        self._segs = segs
        self._seg_starts = [seg[0] for seg in segs]
        self._by_exact = by_exact
        return by_exact

    def _time_index(self) -> dict[tuple[float, float], str]:
        if self._by_time is None:
            # Same walk and order as the exact index: a later entry wins in both.
            self._by_time = {}
            for segment in self._segments:
                segment = _as_dict(segment)
                seg_label = _str(segment.get("speaker_label"))
                for sub in _as_list(segment.get("items")):
                    sub = _as_dict(sub)
                    label = _str(sub.get("speaker_label")) or seg_label
                    start_raw, end_raw = sub.get("start_time"), sub.get("end_time")
                    if label and isinstance(start_raw, str) and isinstance(end_raw, str):
                        start, end = _time(start_raw), _time(end_raw)
                        if start is not None and end is not None:
                            self._by_time[(start, end)] = label
        return self._by_time

    def lookup(
        self, start_raw: str | None, end_raw: str | None, start: float | None, end: float | None
    ) -> str | None:
        by_exact = self.exact_index()
        if start_raw is not None and end_raw is not None:
            label = by_exact.get((start_raw, end_raw))
            if label is not None:
                return label
        if start is None or end is None:
            return None
        label = self._time_index().get((start, end))
        if label is not None or not self._segs:
            return label
        # Last segment starting at or before the word's midpoint (bisect, O(log n)).
        pos = bisect.bisect_right(self._seg_starts, (start + end) / 2) - 1
        return self._segs[max(pos, 0)][2]


def _fill_speakers(works: list[_Work]) -> list[Item]:
    """Items whose speaker is unknown take the one before them (punctuation: its word's);
    leading ones, before any known speaker, take the first one seen."""
    items = [work[0] for work in works]
    previous = next((item.speaker for item in items if item.speaker is not None), None)
    if previous is None:
        return items
    for index, item in enumerate(items):
        if item.speaker is None:
            kind, content, start, end, confidence, _ = item
            items[index] = Item(kind, content, start, end, confidence, previous)
        else:
            previous = item.speaker
    return items


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
    works = _channel_items(results)
    if works is not None:
        labels = "channel"
        items = [work[0] for work in works]
    else:
        works = _time_ordered([_scan(_as_list(items_json), speakers=_SpeakerMap(results))])
        if "channel_labels" in results:
            # Channel job whose per-channel lists are empty: per-item labels, if any.
            labels = "channel"
        elif "speaker_labels" in results or any(work[0].speaker for work in works):
            labels = "speaker"
        # Without labels no word has a speaker (there are no segments to look them up in).
        items = _fill_speakers(works) if labels is not None else [work[0] for work in works]
    if not any(item.speaker for item in items):
        # Label settings on but no labels found (e.g. no speech): report no labels.
        labels = None

    code, score = _language(results)
    redacted = doc.get("isRedacted") is True or any(work[3] for work in works)
    job_name = doc.get("jobName")
    return Transcript(
        job_name=job_name if isinstance(job_name, str) else "",
        items=tuple(items),
        text=text,
        language_code=code,
        language_score=score,
        labels=labels,
        redacted=redacted,
    )
