"""Tests for transcription_pipeline.summary: the Summary, summary.json and summary.md."""

from __future__ import annotations

import dataclasses
import itertools
import json
import re
from collections import Counter, defaultdict
from typing import Any

import pytest

from bench.transcripts import scaled_transcript_bytes
from tests.unit.conftest import ALL_FIXTURES, SPEECH_FIXTURES, fixture_json, parsed
from transcription_pipeline.render import render_srt, render_text, render_vtt
from transcription_pipeline.scripts import CHINESE
from transcription_pipeline.summary import (
    LOW_CONFIDENCE_THRESHOLD,
    STOP_WORDS,
    Highlight,
    Source,
    SpeakerShare,
    Summary,
    build_summary,
    render_summary_markdown,
    summarise,
)
from transcription_pipeline.transcript import Transcript, parse_transcript
from transcription_pipeline.words import group_words

CREATED = "2026-01-01T12:00:00Z"


def summary_of(t: Transcript, key: str = "media/talk.mp3") -> Summary:
    return summarise(
        t, group_words(t.items), source_bucket="in", source_key=key, created_at=CREATED
    )


def summary_for(name: str, key: str = "media/talk.mp3") -> Summary:
    return summary_of(parsed(name), key)


def json_words(doc: dict[str, Any]) -> list[dict[str, Any]]:
    return [i for i in doc["results"]["items"] if i["type"] == "pronunciation"]


@pytest.mark.parametrize("name", ALL_FIXTURES)
def test_facts_match_json(name: str) -> None:
    doc = fixture_json(name)
    s = summary_for(name)
    found = json_words(doc)
    assert s.word_count == len(found)
    assert s.source == Source("in", "media/talk.mp3")
    assert s.job_name == doc["jobName"]
    assert s.created_at == CREATED
    assert s.no_speech is (not found)
    if not found:
        return
    ends = [float(i["end_time"]) for i in found]
    starts = [float(i["start_time"]) for i in found]
    assert s.duration_seconds == round(max(ends), 2)
    wpm = len(found) * 60 / (max(ends) - min(starts))
    assert s.words_per_minute == pytest.approx(wpm, abs=0.05)
    conf = [float(i["alternatives"][0]["confidence"]) for i in found]
    assert s.average_confidence == pytest.approx(sum(conf) / len(conf), abs=5e-5)
    low = sum(1 for c in conf if c < LOW_CONFIDENCE_THRESHOLD) / len(conf)
    assert s.low_confidence_ratio == pytest.approx(low, abs=5e-5)
    assert s.low_confidence_threshold == LOW_CONFIDENCE_THRESHOLD


def test_speakers_match_segments() -> None:
    doc = fixture_json("03-speaker-identification.json")
    talk: dict[str, float] = defaultdict(float)
    count: Counter[str] = Counter()
    for seg in doc["results"]["speaker_labels"]["segments"]:
        for item in seg["items"]:
            talk[item["speaker_label"]] += float(item["end_time"]) - float(item["start_time"])
            count[item["speaker_label"]] += 1
    s = summary_for("03-speaker-identification.json")
    assert [sp.label for sp in s.speakers] == ["spk_0", "spk_1", "spk_2"]
    total = sum(count.values())
    for sp in s.speakers:
        assert sp.talk_time_seconds == pytest.approx(talk[sp.label], abs=0.011)
        assert sp.word_count == count[sp.label]
        assert sp.share == pytest.approx(count[sp.label] / total, abs=5e-5)
    assert s.speaker_share_basis == "word_count"
    # Talk time counts words only, so it never exceeds the segment spans.
    spans: dict[str, float] = defaultdict(float)
    for seg in doc["results"]["speaker_labels"]["segments"]:
        spans[seg["speaker_label"]] += float(seg["end_time"]) - float(seg["start_time"])
    assert all(sp.talk_time_seconds <= spans[sp.label] + 0.01 for sp in s.speakers)


def test_speaker_turns_add_up_in_word_order() -> None:
    """Talk time is summed word by word, turn after turn, as one running total each."""
    t = parsed("03-speaker-identification.json")
    expected: dict[str, float] = {}
    for w in group_words(t.items):
        assert w.speaker is not None
        expected[w.speaker] = expected.get(w.speaker, 0.0) + (w.end - w.start)
    shares = {sp.label: sp.talk_time_seconds for sp in summary_of(t).speakers}
    assert shares == {label: round(seconds, 2) for label, seconds in expected.items()}


def test_channel_speakers() -> None:
    s = summary_for("02-channel-identification.json")
    assert [sp.label for sp in s.speakers] == ["ch_0", "ch_1"]
    assert sum(sp.word_count for sp in s.speakers) == s.word_count
    assert summary_for("01-plain.json").speakers == ()


