"""Every language written right: writing systems, display widths, subtitle lines in CJK,
Thai and right-to-left text, stop words and keywords per language.

Real outputs in other languages are tests/fixtures/transcribe/languages/*.json (see
SOURCE.md there; every file is tested). Languages without a real output are covered by
variants made here from the English fixtures: the same items, times and speakers, each
word replaced by one of a small vocabulary in that language (hand-made, so they test
layout and keywords, not what Transcribe writes).
"""

from __future__ import annotations

import dataclasses
import re
import unicodedata
from pathlib import Path

import pytest

from tests.conftest import TRANSCRIPTS
from tests.unit.conftest import parsed
from transcription_pipeline.languages import BATCH_LANGUAGE_CODES
from transcription_pipeline.render import (
    Cue,
    build_cues,
    render_srt,
    render_text,
    render_vtt,
    srt_from_cues,
    text_from_words,
    vtt_from_cues,
)
from transcription_pipeline.scripts import (
    CHINESE,
    JAPANESE,
    KOREAN,
    LATIN,
    RIGHT_TO_LEFT,
    RIGHT_TO_LEFT_MARK,
    SOUTHEAST_ASIAN,
    WritingSystem,
    display_width,
    writing_system,
)
from transcription_pipeline.stop_words import ENGLISH_STOP_WORDS, stop_words
from transcription_pipeline.summary import Summary, summarise
from transcription_pipeline.transcript import Item, Transcript, parse_transcript
from transcription_pipeline.words import Word, group_words

RLM = RIGHT_TO_LEFT_MARK
LANGUAGE_FIXTURES = TRANSCRIPTS / "languages"
# The language of a real output is in its file name (es-…, ja-JP-…): the files have no
# language_code, which the pipeline takes from the job.
LANGUAGE_IN_NAME = re.compile(r"^([a-z]{2,3}(?:-[A-Z]{2})?)-")
CJK = r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af]"


def language_fixtures() -> list[str]:
    return sorted(path.name for path in LANGUAGE_FIXTURES.glob("*.json"))


# -- display width ------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "width"),
    [
        ("hello", 5),
        ("", 0),
        ("日本語", 6),  # wide
        ("\uff21\uff11", 4),  # full-width A and 1
        ("ｶﾀｶﾅ", 4),  # half-width katakana: narrow
        ("한국어", 6),
        ("今日はAWS", 9),
        ("ที่", 1),  # Thai consonant + vowel mark + tone mark
        ("ผู้ใหญ่", 4),
        ("e\u0301", 1),  # e + combining acute
        ("café", 4),
        ("كَتَبَ", 3),  # harakat take no column
        ("हिंदी", 4),  # spacing vowel signs (Mc) do, the anusvara (Mn) does not
        (RLM + "abc", 3),  # format characters take none
    ],
)
def test_display_width(text: str, width: int) -> None:
    assert display_width(text) == width


# -- writing systems ----------------------------------------------------------------------
@pytest.mark.parametrize(
    ("code", "expected"),
    [
        ("ja-JP", JAPANESE),
        ("zh-CN", CHINESE),
        ("zh-TW", CHINESE),
        ("zh-HK", CHINESE),
        ("zh_Hant_TW", CHINESE),
        ("th-TH", SOUTHEAST_ASIAN),
        ("lo-LA", SOUTHEAST_ASIAN),
        ("km-KH", SOUTHEAST_ASIAN),
        ("my-MM", SOUTHEAST_ASIAN),
        ("KO-kr", KOREAN),
        ("ar-SA", RIGHT_TO_LEFT),
        ("he-IL", RIGHT_TO_LEFT),
        ("fa-IR", RIGHT_TO_LEFT),
        ("ur-PK", RIGHT_TO_LEFT),
        ("ps-AF", RIGHT_TO_LEFT),
        ("ckb-IQ", RIGHT_TO_LEFT),
        ("ug-CN", RIGHT_TO_LEFT),
        ("yi", RIGHT_TO_LEFT),
        ("dv-MV", RIGHT_TO_LEFT),
        ("pa-Arab-PK", RIGHT_TO_LEFT),  # the script subtag wins
        ("uz-Latn-UZ", LATIN),
        ("en-US", LATIN),
        ("hi-IN", LATIN),
        ("ru-RU", LATIN),
        ("auto", LATIN),
        ("", LATIN),
        (None, LATIN),
        ("xx-YY", LATIN),
    ],
)
def test_writing_system_of_a_language_code(code: str | None, expected: WritingSystem) -> None:
    assert writing_system(code) is expected


