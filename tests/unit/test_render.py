"""Tests for transcription_pipeline.render: text, SRT and WebVTT."""

from __future__ import annotations

import itertools
import re
from typing import Any

import pytest

from tests.unit.conftest import ALL_FIXTURES, SPEECH_FIXTURES, fixture_json, parsed
from transcription_pipeline.render import (
    MAX_CUE_SECONDS,
    MAX_LINE_CHARS,
    MIN_CHARS_BEFORE_SENTENCE_BREAK,
    Cue,
    build_cues,
    render_srt,
    render_text,
    render_vtt,
    srt_from_cues,
    text_from_words,
    vtt_from_cues,
)
from transcription_pipeline.scripts import CHINESE, LATIN
from transcription_pipeline.transcript import Item, Transcript
from transcription_pipeline.words import group_words

SRT_TIME = r"(\d{2}):(\d{2}):(\d{2}),(\d{3})"
VTT_TIME = r"(\d{2}):(\d{2}):(\d{2})\.(\d{3})"
PREFIX = re.compile(r"^\[(\d+:)?\d{2}:\d{2}\] (spk|ch)_\d+: ")


def cues_of(t: Transcript) -> tuple[Cue, ...]:
    return build_cues(group_words(t.items))


def spoken_words(name: str) -> list[str]:
    """Word contents in time order, computed from the JSON, not from the parser."""
    results: dict[str, Any] = fixture_json(name)["results"]
    # Even for channel jobs the top-level list is the merged, time-ordered copy.
    return [
        i["alternatives"][0]["content"] for i in results["items"] if i["type"] == "pronunciation"
    ]


def strip_punct(token: str) -> str:
    return token.rstrip(",.?!")


def seconds(match: tuple[str, ...]) -> float:
    h, m, s, ms = (int(x) for x in match)
    return h * 3600 + m * 60 + s + ms / 1000


# Speaker markup: SRT names the speaker at the start of a cue where it changes, VTT has a
# voice span at the start of every labelled cue.
SRT_SPEAKER = re.compile(r"^((?:spk|ch)_\d+): ")
VTT_VOICE = re.compile(r"^<v ([^>]+)>")


def parse_cue_file(text: str, time_re: str, numbered: bool) -> list[tuple[float, float, list[str]]]:
    """(start, end, lines) per cue, the speaker markup taken off (see cue_speakers)."""
    cues = []
    blocks = text.split("\n\n")
    for index, block in enumerate(blocks, start=1):
        lines = block.rstrip("\n").split("\n")
        if numbered:
            assert lines[0] == str(index)
            lines = lines[1:]
        match = re.fullmatch(f"{time_re} --> {time_re}", lines[0])
        assert match, lines[0]
        groups = match.groups()
        text_lines = lines[1:]
        if text_lines:
            text_lines[0] = VTT_VOICE.sub("", SRT_SPEAKER.sub("", text_lines[0]))
        cues.append((seconds(groups[:4]), seconds(groups[4:]), text_lines))
    return cues


def cue_speakers(text: str, pattern: re.Pattern[str]) -> list[str | None]:
    """The speaker markup at the start of each cue's text (None where there is none)."""
    speakers: list[str | None] = []
    for block in text.split("\n\n"):
        lines = block.rstrip("\n").split("\n")
        first = next(i for i, line in enumerate(lines) if "-->" in line) + 1
        match = pattern.match(lines[first]) if first < len(lines) else None
        speakers.append(match.group(1) if match else None)
    return speakers


def check_cues(cues: list[tuple[float, float, list[str]]], expected_words: list[str]) -> None:
    previous_end = 0.0
    tokens: list[str] = []
    for start, end, lines in cues:
        assert 1 <= len(lines) <= 2
        for line in lines:
            assert line == line.strip()
            assert line
            assert len(line) <= MAX_LINE_CHARS or " " not in line
            assert not re.search(r" [,.?!]", line)
            tokens += line.split(" ")
        assert end > start
        assert end - start <= MAX_CUE_SECONDS + 1e-9
        assert start >= previous_end
        previous_end = end
    assert [strip_punct(t) for t in tokens] == expected_words


