"""The offline summary: facts, speakers, highlights, keywords and chapters.

Deterministic (same words -> identical Summary, identical summary.json bytes) and
linear in the number of words. Highlights and keywords use TF-IDF-like weights where
each sentence is a "document"; chapters are topic segments over the same sentences
(chapters.py). No model, no network. Starts from the words of words.py, like render.py,
and needs nothing from it.
"""

from __future__ import annotations

import bisect
import math
import re
import unicodedata
from collections import Counter
from collections.abc import Sequence
from operator import itemgetter
from typing import Any, NamedTuple

from transcription_pipeline.chapters import Chapter, Passage, segment_chapters
from transcription_pipeline.scripts import (
    CHINESE,
    JAPANESE,
    LATIN,
    WritingSystem,
    display_width,
    writing_system,
)
from transcription_pipeline.stop_words import ENGLISH_STOP_WORDS, stop_words
from transcription_pipeline.summary.document import (
    LOW_CONFIDENCE_THRESHOLD,
    Highlight,
    Source,
    SpeakerShare,
    Summary,
)
from transcription_pipeline.transcript import LabelKind, Transcript
from transcription_pipeline.words import Word, group_words

__all__ = ["MAX_KEYWORDS", "STOP_WORDS", "build_summary", "summarise"]

MAX_KEYWORDS = 10
MIN_HIGHLIGHTS = 3
MAX_HIGHLIGHTS = 5
# Roughly one highlight per this many sentences, clamped to MIN..MAX.
SENTENCES_PER_HIGHLIGHT = 10
# Candidate highlight length in words: shorter is rarely informative, longer
# is unreadable as a bullet (used only if any sentence qualifies).
MIN_HIGHLIGHT_WORDS = 5
MAX_HIGHLIGHT_WORDS = 60
# The shortest English term (letters); other scripts: WritingSystem.min_term_width.
MIN_TERM_CHARS = LATIN.min_term_width

# English stop words (the stop words of other languages: stop_words.stop_words).
STOP_WORDS: frozenset[str] = ENGLISH_STOP_WORDS

_TOKEN = re.compile(r"[^\W\d_]+(?:'[^\W\d_]+)*")


def _is_masked(content: str) -> bool:
    """Redaction ("[PII]" or other bracketed tags) and vocabulary-filter masks ("***")."""
    stripped = content.strip()
    if stripped.startswith("[") and stripped.endswith("]"):
        return True
    return bool(stripped) and set(stripped) == {"*"}


def _letter_runs(text: str) -> list[str]:
    """What _TOKEN finds, with combining marks kept inside the word: Thai vowels and tone
    marks, Devanagari vowel signs and Arabic harakat are not word characters to ``re``,
    which would cut हिंदी into ह and द."""
    runs: list[str] = []
    run = ""
    apostrophe = False  # a "'" just after the run, kept only if a letter follows
    for char in text:
        if char.isalnum() and not char.isdecimal():
            if apostrophe:
                run += "'"
                apostrophe = False
            run += char
        elif run and not apostrophe and unicodedata.category(char)[0] == "M":
            run += char
        elif char == "'" and run and not apostrophe:
            apostrophe = True
        else:
            if run:
                runs.append(run)
            run, apostrophe = "", False
    if run:
        runs.append(run)
    return runs


def _terms_of(content: str, stop: frozenset[str], min_width: int) -> tuple[str, ...]:
    """The summary terms of one word's content: its words (a Transcribe item of Chinese,
    Japanese or Thai is already one word) at least min_width display columns wide, in
    lower case, that are not stop words."""
    if _is_masked(content):
        return ()
    text = content.lower().replace("\u2019", "'")
    if text.isascii():
        tokens = _TOKEN.findall(text)
    else:
        tokens = _letter_runs(unicodedata.normalize("NFC", text))
    return tuple(term for term in tokens if display_width(term) >= min_width and term not in stop)


class _Sentence(NamedTuple):
    position: int  # in the transcript's sentences
    start: float
    end: float
    speaker: str | None
    text: str
    word_count: int
    terms: tuple[str, ...]