def test_the_writing_systems_of_transcribes_languages() -> None:
    by_code = {code: writing_system(code) for code in BATCH_LANGUAGE_CODES}
    right_to_left = {code for code, w in by_code.items() if w.right_to_left}
    assert right_to_left == {
        "ar-AE",
        "ar-SA",
        "ckb-IQ",
        "ckb-IR",
        "fa-AF",
        "fa-IR",
        "he-IL",
        "ps-AF",
        "ug-CN",
    }
    unspaced = {code for code, w in by_code.items() if w.joiner == ""}
    assert unspaced == {"ja-JP", "zh-CN", "zh-HK", "zh-TW", "th-TH", "km-KH", "my-MM"}
    assert all(w.joiner in ("", " ") for w in by_code.values())


def test_line_limits_follow_the_style_guides() -> None:
    # Netflix counts a full-width character as 1, half-width 0.5: columns / 2.
    assert LATIN.max_line_width == RIGHT_TO_LEFT.max_line_width == 42
    assert JAPANESE.max_line_width == 2 * 13
    assert CHINESE.max_line_width == KOREAN.max_line_width == 2 * 16
    assert SOUTHEAST_ASIAN.max_line_width == 35


def test_joining_words() -> None:
    assert LATIN.join(["Hello,", "world."]) == "Hello, world."
    assert CHINESE.join(["今天", "天气", "很", "好。"]) == "今天天气很好。"
    # Words of a spaced script inside unspaced text keep their space, and only those.
    assert JAPANESE.join(["今日", "は", "AWS", "Lambda", "です。", "OK?", "Yes"]) == (
        "今日はAWS Lambdaです。OK? Yes"
    )
    assert JAPANESE.separator("です。", "AWS") == ""
    assert CHINESE.join([]) == ""
    assert CHINESE.join(["一"]) == "一"


# -- derived transcripts ----------------------------------------------------------------
VOCABULARY = {
    "zh-CN": "今天 天气 很 好 我们 一起 去 北京 看看 长城 的 风景 人工智能 技术 发展 非常 快",
    "ja-JP": "今日 は 天気 が とても いい です 東京 の 桜 を 見 に 行き ましょう 人工知能 技術",
    "ar-SA": "الحكومة في مدينة الرياض من التعليم على 2024 AWS المستقبل و الطلاب",
    "th-TH": "วันนี้ อากาศ ดี มาก เรา จะ ไป ที่ ตลาด รถไฟ ฟ้า ผู้ใหญ่",
    "de-DE": "die Regierung der Stadt und Bürger haben über Schulen gesprochen",
    "es-ES": "el gobierno de la ciudad y los ciudadanos hablaron sobre escuelas",
}
PUNCTUATION = {
    # Full-width comma, question and exclamation marks.
    "zh-CN": {".": "。", ",": "\uff0c", "?": "\uff1f", "!": "\uff01"},
    "ja-JP": {".": "。", ",": "、", "?": "\uff1f", "!": "\uff01"},
    "ar-SA": {",": "،", "?": "؟"},
    "th-TH": {".": "", ",": "", "?": "", "!": ""},  # Thai writes no such marks
}


def derived(code: str, name: str = "03-speaker-identification.json") -> Transcript:
    """An English fixture's items, times and speakers with this language's words."""
    english = parsed(name)
    vocabulary = VOCABULARY[code].split()
    marks = PUNCTUATION.get(code, {})
    items: list[Item] = []
    spoken = 0
    for item in english.items:
        if item.kind == "pronunciation":
            items.append(item._replace(content=vocabulary[spoken % len(vocabulary)]))
            spoken += 1
        elif marks.get(item.content, item.content):
            items.append(item._replace(content=marks.get(item.content, item.content)))
    return dataclasses.replace(english, items=tuple(items), text="", language_code=code)