@pytest.mark.parametrize("name", SPEECH_FIXTURES)
def test_srt_structure_and_every_word_once(name: str) -> None:
    srt = render_srt(parsed(name))
    assert srt.endswith("\n")
    assert not srt.endswith("\n\n")
    check_cues(parse_cue_file(srt, SRT_TIME, numbered=True), spoken_words(name))


@pytest.mark.parametrize("name", SPEECH_FIXTURES)
def test_vtt_structure_and_every_word_once(name: str) -> None:
    vtt = render_vtt(parsed(name))
    assert vtt.startswith("WEBVTT\n\n")
    body = vtt[len("WEBVTT\n\n") :]
    cues = parse_cue_file(body, VTT_TIME, numbered=False)
    check_cues(cues, spoken_words(name))
    srt_cues = parse_cue_file(render_srt(parsed(name)), SRT_TIME, numbered=True)
    assert cues == srt_cues


def test_cues_do_not_mix_speakers() -> None:
    t = parsed("03-speaker-identification.json")
    speakers = iter([i.speaker for i in t.items if i.kind == "pronunciation"])
    for cue in cues_of(t):
        count = sum(len(line.split(" ")) for line in cue.lines)
        assert len({next(speakers) for _ in range(count)}) == 1


@pytest.mark.parametrize("name", SPEECH_FIXTURES)
def test_cues_break_at_sentence_ends(name: str) -> None:
    # A sentence end continues inside a cue only after a short lead-in ("Yes. ...").
    for cue in cues_of(parsed(name)):
        tokens = " ".join(cue.lines).split(" ")
        for index, token in enumerate(tokens[:-1]):
            if token.endswith((".", "?", "!")):
                assert len(" ".join(tokens[: index + 1])) < MIN_CHARS_BEFORE_SENTENCE_BREAK


def test_first_cue_of_plain_fixture() -> None:
    cues = cues_of(parsed("01-plain.json"))
    assert cues[0] == Cue(0.49, 3.27, ("She was gone out into the", "village on some errand when,"))
    assert cues[1].lines == (
        "as she was descending this steep street,",
        "her foot slipped on the ice and she fell.",
    )


@pytest.mark.parametrize("name", ALL_FIXTURES)
def test_text_punctuation_attached(name: str) -> None:
    text = render_text(parsed(name))
    assert not re.search(r" [,.?!]", text)
    assert "  " not in text


@pytest.mark.parametrize("name", SPEECH_FIXTURES)
def test_text_contains_every_word_once_in_order(name: str) -> None:
    t = parsed(name)
    text = render_text(t)
    assert text.endswith("\n")
    assert not text.endswith("\n\n")
    paragraphs = text.rstrip("\n").split("\n\n")
    tokens = []
    for paragraph in paragraphs:
        assert "\n" not in paragraph
        if t.labels is not None:
            assert PREFIX.match(paragraph), paragraph[:30]
            paragraph = PREFIX.sub("", paragraph)
        else:
            assert not PREFIX.match(paragraph)
        tokens += paragraph.split(" ")
    assert [strip_punct(x) for x in tokens] == spoken_words(name)


def test_text_speaker_turns() -> None:
    text = render_text(parsed("03-speaker-identification.json"))
    assert text.startswith("[00:00] spk_0: She was gone out into the village on some errand when,")
    paragraphs = text.split("\n\n")
    assert paragraphs[1].startswith("[00:15] spk_1: It will be well for you")
    labels = [PREFIX.match(p).group(2) for p in paragraphs]  # type: ignore[union-attr]
    assert labels == ["spk"] * len(paragraphs)
    speakers = [p.split(": ", 1)[0].split("] ")[1] for p in paragraphs]
    assert all(a != b for a, b in itertools.pairwise(speakers))


def test_text_channels() -> None:
    text = render_text(parsed("02-channel-identification.json"))
    assert text.startswith("[00:00] ch_1: She was gone out into the village")
    assert "\n\n[00:15] ch_0: it will be well for you" in text


