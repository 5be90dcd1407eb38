"""Tests for transcription_pipeline.translation, with an in-memory translator."""

from __future__ import annotations

import json
import random
import re

import pytest

from tests.unit.conftest import SPEECH_FIXTURES, parsed
from transcription_pipeline.languages import BATCH_LANGUAGE_CODES
from transcription_pipeline.render import (
    Cue,
    build_cues,
    srt_from_cues,
    text_from_words,
    vtt_from_cues,
)
from transcription_pipeline.translation import (
    AUTO,
    MAX_REQUEST_BYTES,
    TRANSLATE_LANGUAGE_CODES,
    RequestCounts,
    TranslationFailed,
    TranslationThrottled,
    UnsupportedLanguage,
    batch_ranges,
    default_line_layout,
    source_code,
    translate_code,
    translate_outputs,
    translate_texts,
    wrap_cue_text,
)
from transcription_pipeline.words import Word, group_words

SRT_BLOCK = re.compile(
    r"(\d+)\n(\d{2}:\d{2}:\d{2},\d{3}) --> (\d{2}:\d{2}:\d{2},\d{3})\n(.*?)(?:\n\n|\n?$)", re.S
)
VTT_TIME = re.compile(r"^(\d{2}:\d{2}:\d{2}\.\d{3}) --> (\d{2}:\d{2}:\d{2}\.\d{3})$", re.M)