def _sentences(
    words: Sequence[Word], writing: WritingSystem, language_stop_words: frozenset[str]
) -> list[_Sentence]:
    """Split at sentence-final punctuation and at speaker changes."""
    out: list[_Sentence] = []
    # Speech repeats its words: each distinct one is tokenised once.
    terms_by_content: dict[str, tuple[str, ...]] = {}

    def close(first: int, stop: int) -> None:
        sentence = words[first:stop]
        terms: list[str] = []
        for w in sentence:
            word_terms = terms_by_content.get(w.content)
            if word_terms is None:
                word_terms = terms_by_content[w.content] = _terms_of(
                    w.content, language_stop_words, writing.min_term_width
                )
            terms += word_terms
        out.append(
            _Sentence(
                position=len(out),
                start=sentence[0].start,
                end=sentence[-1].end,
                speaker=sentence[0].speaker,
                text=writing.join([w.text for w in sentence]),
                word_count=stop - first,
                terms=tuple(terms),
            )
        )

    first = 0  # of the sentence being read: words[first:index]
    previous_speaker: str | None = None
    for index, word in enumerate(words):
        if index > first and word.speaker != previous_speaker:
            close(first, index)
            first = index
        if word.sentence_end:
            close(first, index + 1)
            first = index + 1
        previous_speaker = word.speaker
    if first < len(words):
        close(first, len(words))
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


def _keywords(weights: dict[str, float], first_seen: dict[str, int]) -> tuple[str, ...]:
    ranked = sorted(weights, key=lambda term: (-weights[term], first_seen[term]))
    return tuple(ranked[:MAX_KEYWORDS])