def test_text_plain_paragraphs() -> None:
    text = render_text(parsed("01-plain.json"))
    assert text.startswith("She was gone out into the village")
    paragraphs = text.rstrip("\n").split("\n\n")
    assert len(paragraphs) > 1
    for paragraph in paragraphs[:-1]:
        assert paragraph.endswith((".", "?", "!"))


def word(content: str, start: float, end: float, speaker: str | None = None) -> Item:
    return Item("pronunciation", content, start, end, 0.9, speaker)


def punct(content: str, speaker: str | None = None) -> Item:
    return Item("punctuation", content, None, None, 0.0, speaker)


def transcript(items: list[Item], labels: Any = None) -> Transcript:
    return Transcript("t", tuple(items), "", None, None, labels, False)


def test_plain_paragraph_rules() -> None:
    items: list[Item] = []
    clock = 0.0
    for n in range(8):
        items += [word(f"w{n}", clock, clock + 0.4), punct(".")]
        clock += 0.5
    clock += 2.5  # long pause after a sentence end
    items += [word("after", clock, clock + 0.3), word("pause", clock + 0.5, clock + 0.8)]
    text = render_text(transcript(items))
    assert text == "w0. w1. w2. w3. w4. w5.\n\nw6. w7.\n\nafter pause\n"


def test_pause_mid_sentence_does_not_break_paragraph() -> None:
    items = [word("one", 0, 0.5), word("two", 5, 5.5), punct(".")]
    assert render_text(transcript(items)) == "one two.\n"


def test_hour_timestamps() -> None:
    items = [word("late", 3725.2, 3725.6, "spk_3"), punct("?", "spk_3")]
    assert render_text(transcript(items, "speaker")) == "[1:02:05] spk_3: late?\n"
    srt = render_srt(transcript(items, "speaker"))
    assert srt.startswith("1\n01:02:05,200 --> 01:02:06,200\nspk_3: late?\n")


def test_long_word_gets_own_line() -> None:
    long = "Pneumonoultramicroscopicsilicovolcanoconiosis-like"
    assert len(long) > MAX_LINE_CHARS
    items = [word("a", 0, 0.2), word(long, 0.3, 1.5), word("b", 1.6, 1.8)]
    cues = cues_of(transcript(items))
    lines = [line for c in cues for line in c.lines]
    assert long in lines
    assert [t for line in lines for t in line.split(" ")] == ["a", long, "b"]
    assert all(len(c.lines) <= 2 for c in cues)


def test_overlapping_times_clamped_forward() -> None:
    items = [
        word("first", 0.0, 2.0, "spk_0"),
        word("second", 1.0, 1.5, "spk_1"),  # overlaps the previous speaker
        word("third", 1.2, 1.3, "spk_0"),
        word("longest", 3.0, 12.0, "spk_0"),  # one word longer than a cue may last
    ]
    cues = cues_of(transcript(items, "speaker"))
    previous_end = 0.0
    for cue in cues:
        assert cue.start >= previous_end
        assert cue.end > cue.start
        assert cue.end - cue.start <= MAX_CUE_SECONDS
        previous_end = cue.end
    assert [c.lines for c in cues] == [("first",), ("second",), ("third",), ("longest",)]


def test_long_sentence_split_within_limits() -> None:
    items = [word(f"word{n:02d}", n * 0.3, n * 0.3 + 0.25) for n in range(60)]
    cues = cues_of(transcript(items))
    assert len(cues) > 1
    for cue in cues:
        assert cue.end - cue.start <= MAX_CUE_SECONDS
        assert all(len(line) <= MAX_LINE_CHARS for line in cue.lines)


def test_vtt_escapes_markup() -> None:
    items = [word("R&D", 0, 0.5), word("<b>", 0.6, 1.0)]
    vtt = render_vtt(transcript(items))
    assert "R&amp;D &lt;b&gt;" in vtt
    assert "R&D <b>" in render_srt(transcript(items))


def test_empty_outputs() -> None:
    t = parsed("v4-empty.json")
    assert render_text(t) == ""
    assert render_srt(t) == ""
    assert render_vtt(t) == "WEBVTT\n"
    assert cues_of(t) == ()


