"""The transcript as the model reads it: one line per speaker turn or group of sentences.

    [0:01:05] Ana: We should ship on Friday. I'll write the release notes.

Lines give the model the times it copies into chapters, and the speakers' names it may
give as owners; chunking (chunks.py) cuts between whole lines.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

from transcription_pipeline.words import Word

__all__ = [
    "LINE_MAX_WORDS",
    "LINE_TARGET_WORDS",
    "TranscriptLine",
    "clock",
    "parse_clock",
    "transcript_lines",
]

# A line ends at the first sentence end after this many words (a new speaker always
# starts a line), and at this many words at the latest (unpunctuated speech).
LINE_TARGET_WORDS = 30
LINE_MAX_WORDS = 80


def clock(seconds: float) -> str:
    """h:mm:ss, floored to the second (the form every line and chapter uses)."""
    total = max(0, int(seconds))
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}"


def parse_clock(text: str) -> float | None:
    """Seconds from h:mm:ss, mm:ss or a plain number of seconds; None when not a time."""
    text = text.strip().strip("[]").strip()
    if not text:
        return None
    parts = text.split(":")
    if len(parts) > 3:
        return None
    try:
        numbers = [float(part) for part in parts]
    except ValueError:
        return None
    if any(number < 0 for number in numbers) or any(n >= 60 for n in numbers[1:]):
        return None
    seconds = 0.0
    for number in numbers:
        seconds = seconds * 60 + number
    return seconds


class TranscriptLine(NamedTuple):
    start: float
    speaker: str | None
    words: tuple[Word, ...]
    joiner: str  # between words: " ", or "" for scripts written without spaces

    @property
    def end(self) -> float:
        return max(word.end for word in self.words)

    @property
    def prefix(self) -> str:
        """``[h:mm:ss] Speaker: `` or ``[h:mm:ss] ``."""
        if self.speaker:
            return f"[{clock(self.start)}] {self.speaker}: "
        return f"[{clock(self.start)}] "

    def render(self) -> str:
        return self.prefix + self.joiner.join(word.text for word in self.words)


def transcript_lines(words: Sequence[Word], *, joiner: str = " ") -> tuple[TranscriptLine, ...]:
    """Group the words into lines: a new line for a new speaker, after a sentence end once
    a line holds LINE_TARGET_WORDS words, and at LINE_MAX_WORDS words."""
    lines: list[TranscriptLine] = []
    current: list[Word] = []

    def close() -> None:
        if current:
            speaker = _one_line(current[0].speaker) if current[0].speaker else None
            lines.append(TranscriptLine(current[0].start, speaker, tuple(current), joiner))
            current.clear()

    for word in words:
        if not word.text.strip():
            continue
        if current and word.speaker != current[0].speaker:
            close()
        # A line break or other control character inside a word (none from Transcribe)
        # would break the one-line form the prompt describes.
        if not word.text.isprintable():
            word = word._replace(text="".join(c if c.isprintable() else " " for c in word.text))
        current.append(word)
        if len(current) >= LINE_MAX_WORDS or (
            len(current) >= LINE_TARGET_WORDS and word.sentence_end
        ):
            close()
    close()
    return tuple(lines)


def _one_line(text: str) -> str:
    return " ".join(text.split())
