"""Writing systems: how a transcript's language is written on a line.

Which string joins two words (a space, or nothing in Japanese, Chinese and Thai), the
direction of the text, how wide a subtitle line may be and how wide a word must be to
count as a summary term. Widths are display columns (display_width): an East Asian
wide or full-width character takes two, a combining mark none, everything else one.

Pure: from a language code (``ja-JP``, ``ar-SA``, ``en-US`` or None) to plain data.
"""

from __future__ import annotations

import functools
import itertools
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass

__all__ = [
    "CHINESE",
    "JAPANESE",
    "KOREAN",
    "LATIN",
    "RIGHT_TO_LEFT",
    "RIGHT_TO_LEFT_MARK",
    "SOUTHEAST_ASIAN",
    "WritingSystem",
    "display_width",
    "writing_system",
]

# U+200F: an invisible strong right-to-left character (see render.py for its use).
RIGHT_TO_LEFT_MARK = "\u200f"


@dataclass(frozen=True, slots=True)
class WritingSystem:
    """How the words of one language are laid out."""

    name: str  # for logs and tests: "latin", "japanese", ...
    joiner: str  # between two words: " ", or "" where the script has no word spaces
    right_to_left: bool
    max_line_width: int  # a subtitle line, in display columns
    min_term_width: int  # a shorter word is never a summary term (display columns)

    def separator(self, before: str, after: str) -> str:
        """What goes between two words' texts.

        The joiner, except that in a script without word spaces two words of a
        space-separated script keep a space ("AWS Lambda" inside Japanese, not
        "AWSLambda").
        """
        if self.joiner or not before or not after:
            return self.joiner
        return " " if _spaced_end(before[-1]) and _spaced_start(after[0]) else ""

    def join(self, texts: Sequence[str]) -> str:
        """Words' texts as one line of text."""
        if self.joiner or len(texts) < 2:
            return self.joiner.join(texts)
        parts = [texts[0]]
        for before, after in itertools.pairwise(texts):
            separator = self.separator(before, after)
            if separator:
                parts.append(separator)
            parts.append(after)
        return "".join(parts)


# Line widths: Netflix Timed Text Style Guides, which count a full-width character as 1
# and a half-width one as 0.5, i.e. half of display_width. General Requirements and
# English template: 42 characters per line (most languages, Arabic and Hebrew too);
# Japanese: 13 full-width characters per horizontal line; Simplified and Traditional
# Chinese: 16; Korean: 16 (Latin letters, spaces, punctuation 0.5); Thai: 35.
# https://partnerhelp.netflixstudios.com/hc/en-us/articles/215767517-Japanese-Timed-Text-Style-Guide
# https://partnerhelp.netflixstudios.com/hc/en-us/articles/216001127-Korean-Timed-Text-Style-Guide
# https://backlothelp.netflix.com/hc/en-us/articles/220448308-Thai-Timed-Text-Style-Guide
# Term widths: 3 letters as before for alphabets (shorter words are mostly function
# words); 2 characters (4 columns) for CJK, whose one-character words are mostly
# particles, pronouns and very common verbs; 2 columns for Thai-like scripts, whose
# vowel and tone marks take no column (ที่ is one column wide).
LATIN = WritingSystem("latin", " ", False, 42, 3)
RIGHT_TO_LEFT = WritingSystem("right-to-left", " ", True, 42, 3)
JAPANESE = WritingSystem("japanese", "", False, 26, 4)
CHINESE = WritingSystem("chinese", "", False, 32, 4)
KOREAN = WritingSystem("korean", " ", False, 32, 4)
# Thai, Lao, Khmer, Burmese: no spaces between words; Thai's limit stands for all four.
SOUTHEAST_ASIAN = WritingSystem("southeast-asian", "", False, 35, 2)

# ISO 639 codes (with the retired iw/ji) of languages written right to left.
_RIGHT_TO_LEFT_LANGUAGES = frozenset(
    "ar arc azb ckb dv fa he iw ji ks lrc mzn nqo pnb prs ps sd syr ug ur yi".split()  # noqa: SIM905
)
_BY_LANGUAGE: dict[str, WritingSystem] = {
    "ja": JAPANESE,
    "ko": KOREAN,
    "th": SOUTHEAST_ASIAN,
    "lo": SOUTHEAST_ASIAN,
    "km": SOUTHEAST_ASIAN,
    "my": SOUTHEAST_ASIAN,
    **dict.fromkeys(("zh", "yue", "cmn", "wuu", "hak", "nan"), CHINESE),
    **dict.fromkeys(_RIGHT_TO_LEFT_LANGUAGES, RIGHT_TO_LEFT),
}
# An explicit script subtag (BCP 47 "pa-Arab", "uz-Latn", "zh-Hant") wins over the language.
_BY_SCRIPT: dict[str, WritingSystem] = {
    "latn": LATIN,
    "cyrl": LATIN,
    "grek": LATIN,
    "hans": CHINESE,
    "hant": CHINESE,
    "jpan": JAPANESE,
    "kore": KOREAN,
    "thai": SOUTHEAST_ASIAN,
    **dict.fromkeys(("arab", "hebr", "thaa", "syrc", "nkoo", "adlm", "rohg"), RIGHT_TO_LEFT),
}


@functools.lru_cache(maxsize=256)
def writing_system(language_code: str | None) -> WritingSystem:
    """The writing system of a language code (``ja-JP``, ``zh_TW``, ``pa-Arab-PK``);
    LATIN for None, ``auto`` and unknown languages."""
    if not language_code:
        return LATIN
    subtags = language_code.replace("_", "-").lower().split("-")
    for subtag in subtags[1:]:
        if len(subtag) == 4 and subtag in _BY_SCRIPT:
            return _BY_SCRIPT[subtag]
    return _BY_LANGUAGE.get(subtags[0], LATIN)


def _char_width(char: str) -> int:
    category = unicodedata.category(char)
    # Non-spacing and enclosing marks (Thai vowels and tone marks, Arabic harakat) and
    # format characters (zero-width joiners, direction marks) take no column. Spacing
    # marks (Mc, many Indic vowel signs) do.
    if category in ("Mn", "Me", "Cf"):
        return 0
    if unicodedata.east_asian_width(char) in ("W", "F"):
        return 2
    return 1


@functools.lru_cache(maxsize=8192)
def _non_ascii_width(text: str) -> int:
    return sum(map(_char_width, text))


def display_width(text: str) -> int:
    """Columns the text takes in a monospaced East Asian aware layout (as wcwidth)."""
    if text.isascii():
        return len(text)  # one column each: the common case, without a lookup per character
    # Speech repeats its words: the cache spares recounting them.
    return _non_ascii_width(text)


def _spaced_char(char: str) -> bool:
    # Letters and digits of the scripts below Hebrew (Latin, Greek, Cyrillic, Armenian),
    # which put spaces between words.
    return char < "\u0590" and char.isalnum()


def _spaced_end(char: str) -> bool:
    return _spaced_char(char) or char in ",.;:!?%)"


def _spaced_start(char: str) -> bool:
    return _spaced_char(char)
