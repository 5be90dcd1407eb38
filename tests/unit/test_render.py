"""Tests for transcription_pipeline.render: text, SRT and WebVTT."""

from __future__ import annotations

import itertools
import re
from typing import Any

import pytest

from tests.unit.conftest import ALL_FIXTURES, SPEECH_FIXTURES, fixture_json, parsed
from transcription_pipeline.render import (
    MAX_CHARS_PER_SECOND,
    MAX_CUE_SECONDS,
    MAX_LINE_CHARS,
    MIN_CHARS_BEFORE_SENTENCE_BREAK,
    MIN_CUE_SECONDS,
    Cue,
    build_cues,
    function_words,
    render_srt,
    render_text,
    render_vtt,
    srt_from_cues,
    text_from_words,
    vtt_from_cues,
)
from transcription_pipeline.scripts import CHINESE, LATIN
from transcription_pipeline.transcript import Item, Transcript
from transcription_pipeline.words import Word, group_words

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
    # The balanced split would end the first line on "the": the line ends a word later.
    assert cues[0] == Cue(0.49, 3.27, ("She was gone out into the village", "on some errand when,"))
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
    # Five characters are read in 0.25 s: the cue lasts the minimum, 5/6 s (833 ms).
    assert srt.startswith("1\n01:02:05,200 --> 01:02:06,033\nspk_3: late?\n")


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


# -- where cues end, how long they stay --------------------------------------------------
def spoken(text: str, start: float = 0.0, gap: float = 0.05, **pauses: float) -> list[Item]:
    """Items for the words of ``text`` spoken 0.3 s each with ``gap`` between them; a
    keyword names a word after which a longer pause falls (``golf=0.3``). Punctuation
    written after a word becomes a punctuation item."""
    items: list[Item] = []
    clock = start
    for token in text.split():
        content = token.rstrip(",.?!")
        items.append(word(content, clock, clock + 0.3))
        items += [punct(mark) for mark in token[len(content) :]]
        clock += 0.3 + pauses.get(content, gap)
    return items


def cue_texts(cues: tuple[Cue, ...]) -> list[str]:
    return [" ".join(cue.lines) for cue in cues]


def test_a_sentence_end_within_the_limits_ends_the_cue() -> None:
    items = spoken(
        "We walked down to the harbour at dawn. The boats were already out past the "
        "breakwater and the gulls followed them home"
    )
    cues = cues_of(transcript(items))
    assert cue_texts(cues)[0] == "We walked down to the harbour at dawn."
    # Even a short one, when what follows would not fit the rest of the cue.
    items = spoken(
        "Yes, we did. The boats were already out past the breakwater and the gulls "
        "followed them all the way home"
    )
    cues = cues_of(transcript(items))
    assert cue_texts(cues)[0] == "Yes, we did."
    # A short sentence may still share a cue when everything fits.
    (cue,) = cues_of(transcript(spoken("Yes. The boats were out.")))
    assert cue.lines == ("Yes. The boats were out.",)


def test_a_short_pause_is_preferred_to_a_cut_mid_phrase() -> None:
    # 20 words, 122 characters: two cues at least. A 300 ms pause after the fifth word
    # (28 characters in) is the only break; the cue ends there, not where it is full.
    text = (
        "alpha bravo charlie delta echo foxtrot golf hotel india juliet kilo lima mike "
        "november oscar papa quebec romeo sierra tango"
    )
    cues = cues_of(transcript(spoken(text, echo=0.3)))
    assert cue_texts(cues)[0] == "alpha bravo charlie delta echo"
    # Without the pause the first cue is filled: the pause, not length, made the cut.
    assert cue_texts(cues_of(transcript(spoken(text))))[0] != "alpha bravo charlie delta echo"


# Line ends that a reader trips over: "the / village", "out of / the".
DANGLING = ("the", "a", "of", "and")


def test_no_line_ends_on_an_article_a_preposition_or_a_conjunction() -> None:
    # 68 characters, no punctuation: the most balanced split (34 | 33) falls after "the".
    text = "she kept a small notebook with the names of all the ships and storms"
    (cue,) = cues_of(transcript(spoken(text)))
    assert len(cue.lines) == 2
    assert not cue.lines[0].endswith(tuple(f" {w}" for w in DANGLING)), cue.lines
    assert " ".join(cue.lines) == text


@pytest.mark.parametrize("name", [n for n in SPEECH_FIXTURES if n.startswith("0")])
def test_fixture_lines_do_not_end_on_the_a_of_and(name: str) -> None:
    lines = [line for cue in cues_of(parsed(name)) for line in cue.lines]
    assert len(lines) > 50
    assert [line for line in lines if line.rsplit(" ", 1)[-1] in DANGLING] == []


