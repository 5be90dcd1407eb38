"""Long transcripts for benchmarks: a real Transcribe output repeated with shifted times.

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
