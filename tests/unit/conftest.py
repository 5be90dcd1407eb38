"""Transcribe fixtures for the unit tests, loaded in one place.

    from tests.unit.conftest import ALL_FIXTURES, fixture_bytes, fixture_json, parsed

The files are tests/fixtures/transcribe/*.json (real Transcribe outputs and variants
derived from them, see SOURCE.md there).
"""

from __future__ import annotations

import functools
import json
import random
import re
from collections.abc import Sequence
from typing import Any

from tests.conftest import TRANSCRIPTS
from transcription_pipeline.chapters import Passage
from transcription_pipeline.summary import STOP_WORDS
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


# -- synthetic talks about distinct topics (chapters and summaries) -------------------------
def vocabulary(words: str) -> tuple[str, ...]:
    return tuple(words.split())


# Four topics with vocabularies of their own, and filler every topic uses.
TOPICS: dict[str, tuple[str, ...]] = {
    "cooking": vocabulary(
        "oven recipe flour butter sugar bake dough kitchen pastry whisk simmer garlic onion "
        "sauce roast"
    ),
    "astronomy": vocabulary(
        "telescope galaxy planet orbit comet nebula star astronomer gravity eclipse satellite "
        "cosmos lunar solar meteor"
    ),
    "football": vocabulary(
        "goal striker referee penalty stadium midfield coach league match defender tackle "
        "keeper season trophy offside"
    ),
    "finance": vocabulary(
        "budget invoice revenue profit ledger audit investor dividend equity capital loan "
        "interest mortgage bank tax"
    ),
}
FILLER = vocabulary(
    "basically actually people time really great question point talk today important "
    "example different"
)
SMALL_WORDS = ("the", "and", "it", "was", "we", "so", "a", "of", "to")
SECONDS_PER_WORD = 0.5
PAUSE_SECONDS = 0.6


def terms_of(text: str) -> tuple[str, ...]:
    """As the brief has summary.py build them: lower-cased alphabetic words of three
    letters or more that are not stop words."""
    return tuple(
        term
        for term in re.findall(r"[^\W\d_]+", text.lower())
        if len(term) >= 3 and term not in STOP_WORDS
    )


def sentence(topic: str, rng: random.Random) -> str:
    words = []
    for _ in range(rng.randint(10, 18)):
        roll = rng.random()
        if roll < 0.35:
            words.append(rng.choice(TOPICS[topic]))
        elif roll < 0.6:
            words.append(rng.choice(FILLER))
        else:
            words.append(rng.choice(SMALL_WORDS))
    return " ".join(words) + "."


def timed(texts: Sequence[str], speakers: Sequence[str | None] | None = None) -> list[Passage]:
    """Passages read one after the other at SECONDS_PER_WORD, PAUSE_SECONDS apart."""
    passages = []
    clock = 0.0
    for index, text in enumerate(texts):
        seconds = len(text.split()) * SECONDS_PER_WORD
        speaker = speakers[index] if speakers is not None else None
        passages.append(Passage(clock, clock + seconds, speaker, text, terms_of(text)))
        clock += seconds + PAUSE_SECONDS
    return passages


def talk(topics: Sequence[str], per_topic: int, seed: int = 7) -> tuple[list[Passage], list[int]]:
    """Passages about each topic in turn, and the indices where a new topic starts."""
    rng = random.Random(seed)
    texts: list[str] = []
    joins: list[int] = []
    for topic in topics:
        if texts:
            joins.append(len(texts))
        texts += [sentence(topic, rng) for _ in range(per_topic)]
    return timed(texts), joins
