"""Tests for transcription_pipeline.transcript_docx: transcript.docx.

Each document is read back with python-docx (a reader independent of the writer) and
its parts are checked against what Word needs: well-formed XML, a content type for
every part, relationships whose targets exist, styles that exist where they are used,
and properties in the order the schema gives them.
"""

from __future__ import annotations

import dataclasses
import io
import json
import re
import zipfile
from collections.abc import Sequence
from typing import Any, NamedTuple
from xml.etree import ElementTree

import docx
import pytest
from docx.document import Document
from docx.text.paragraph import Paragraph

from tests.unit.conftest import ALL_FIXTURES, parsed
from transcription_pipeline.model_summary.types import ActionItem, ModelChapter, ModelSummary
from transcription_pipeline.scripts import WritingSystem, writing_system
from transcription_pipeline.summary import Summary, shown_chapters, summarise
from transcription_pipeline.transcript import Transcript, parse_transcript
from transcription_pipeline.transcript_docx import NO_SPEECH, render_transcript_docx
from transcription_pipeline.turns import Turn, turns_of
from transcription_pipeline.words import format_clock, group_words

W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"
CREATED_AT = "2026-01-02T03:04:05.678901Z"
LANGUAGE_FIXTURES = "languages/"


class Rendered(NamedTuple):
    data: bytes
    document: Document
    summary: Summary
    turns: tuple[Turn, ...]
    writing: WritingSystem


def render(
    t: Transcript,
    *,
    key: str = "uploads/team meeting.mp4",
    title: str | None = None,
    model: ModelSummary | None = None,
) -> Rendered:
    words = group_words(t.items)
    writing = writing_system(t.language_code)
    summary = summarise(
        t,
        words,
        source_bucket="input",
        source_key=key,
        created_at=CREATED_AT,
        title=title,
        writing=writing,
    )
    if model is not None:
        summary = dataclasses.replace(summary, model_summary=model, summary_source="bedrock")
    turns = turns_of(words, t.labels)
    data = render_transcript_docx(summary, turns, writing=writing)
    return Rendered(data, docx.Document(io.BytesIO(data)), summary, turns, writing)


def fixture(name: str, language_code: str | None = None) -> Transcript:
    t = parsed(name)
    return dataclasses.replace(t, language_code=language_code) if language_code else t


def transcribe_json(
    words: Sequence[tuple[str, float, str | None]], *, language_code: str | None = None
) -> Transcript:
    """A Transcribe document from (content, start, speaker) triples: a word takes 0.4 s;
    contents . , ? are punctuation items."""
    items: list[dict[str, Any]] = []
    for content, start, speaker in words:
        if content in {".", ",", "?"}:
            items.append(
                {"type": "punctuation", "alternatives": [{"confidence": "0.0", "content": content}]}
            )
            continue
        item: dict[str, Any] = {
            "type": "pronunciation",
            "start_time": f"{start:.2f}",
            "end_time": f"{start + 0.4:.2f}",
            "alternatives": [{"confidence": "0.9", "content": content}],
        }
        if speaker is not None:
            item["speaker_label"] = speaker
        items.append(item)
    results: dict[str, Any] = {"transcripts": [{"transcript": ""}], "items": items}
    if language_code is not None:
        results["language_code"] = language_code
    return parse_transcript(json.dumps({"jobName": "job", "results": results}))


def styled(document: Document, style: str) -> list[str]:
    return [p.text for p in document.paragraphs if p.style is not None and p.style.name == style]


def transcript_paragraphs(document: Document) -> list[Paragraph]:
    """The paragraphs after the Transcript heading that are not chapter headings."""
    paragraphs = document.paragraphs
    start = next(
        i + 1
        for i, p in enumerate(paragraphs)
        if p.style is not None and p.style.name == "Heading 1" and p.text == "Transcript"
    )
    return [p for p in paragraphs[start:] if p.style is not None and p.style.name == "Normal"]


def expected_turn_text(turn: Turn, writing: WritingSystem) -> str:
    label = f"{turn.speaker} " if turn.speaker else ""
    return f"{label}[{format_clock(turn.start)}] " + writing.join([w.text for w in turn.words])


