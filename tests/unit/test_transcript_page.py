"""transcript.html as markup: escaping, no outside URL, summary parts with their times,
direction and joiners of other scripts, deterministic bytes, no speech.

The page's behaviour in a browser: tests/browser/test_transcript_page.py.
"""

from __future__ import annotations

import dataclasses
import html
import re
from collections.abc import Sequence

import pytest

from tests.unit.conftest import ALL_FIXTURES, parsed
from transcription_pipeline.chapters import Chapter
from transcription_pipeline.model_summary.types import (
    ActionItem,
    ModelChapter,
    ModelSummary,
    ModelUsage,
)
from transcription_pipeline.scripts import writing_system
from transcription_pipeline.summary import Highlight, Summary, shown_chapters, summarise
from transcription_pipeline.transcript import Item, LabelKind, Transcript
from transcription_pipeline.transcript_page import (
    CONTENT_SECURITY_POLICY,
    SPEAKER_COLOURS,
    render_transcript_page,
)
from transcription_pipeline.turns import Turn, turns_of
from transcription_pipeline.words import format_clock, group_words, name_speakers

URL = re.compile(r"https?://|//[a-z0-9-]+\.[a-z]", re.IGNORECASE)


def transcript_of(
    words: Sequence[tuple[str, float, str | None]],
    language: str = "en-US",
    labels: LabelKind | None = "speaker",
) -> Transcript:
    """A transcript from (content, start, speaker); "." "," "?" are punctuation."""
    items = tuple(
        Item("punctuation", content, None, None, 0.0, speaker)
        if content in {".", ",", "?", "\u3002"}
        else Item("pronunciation", content, start, start + 0.4, 0.9, speaker)
        for content, start, speaker in words
    )
    text = " ".join(item.content for item in items)
    return Transcript("job-1", items, text, language, None, labels, False)


def parts(
    transcript: Transcript, names: dict[str, str] | None = None
) -> tuple[Summary, tuple[Turn, ...]]:
    words = name_speakers(group_words(transcript.items), names or {})
    summary = summarise(
        transcript,
        words,
        source_bucket="in",
        source_key="talks/team meeting.mp4",
        created_at="2026-01-01T00:00:00Z",
        speaker_names=names,
        writing=writing_system(transcript.language_code),
    )
    return summary, turns_of(words, transcript.labels)


def page(summary: Summary, turns: Sequence[Turn], language: str | None = None) -> str:
    writing = writing_system(language or summary.language_code)
    return render_transcript_page(summary, turns, writing=writing, media_name="team meeting.mp4")


def fixture_page(name: str) -> str:
    return page(*parts(parsed(name)))


HOSTILE = transcript_of(
    [
        ("We", 0.0, "spk_0"),
        ("tried", 0.5, "spk_0"),
        ("<script>alert(1)</script>", 1.0, "spk_0"),
        ("at", 1.5, "spk_0"),
        ("AT&T", 2.0, "spk_0"),
        (".", 0.0, "spk_0"),
        ('"quoted"', 3.0, "spk_1"),
        ("</p><img", 3.5, "spk_1"),
        ("src=x>", 4.0, "spk_1"),
        (".", 0.0, "spk_1"),
    ]
)


def test_transcript_text_is_escaped_everywhere() -> None:
    names = {"spk_0": "<b>Ana</b>", "spk_1": 'Ben & "Co"'}
    summary, turns = parts(HOSTILE, names)
    summary = dataclasses.replace(
        summary,
        title="<i>Title</i> & more",
        model_summary=ModelSummary(
            "Summary <em>x</em> & y",
            ("<u>point</u>",),
            (ActionItem("do <this>", "<who>"),),
            (),
            "en",
        ),
    )
    text = page(summary, turns)

    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in text
    assert "AT&amp;T" in text
    assert "&lt;/p&gt;&lt;img" in text
    assert "&lt;b&gt;Ana&lt;/b&gt;" in text
    assert "Ben &amp; &quot;Co&quot;" in text or 'Ben &amp; "Co"' in text
    assert "<title>&lt;i&gt;Title&lt;/i&gt; &amp; more · transcript</title>" in text
    assert "Summary &lt;em&gt;x&lt;/em&gt; &amp; y" in text
    assert "&lt;u&gt;point&lt;/u&gt;" in text
    assert "do &lt;this&gt;" in text
    assert "(&lt;who&gt;)" in text
    for raw in ("<script>alert", "<img", "<b>Ana", "<i>Title", "<em>x", "<u>point", "<this>"):
        assert raw not in text
    assert text.count("<script") == 1  # the page's own, at the end
    assert text.index("<script") > text.rindex("</main>")


