"""Word error rate: how far a recognised text is from what was said.

Both texts are normalised the same way (case folded, punctuation dropped,
hyphens and apostrophes kept inside words), then compared word by word with
the Levenshtein distance: substitutions + deletions + insertions, divided by
the number of reference words.
"""

from __future__ import annotations

import re

__all__ = ["normalise_words", "word_error_rate"]

# A word is a run of letters/digits, possibly joined by apostrophes or hyphens
# ("don't", "real-time", "3.5" is split into "3" and "5" on both sides alike).
_WORD = re.compile(r"[^\W_]+(?:['\u2019-][^\W_]+)*")


def normalise_words(text: str) -> list[str]:
    """Lower-cased words of ``text`` without punctuation."""
    return [word.replace("\u2019", "'") for word in _WORD.findall(text.casefold())]


def word_error_rate(reference: str, hypothesis: str) -> float:
    """Word-level edit distance divided by the reference length.

    An empty reference gives 0.0 for an empty hypothesis and 1.0 otherwise
    (every recognised word is an insertion). The rate can exceed 1.0 when the
    hypothesis is much longer than the reference.
    """
    ref = normalise_words(reference)
    hyp = normalise_words(hypothesis)
    if not ref:
        return 0.0 if not hyp else 1.0
    # One row of the dynamic-programming table at a time: O(len(hyp)) memory.
    previous = list(range(len(hyp) + 1))
    for i, ref_word in enumerate(ref, start=1):
        current = [i]
        for j, hyp_word in enumerate(hyp, start=1):
            cost = 0 if ref_word == hyp_word else 1
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost))
        previous = current
    return previous[-1] / len(ref)