@pytest.mark.parametrize("name", SPEECH_FIXTURES)
def test_highlights_are_whole_sentences_in_time_order(name: str) -> None:
    t = parsed(name)
    highlights = summary_of(t).highlights
    assert 3 <= len(highlights) <= 5
    starts = [h.start_seconds for h in highlights]
    assert starts == sorted(starts)
    word_starts = {round(i.start, 2) for i in t.items if i.start is not None}
    flat = " ".join(re.sub(r"^\[[\d:]+\] \w+: ", "", p) for p in render_text(t).split("\n\n"))
    for h in highlights:
        assert h.start_seconds in word_starts
        assert h.text in flat
        # Whole sentence: ends at a sentence end or at a speaker turn / the end.
        after = flat.split(h.text, 1)[1]
        assert h.text.endswith((".", "?", "!")) or t.labels is not None or after.strip() == ""
        # Starts at a sentence start: preceded by a sentence end (or a turn, or nothing).
        before = flat.split(h.text, 1)[0].rstrip()
        assert before == "" or before.endswith((".", "?", "!")) or t.labels is not None


@pytest.mark.parametrize("name", SPEECH_FIXTURES)
def test_keywords_clean(name: str) -> None:
    keywords = summary_for(name).keywords
    assert 0 < len(keywords) <= 10
    assert len(set(keywords)) == len(keywords)
    for k in keywords:
        assert k == k.lower()
        assert k not in STOP_WORDS
        assert "pii" not in k
        assert "*" not in k


def test_redacted_fixture_keeps_pii_but_not_in_keywords() -> None:
    t = parsed("v6-pii-redaction.json")
    assert "[PII]" in render_text(t)
    assert "[PII]" in render_srt(t)
    assert "[PII]" in render_vtt(t)
    s = summary_of(t)
    assert s.redacted is True
    assert not any("pii" in k for k in s.keywords)
    # The names that were redacted cannot leak into keywords either.
    assert not {"bronte's", "yorkshire", "curis"} & set(s.keywords)


def test_mask_not_in_keywords() -> None:
    s = summary_for("07-vocabulary-filter-mask.json")
    assert not any("*" in k for k in s.keywords)


def test_language_fields() -> None:
    s = summary_for("v5-language-identification.json")
    assert s.language_code == "en-US"
    assert s.language_score == pytest.approx(0.9921)
    plain = summary_for("01-plain.json")
    assert plain.language_code is None
    assert plain.language_score is None


@pytest.mark.parametrize("name", ALL_FIXTURES)
def test_deterministic(name: str) -> None:
    first = summary_for(name)
    second = summary_of(parse_transcript(json.dumps(fixture_json(name))))
    assert first == second
    assert first.to_json() == second.to_json()
    assert render_summary_markdown(first) == render_summary_markdown(second)


@pytest.mark.parametrize("name", ALL_FIXTURES)
def test_json_round_trip(name: str) -> None:
    s = summary_for(name)
    document = json.loads(s.to_json())
    assert Summary.from_dict(document) == s
    assert Summary.from_dict(document).to_json() == s.to_json()
    assert s.to_json().endswith(b"}\n")


@pytest.mark.parametrize("name", ALL_FIXTURES)
def test_build_summary_is_the_json_document(name: str) -> None:
    """The dict form, for callers outside the pipeline: JSON-ready, equal to the file."""
    t = parsed(name)
    document = build_summary(t, source_bucket="in", source_key="media/talk.mp3", created_at=CREATED)
    assert document == json.loads(summary_of(t).to_json())
    json.dumps(document, allow_nan=False)
    assert render_summary_markdown(document) == render_summary_markdown(summary_of(t))


def test_summary_is_immutable() -> None:
    s = summary_for("03-speaker-identification.json")
    with pytest.raises(dataclasses.FrozenInstanceError):
        s.word_count = 0  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        s.speakers[0].share = 1.0  # type: ignore[misc]


def test_from_dict_rejects_a_document_that_is_not_a_summary() -> None:
    document = json.loads(summary_for("01-plain.json").to_json())
    del document["word_count"]
    with pytest.raises(TypeError):
        Summary.from_dict(document)
    with pytest.raises(KeyError):
        Summary.from_dict({"word_count": 1})


def test_empty_summary() -> None:
    s = summary_for("v4-empty.json", key="calls/silence.wav")
    assert s.no_speech is True
    assert s.word_count == 0
    assert s.duration_seconds == 0
    assert s.words_per_minute is None
    assert s.average_confidence is None
    assert s.low_confidence_ratio is None
    assert s.highlights == ()
    assert s.keywords == ()
    assert s.speakers == ()
    json.loads(s.to_json())
    md = render_summary_markdown(s)
    assert md.startswith("# Transcript summary: silence.wav\n")
    assert "No speech was detected" in md
    assert "## Highlights" not in md