@pytest.mark.parametrize("name", ALL_FIXTURES)
def test_no_url_of_another_host_anywhere(name: str) -> None:
    text = fixture_page(name)
    assert URL.search(text) is None
    assert (
        f'<meta http-equiv="Content-Security-Policy" content="{CONTENT_SECURITY_POLICY}">' in text
    )
    assert "default-src 'none'" in CONTENT_SECURITY_POLICY


def test_every_chapter_and_highlight_is_shown_with_its_time() -> None:
    summary, turns = parts(parsed("03-speaker-identification.json"), {"spk_0": "Ana"})
    chapters = (
        Chapter(0.0, 40.0, "Village, errand", "", ("village",)),
        Chapter(40.0, 90.0, "Clouds & light", "", ("clouds",)),
        Chapter(90.0, 141.0, "Colour", "", ("colour",)),
    )
    summary = dataclasses.replace(summary, chapters=chapters)
    text = page(summary, turns)

    assert summary.highlights
    for highlight in summary.highlights:
        clock = format_clock(highlight.start_seconds)
        item = re.search(
            rf"<li><button [^>]*>{clock}</button>.*?</li>", text[: text.index('id="turns"')]
        )
        assert item is not None
        assert html.escape(highlight.text, quote=False) in item.group(0)
    for number, chapter in enumerate(chapters, 1):
        clock = format_clock(chapter.start_seconds)
        title = html.escape(chapter.title, quote=False)
        assert f'{clock}</button> <a href="#chapter-{number}">{title}</a>' in text  # the list
        assert re.search(  # the heading in the transcript, before the words of its time
            rf'<h3 class="chapter" id="chapter-{number}"[^>]*><button [^>]*>{clock}</button> '
            rf"{re.escape(title)}</h3>\n<div class=\"turn[^\"]*\"><p class=\"head\">"
            rf"<button [^>]*data-t=([0-9.]+) ",
            text,
        )
    headings = re.findall(r'id="chapter-\d+"[^>]*><button [^>]*data-t=([0-9.]+) ', text)
    assert [float(t) for t in headings] == [c.start_seconds for c in chapters]


def test_a_chapter_inside_a_turn_splits_it() -> None:
    transcript = transcript_of(
        [
            ("One", 0.0, "spk_0"),
            ("two", 1.0, "spk_0"),
            ("three", 2.0, "spk_0"),
            ("four", 3.0, "spk_0"),
        ]
    )
    summary, turns = parts(transcript)
    assert len(turns) == 1
    summary = dataclasses.replace(
        summary,
        model_summary=ModelSummary(
            "s", (), (), (ModelChapter(0.0, "Start"), ModelChapter(2.0, "Later")), None
        ),
    )
    assert [c.title for c in shown_chapters(summary)] == ["Start", "Later"]
    text = page(summary, turns)
    body = text[text.index('id="turns"') :]
    assert body.index(" Start</h3>") < body.index(">One<") < body.index(">two<")
    assert body.index(">two<") < body.index(" Later</h3>") < body.index(">three<")
    assert body.count('<div class="turn s0">') == 2  # the same speaker, twice


