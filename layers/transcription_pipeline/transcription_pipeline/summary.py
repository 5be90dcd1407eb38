"""Offline transcript summary: facts, speakers, highlights and keywords.

Deterministic (same transcript -> identical dict) and linear in the number
of words. Highlights and keywords use TF-IDF-like weights where each
sentence is a "document"; no model, no network.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from transcription_pipeline.render import Word, format_clock, group_words
from transcription_pipeline.transcript import Transcript

__all__ = [
    "LOW_CONFIDENCE_THRESHOLD",
    "MAX_KEYWORDS",
    "SCHEMA_VERSION",
    "STOP_WORDS",
    "build_summary",
    "render_summary_markdown",
]

SCHEMA_VERSION = 1
# A word whose first alternative scores below this counts as low confidence.
LOW_CONFIDENCE_THRESHOLD = 0.5
MAX_KEYWORDS = 10
MIN_HIGHLIGHTS = 3
MAX_HIGHLIGHTS = 5
# Roughly one highlight per this many sentences, clamped to MIN..MAX.
SENTENCES_PER_HIGHLIGHT = 10
# Candidate highlight length in words: shorter is rarely informative, longer
# is unreadable as a bullet (used only if any sentence qualifies).
MIN_HIGHLIGHT_WORDS = 5
MAX_HIGHLIGHT_WORDS = 60
MIN_TERM_CHARS = 3

# English stop words, kept as one word block: easier to review than 280 quoted strings.
STOP_WORDS: frozenset[str] = frozenset(
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

_TOKEN = re.compile(r"[^\W\d_]+(?:'[^\W\d_]+)*")


def _is_masked(content: str) -> bool:
    """Redaction ("[PII]" or other bracketed tags) and vocabulary-filter masks ("***")."""
    stripped = content.strip()
    if stripped.startswith("[") and stripped.endswith("]"):
        return True
    return bool(stripped) and set(stripped) == {"*"}


def _terms(word: Word) -> list[str]:
    if _is_masked(word.content):
        return []
    text = word.content.lower().replace("\u2019", "'")
    return [
        term
        for term in _TOKEN.findall(text)
        if len(term) >= MIN_TERM_CHARS and term not in STOP_WORDS
    ]


@dataclass(frozen=True, slots=True)
class _Sentence:
    index: int
    start: float
    speaker: str | None
    text: str
    word_count: int
    terms: tuple[str, ...]


def _sentences(words: list[Word]) -> list[_Sentence]:
    """Split at sentence-final punctuation and at speaker changes."""
    out: list[_Sentence] = []
    current: list[Word] = []

    def close() -> None:
        terms = tuple(term for w in current for term in _terms(w))
        out.append(
            _Sentence(
                index=len(out),
                start=current[0].start,
                speaker=current[0].speaker,
                text=" ".join(w.text for w in current),
                word_count=len(current),
                terms=terms,
            )
        )

    for word in words:
        if current and word.speaker != current[-1].speaker:
            close()
            current = []
        current.append(word)
        if word.sentence_end:
            close()
            current = []
    if current:
        close()
    return out


def _term_weights(sentences: list[_Sentence]) -> tuple[dict[str, float], dict[str, int]]:
    """tf x idf per term, sentences as documents; also first-seen order for ties."""
    tf: Counter[str] = Counter()
    df: Counter[str] = Counter()
    first_seen: dict[str, int] = {}
    for sentence in sentences:
        tf.update(sentence.terms)
        df.update(set(sentence.terms))
        for term in sentence.terms:
            first_seen.setdefault(term, len(first_seen))
    n = len(sentences)
    # +1 keeps a term that occurs in every sentence from scoring zero.
    weights = {term: count * (math.log(n / df[term]) + 1.0) for term, count in tf.items()}
    return weights, first_seen


def _keywords(weights: dict[str, float], first_seen: dict[str, int]) -> list[str]:
    ranked = sorted(weights, key=lambda term: (-weights[term], first_seen[term]))
    return ranked[:MAX_KEYWORDS]


def _highlights(sentences: list[_Sentence], weights: dict[str, float]) -> list[dict[str, Any]]:
    scored = [s for s in sentences if s.terms]
    candidates = [
        s for s in scored if MIN_HIGHLIGHT_WORDS <= s.word_count <= MAX_HIGHLIGHT_WORDS
    ] or scored
    if not candidates:
        return []
    wanted = min(
        len(candidates),
        max(MIN_HIGHLIGHTS, min(MAX_HIGHLIGHTS, len(sentences) // SENTENCES_PER_HIGHLIGHT)),
    )

    def score(s: _Sentence) -> float:
        # Unique terms so repetition inside one sentence does not dominate;
        # sqrt length damping so long run-on sentences do not always win.
        return sum(weights[term] for term in set(s.terms)) / math.sqrt(s.word_count)

    ranked = sorted(candidates, key=lambda s: (-score(s), s.index))
    chosen: list[_Sentence] = []
    seen_texts: set[str] = set()
    for sentence in ranked:
        key = sentence.text.lower()
        if key in seen_texts:
            continue
        seen_texts.add(key)
        chosen.append(sentence)
        if len(chosen) == wanted:
            break
    chosen.sort(key=lambda s: s.index)
    return [
        {"start_seconds": round(s.start, 2), "speaker": s.speaker, "text": s.text} for s in chosen
    ]


def _natural_key(label: str) -> tuple[str, int, str]:
    # spk_2 before spk_10.
    match = re.fullmatch(r"(.*?)(\d+)", label)
    if match:
        return (match.group(1), int(match.group(2)), label)
    return (label, -1, label)


def _speakers(t: Transcript, words: list[Word]) -> list[dict[str, Any]]:
    if t.labels is None or not words:
        return []
    talk: dict[str, float] = {}
    count: Counter[str] = Counter()
    for word in words:
        if word.speaker is None:
            continue
        count[word.speaker] += 1
        talk[word.speaker] = talk.get(word.speaker, 0.0) + (word.end - word.start)
    total = len(words)
    return [
        {
            "label": label,
            "talk_time_seconds": round(talk[label], 2),
            "word_count": count[label],
            "share": round(count[label] / total, 4),
        }
        for label in sorted(count, key=_natural_key)
    ]


def build_summary(
    t: Transcript, *, source_bucket: str, source_key: str, created_at: str
) -> dict[str, Any]:
    """Summary dict for summary.json; see module constants for thresholds.

    speakers[].share is the speaker's share of the word count; talk time is
    the sum of that speaker's word durations (pauses excluded).
    """
    words = group_words(t)
    first_start = min((w.start for w in words), default=0.0)
    last_end = max((w.end for w in words), default=0.0)
    span = last_end - first_start
    confidences = [w.confidence for w in words if w.confidence is not None]
    low = sum(1 for c in confidences if c < LOW_CONFIDENCE_THRESHOLD)
    sentences = _sentences(words)
    weights, first_seen = _term_weights(sentences)
    return {
        "schema_version": SCHEMA_VERSION,
        "source": {"bucket": source_bucket, "key": source_key},
        "job_name": t.job_name,
        "created_at": created_at,
        "no_speech": not words,
        "redacted": t.redacted,
        "language_code": t.language_code,
        "language_score": round(t.language_score, 4) if t.language_score is not None else None,
        "labels": t.labels,
        "duration_seconds": round(last_end, 2),
        "word_count": len(words),
        "words_per_minute": round(len(words) * 60 / span, 1) if words and span > 0 else None,
        "average_confidence": (
            round(sum(confidences) / len(confidences), 4) if confidences else None
        ),
        "low_confidence_threshold": LOW_CONFIDENCE_THRESHOLD,
        "low_confidence_ratio": round(low / len(confidences), 4) if confidences else None,
        "speaker_share_basis": "word_count",
        "speakers": _speakers(t, words),
        "highlights": _highlights(sentences, weights),
        "keywords": _keywords(weights, first_seen),
    }


# "_" only at a word edge: intraword underscores (spk_0) never emphasise in CommonMark.
_MD_SPECIAL = re.compile(r"([\\`*<|]|(?<![0-9A-Za-z])_|_(?![0-9A-Za-z]))")


def _md(text: Any) -> str:
    """Minimal Markdown escaping for transcript-derived text on one line."""
    escaped = _MD_SPECIAL.sub(r"\\\1", " ".join(str(text).split()))
    return "\\" + escaped if escaped.startswith("#") else escaped


def _hms(seconds: float) -> str:
    total = max(0, int(seconds))
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}"


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def render_summary_markdown(summary: Mapping[str, Any]) -> str:
    source = summary.get("source")
    key = source.get("key") if isinstance(source, Mapping) else None
    name = str(key).rsplit("/", 1)[-1] if key else str(summary.get("job_name") or "transcript")
    lines = [f"# Transcript summary: {_md(name)}", ""]

    duration = _number(summary.get("duration_seconds")) or 0.0
    language = summary.get("language_code")
    language_text = _md(language) if language else "unknown"
    score = _number(summary.get("language_score"))
    if language and score is not None:
        language_text += f" (identified with score {score:.2f})"
    lines.append(f"- **Duration:** {_hms(duration)}")
    lines.append(f"- **Language:** {language_text}")
    lines.append(f"- **Words:** {int(_number(summary.get('word_count')) or 0)}")
    wpm = _number(summary.get("words_per_minute"))
    if wpm is not None:
        lines.append(f"- **Speaking rate:** {wpm:.0f} words per minute")
    confidence = _number(summary.get("average_confidence"))
    if confidence is not None:
        text = f"- **Average confidence:** {confidence:.1%}"
        ratio = _number(summary.get("low_confidence_ratio"))
        threshold = _number(summary.get("low_confidence_threshold"))
        if ratio is not None and threshold is not None:
            text += f" ({ratio:.1%} of words below {threshold:.0%})"
        lines.append(text)
    if summary.get("redacted"):
        lines.append("- **Redacted:** yes")
    lines.append("")

    if summary.get("no_speech"):
        lines.append("No speech was detected in this recording.")
        return "\n".join(lines) + "\n"

    speakers = [s for s in summary.get("speakers") or [] if isinstance(s, Mapping)]
    if speakers:
        lines += ["## Speakers", "", "| Speaker | Talk time | Words | Share of words |"]
        lines.append("|---|---:|---:|---:|")
        for s in speakers:
            talk = _number(s.get("talk_time_seconds")) or 0.0
            share = _number(s.get("share")) or 0.0
            words = int(_number(s.get("word_count")) or 0)
            lines.append(
                f"| {_md(s.get('label'))} | {format_clock(talk)} | {words} | {share:.1%} |"
            )
        lines.append("")

    highlights = [h for h in summary.get("highlights") or [] if isinstance(h, Mapping)]
    if highlights:
        lines += ["## Highlights", ""]
        for h in highlights:
            start = _number(h.get("start_seconds")) or 0.0
            lines.append(f"- **[{format_clock(start)}]** {_md(h.get('text', ''))}")
        lines.append("")

    keywords = [str(k) for k in summary.get("keywords") or []]
    if keywords:
        lines.append(f"**Keywords:** {', '.join(_md(k) for k in keywords)}")
        lines.append("")
    return "\n".join(lines).rstrip("\n") + "\n"