def summary_of(t: Transcript) -> Summary:
    return summarise(t, group_words(t.items), source_bucket="b", source_key="k", created_at="x")


def assert_lines_fit(cues: tuple[Cue, ...], writing: WritingSystem) -> None:
    for cue in cues:
        assert 1 <= len(cue.lines) <= 2
        for line in cue.lines:
            # Only a word wider than a line may make one wider than the limit.
            fits = display_width(line) <= writing.max_line_width
            assert fits or writing.separator("a", "b") not in line.strip(), line


@pytest.mark.parametrize("code", ["zh-CN", "ja-JP"])
def test_cjk_subtitle_lines(code: str) -> None:
    t = derived(code)
    writing = writing_system(code)
    words = group_words(t.items)
    cues = build_cues(words, writing=writing)
    assert len(cues) > 20
    widths = [display_width(line) for cue in cues for line in cue.lines]
    assert max(widths) <= writing.max_line_width
    assert max(widths) > writing.max_line_width - 6  # lines are filled, not cut short
    assert not any(" " in line for cue in cues for line in cue.lines)
    # Every word once, in order, nothing between them.
    assert "".join(line for cue in cues for line in cue.lines) == "".join(w.text for w in words)


@pytest.mark.parametrize("code", ["zh-CN", "ja-JP"])
def test_cjk_text_has_no_spaces_between_words(code: str) -> None:
    t = derived(code, "01-plain.json")
    text = render_text(t)
    assert " " not in text
    assert text.replace("\n", "") == "".join(w.text for w in group_words(t.items))
    labelled = render_text(derived(code))
    assert labelled.startswith("[00:00] spk_0: ")
    assert not re.search(f"{CJK} {CJK}", labelled)


def test_thai_lines_measure_marks_as_nothing() -> None:
    t = derived("th-TH")
    cues = build_cues(group_words(t.items), writing=SOUTHEAST_ASIAN)
    lines = [line for cue in cues for line in cue.lines]
    assert max(map(display_width, lines)) <= SOUTHEAST_ASIAN.max_line_width
    # Thai vowel and tone marks are characters but no columns: lines hold more of them.
    assert max(map(len, lines)) > SOUTHEAST_ASIAN.max_line_width
    assert " " not in "".join(lines)


def test_latin_width_counts_combining_marks_as_nothing() -> None:
    decomposed = unicodedata.normalize("NFD", "café")
    # 10 x 4 columns + 9 spaces = 49 columns (59 characters): two lines of 5 words.
    words = [
        Word(decomposed, decomposed, n * 0.3, n * 0.3 + 0.2, 0.9, None, False, False)
        for n in range(10)
    ]
    (cue,) = build_cues(words)
    assert [display_width(line) for line in cue.lines] == [24, 24]


def test_right_to_left_subtitle_lines_start_with_a_mark() -> None:
    t = derived("ar-SA")
    srt, vtt = render_srt(t), render_vtt(t)
    srt_lines = [
        line
        for block in srt.split("\n\n")
        for line in block.rstrip("\n").split("\n")[2:]  # after the index and the times
    ]
    assert len(srt_lines) > 40
    assert all(line.startswith(RLM) for line in srt_lines)
    assert sum(line.startswith(RLM + "spk_") for line in srt_lines) > 5  # speaker names too
    assert any(line[1:2].isdigit() or line[1:2].isascii() for line in srt_lines)
    vtt_lines = [
        line
        for block in vtt.split("\n\n")[1:]
        for line in block.rstrip("\n").split("\n")[1:]  # after the times
    ]
    assert all(re.match(f"^(<v spk_\\d>)?{RLM}[^{RLM}]", line) for line in vtt_lines)
    assert sum(line.startswith("<v spk_") for line in vtt_lines) == vtt.count(" --> ")
    # One mark per line, nowhere else; the text file has none.
    assert srt.count(RLM) == len(srt_lines)
    assert RLM not in render_text(t)
    # Arabic punctuation attaches like its Latin forms.
    assert "،" in srt
    assert not re.search(" [،؟]", srt)