def parts_of(data: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


# --- structure and text ---------------------------------------------------------------


def test_speaker_fixture_reads_back_with_title_sections_and_every_turn_in_order() -> None:
    r = render(fixture("03-speaker-identification.json"))
    assert styled(r.document, "Title") == ["team meeting.mp4"]
    assert styled(r.document, "Heading 1") == ["Summary", "Speakers", "Transcript"]
    facts = styled(r.document, "Subtitle")
    assert facts == [f"Duration 02:21 · Language unknown · Words {r.summary.word_count}"]

    paragraphs = transcript_paragraphs(r.document)
    assert len(r.turns) > 3
    assert [p.text for p in paragraphs] == [expected_turn_text(t, r.writing) for t in r.turns]
    for paragraph, turn in zip(paragraphs, r.turns, strict=True):
        speaker_run = paragraph.runs[0]
        assert speaker_run.text == turn.speaker
        assert speaker_run.style is not None
        assert speaker_run.style.name == "Speaker"
    assert r.document.styles["Speaker"].font.bold is True
    # Every word of the recording is in the document once, in order.
    spoken = " ".join(p.text.split("] ", 1)[1] for p in paragraphs).split()
    assert spoken == [w.text for t in r.turns for w in t.words]


def test_chapters_are_heading_2_in_order_after_the_transcript_heading() -> None:
    r = render(fixture("03-speaker-identification.json"))
    chapters = shown_chapters(r.summary)
    assert chapters
    expected = [f"[{format_clock(c.start_seconds)}] {c.title}" for c in chapters]
    # Highlights is the only Heading 2 before the transcript (no model summary here).
    assert styled(r.document, "Heading 2") == ["Highlights", *expected]


def test_speakers_table_names_talk_time_words_and_share() -> None:
    r = render(fixture("03-speaker-identification.json"))
    (table,) = r.document.tables
    rows = [[cell.text for cell in row.cells] for row in table.rows]
    assert rows[0] == ["Speaker", "Talk time", "Words", "Share"]
    assert rows[1:] == [
        [s.label, format_clock(s.talk_time_seconds), str(s.word_count), f"{s.share:.1%}"]
        for s in r.summary.speakers
    ]
    assert [row[0] for row in rows[1:]] == ["spk_0", "spk_1", "spk_2"]


def test_highlights_have_times_and_speakers_and_keywords_are_listed() -> None:
    r = render(fixture("03-speaker-identification.json"))
    bullets = styled(r.document, "List Bullet")
    assert bullets == [
        f"[{format_clock(h.start_seconds)}] {h.speaker}: {h.text}" for h in r.summary.highlights
    ]
    assert r.summary.keywords
    assert f"Keywords: {', '.join(r.summary.keywords)}" in [p.text for p in r.document.paragraphs]


def test_channels_are_speakers() -> None:
    r = render(fixture("02-channel-identification.json"))
    paragraphs = transcript_paragraphs(r.document)
    assert [p.runs[0].text for p in paragraphs] == [t.speaker for t in r.turns]
    assert {t.speaker for t in r.turns} == {"ch_0", "ch_1"}


def test_without_labels_a_turn_starts_with_its_time() -> None:
    r = render(fixture("01-plain.json"))
    paragraphs = transcript_paragraphs(r.document)
    assert [p.text for p in paragraphs] == [expected_turn_text(t, r.writing) for t in r.turns]
    assert all(re.match(r"\[\d\d:\d\d\] \S", p.text) for p in paragraphs)
    assert "Speakers" not in styled(r.document, "Heading 1")
    assert r.document.tables == []


def test_title_option_wins_over_the_file_name() -> None:
    r = render(fixture("01-plain.json"), title="Quarterly review")
    assert styled(r.document, "Title") == ["Quarterly review"]
    assert r.document.core_properties.title == "Quarterly review"


def test_model_summary_sections_and_model_chapters() -> None:
    model = ModelSummary(
        summary="The team reviewed the plan.\n\nThey agreed on dates.",
        key_points=("Budget approved", "Launch in May"),
        action_items=(ActionItem("Send the minutes", "spk_0"), ActionItem("Book a room", None)),
        chapters=(
            ModelChapter(30.0, "Opening"),
            ModelChapter(60.0, "Budget"),
            ModelChapter(100.0, "Dates"),
        ),
        language="en",
    )
    r = render(fixture("03-speaker-identification.json"), model=model)
    texts = [p.text for p in r.document.paragraphs]
    summary_at = texts.index("Summary")
    assert texts[summary_at + 1 : summary_at + 3] == [
        "The team reviewed the plan.",
        "They agreed on dates.",
    ]
    assert styled(r.document, "Heading 2")[:3] == ["Key points", "Action items", "Highlights"]
    bullets = styled(r.document, "List Bullet")
    assert bullets[:4] == [
        "Budget approved",
        "Launch in May",
        "Send the minutes (spk_0)",
        "Book a room",
    ]
    # The model's chapters are the transcript's headings; a turn sits under the chapter
    # it starts in, and turns before the first chapter come before any heading.
    assert styled(r.document, "Heading 2")[3:] == [
        "[00:30] Opening",
        "[01:00] Budget",
        "[01:40] Dates",
    ]
    transcript_start = texts.index("Transcript")
    current: float | None = None
    starts = iter(r.turns)
    for paragraph in r.document.paragraphs[transcript_start + 1 :]:
        assert paragraph.style is not None
        if paragraph.style.name == "Heading 2":
            minutes, seconds = paragraph.text[1:6].split(":")
            current = int(minutes) * 60 + int(seconds)
            continue
        turn = next(starts)
        assert paragraph.text == expected_turn_text(turn, r.writing)
        if current is None:
            assert turn.start < 30.0
        else:
            assert turn.start >= current
    assert next(starts, None) is None


def test_japanese_words_are_joined_without_spaces_and_the_language_is_east_asian() -> None:
    r = render(fixture(LANGUAGE_FIXTURES + "ja-JP-asr-srtize-sample.json", "ja-JP"))
    (paragraph,) = transcript_paragraphs(r.document)
    assert paragraph.text == "[00:06] 皆さん初めましてこんにちは"
    styles = ElementTree.fromstring(parts_of(r.data)["word/styles.xml"])
    lang = styles.find(f"{W}docDefaults/{W}rPrDefault/{W}rPr/{W}lang")
    assert lang is not None
    assert lang.get(f"{W}val") == "ja-JP"
    assert lang.get(f"{W}eastAsia") == "ja-JP"
    assert r.document.core_properties.language == "ja-JP"


def test_spanish_fixture_keeps_its_accents_and_speakers() -> None:
    r = render(fixture(LANGUAGE_FIXTURES + "es-transcritter-test-input.json", "es-US"))
    paragraphs = transcript_paragraphs(r.document)
    assert [p.text for p in paragraphs] == [expected_turn_text(t, r.writing) for t in r.turns]
    assert any(ch in "".join(p.text for p in paragraphs) for ch in "áéíóúñ¿")


ARABIC = [
    ("مرحبا", 0.5, "spk_0"),
    ("بكم", 1.0, "spk_0"),
    ("في", 1.5, "spk_0"),
    ("AWS", 2.0, "spk_0"),
    ("Lambda", 2.5, "spk_0"),
    (".", 0, None),
    ("شكرا", 4.0, "spk_1"),
    ("جزيلا", 4.5, "spk_1"),
    (".", 0, None),
]


def test_arabic_paragraphs_are_right_to_left_except_latin_stretches() -> None:
    r = render(transcribe_json(ARABIC, language_code="ar-SA"))
    assert r.writing.right_to_left
    body = r.document.element.body
    paragraphs = body.findall(f".//{W}p")
    assert paragraphs
    assert all(p.find(f"{W}pPr/{W}bidi") is not None for p in paragraphs)
    assert body.find(f"{W}sectPr/{W}bidi") is not None
    turn_paragraphs = transcript_paragraphs(r.document)
    assert [p.text for p in turn_paragraphs] == [
        "spk_0 [00:00] مرحبا بكم في AWS Lambda.",
        "spk_1 [00:04] شكرا جزيلا.",
    ]
    runs = turn_paragraphs[0].runs
    direction = {run.text: run.element.find(f"{W}rPr/{W}rtl") is not None for run in runs}
    assert direction["مرحبا بكم في "] is True
    assert direction["AWS Lambda"] is False  # w:rtl never covers strong left-to-right text
    assert direction["."] is True
    assert direction["[00:00] "] is False
    styles = ElementTree.fromstring(parts_of(r.data)["word/styles.xml"])
    lang = styles.find(f"{W}docDefaults/{W}rPrDefault/{W}rPr/{W}lang")
    assert lang is not None
    assert lang.get(f"{W}bidi") == "ar-SA"
    (table,) = r.document.tables
    assert table._tbl.find(f"{W}tblPr/{W}bidiVisual") is not None


def test_left_to_right_documents_carry_no_direction_marks() -> None:
    r = render(fixture("03-speaker-identification.json"))
    xml = parts_of(r.data)["word/document.xml"]
    assert b"<w:bidi/>" not in xml
    assert b"<w:rtl/>" not in xml


def test_markup_characters_are_escaped_and_forbidden_characters_dropped() -> None:
    words = [("a<b", 0.5, None), ("&amp;", 1.0, None), ("x>y\x01z", 1.5, None), (".", 0, None)]
    r = render(transcribe_json(words), title='Q&A <draft> "1"\x00\x0b\ud800 ')
    assert styled(r.document, "Title") == ['Q&A <draft> "1" ']
    (paragraph,) = transcript_paragraphs(r.document)
    assert paragraph.text == "[00:00] a<b &amp; x>yz."
    xml = parts_of(r.data)["word/document.xml"].decode("utf-8")
    assert "a&lt;b &amp;amp; x&gt;yz." in xml
    # A run whose text ends in a space keeps it.
    assert '<w:t xml:space="preserve">Q&amp;A &lt;draft&gt; "1" </w:t>' in xml
    assert r.document.core_properties.title == 'Q&A <draft> "1" '


def test_line_breaks_and_tabs_in_model_text_become_word_breaks() -> None:
    model = ModelSummary("First line\tafter tab\nsecond line", (), (), (), None)
    r = render(fixture("01-plain.json"), model=model)
    xml = parts_of(r.data)["word/document.xml"].decode("utf-8")
    assert "<w:t>First line</w:t><w:tab/><w:t>after tab</w:t>" in xml
    assert "First line\tafter tab" in [p.text for p in r.document.paragraphs]
    assert "second line" in [p.text for p in r.document.paragraphs]


def test_redacted_text_is_kept_as_is() -> None:
    r = render(fixture("v6-pii-redaction.json"))
    paragraphs = transcript_paragraphs(r.document)
    assert [p.text for p in paragraphs] == [expected_turn_text(t, r.writing) for t in r.turns]
    assert "[PII]" in " ".join(p.text for p in paragraphs)
    assert styled(r.document, "Subtitle")[0].endswith(" · Redacted")


def test_empty_transcript_says_no_speech() -> None:
    r = render(fixture("v4-empty.json"))
    assert r.turns == ()
    assert styled(r.document, "Heading 1") == ["Transcript"]
    assert [p.text for p in r.document.paragraphs][-1] == NO_SPEECH
    assert styled(r.document, "Subtitle") == ["Duration 00:00 · Language unknown · Words 0"]


# --- bytes and package ----------------------------------------------------------------


def test_same_input_gives_the_same_bytes_with_fixed_times() -> None:
    first = render(fixture("03-speaker-identification.json"))
    second = render(fixture("03-speaker-identification.json"))
    assert first.data == second.data
    with zipfile.ZipFile(io.BytesIO(first.data)) as archive:
        infos = archive.infolist()
    names = [info.filename for info in infos]
    assert names == sorted(names)
    assert names[0] == "[Content_Types].xml"
    assert {info.date_time for info in infos} == {(1980, 1, 1, 0, 0, 0)}
    assert {info.compress_type for info in infos} == {zipfile.ZIP_DEFLATED}
    created = first.document.core_properties.created
    assert created is not None
    assert created.isoformat() == "2026-01-02T03:04:05+00:00"
    assert first.document.core_properties.modified == created


def test_a_different_input_gives_different_bytes() -> None:
    t = fixture("03-speaker-identification.json")
    assert render(t).data != render(t, title="Other").data


CONTENT_TYPE = "{http://schemas.openxmlformats.org/package/2006/content-types}"
RELATIONSHIP = "{http://schemas.openxmlformats.org/package/2006/relationships}"
PACKAGE_TYPES = {
    "/word/document.xml": "application/vnd.openxmlformats-officedocument."
    "wordprocessingml.document.main+xml",
    "/word/styles.xml": "application/vnd.openxmlformats-officedocument.wordprocessingml.styles+xml",
    "/docProps/core.xml": "application/vnd.openxmlformats-package.core-properties+xml",
}
# Schema sequences (ECMA-376 Part 1, CT_PPrBase, CT_RPr, CT_Style, CT_TblPr, CT_SectPr),
# restricted to the elements the writer may use.
ORDER = {
    "pPr": "pStyle keepNext keepLines numPr bidi spacing ind contextualSpacing jc outlineLvl",
    "rPr": "rStyle rFonts b bCs color kern sz szCs rtl lang",
    "style": "name basedOn next qFormat pPr rPr tblPr",
    "tblPr": "tblStyle bidiVisual tblW tblInd tblBorders tblCellMar tblLook",
    "sectPr": "pgSz pgMar bidi",
    "tr": "trPr tc",
    "tc": "tcPr p",
}


def package_problems(data: bytes) -> list[str]:
    """What Word would trip over: the package's rules, styles used but not defined,
    and properties out of the schema's order."""
    problems: list[str] = []
    parts = parts_of(data)
    trees = {name: ElementTree.fromstring(body) for name, body in parts.items()}  # well-formed
    types = trees["[Content_Types].xml"]
    defaults = {
        d.get("Extension"): d.get("ContentType") for d in types.iter(f"{CONTENT_TYPE}Default")
    }
    overrides = {
        str(o.get("PartName")): o.get("ContentType") for o in types.iter(f"{CONTENT_TYPE}Override")
    }
    for name in parts:
        typed = "/" + name in overrides or name.rsplit(".", 1)[-1] in defaults
        if name != "[Content_Types].xml" and not typed:
            problems.append(f"no content type for {name}")
    problems += [f"override for a missing part {p}" for p in overrides if p[1:] not in parts]
    for part, content_type in PACKAGE_TYPES.items():
        if overrides.get(part) != content_type:
            problems.append(f"{part} has content type {overrides.get(part)}")
    for rels_name in [n for n in parts if n.endswith(".rels")]:
        folder = rels_name.split("_rels/")[0]
        for rel in trees[rels_name].iter(f"{RELATIONSHIP}Relationship"):
            if folder + str(rel.get("Target")) not in parts:
                problems.append(f"{rels_name}: target {rel.get('Target')} missing")
    styles = trees["word/styles.xml"]
    defined = {(s.get(f"{W}type"), s.get(f"{W}styleId")) for s in styles.iter(f"{W}style")}
    kinds = {"pStyle": "paragraph", "rStyle": "character", "tblStyle": "table"}
    for tree in (trees["word/document.xml"], styles):
        for tag, kind in kinds.items():
            for used in tree.iter(f"{W}{tag}"):
                if (kind, used.get(f"{W}val")) not in defined:
                    problems.append(f"{tag} {used.get(f'{W}val')} not defined")
    for style in styles.iter(f"{W}style"):
        for reference in ("basedOn", "next"):
            element = style.find(f"{W}{reference}")
            if (
                element is not None
                and (style.get(f"{W}type"), element.get(f"{W}val")) not in defined
            ):
                problems.append(f"{reference} {element.get(f'{W}val')} not defined")
    numbers = {n.get(f"{W}numId") for n in trees["word/numbering.xml"].iter(f"{W}num")}
    for tree in trees.values():
        for num_id in tree.iter(f"{W}numId"):
            if num_id.get(f"{W}val") not in numbers:
                problems.append(f"numId {num_id.get(f'{W}val')} not defined")
    for tree in (trees["word/document.xml"], styles):
        for parent, sequence in ORDER.items():
            rank = {name: index for index, name in enumerate(sequence.split())}
            for element in tree.iter(f"{W}{parent}"):
                children = [child.tag.removeprefix(W) for child in element]
                unknown = [c for c in children if c not in rank]
                if unknown:
                    problems.append(f"{parent} has unexpected {unknown}")
                elif [rank[c] for c in children] != sorted(rank[c] for c in children):
                    problems.append(f"{parent} children out of order: {children}")
    body = trees["word/document.xml"].find(f"{W}body")
    assert body is not None
    if body[-1].tag != f"{W}sectPr":
        problems.append("sectPr is not the body's last element")
    for cell in body.iter(f"{W}tc"):
        if cell[-1].tag != f"{W}p":
            problems.append("a table cell does not end with a paragraph")
    return problems


@pytest.mark.parametrize("name", ALL_FIXTURES)
def test_every_fixture_makes_a_package_word_opens(name: str) -> None:
    r = render(fixture(name, "en-US"))
    assert package_problems(r.data) == []
    assert r.document.paragraphs[0].text == "team meeting.mp4"


def test_right_to_left_and_model_documents_are_valid_packages() -> None:
    model = ModelSummary("S", ("k",), (ActionItem("a", "o"),), (ModelChapter(5.0, "c"),), "ar")
    assert (
        package_problems(render(transcribe_json(ARABIC, language_code="ar-SA"), model=model).data)
        == []
    )


def test_package_check_catches_an_undefined_style() -> None:
    data = render(fixture("01-plain.json")).data
    parts = parts_of(data)
    parts["word/document.xml"] = parts["word/document.xml"].replace(
        b'w:val="Title"', b'w:val="Missing"', 1
    )
    broken = io.BytesIO()
    with zipfile.ZipFile(broken, "w") as archive:
        for name, body in parts.items():
            archive.writestr(name, body)
    assert package_problems(broken.getvalue()) == ["pStyle Missing not defined"]
