"""Turns: the words as a reader's paragraphs, one speaker each.

With speaker or channel labels a turn is a speaker's run of words; without, the words are
cut after a sentence that ends before a long pause or after a few sentences. transcript.txt,
transcript.html and transcript.docx all show these turns.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

from transcription_pipeline.transcript import LabelKind
from transcription_pipeline.words import Word

__all__ = ["PARAGRAPH_MAX_SENTENCES", "PARAGRAPH_PAUSE_SECONDS", "Turn", "turns_of"]

PARAGRAPH_PAUSE_SECONDS = 2.0
PARAGRAPH_MAX_SENTENCES = 6


class Turn(NamedTuple):
    start: float
    end: float
    speaker: str | None  # the name or label; None without labels
    words: tuple[Word, ...]


def turns_of(words: Sequence[Word], labels: LabelKind | None) -> tuple[Turn, ...]:
    """One turn per speaker change with labels, else paragraphs cut at long pauses and
    every few sentences."""
    labelled = labels is not None
    turns: list[Turn] = []
    current: list[Word] = []
    sentences = 0

    def close() -> None:
        if current:
            turns.append(
                Turn(
                    current[0].start,
                    max(word.end for word in current),
                    current[0].speaker if labelled else None,
                    tuple(current),
                )
            )

    previous: Word | None = None
    for word in words:
        if previous is not None and (
            word.speaker != previous.speaker
            if labelled
            else previous.sentence_end
            and (
                word.start - previous.end >= PARAGRAPH_PAUSE_SECONDS
                or sentences >= PARAGRAPH_MAX_SENTENCES
            )
        ):
            close()
            current, sentences = [], 0
        current.append(word)
        sentences += word.sentence_end
        previous = word
    close()
    return tuple(turns)