def test_left_to_right_subtitles_have_no_marks() -> None:
    for t in (parsed("03-speaker-identification.json"), derived("zh-CN"), derived("de-DE")):
        assert RLM not in render_srt(t) + render_vtt(t)


def test_the_writing_system_is_a_keyword_for_the_formats() -> None:
    cue = Cue(0.0, 1.0, ("2024 مرحبا", "AWS"), "Ana")
    assert srt_from_cues([cue], writing=RIGHT_TO_LEFT) == (
        f"1\n00:00:00,000 --> 00:00:01,000\n{RLM}Ana: 2024 مرحبا\n{RLM}AWS\n"
    )
    assert vtt_from_cues([cue], writing=RIGHT_TO_LEFT) == (
        f"WEBVTT\n\n00:00:00.000 --> 00:00:01.000\n<v Ana>{RLM}2024 مرحبا\n{RLM}AWS\n"
    )
    assert RLM not in srt_from_cues([cue]) + vtt_from_cues([cue])
    words = group_words(derived("zh-CN").items)
    assert " " in text_from_words(words, None)  # the default joins with spaces
    assert " " not in text_from_words(words, None, writing=CHINESE)


# -- stop words and keywords ----------------------------------------------------------------
@pytest.mark.parametrize(
    ("code", "stop", "content"),
    [
        ("es-ES", ["de", "que", "el", "la"], ["gobierno", "ciudad"]),
        ("de-DE", ["und", "der", "die", "über"], ["regierung", "stadt"]),
        ("fr-FR", ["le", "et", "est"], ["gouvernement"]),
        ("pt-BR", ["que", "não"], ["governo"]),
        ("it-IT", ["che", "della"], ["governo"]),
        ("ru-RU", ["и", "не"], ["правительство"]),
        ("hi-IN", ["है", "और"], ["सरकार"]),
        ("ko-KR", ["그리고"], ["정부"]),
        ("ja-JP", ["これ", "です", "は", "ええ"], ["東京", "天気"]),
        ("zh-CN", ["的", "我们", "是", "嗯"], ["北京", "天气"]),
        ("ar-SA", ["في", "من", "على"], ["الحكومة", "مدينة"]),
        ("he-IL", ["של"], ["ממשלה"]),
        ("fa-IR", ["از"], ["دولت"]),
        ("th-TH", ["ที่", "และ"], ["รถไฟ"]),
    ],
)
def test_stop_words_per_language(code: str, stop: list[str], content: list[str]) -> None:
    words = stop_words(code)
    assert set(stop) <= words
    assert not set(content) & words
    assert stop_words(code) is words  # loaded once


def test_english_keeps_its_own_list() -> None:
    assert stop_words("en-US") is stop_words("en-GB") is stop_words(None) is ENGLISH_STOP_WORDS
    assert stop_words("auto") is ENGLISH_STOP_WORDS
    assert {"um", "uh", "yeah", "the"} <= ENGLISH_STOP_WORDS
    assert not {"computer", "research", "world"} & ENGLISH_STOP_WORDS


def test_a_language_without_a_list_has_no_stop_words() -> None:
    assert stop_words("km-KH") == frozenset()
    assert stop_words("zz") == frozenset()


@pytest.mark.parametrize(
    ("code", "stop", "content"),
    [
        ("es-ES", {"de", "la", "el"}, {"gobierno", "ciudad", "escuelas"}),
        ("de-DE", {"die", "der", "und"}, {"regierung", "stadt", "schulen"}),
        ("ja-JP", {"は", "です", "が"}, {"天気", "東京", "人工知能"}),
        ("zh-CN", {"的", "我们", "一起"}, {"天气", "北京", "长城"}),
        ("ar-SA", {"في", "من", "على"}, {"الحكومة", "مدينة", "الرياض"}),
        ("th-TH", {"ที่", "จะ"}, {"วันนี้", "อากาศ", "ตลาด"}),
    ],
)
def test_keywords_per_language(code: str, stop: set[str], content: set[str]) -> None:
    summary = summary_of(derived(code))
    keywords = set(summary.keywords)
    assert len(keywords) >= 3
    assert not keywords & stop_words(code)
    assert not keywords & stop
    assert keywords & content
    writing = writing_system(code)
    assert all(display_width(k) >= writing.min_term_width for k in keywords)
    assert summary.highlights
    assert all(" " not in h.text for h in summary.highlights) or writing.joiner


