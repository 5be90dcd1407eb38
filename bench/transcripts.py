"""Long transcripts for benchmarks, and the plain baseline they are processed against.

Fixture 03 (speaker labels, ~141 s, 354 words) is copied back to back until the wanted
duration is reached; items, speaker segments and the full text all grow together, so the
result has the shape of a real long recording with speaker labels.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

FIXTURE = (
    Path(__file__).resolve().parent.parent
    / "tests"
    / "fixtures"
    / "transcribe"
    / "03-speaker-identification.json"
)
GAP_SECONDS = 0.5  # silence between two copies


def _shifted(item: dict[str, Any], shift: float) -> dict[str, Any]:
    moved = dict(item)
    for field in ("start_time", "end_time"):
        if field in moved:
            moved[field] = f"{float(moved[field]) + shift:.2f}"
    return moved


def scaled_transcript(seconds: float, fixture: Path = FIXTURE) -> dict[str, Any]:
    """A Transcribe document of at least ``seconds`` (one copy when shorter than it)."""
    original = json.loads(fixture.read_text(encoding="utf-8"))
    results = original["results"]
    span = max(float(i["end_time"]) for i in results["items"] if "end_time" in i) + GAP_SECONDS
    copies = max(1, int(-(-seconds // span)))  # ceiling
    document: dict[str, Any] = copy.deepcopy(original)
    scaled = document["results"]
    scaled["items"] = []
    scaled["speaker_labels"]["segments"] = []
    texts = []
    for n in range(copies):
        shift = n * span
        scaled["items"] += [_shifted(item, shift) for item in results["items"]]
        for segment in results["speaker_labels"]["segments"]:
            moved = _shifted(segment, shift)
            moved["items"] = [_shifted(item, shift) for item in segment["items"]]
            scaled["speaker_labels"]["segments"].append(moved)
        texts.append(results["transcripts"][0]["transcript"])
    scaled["transcripts"] = [{"transcript": " ".join(texts)}]
    return document


def scaled_transcript_bytes(seconds: float) -> bytes:
    return json.dumps(scaled_transcript(seconds)).encode("utf-8")


def _srt_time(seconds: float) -> str:
    ms = round(seconds * 1000)
    hours, rest = divmod(ms, 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    secs, millis = divmod(rest, 1000)
    return f"{hours:02d}:{minutes:02d}:{secs:02d},{millis:03d}"


def plain_text_and_srt(raw: bytes) -> tuple[bytes, bytes]:
    """The plain baseline: what a short script would do with a Transcribe output.

    json.loads, punctuation glued to the word before it, the words joined as text and
    cut into SRT cues of ten words. No validation, no speakers, no line layout, and the
    garbage collector left as Python runs it: the least work that writes text and SRT.
    """
    words: list[list[Any]] = []  # [text, start, end]
    for item in json.loads(raw)["results"]["items"]:
        content = item["alternatives"][0]["content"]
        if item["type"] == "punctuation":
            if words:
                words[-1][0] += content
            continue
        words.append([content, float(item["start_time"]), float(item["end_time"])])
    text = " ".join(word[0] for word in words) + "\n"
    cues = []
    for number, first in enumerate(range(0, len(words), 10), start=1):
        cue = words[first : first + 10]
        cues.append(
            f"{number}\n{_srt_time(cue[0][1])} --> {_srt_time(cue[-1][2])}\n"
            + " ".join(word[0] for word in cue)
            + "\n"
        )
    return text.encode("utf-8"), "\n".join(cues).encode("utf-8")