def test_markdown_fixture_03() -> None:
    md = render_summary_markdown(summary_for("03-speaker-identification.json", "in/talk 3.mp3"))
    assert md.startswith("# Transcript summary: talk 3.mp3\n")
    assert "- **Duration:** 0:02:22\n" in md  # 141.54 s, to the nearest second
    assert "- **Words:** 354\n" in md
    assert "| Speaker | Talk time | Words | Share of words |" in md
    assert re.search(r"^\| spk_0 \| 01:00 \| 205 \| 57\.9% \|$", md, re.M)
    bullets = re.findall(r"^- \*\*\[\d{2}:\d{2}\]\*\* \S.*$", md, re.M)
    assert 3 <= len(bullets) <= 5
    assert "\n## Highlights\n" in md
    assert re.search(r"^\*\*Keywords:\*\* \w+(, \w+)*$", md, re.M)
    assert md.endswith("\n")
    assert not md.endswith("\n\n")


def test_markdown_escapes_transcript_text() -> None:
    summary = dataclasses.replace(
        summary_for("01-plain.json"),
        source=Source("b", "x/#odd|name.mp3"),
        duration_seconds=3725.0,
        speakers=(SpeakerShare("a|b", 1.0, 2, 1.0),),
        highlights=(Highlight(3700.0, None, "# not a heading | *not bold* <b>"),),
        keywords=("pipe|word",),
    )
    md = render_summary_markdown(summary)
    assert md.startswith("# Transcript summary: \\#odd\\|name.mp3\n")
    assert "- **Duration:** 1:02:05" in md
    assert "| a\\|b |" in md
    assert "- **[1:01:40]** \\# not a heading \\| \\*not bold\\* \\<b>" in md
    assert "pipe\\|word" in md


def test_four_hour_transcript_is_summarised_whole() -> None:
    """~36,000 words (fixture 03 repeated to 4 h): nothing lost or capped at scale.

    Speed is a budget for the benchmark (make bench), not an assertion here.
    """
    raw = scaled_transcript_bytes(4 * 3600)
    spoken = [i for i in json.loads(raw)["results"]["items"] if i["type"] == "pronunciation"]
    t = parse_transcript(raw)
    srt = render_srt(t)
    render_text(t), render_vtt(t)
    s = summary_of(t, "k")
    render_summary_markdown(s)
    assert len(spoken) % 354 == 0
    assert len(spoken) > 35_000
    assert s.word_count == len(spoken)
    assert 4 * 3600 <= s.duration_seconds < 4 * 3600 + 150
    assert srt.rstrip().rsplit("\n\n", 1)[-1].split("\n")[1].startswith("04:0")
    assert len(s.highlights) == 5
    assert [sp.label for sp in s.speakers] == ["spk_0", "spk_1", "spk_2"]


def test_stop_words_follow_the_language() -> None:
    """The English fixture labelled Spanish loses Spanish stop words from its keywords
    (none here) but keeps English ones it no longer filters: "she" comes back."""
    t = parsed("01-plain.json")
    english = summary_of(t).keywords
    assert STOP_WORDS & set(english) == set()
    spanish = summary_of(dataclasses.replace(t, language_code="es-ES")).keywords
    assert spanish != english
    assert STOP_WORDS & set(spanish)


def test_summarise_takes_a_writing_system() -> None:
    t = parsed("03-speaker-identification.json")
    english = summary_of(t)
    chinese = summarise(
        t,
        group_words(t.items),
        source_bucket="in",
        source_key="k",
        created_at=CREATED,
        writing=CHINESE,
    )
    # Terms need 4 columns: the 3-letter keywords go (English words keep their spaces,
    # even in text written without them).
    assert {k for k in english.keywords if len(k) == 3}
    assert all(len(k) >= 4 for k in chinese.keywords)
    assert all(" " in h.text for h in chinese.highlights)


def test_with_several_chapters_the_highlights_come_from_each_of_them() -> None:
    from tests.unit.conftest import talk
    from transcription_pipeline.words import Word

    passages, _ = talk(["cooking", "astronomy", "football"], per_topic=60)
    words = []
    for passage in passages:
        tokens = passage.text.split()
        step = (passage.end - passage.start) / len(tokens)
        for index, token in enumerate(tokens):
            start = passage.start + index * step
            end = token.endswith(".")
            words.append(Word(token, token.rstrip("."), start, start + step, 0.9, None, end, end))
    transcript = dataclasses.replace(parsed("01-plain.json"), language_code="en-US")

    summary = summarise(
        transcript, words, source_bucket="b", source_key="k", created_at="2026-01-01T00:00:00Z"
    )

    assert len(summary.chapters) == 3
    starts = [chapter.start_seconds for chapter in summary.chapters] + [float("inf")]
    for first, after in itertools.pairwise(starts):
        assert any(first <= h.start_seconds < after for h in summary.highlights), first
    own = {chapter.highlight for chapter in summary.chapters}
    assert not own & {h.text for h in summary.highlights}
