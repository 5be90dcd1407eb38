"""Words: a transcript's items as a reader sees them.

The one place where items become words: punctuation attached to the word before it,
untimed words given the previous word's end, each word with its speaker or channel
label. The text, the subtitles (render.py) and the summary (summary.py) all start from
these words; process.render_outputs groups them once per transcript and hands them on.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import NamedTuple

from transcription_pipeline.transcript import SENTENCE_END, Item

__all__ = [
    "SENTENCE_END_MARKS",
    "Word",
    "format_clock",
    "group_words",
    "name_speakers",
    "speakers_in_order",
]

# Marks that end a sentence: transcript.SENTENCE_END (. ? ! and their full-width forms)
# and those of other scripts Transcribe writes: Arabic question mark and Urdu full stop,
# Devanagari danda and double danda (Hindi, Marathi), Armenian full stop, Ethiopic full
# stop and question mark (Amharic), Myanmar section, Khmer khan, full-width full stop.
SENTENCE_END_MARKS = SENTENCE_END | frozenset(
    "\u061f\u06d4\u0964\u0965\u0589\u1362\u1367\u104b\u17d4\uff0e"
)


class Word(NamedTuple):
    """A pronunciation item with the punctuation that follows it attached.

    A NamedTuple rather than a frozen dataclass: just as immutable, and several times
    cheaper to build (a 4-hour transcript has ~36,000 words).
    """

    text: str  # as written: punctuation before the first word, the word, punctuation after
    content: str  # the word alone
    start: float
    end: float
    confidence: float | None
    speaker: str | None  # speaker or channel label; None when the transcript has no labels
    sentence_end: bool  # followed by . ? ! (or the like: SENTENCE_END_MARKS)
    clause_end: bool  # followed by any punctuation


def group_words(items: Iterable[Item]) -> tuple[Word, ...]:
    """Attach punctuation to words; give untimed words the previous word's end.

    Punctuation before any word leads the first word. A word's speaker is its own;
    the speaker of punctuation (the word's, after parsing) is not looked at.
    """
    words: list[Word] = []
    append = words.append
    # The word being assembled; it is emitted once its trailing punctuation is known.
    text = content = ""
    start = end = last_end = 0.0
    confidence: float | None = None
    speaker: str | None = None
    sentence_end = clause_end = False
    open_word = False
    prefix = ""
    for kind, item_content, item_start, item_end, item_confidence, item_speaker in items:
        if kind == "punctuation":
            if open_word:
                text += item_content
                if item_content in SENTENCE_END_MARKS:
                    sentence_end = True
                clause_end = True
            else:
                prefix += item_content
            continue
        if open_word:
            append(Word(text, content, start, end, confidence, speaker, sentence_end, clause_end))
        start = item_start if item_start is not None else last_end
        end = item_end if item_end is not None else start
        if end > last_end:
            last_end = end
        text, content = prefix + item_content, item_content
        confidence, speaker = item_confidence, item_speaker
        sentence_end = clause_end = False
        open_word = True
        prefix = ""
    if open_word:
        append(Word(text, content, start, end, confidence, speaker, sentence_end, clause_end))
    return tuple(words)


def speakers_in_order(words: Iterable[Word]) -> list[str]:
    """Speaker labels in the order they first speak."""
    seen: dict[str, None] = {}
    for word in words:
        if word.speaker is not None and word.speaker not in seen:
            seen[word.speaker] = None
    return list(seen)


def name_speakers(words: Sequence[Word], names: Mapping[str, str]) -> tuple[Word, ...]:
    """The words with the speakers' names in place of their labels (spk_0 -> Ana), once,
    so the text, the subtitles and the summary all show the same names."""
    if not names:
        return tuple(words)
    return tuple(
        word._replace(speaker=names.get(word.speaker, word.speaker)) if word.speaker else word
        for word in words
    )


def format_clock(seconds: float) -> str:
    """mm:ss, or h:mm:ss from one hour on (floored to the second)."""
    total = max(0, int(seconds))
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}:{minutes:02d}:{secs:02d}"
    return f"{minutes:02d}:{secs:02d}"
