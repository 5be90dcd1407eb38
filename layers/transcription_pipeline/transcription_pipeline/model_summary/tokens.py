"""A conservative token estimate, without a tokenizer (the layer ships none).

The estimate is a third of a token per UTF-8 byte, plus two thirds more per digit:

- ASCII letters, spaces and punctuation (1 byte): 1/3 token each. English runs about
  4 characters a token in the models' own counts, so this overestimates by about a third.
- Latin with accents, Greek, Cyrillic, Hebrew, Arabic (2 bytes): 2/3 token a character.
- CJK, kana, Hangul, Thai, Devanagari and other Indic scripts (3 bytes): 1 token a
  character, about what tokenizers spend on them.
- Digits: 1 token each, since tokenizers often split numbers (and every transcript line
  starts with an h:mm:ss time).

The weights add up exactly over concatenated text, so a line's cost is the sum of its
words' weights and chunking never renders a text twice.
"""

from __future__ import annotations

__all__ = ["MESSAGE_OVERHEAD_TOKENS", "estimate_tokens", "text_weight", "tokens_for_weight"]

# Roles, turn markers and the system block a chat template wraps around one request.
MESSAGE_OVERHEAD_TOKENS = 16

_WEIGHT_PER_TOKEN = 3


def text_weight(text: str) -> int:
    """Thirds of a token: UTF-8 bytes plus two per digit."""
    return len(text.encode("utf-8")) + 2 * sum(map(str.isdigit, text))


def tokens_for_weight(weight: int) -> int:
    return -(-weight // _WEIGHT_PER_TOKEN)


def estimate_tokens(text: str) -> int:
    """At least as many tokens as a model's tokenizer counts for ``text`` (see above)."""
    return tokens_for_weight(text_weight(text))
