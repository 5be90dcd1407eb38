"""Transcribe fixtures for the unit tests, loaded in one place.

    from tests.unit.conftest import ALL_FIXTURES, fixture_bytes, fixture_json, parsed

The files are tests/fixtures/transcribe/*.json (real Transcribe outputs and variants
derived from them, see SOURCE.md there).
"""

from __future__ import annotations

import functools
import json
from typing import Any

from tests.conftest import TRANSCRIPTS
from transcription_pipeline.transcript import Transcript, parse_transcript

ALL_FIXTURES = sorted(path.name for path in TRANSCRIPTS.glob("*.json"))
EMPTY_FIXTURE = "v4-empty.json"  # a job that heard no speech
SPEECH_FIXTURES = [name for name in ALL_FIXTURES if name != EMPTY_FIXTURE]


@functools.cache
def fixture_bytes(name: str) -> bytes:
    """The fixture file as Transcribe wrote it."""
    return (TRANSCRIPTS / name).read_bytes()


def fixture_json(name: str) -> dict[str, Any]:
    """The fixture's JSON document; a fresh copy each call, so a test may change it."""
    document: dict[str, Any] = json.loads(fixture_bytes(name))
    return document


@functools.cache
def parsed(name: str) -> Transcript:
    """The fixture parsed (a Transcript is immutable, so one parse serves every test)."""
    return parse_transcript(fixture_bytes(name))
