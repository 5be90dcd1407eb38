"""transcript.txt: the words as readable paragraphs, one per turn."""

from __future__ import annotations

from collections.abc import Sequence

from transcription_pipeline.scripts import LATIN, WritingSystem
from transcription_pipeline.transcript import LabelKind
from transcription_pipeline.turns import Turn, turns_of
from transcription_pipeline.words import Word, format_clock


def text_from_words(
    words: Sequence[Word], labels: LabelKind | None, *, writing: WritingSystem = LATIN
) -> str:
    """Paragraphs: one per speaker turn with labels, else split at long pauses and every
    few sentences; words joined as the writing system joins them.

    No direction marks, even for right-to-left text: transcript.txt is the text people
    search, copy and feed to other tools, where invisible marks get in the way (a
    search for a word preceded by one fails). Editors that detect a plain-text
    paragraph's direction do it per paragraph from its first strong letter: the
    speech's own in an unlabelled paragraph; a labelled one reads as a left-to-right
    "[00:15] spk_1:" label followed by right-to-left runs, which stay in order.
    """
    return text_from_turns(turns_of(words, labels), labels, writing=writing)


def text_from_turns(
    turns: Sequence[Turn], labels: LabelKind | None, *, writing: WritingSystem = LATIN
) -> str:
    """transcript.txt from turns already made (turns.turns_of): see text_from_words."""
    if not turns:
        return ""
    labelled = labels is not None
    paragraphs = [
        (f"[{format_clock(turn.start)}] {turn.speaker or 'unknown'}: " if labelled else "")
        + writing.join([word.text for word in turn.words])
        for turn in turns
    ]
    return "\n\n".join(paragraphs) + "\n"