def test_right_to_left_transcript_has_dir_and_lang() -> None:
    transcript = transcript_of(
        [("\u0645\u0631\u062d\u0628\u0627", 0.0, None), ("\u0628\u0643\u0645", 0.5, None)],
        language="ar-SA",
        labels=None,
    )
    text = page(*parts(transcript))
    assert '<div id="turns" lang="ar-SA" dir="rtl">' in text
    assert '<html lang="en">' in text  # the page's own words stay English, left to right
    english = page(*parts(HOSTILE))
    assert '<div id="turns" lang="en-US">' in english
    assert 'dir="rtl"' not in english


def test_japanese_words_have_no_space_between_them() -> None:
    transcript = transcript_of(
        [
            ("\u4eca\u65e5", 0.0, None),
            ("\u306f", 0.3, None),
            ("AWS", 0.6, None),
            ("Lambda", 0.9, None),
            ("\u3092", 1.2, None),
            ("\u4f7f\u3044\u307e\u3059", 1.5, None),
            ("\u3002", 0.0, None),
        ],
        language="ja-JP",
        labels=None,
    )
    text = page(*parts(transcript))
    words = re.search(r'<p class="words">(.*?)</p>', text)
    assert words is not None
    assert re.sub(r"<[^>]+>", "", words.group(1)) == (
        "\u4eca\u65e5\u306fAWS Lambda\u3092\u4f7f\u3044\u307e\u3059\u3002"
    )
    assert "</span><span data-t=0.3>\u306f</span>" in words.group(1)
    assert '<div id="turns" lang="ja-JP">' in text


def test_every_word_is_a_span_with_its_start_time() -> None:
    summary, turns = parts(parsed("03-speaker-identification.json"))
    text = page(summary, turns)
    starts = [float(t) for t in re.findall(r"<span data-t=([0-9.]+)>", text)]
    words = [word for turn in turns for word in turn.words]
    assert starts == pytest.approx([word.start for word in words], abs=0.005)


def test_same_input_gives_the_same_bytes() -> None:
    first = fixture_page("03-speaker-identification.json").encode("utf-8")
    again = page(*parts(parsed("03-speaker-identification.json"))).encode("utf-8")
    assert first == again


def test_no_speech_says_so_and_has_no_player() -> None:
    text = fixture_page("v4-empty.json")
    assert "No speech was detected in this recording." in text
    assert 'id="player"' not in text
    assert "<script" not in text


def test_model_summary_sections_and_speakers() -> None:
    summary, turns = parts(HOSTILE, {"spk_0": "Ana", "spk_1": "Ben"})
    summary = dataclasses.replace(
        summary,
        highlights=(Highlight(2.0, "Ana", "AT&T at work"),),
        model_summary=ModelSummary(
            "First.\n\nSecond.", ("One point",), (ActionItem("Call back", "Ben"),), (), "de"
        ),
        model_usage=ModelUsage("anthropic.claude", 1, 10, 5, 1, "summary/v1", False),
    )
    text = page(summary, turns)
    assert '<div lang="de"><p>First.</p><p>Second.</p><h3>Key points</h3>' in text
    assert '<li>Call back <span class="owner">(Ben)</span></li>' in text
    assert "Summary by Amazon Bedrock (anthropic.claude)" in text
    # Each speaker has one class, hence one colour, in the summary and the transcript.
    assert '<li class="s0"><span class="swatch"></span><span class="who">Ana</span>' in text
    assert '<div class="turn s1"><p class="head">' in text
    assert '<span class="who">Ben</span>' in text
    assert '<span class="who s0">Ana</span> AT&amp;T at work' in text


def _luminance(colour: str) -> float:
    def linear(channel: int) -> float:
        c = channel / 255
        return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4

    red, green, blue = (int(colour[i : i + 2], 16) for i in (1, 3, 5))
    return 0.2126 * linear(red) + 0.7152 * linear(green) + 0.0722 * linear(blue)


@pytest.mark.parametrize("colour", SPEAKER_COLOURS)
def test_speaker_colours_are_readable_on_the_page(colour: str) -> None:
    for background in ("#ffffff", "#f6f8fa"):
        contrast = (_luminance(background) + 0.05) / (_luminance(colour) + 0.05)
        assert contrast >= 4.5, (colour, background)