def _highlights(
    sentences: list[_Sentence], weights: dict[str, float], chapters: Sequence[Chapter] = ()
) -> tuple[Highlight, ...]:
    """The best-scoring sentences, in time order. With several chapters they are spread:
    each chapter's best in turn (its own highlight, listed with the chapter, left out),
    so a recording's highlights do not all come from its densest topic."""
    scored = [s for s in sentences if s.terms]
    candidates = [
        s for s in scored if MIN_HIGHLIGHT_WORDS <= s.word_count <= MAX_HIGHLIGHT_WORDS
    ] or scored
    if not candidates:
        return ()
    wanted = min(
        len(candidates),
        max(MIN_HIGHLIGHTS, min(MAX_HIGHLIGHTS, len(sentences) // SENTENCES_PER_HIGHLIGHT)),
    )

    def score(s: _Sentence) -> float:
        # Unique terms so repetition inside one sentence does not dominate;
        # sqrt length damping so long run-on sentences do not always win.
        return sum(weights[term] for term in set(s.terms)) / math.sqrt(s.word_count)

    ranked = sorted(candidates, key=lambda s: (-score(s), s.position))
    if len(chapters) > 1:
        ranked = _spread_over_chapters(ranked, chapters)
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
    chosen.sort(key=lambda s: s.position)
    return tuple(Highlight(round(s.start, 2), s.speaker, s.text) for s in chosen)


def _spread_over_chapters(ranked: list[_Sentence], chapters: Sequence[Chapter]) -> list[_Sentence]:
    """``ranked`` reordered: the best of each chapter, then the second best of each, ...
    (chapters' own highlights left out; ties between chapters go to the earlier one)."""
    starts = [chapter.start_seconds for chapter in chapters]
    own = {chapter.highlight.lower() for chapter in chapters}
    per_chapter: list[list[_Sentence]] = [[] for _ in chapters]
    for sentence in ranked:
        if sentence.text.lower() in own:
            continue
        per_chapter[max(bisect.bisect_right(starts, sentence.start) - 1, 0)].append(sentence)
    spread: list[_Sentence] = []
    for rank in range(max(map(len, per_chapter), default=0)):
        spread += [found[rank] for found in per_chapter if rank < len(found)]
    return spread


def _natural_key(label: str) -> tuple[str, int, str]:
    # spk_2 before spk_10.
    match = re.fullmatch(r"(.*?)(\d+)", label)
    if match:
        return (match.group(1), int(match.group(2)), label)
    return (label, -1, label)


def _speakers(labels: LabelKind | None, words: Sequence[Word]) -> tuple[SpeakerShare, ...]:
    if labels is None or not words:
        return ()
    talk: dict[str, float] = {}
    count: dict[str, int] = {}
    # Turns are runs of words: the totals of the speaker talking are locals meanwhile
    # (the same additions, in the same order, as one dictionary update per word).
    speaker: str | None = None
    seconds, words_said = 0.0, 0
    for word in words:
        if word.speaker != speaker:
            if speaker is not None:
                talk[speaker], count[speaker] = seconds, words_said
            speaker = word.speaker
            if speaker is not None:
                seconds, words_said = talk.get(speaker, 0.0), count.get(speaker, 0)
        if speaker is not None:
            seconds += word.end - word.start
            words_said += 1
    if speaker is not None:
        talk[speaker], count[speaker] = seconds, words_said
    total = len(words)
    return tuple(
        SpeakerShare(
            label=label,
            talk_time_seconds=round(talk[label], 2),
            word_count=count[label],
            share=round(count[label] / total, 4),
        )
        for label in sorted(count, key=_natural_key)
    )


_START, _END, _CONFIDENCE = itemgetter(2), itemgetter(3), itemgetter(4)  # Word fields


def _title_separator(writing: WritingSystem) -> str:
    """Between a chapter title's terms: the ideographic comma in Chinese and Japanese."""
    return "\u3001" if writing in (CHINESE, JAPANESE) else ", "


def summarise(
    t: Transcript,
    words: Sequence[Word],
    *,
    source_bucket: str,
    source_key: str,
    created_at: str,
    title: str | None = None,
    speaker_names: dict[str, str] | None = None,
    writing: WritingSystem | None = None,
) -> Summary:
    """The summary of a transcript, from its words (words.group_words(t.items), with the
    speakers' names in place of their labels when names were given: ``speaker_names``).

    Highlights are joined and terms measured as the transcript's language is written
    (``writing``, by default scripts.writing_system(t.language_code)); the stop words
    are that language's (stop_words.stop_words).

    See the module constants for thresholds. speakers[].share is the speaker's share
    of the word count; talk time is the sum of that speaker's word durations.
    """
    first_start = min(map(_START, words), default=0.0)
    last_end = max(map(_END, words), default=0.0)
    span = last_end - first_start
    confidences = [c for c in map(_CONFIDENCE, words) if c is not None]
    low = sum(1 for c in confidences if c < LOW_CONFIDENCE_THRESHOLD)
    if writing is None:
        writing = writing_system(t.language_code)
    sentences = _sentences(words, writing, stop_words(t.language_code))
    weights, first_seen = _term_weights(sentences)
    chapters = segment_chapters(
        [Passage(s.start, s.end, s.speaker, s.text, s.terms) for s in sentences],
        title_separator=_title_separator(writing),
    )
    return Summary(
        source=Source(source_bucket, source_key),
        job_name=t.job_name,
        created_at=created_at,
        no_speech=not words,
        redacted=t.redacted,
        language_code=t.language_code,
        language_score=round(t.language_score, 4) if t.language_score is not None else None,
        labels=t.labels,
        duration_seconds=round(last_end, 2),
        word_count=len(words),
        words_per_minute=round(len(words) * 60 / span, 1) if words and span > 0 else None,
        average_confidence=(round(sum(confidences) / len(confidences), 4) if confidences else None),
        low_confidence_ratio=round(low / len(confidences), 4) if confidences else None,
        speakers=_speakers(t.labels, words),
        highlights=_highlights(sentences, weights, chapters),
        keywords=_keywords(weights, first_seen),
        chapters=chapters,
        title=title,
        speaker_names=speaker_names or None,
    )


def build_summary(
    t: Transcript, *, source_bucket: str, source_key: str, created_at: str
) -> dict[str, Any]:
    """The summary.json document of a transcript as plain data (groups the words itself).

    For callers that want JSON-ready data; the pipeline uses summarise() and Summary.
    """
    summary = summarise(
        t,
        group_words(t.items),
        source_bucket=source_bucket,
        source_key=source_key,
        created_at=created_at,
    )
    return summary.to_dict()