@pytest.mark.parametrize("name", ALL_FIXTURES)
def test_outputs_from_words_and_cues_equal_one_output_at_a_time(name: str) -> None:
    t = parsed(name)
    words = group_words(t.items)
    cues = build_cues(words)
    assert text_from_words(words, t.labels) == render_text(t)
    assert srt_from_cues(cues) == render_srt(t)
    assert vtt_from_cues(cues) == render_vtt(t)


def test_cue_line_layout_prefers_balance_and_clause_ends() -> None:
    # 50 characters: two lines; the break after "comma," wins over the exact middle.
    items = [
        word("aaaaaaaaaa", 0.0, 0.3),
        word("bbbbbbbbbbbb", 0.4, 0.7),
        word("comma", 0.8, 1.0),
        punct(","),
        word("cccccccc", 1.1, 1.4),
        word("dddddddddd", 1.5, 1.8),
    ]
    (cue,) = cues_of(transcript(items))
    assert cue.lines == ("aaaaaaaaaa bbbbbbbbbbbb comma,", "cccccccc dddddddddd")


def test_srt_names_the_speaker_exactly_where_it_changes() -> None:
    t = parsed("03-speaker-identification.json")
    cues = cues_of(t)
    srt = srt_from_cues(cues)
    shown = cue_speakers(srt, SRT_SPEAKER)
    changes = [
        cue.speaker if i == 0 or cue.speaker != cues[i - 1].speaker else None
        for i, cue in enumerate(cues)
    ]
    assert shown == changes
    assert shown.count(None) > 0  # a speaker's later cues are not labelled again
    assert {s for s in shown if s} == {"spk_0", "spk_1", "spk_2"}


def test_vtt_gives_every_labelled_cue_a_voice() -> None:
    t = parsed("03-speaker-identification.json")
    cues = cues_of(t)
    vtt = vtt_from_cues(cues)
    body = vtt[len("WEBVTT\n\n") :]
    assert cue_speakers(body, VTT_VOICE) == [cue.speaker for cue in cues]


def test_unlabelled_transcripts_have_no_speaker_markup() -> None:
    t = parsed("01-plain.json")
    assert set(cue_speakers(render_srt(t), SRT_SPEAKER)) == {None}
    assert "<v " not in render_vtt(t)


def test_a_voice_name_cannot_break_the_vtt_markup() -> None:
    cue = Cue(0.0, 1.0, ("hello",), "Ana <b> & Ben\nX")
    assert vtt_from_cues([cue]) == (
        "WEBVTT\n\n00:00:00.000 --> 00:00:01.000\n<v Ana &lt;b&gt; &amp; Ben X>hello\n"
    )


@pytest.mark.parametrize("name", ALL_FIXTURES)
def test_the_default_writing_system_is_latin(name: str) -> None:
    """Callers that pass no writing system get what they got before: English layout."""
    t = parsed(name)
    words = group_words(t.items)
    cues = build_cues(words)
    assert cues == build_cues(words, writing=LATIN)
    assert text_from_words(words, t.labels) == text_from_words(words, t.labels, writing=LATIN)
    assert srt_from_cues(cues) == srt_from_cues(cues, writing=LATIN)
    assert vtt_from_cues(cues) == vtt_from_cues(cues, writing=LATIN)


def test_cue_widths_are_display_columns() -> None:
    # 12 words of two wide characters (4 columns each): 48 columns joined without spaces,
    # 59 with; either way two lines of 6 words, within 32 (Chinese) and 42 (Latin).
    items = [word("\u5317\u4eac", n * 0.4, n * 0.4 + 0.3) for n in range(12)]
    words = group_words(items)
    (chinese,) = build_cues(words, writing=CHINESE)
    assert chinese.lines == ("\u5317\u4eac" * 6, "\u5317\u4eac" * 6)
    (latin,) = build_cues(words)
    assert latin.lines == (" ".join(["\u5317\u4eac"] * 6),) * 2
    # Counted in characters, one Latin line (35 characters) would have held them all.
    assert len(" ".join(["\u5317\u4eac"] * 12)) <= MAX_LINE_CHARS