class FakeTranslator:
    """Each line becomes ``<target>|`` + the line reversed; scriptable faults."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str, str]] = []
        self.merge_next = 0  # the next answers with several lines join their first two
        self.failures: dict[str, TranslationFailed] = {}
        self.throttled: set[str] = set()

    def translate_text(self, text: str, source: str, target: str) -> str:
        assert text, "empty Text sent"
        assert len(text.encode("utf-8")) <= MAX_REQUEST_BYTES, "request over the byte limit"
        self.calls.append((text, source, target))
        if target in self.failures:
            raise self.failures[target]
        if target in self.throttled:
            raise TranslationThrottled("TooManyRequestsException: Rate exceeded")
        lines = [f"{target}|{line[::-1]}" for line in text.split("\n")]
        if self.merge_next and len(lines) > 1:
            self.merge_next -= 1
            lines[:2] = [f"{lines[0]} {lines[1]}"]
        return "\n".join(lines)

    def targets(self) -> list[str]:
        return [target for _, _, target in self.calls]


def untranslate(text: str, target: str) -> str:
    """The source of a FakeTranslator line (pieces joined by a space come back in order)."""
    prefix = f"{target}|"
    assert text.startswith(prefix), text
    return text[len(prefix) :][::-1]


def words_of(text: str, speaker: str | None = None, start: float = 0.0) -> list[Word]:
    words = []
    t = start
    for token in text.split():
        end = t + 0.3
        words.append(
            Word(
                token,
                token.strip(".,?!"),
                t,
                end,
                0.9,
                speaker,
                token[-1] in ".?!",
                token[-1] in ".,?!",
            )
        )
        t = end + 0.05
    return words


# -- language codes ---------------------------------------------------------------------
@pytest.mark.parametrize(
    ("transcribe", "translate"),
    [
        ("de-DE", "de"),
        ("de-CH", "de"),
        ("ja-JP", "ja"),
        ("zh-CN", "zh"),
        ("zh-TW", "zh-TW"),
        ("zh-HK", "zh-TW"),
        ("fr-FR", "fr"),
        ("fr-CA", "fr-CA"),
        ("pt-BR", "pt"),
        ("pt-PT", "pt-PT"),
        ("es-ES", "es"),
        ("es-MX", "es-MX"),
        ("es-US", "es-MX"),
        ("en-US", "en"),
        ("en-GB", "en"),
        ("en-IN", "en"),
        ("fa-IR", "fa"),
        ("fa-AF", "fa-AF"),
        ("no-NO", "no"),
        ("tl-PH", "tl"),
        ("cy-WL", "cy"),
        ("ar-AE", "ar"),
        ("sw-KE", "sw"),
    ],
)
def test_translate_code_maps_transcribe_codes(transcribe: str, translate: str) -> None:
    assert translate_code(transcribe) == translate


@pytest.mark.parametrize("code", ["eu-ES", "zu-ZA", "gl-ES", "xx-YY"])
def test_translate_code_refuses_languages_translate_lacks(code: str) -> None:
    with pytest.raises(UnsupportedLanguage, match=re.escape(repr(code))) as raised:
        translate_code(code)
    assert raised.value.code == code


def test_every_transcribe_code_maps_to_a_translate_code_or_refuses() -> None:
    mapped = {}
    for code in sorted(BATCH_LANGUAGE_CODES):
        try:
            mapped[code] = translate_code(code)
        except UnsupportedLanguage:
            continue
    assert set(mapped.values()) <= TRANSLATE_LANGUAGE_CODES
    # Most languages are covered; the big ones all are.
    assert len(mapped) > 80
    assert {"de-DE", "ja-JP", "ko-KR", "hi-IN", "ru-RU", "ar-SA"} <= set(mapped)


def test_source_code_is_auto_when_unknown() -> None:
    assert source_code(None) == AUTO
    assert source_code("pt-BR") == "pt"


@pytest.mark.parametrize(
    ("code", "joiner"), [("de", " "), ("ja", ""), ("zh-TW", ""), ("th", ""), ("ko", " ")]
)
def test_line_layout_follows_the_target_writing_system(code: str, joiner: str) -> None:
    width, got = default_line_layout(code)
    assert got == joiner
    assert 20 <= width <= 42


# -- batching ---------------------------------------------------------------------------
def test_batches_count_utf8_bytes_not_characters() -> None:
    texts = ["語" * 1000] * 10  # 3,000 bytes each, 1,000 characters
    ranges = batch_ranges(texts)
    assert [len(r) for r in ranges] == [3, 3, 3, 1]
    for r in ranges:
        joined = "\n".join(texts[r.start : r.stop])
        assert len(joined.encode("utf-8")) <= MAX_REQUEST_BYTES
        # Greedy: one more text would not have fitted.
        if r.stop < len(texts):
            bigger = "\n".join(texts[r.start : r.stop + 1])
            assert len(bigger.encode("utf-8")) > MAX_REQUEST_BYTES


def test_batches_fill_to_exactly_the_limit() -> None:
    texts = ["a" * 4999, "é" * 2500, "b"]  # 4999 + 1 + 5000 = 10,000 bytes
    assert batch_ranges(texts) == [range(0, 2), range(2, 3)]


def test_batches_count_the_newline_between_texts() -> None:
    # 5000 + 1 + 5000 bytes: one byte over once the separator is counted.
    assert batch_ranges(["a" * 5000, "b" * 5000]) == [range(0, 1), range(1, 2)]


def test_batches_refuse_a_text_over_the_limit() -> None:
    with pytest.raises(ValueError, match="over the 10000-byte limit"):
        batch_ranges(["x" * (MAX_REQUEST_BYTES + 1)])


def test_translate_texts_keeps_order_and_skips_empty_texts() -> None:
    translator = FakeTranslator()
    texts = ["Hello there.", "", "  ", "Grüße aus Köln.", "東京へようこそ"]
    translated = translate_texts(texts, source="en", target="de", translator=translator)
    assert [untranslate(t, "de") if t else "" for t in translated] == [
        "Hello there.",
        "",
        "",
        "Grüße aus Köln.",
        "東京へようこそ",
    ]
    assert len(translator.calls) == 1
    assert translator.calls[0][0] == "Hello there.\nGrüße aus Köln.\n東京へようこそ"


def test_long_multibyte_texts_are_sent_in_requests_under_the_limit() -> None:
    rng = random.Random(7)
    sentences = [
        " ".join(rng.choice(["Müller", "größer", "ça", "naïve", "über", "€uro"]) for _ in range(9))
        + "."
        for _ in range(2000)
    ]
    texts = [" ".join(sentences[i : i + 4]) for i in range(0, len(sentences), 4)]
    translator = FakeTranslator()
    counts = RequestCounts()
    translated = translate_texts(
        texts, source="de", target="en", translator=translator, counts=counts
    )
    assert [untranslate(t, "en") for t in translated] == texts
    total = sum(len(t.encode("utf-8")) + 1 for t in texts)
    # Batches are full: about total / limit requests, and never one per text.
    assert counts.requests == len(translator.calls)
    assert counts.requests <= total // MAX_REQUEST_BYTES + 2
    assert counts.characters == sum(len(text) for text, _, _ in translator.calls)


def test_a_text_over_the_limit_is_split_at_sentences_and_joined_back() -> None:
    paragraph = " ".join(f"Sentence number {i} says something rather long." for i in range(600))
    assert len(paragraph.encode()) > 2 * MAX_REQUEST_BYTES
    translator = FakeTranslator()
    (translated,) = translate_texts([paragraph], source="en", target="fr", translator=translator)
    pieces = translated.split(" fr|")
    assert len(pieces) >= 3
    restored = " ".join(untranslate(p if i == 0 else "fr|" + p, "fr") for i, p in enumerate(pieces))
    assert restored == paragraph
    # Split at sentence ends: every piece is whole sentences.
    assert all(
        untranslate(p if i == 0 else "fr|" + p, "fr").endswith(".") for i, p in enumerate(pieces)
    )


def test_a_text_without_spaces_over_the_limit_is_split_between_characters() -> None:
    text = "語" * 7000  # 21,000 bytes, no space, no punctuation
    translator = FakeTranslator()
    (translated,) = translate_texts(
        [text], source="ja", target="en", translator=translator, joiner=""
    )
    assert len(translator.calls) == 3
    assert translated.count("en|") == 3
    assert "".join(call[0] for call in translator.calls) == text


def test_line_count_mismatch_falls_back_to_one_request_per_text() -> None:
    translator = FakeTranslator()
    translator.merge_next = 1
    texts = [f"line {i} of the batch" for i in range(5)]
    counts = RequestCounts()
    translated = translate_texts(
        texts, source="en", target="de", translator=translator, counts=counts
    )
    assert [untranslate(t, "de") for t in translated] == texts
    assert counts.requests == 6  # the merged batch, then each line alone
    assert counts.fallback_requests == 5
    assert [call[0] for call in translator.calls[1:]] == texts


# -- re-wrapping ------------------------------------------------------------------------
def test_wrap_keeps_a_short_text_on_one_line() -> None:
    assert wrap_cue_text("Guten Morgen, alle zusammen.") == ("Guten Morgen, alle zusammen.",)


def test_wrap_splits_into_two_balanced_lines_within_the_width() -> None:
    text = "Das ist ein ziemlich langer Untertitel der auf zwei Zeilen muss"
    lines = wrap_cue_text(text)
    assert len(lines) == 2
    assert " ".join(lines) == text
    assert all(len(line) <= 42 for line in lines)
    assert abs(len(lines[0]) - len(lines[1])) <= 8


def test_wrap_prefers_a_break_after_punctuation() -> None:
    text = "Wir reden morgen weiter, aber heute ist schon zu spät dafür"
    # "Wir reden morgen weiter, aber" / "heute ist ..." would be perfectly balanced (29/29).
    assert wrap_cue_text(text) == ("Wir reden morgen weiter,", "aber heute ist schon zu spät dafür")


def test_wrap_never_makes_more_than_two_lines() -> None:
    text = " ".join(["Donaudampfschifffahrt"] * 8)  # far over two lines of 42
    lines = wrap_cue_text(text)
    assert len(lines) == 2
    assert " ".join(lines) == text
    assert abs(len(lines[0]) - len(lines[1])) <= len("Donaudampfschifffahrt") + 1


def test_wrap_splits_between_characters_without_a_joiner() -> None:
    text = "今日はとても良い天気ですね、散歩に行きましょうか"  # 24 wide characters: 48 columns
    lines = wrap_cue_text(text, max_line_width=30, joiner="")
    assert lines == ("今日はとても良い天気ですね、", "散歩に行きましょうか")
    assert wrap_cue_text("短い文です。", max_line_width=30, joiner="") == ("短い文です。",)


def test_wrap_keeps_marks_on_their_letters_and_prefers_spaces() -> None:
    text = "สวัสดีครับทุกท่าน ยินดีต้อนรับสู่การประชุม"
    lines = wrap_cue_text(text, max_line_width=20, joiner="")
    assert lines == ("สวัสดีครับทุกท่าน", "ยินดีต้อนรับสู่การประชุม")


# -- the use case -----------------------------------------------------------------------
@pytest.fixture(scope="module")
def speech() -> tuple[tuple[Cue, ...], str]:
    transcript = parsed(SPEECH_FIXTURES[0])
    words = group_words(transcript.items)
    return build_cues(words), text_from_words(words, transcript.labels)


def srt_times(srt: str) -> list[tuple[str, str]]:
    return [(m.group(2), m.group(3)) for m in SRT_BLOCK.finditer(srt)]


def test_translated_subtitles_keep_cue_count_times_and_speakers(
    speech: tuple[tuple[Cue, ...], str],
) -> None:
    cues, text = speech
    translator = FakeTranslator()
    outcome = translate_outputs(
        cues, text, source_language="en-US", target_languages=["de-DE"], translator=translator
    )
    (result,) = outcome.languages
    assert result.status == "translated"
    assert set(result.files) == {"subtitles.srt", "subtitles.vtt", "transcript.txt"}
    source_srt, srt = srt_from_cues(cues), result.files["subtitles.srt"].decode()
    assert srt_times(srt) == srt_times(source_srt)
    assert len(srt_times(srt)) == len(cues)
    vtt = result.files["subtitles.vtt"].decode()
    assert VTT_TIME.findall(vtt) == VTT_TIME.findall(vtt_from_cues(cues))
    # Each cue holds its own text, translated: cue i's lines undo to cue i's words.
    for match, cue in zip(SRT_BLOCK.finditer(srt), cues, strict=True):
        body = " ".join(match.group(4).split("\n"))
        assert untranslate(body, "de") == " ".join(cue.lines)
    assert all(call[1:] == ("en", "de") for call in translator.calls)
    assert outcome.requests == result.requests == len(translator.calls)
    assert outcome.characters == sum(len(call[0]) for call in translator.calls)


def test_subtitles_translated_into_a_right_to_left_language_carry_direction_marks(
    speech: tuple[tuple[Cue, ...], str],
) -> None:
    cues, text = speech
    outcome = translate_outputs(
        cues, text, source_language="en-US", target_languages=["ar-SA"], translator=FakeTranslator()
    )
    (result,) = outcome.languages
    srt = result.files["subtitles.srt"].decode()
    text_lines = [line for match in SRT_BLOCK.finditer(srt) for line in match.group(4).split("\n")]
    assert text_lines
    assert all(line.startswith("\u200f") for line in text_lines)
    vtt = result.files["subtitles.vtt"].decode()
    assert "\u200f" in vtt


def test_long_translations_are_rewrapped_to_two_lines() -> None:
    words = words_of(
        "This sentence is long enough to need two subtitle lines of text here.", start=0
    )
    cues = build_cues(words)

    class Longer(FakeTranslator):
        def translate_text(self, text: str, source: str, target: str) -> str:
            return "\n".join(f"{line} {line}" for line in text.split("\n"))

    outcome = translate_outputs(
        cues, "", source_language="en-US", target_languages=["de-DE"], translator=Longer()
    )
    srt = outcome.languages[0].files["subtitles.srt"].decode()
    for match in SRT_BLOCK.finditer(srt):
        assert 1 <= len(match.group(4).split("\n")) <= 2
    assert outcome.languages[0].overlong_cues >= 1


def test_labelled_transcript_keeps_timestamps_speakers_and_blank_lines() -> None:
    text = "[00:01] spk_0: Hello there.\n\n[1:02:03] Ana María: Yes, indeed.\n"
    outcome = translate_outputs(
        (), text, source_language="en-US", target_languages=["es-US"], translator=FakeTranslator()
    )
    translated = outcome.languages[0].files["transcript.txt"].decode()
    lines = translated.split("\n")
    assert lines[0].startswith("[00:01] spk_0: es-MX|")
    assert untranslate(lines[0].removeprefix("[00:01] spk_0: "), "es-MX") == "Hello there."
    assert lines[1] == ""
    assert lines[2].startswith("[1:02:03] Ana María: es-MX|")
    assert translated.endswith("\n")


def test_summary_texts_are_translated_into_summary_json() -> None:
    summary = {"overview": "A short talk.\nTwo lines.", "title": "My talk"}
    outcome = translate_outputs(
        (),
        "",
        source_language="en-GB",
        target_languages=["fr-CA"],
        translator=FakeTranslator(),
        summary_texts=summary,
    )
    document = json.loads(outcome.languages[0].files["summary.json"])
    assert document["target_language"] == "fr-CA"
    assert document["source_language"] == "en"
    overview = document["texts"]["overview"].split("\n")
    assert [untranslate(line, "fr-CA") for line in overview] == ["A short talk.", "Two lines."]
    assert untranslate(document["texts"]["title"], "fr-CA") == "My talk"


def test_a_failed_language_does_not_stop_the_others(speech: tuple[tuple[Cue, ...], str]) -> None:
    cues, text = speech
    translator = FakeTranslator()
    translator.failures["ja"] = TranslationFailed(
        "UnsupportedLanguagePairException", "Unsupported language pair: en to ja."
    )
    translator.throttled.add("ko")
    outcome = translate_outputs(
        cues,
        text,
        source_language="en-US",
        target_languages=["ja-JP", "de-DE", "ko-KR", "eu-ES"],
        translator=translator,
    )
    ja, de, ko, eu = outcome.languages
    assert (ja.status, ja.error_code, ja.retryable, ja.files) == (
        "failed",
        "UnsupportedLanguagePairException",
        False,
        {},
    )
    assert "Unsupported language pair" in (ja.reason or "")
    assert de.status == "translated"
    assert de.files
    assert (ko.status, ko.error_code, ko.retryable) == ("failed", "TooManyRequestsException", True)
    assert (eu.status, eu.error_code, eu.translate_code) == ("failed", "UnsupportedLanguage", None)
    assert "eu" not in translator.targets()
    assert set(outcome.output_files()) == {
        "translations/de-DE/subtitles.srt",
        "translations/de-DE/subtitles.vtt",
        "translations/de-DE/transcript.txt",
    }
    assert [r.target for r in outcome.with_status("failed")] == ["ja-JP", "ko-KR", "eu-ES"]


def test_target_in_the_source_language_is_skipped(speech: tuple[tuple[Cue, ...], str]) -> None:
    cues, text = speech
    translator = FakeTranslator()
    outcome = translate_outputs(
        cues,
        text,
        source_language="en-US",
        target_languages=["en-GB", "de-DE"],
        translator=translator,
    )
    skipped, de = outcome.languages
    assert (skipped.status, skipped.requests, skipped.files) == ("skipped", 0, {})
    assert "'en'" in (skipped.reason or "")
    assert de.status == "translated"
    assert set(translator.targets()) == {"de"}


def test_targets_sharing_a_translate_language_are_translated_once(
    speech: tuple[tuple[Cue, ...], str],
) -> None:
    cues, text = speech
    translator = FakeTranslator()
    outcome = translate_outputs(
        cues,
        text,
        source_language="de-DE",
        target_languages=["en-GB", "en-US"],
        translator=translator,
    )
    gb, us = outcome.languages
    assert gb.files
    assert gb.files == us.files
    assert gb.requests == len(translator.calls)
    assert us.requests == 0
    assert "translations/en-US/subtitles.srt" in outcome.output_files()


def test_unknown_source_is_sent_as_auto_and_unsupported_source_fails_all() -> None:
    translator = FakeTranslator()
    outcome = translate_outputs(
        (), "Hallo.\n", source_language=None, target_languages=["en-US"], translator=translator
    )
    assert outcome.source == "auto"
    assert translator.calls == [("Hallo.", "auto", "en")]
    translator = FakeTranslator()
    outcome = translate_outputs(
        (),
        "Kaixo.\n",
        source_language="eu-ES",
        target_languages=["en-US", "de-DE"],
        translator=translator,
    )
    assert [r.error_code for r in outcome.languages] == ["UnsupportedLanguage"] * 2
    assert translator.calls == []


def test_nothing_to_translate_sends_nothing() -> None:
    translator = FakeTranslator()
    outcome = translate_outputs(
        (), "", source_language="en-US", target_languages=["de-DE"], translator=translator
    )
    (result,) = outcome.languages
    assert result.status == "translated"
    assert result.files["subtitles.vtt"] == b"WEBVTT\n"
    assert result.files["subtitles.srt"] == b""
    assert translator.calls == []


def test_languages_in_parallel_give_the_same_outcome(speech: tuple[tuple[Cue, ...], str]) -> None:
    cues, text = speech
    targets = ["de-DE", "fr-FR", "ja-JP", "pt-BR"]
    sequential = translate_outputs(
        cues, text, source_language="en-US", target_languages=targets, translator=FakeTranslator()
    )
    parallel = translate_outputs(
        cues,
        text,
        source_language="en-US",
        target_languages=targets,
        translator=FakeTranslator(),
        max_workers=3,
    )
    assert parallel == sequential


def test_report_holds_counts_and_never_text(speech: tuple[tuple[Cue, ...], str]) -> None:
    cues, text = speech
    translator = FakeTranslator()
    translator.failures["ja"] = TranslationFailed("AccessDeniedException", "not allowed")
    outcome = translate_outputs(
        cues,
        text,
        source_language="en-US",
        target_languages=["de-DE", "ja-JP"],
        translator=translator,
    )
    report = json.dumps(outcome.report())
    words = {w for cue in cues for line in cue.lines for w in line.split() if len(w) > 4}
    assert words
    assert not any(word in report for word in words)
    assert outcome.report()["languages"][1]["error_code"] == "AccessDeniedException"