def test_function_words_follow_the_language() -> None:
    assert {"the", "of", "and", "a"} <= function_words(None)
    assert function_words("en-GB") == function_words(None)
    assert {"de", "la", "y", "que"} <= function_words("es-ES")
    assert "de" not in function_words("en-US")
    assert function_words("ko-KR") == frozenset()  # no list: punctuation and pauses only


def test_spanish_lines_do_not_end_on_spanish_function_words() -> None:
    # The balanced split (29 | 28 characters) falls after "de".
    text = "el gobierno de la ciudad de Madrid y los ciudadanos hablaron"
    items = spoken(text)
    spanish = build_cues(group_words(items), language_code="es-ES")
    assert spanish[0].lines[0].rsplit(" ", 1)[-1] not in function_words("es-ES")
    assert " ".join(spanish[0].lines) == text


def test_a_cue_stays_up_to_be_read_and_never_into_the_next() -> None:
    # 41 characters spoken in 1.1 s: 2.05 s to read at 20 a second.
    text = "Reading takes longer than saying it aloud"
    assert len(text) == 41
    first = [word(w, 0.1 * n, 0.1 * n + 0.1) for n, w in enumerate(text.split())]
    roomy = [*first, word("Next", 5.0, 5.5)]
    cues = cues_of(transcript(roomy))
    assert cue_texts(cues) == [text, "Next"]
    assert cues[0].start == 0.0
    assert cues[0].end == pytest.approx(41 / MAX_CHARS_PER_SECOND)
    # The next speaker starts 1.5 s in: the cue ends exactly there, not later.
    tight = [i._replace(speaker="spk_0") for i in first] + [word("Next", 1.5, 1.9, "spk_1")]
    cues = cues_of(transcript(tight, "speaker"))
    assert [c.speaker for c in cues] == ["spk_0", "spk_1"]
    assert cues[0].end == cues[1].start == 1.5


def test_a_short_cue_lasts_five_sixths_of_a_second_where_the_gap_allows() -> None:
    items = [word("Hi", 0.0, 0.2), punct("."), word("Hello", 3.0, 3.2), punct(".")]
    cues = cues_of(transcript(items))
    assert [round(c.end - c.start, 3) for c in cues] == [0.833, 0.833]
    assert abs(MIN_CUE_SECONDS - 0.833) < 0.001
    # Another speaker answers after 0.5 s: the first cue gives way.
    items = [word("Hi", 0.0, 0.2, "spk_0"), word("Hello", 0.5, 0.7, "spk_1")]
    cues = cues_of(transcript(items, "speaker"))
    assert [(c.start, c.end) for c in cues] == [(0.0, 0.5), (0.5, 1.333)]


def jfk_words() -> list[Word]:
    """The inaugural address's best-known sentence at a speaker's pace: a 0.9 s pause
    after "Americans", 0.6 s after the first "you", no punctuation but the final stop."""
    timed = [
        ("And", 0.00, 0.30), ("so", 0.35, 0.90), ("my", 1.00, 1.20), ("fellow", 1.25, 1.60),
        ("Americans", 1.65, 2.60), ("ask", 3.50, 3.90), ("not", 3.95, 4.50),
        ("what", 4.55, 4.80), ("your", 4.85, 5.05), ("country", 5.10, 5.70),
        ("can", 5.75, 6.30), ("do", 6.35, 7.10), ("for", 7.15, 7.35), ("you", 7.40, 7.90),
        ("ask", 8.50, 8.85), ("what", 8.90, 9.10), ("you", 9.15, 9.35), ("can", 9.40, 9.70),
        ("do", 9.75, 10.00), ("for", 10.05, 10.20), ("your", 10.25, 10.45),
        ("country", 10.50, 11.30),
    ]  # fmt: skip
    last = len(timed) - 1
    return [
        Word(text + ("." if n == last else ""), text, start, end, 0.9, None, n == last, n == last)
        for n, (text, start, end) in enumerate(timed)
    ]


def test_jfk_is_cut_at_his_pauses_not_between_can_and_do() -> None:
    # Before: "And so my fellow Americans / ask not what your country can" |
    # "do for you ask what you / can do for your country." (cut at the 7 s limit).
    cues = build_cues(jfk_words())
    assert cue_texts(cues) == [
        "And so my fellow Americans",
        "ask not what your country can do for you",
        "ask what you can do for your country.",
    ]
    for cue in cues:
        assert not cue.lines[-1].endswith("can")
