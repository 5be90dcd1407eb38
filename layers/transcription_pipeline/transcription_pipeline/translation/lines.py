"""Translated cue text wrapped into at most two subtitle lines of the target's width."""

from __future__ import annotations

from transcription_pipeline.scripts import display_width

_FULL_WIDTH_PUNCTUATION = "\u3001\u3002\uff0c\uff1b\uff1a\uff01\uff1f"
# A space is a break point too where words are not spaced (Thai spaces phrases).
_BREAK_AFTER = frozenset(".,;:!? " + _FULL_WIDTH_PUNCTUATION)
_BREAK_BONUS = 12  # as render's layout: a break after punctuation is worth 12 columns


def _clusters(text: str) -> list[str]:
    """Characters with the marks that follow them (a Thai vowel stays on its consonant)."""
    clusters: list[str] = []
    for char in text:
        if clusters and display_width(char) == 0:
            clusters[-1] += char
        else:
            clusters.append(char)
    return clusters


def wrap_cue_text(text: str, *, max_line_width: int = 42, joiner: str = " ") -> tuple[str, ...]:
    """A translated cue text as at most two lines, like render's layout: one line if it
    fits, else the most balanced split (preferring a break after punctuation) that keeps
    both lines within ``max_line_width`` display columns; a text too long for that still
    gets two lines, the most balanced ones. ``joiner`` "" splits between characters
    (Japanese, Chinese, Thai), keeping the text's own spaces."""
    text = text.strip()
    tokens = text.split() if joiner else _clusters(text)
    if not tokens:
        return ("",)
    lengths = [display_width(token) for token in tokens]
    total = sum(lengths) + len(joiner) * (len(tokens) - 1)
    if total <= max_line_width or len(tokens) == 1:
        return (joiner.join(tokens),)
    best: tuple[int, int, int] | None = None  # (overflow, cost, split index)
    first = -len(joiner)
    for j in range(1, len(tokens)):
        first += len(joiner) + lengths[j - 1]
        second = total - first - len(joiner)
        overflow = max(0, first - max_line_width) + max(0, second - max_line_width)
        bonus = _BREAK_BONUS if tokens[j - 1][-1] in _BREAK_AFTER else 0
        candidate = (overflow, abs(first - second) - bonus, j)
        if best is None or candidate[:2] < best[:2]:
            best = candidate
    assert best is not None  # at least two tokens
    j = best[2]
    lines = (joiner.join(tokens[:j]).strip(), joiner.join(tokens[j:]).strip())
    return tuple(line for line in lines if line) or ("",)


# -- the use case ------------------------------------------------------------------------