def test_cjk_keywords_are_words_of_two_characters() -> None:
    keywords = summary_of(derived("zh-CN")).keywords
    assert {"天气", "北京", "长城"} <= set(keywords)
    # One-character words ("很", "好", "去") are too short to be terms.
    assert all(len(k) >= 2 for k in keywords)
    assert not {"很", "好", "去"} & set(keywords)


def test_words_keep_their_combining_marks() -> None:
    items = [
        Item("pronunciation", word, n * 0.5, n * 0.5 + 0.4, 0.9, None)
        for n, word in enumerate(["हिंदी", "सरकार", "हिंदी", "भाषा", "हिंदी"])
    ]
    t = Transcript("t", tuple(items), "", "hi-IN", None, None, False)
    keywords = summary_of(t).keywords
    assert keywords[0] == "हिंदी"
    assert set(keywords) == {"हिंदी", "सरकार", "भाषा"}


# -- real outputs in other languages ---------------------------------------------------
def language_transcript(name: str) -> Transcript:
    t = parse_transcript((LANGUAGE_FIXTURES / name).read_bytes())
    if t.language_code is None:
        match = LANGUAGE_IN_NAME.match(name)
        assert match, f"{name}: name it <language>-… (es-…, ja-JP-…)"
        t = dataclasses.replace(t, language_code=match.group(1))
    return t


@pytest.mark.parametrize("name", language_fixtures())
def test_real_output_in_another_language(name: str) -> None:
    t = language_transcript(name)
    writing = writing_system(t.language_code)
    words = group_words(t.items)
    assert words
    text = render_text(t)
    if writing.joiner == "":
        assert not re.search(f"{CJK} {CJK}", text)
    body = re.sub(r"^\[[\d:]+\] [^:]+: ", "", text, flags=re.M).replace("\n", "")
    assert body == "".join(writing.join([w.text for w in words]).split("\n"))
    cues = build_cues(words, writing=writing)
    assert_lines_fit(cues, writing)
    srt = render_srt(t)
    lines = [line for block in srt.split("\n\n") for line in block.rstrip("\n").split("\n")[2:]]
    if writing.right_to_left:
        assert all(line.startswith(RLM) for line in lines)
    else:
        assert RLM not in srt
    keywords = summary_of(t).keywords
    assert keywords
    assert not set(keywords) & stop_words(t.language_code)


def test_the_real_japanese_output_joins_without_spaces() -> None:
    name = "ja-JP-asr-srtize-sample.json"
    if not (LANGUAGE_FIXTURES / name).exists():
        pytest.skip(f"{name} is not among the language fixtures")
    t = language_transcript(name)
    # Transcribe's own transcript string has spaces between the words here.
    assert t.text == "皆さん 初め まして こん にち は"
    assert render_text(t) == "皆さん初めましてこんにちは\n"


def test_language_fixtures_are_found() -> None:
    # The parametrised test above must not silently test nothing.
    assert Path(LANGUAGE_FIXTURES).is_dir()
    assert language_fixtures()


UNCOVERED = """
    ab am ast az ba be bs ckb cy gd ht is jv ka kab kk km kn ky lg mhr mi mk ml mn mt my
    ne or pa ps rw si sq sr su ta te tt ug uz wo
"""


def test_transcribe_languages_without_stop_words() -> None:
    """The languages stop_words.py lists as uncovered, and only those."""
    languages = sorted({code.split("-")[0] for code in BATCH_LANGUAGE_CODES})
    uncovered = [language for language in languages if not stop_words(language)]
    assert len(languages) == 93
    assert uncovered == UNCOVERED.split()
