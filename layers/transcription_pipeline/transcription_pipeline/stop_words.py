"""Stop words per language: the words never taken as summary keywords.

English keeps this project's own list, written for speech. Other languages come from
the ``stopwordsiso`` package (MIT; the stopwords-iso collection, 58 languages in one
75 KB wheel, pure Python), loaded on first use and kept for the life of the process.
Measured on these machines: importing it and reading one language costs about 8 ms
when importlib.metadata is already loaded (as it is in the Lambda functions), 30 ms
otherwise; it parses all languages at import (about 4 ms of JSON).

Of Transcribe's 93 languages (languages.py), 51 have a list. These 42 have none and get
no stop words: ab am ast az ba be bs ckb cy gd ht is jv ka kab kk km kn ky lg mhr mi mk
ml mn mt my ne or pa ps rw si sq sr su ta te tt ug uz wo. Their keywords are the
weightiest words as they are, which beats dropping words by another language's list;
test_scripts.py holds the count, so a package update that adds some is noticed.
"""

from __future__ import annotations

import functools
import unicodedata

__all__ = ["ENGLISH_STOP_WORDS", "stop_words"]

# English stop words, kept as one word block: easier to review than 280 quoted strings.
# The package's English list is not used: it is written for web text and holds content
# words ("computer", "information", "research", "system", "world") but not "uh" or "yeah".
ENGLISH_STOP_WORDS: frozenset[str] = frozenset(
    """
    a about above after again against ago all almost also although always am among an
    and another any anybody anyone anything anyway anywhere are aren't around as ask
    asked at away back be became because become been before behind being below beside
    besides best better between beyond both but by came can can't cannot could couldn't
    did didn't do does doesn't doing don't done down during each either else enough
    even ever every everybody everyone everything except far few for from further get
    gets getting give given go goes going gone got gotten had hadn't has hasn't have
    haven't having he he'd he'll he's her here here's hers herself him himself his how
    how's however i i'd i'll i'm i've if in indeed instead into is isn't it it's its
    itself just keep kind know last least less let let's like likely made make many may
    maybe me might mine more most much must mustn't my myself namely near need neither
    never new next no nobody none nor not nothing now of off often oh ok okay old on
    once one only onto or other others otherwise ought our ours ourselves out over own
    per perhaps please put quite rather really right said same say says see seem seemed
    seems shall shan't she she'd she'll she's should shouldn't since so some somebody
    someone something sometimes somewhat still such sure take than that that's the
    their theirs them themselves then there there's these they they'd they'll they're
    they've thing things think this those though thus till to together told too took
    toward towards um uh under unless until up upon us use used very via was wasn't way
    we we'd we'll we're we've well went were weren't what what's whatever when when's
    whenever where where's whereas wherever whether which while who who's whoever whole
    whom whose why why's will with within without won't would wouldn't yeah yes yet you
    you'd you'll you're you've your yours yourself yourselves
    """.split()  # noqa: SIM905
)

# The packaged lists come from written text; speech adds its fillers and back-channels.
_SPOKEN: dict[str, frozenset[str]] = {
    "de": frozenset("äh ähm hm hmm halt genau ja okay".split()),  # noqa: SIM905
    "es": frozenset("eh em este pues vale bueno sí".split()),  # noqa: SIM905
    "fr": frozenset("euh bah ben hein voilà ouais oui".split()),  # noqa: SIM905
    "it": frozenset("ehm cioè allora ecco insomma sì".split()),  # noqa: SIM905
    "pt": frozenset("é tipo então né sim".split()),  # noqa: SIM905
    "ja": frozenset("はい ええ えー えっと あのー まあ そう うん ちょっと".split()),  # noqa: SIM905
    "zh": frozenset("嗯 啊 呃 哦 对 对对 那个 这个 就是 然后 没有".split()),  # noqa: SIM905
}


def _normal(word: str) -> str:
    """The form a summary term is compared in: NFC, lower case."""
    return unicodedata.normalize("NFC", word).lower()


@functools.cache
def _for_language(language: str) -> frozenset[str]:
    if language == "en":
        return ENGLISH_STOP_WORDS
    try:
        # Imported here, lazily: English transcripts never pay for it.
        import stopwordsiso
    except ImportError:  # pragma: no cover - the layer installs it; keywords still work
        packaged: set[str] = set()
    else:
        packaged = stopwordsiso.stopwords(language)
    return frozenset(_normal(word) for word in packaged | _SPOKEN.get(language, frozenset()))


def stop_words(language_code: str | None) -> frozenset[str]:
    """The stop words of a transcript's language (``es-US``, ``ja-JP``), lower case, NFC.

    English for en-* and for an unknown language (None, ``auto``): transcripts without
    a language code are the English-only pipeline's, and English stays as it was.
    """
    language = (language_code or "en").replace("_", "-").split("-", 1)[0].lower()
    if language in ("", "auto"):
        language = "en"
    return _for_language(language)
