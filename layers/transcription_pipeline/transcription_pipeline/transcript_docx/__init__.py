"""transcript.docx: the summary and the transcript as a Word document.

Title, a line of facts, the summary (the model's when there is one, highlights,
keywords), the speakers as a table, then the transcript: each chapter a Heading 2 (so
Word's navigation pane lists them) followed by its turns, one paragraph each, starting
with the speaker in bold and the [mm:ss] time.

Written with the standard library (zipfile and string building, parts.py), not
python-docx: that needs lxml, about 11 MB installed on arm64 and 70-130 ms to import in
a cold start, for a document this simple. Pure and deterministic: the same summary and
turns give the same bytes (fixed zip times, fixed order, dates from the summary), so the
pipeline can skip rewriting an unchanged document. Linear in the number of words.
"""

from __future__ import annotations

import functools
import io
import re
import zipfile
from collections.abc import Iterable, Sequence

from transcription_pipeline.scripts import CHINESE, JAPANESE, KOREAN, WritingSystem, writing_system
from transcription_pipeline.summary import Summary, shown_chapters
from transcription_pipeline.transcript_docx import parts
from transcription_pipeline.transcript_docx.parts import text
from transcription_pipeline.turns import Turn
from transcription_pipeline.words import format_clock

__all__ = ["DOCX_CONTENT_TYPE", "NO_SPEECH", "render_transcript_docx"]

DOCX_CONTENT_TYPE = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
NO_SPEECH = "No speech was detected in this recording."

# The earliest time a zip entry can carry: no clock in the bytes.
_ZIP_TIME = (1980, 1, 1, 0, 0, 0)
_ZIP_LEVEL = 6  # zlib's default: a 4-hour document deflates to under a quarter
_SPECIAL = re.compile("([\t\n])")
# The speakers table: the name takes what the three numbers leave of the text width.
_NUMBER_COLUMN_TWIPS = 1800
_SPEAKER_TABLE_COLUMNS = (
    ("Speaker", parts.TEXT_WIDTH_TWIPS - 3 * _NUMBER_COLUMN_TWIPS),
    ("Talk time", _NUMBER_COLUMN_TWIPS),
    ("Words", _NUMBER_COLUMN_TWIPS),
    ("Share", _NUMBER_COLUMN_TWIPS),
)
# Right-to-left scripts' blocks (Hebrew to Arabic Extended-A, presentation forms, and
# the supplementary planes' RTL blocks), and a stretch of left-to-right text inside
# right-to-left speech: from a letter of another script to the last such letter or digit.
# w:rtl must not cover strong left-to-right text (ECMA-376 Part 1, 17.3.2.30: behaviour
# unspecified); Word itself writes "AWS Lambda" in an Arabic sentence as a run of its own.
_RTL_BLOCKS = "\u0590-\u08ff\ufb1d-\ufdff\ufe70-\ufefc\U00010800-\U00010fff\U0001e800-\U0001efff"


@functools.cache
def _ltr_stretch() -> re.Pattern[str]:
    # Compiled on first use (about 5 ms): only right-to-left documents need it.
    return re.compile(
        rf"(?![{_RTL_BLOCKS}])[^\W\d_](?:[^{_RTL_BLOCKS}]*(?:(?![{_RTL_BLOCKS}])[^\W\d_]|\d))?"
    )


def _run(value: str, style: str | None = None, *, rtl: bool = False) -> str:
    """A run: tabs and line breaks as Word's own elements, spaces at either end kept."""
    properties = ""
    if style is not None or rtl:
        properties = (
            "<w:rPr>"
            + (f'<w:rStyle w:val="{style}"/>' if style is not None else "")
            + ("<w:rtl/>" if rtl else "")
            + "</w:rPr>"
        )
    value = value.replace("\r\n", "\n").replace("\r", "\n")
    pieces = _SPECIAL.split(value) if ("\n" in value or "\t" in value) else [value]
    content = []
    for piece in pieces:
        if piece == "\n":
            content.append("<w:br/>")
        elif piece == "\t":
            content.append("<w:tab/>")
        elif piece:
            # Without xml:space="preserve" spaces at a run's ends (or doubled) may be dropped.
            keep = piece[0].isspace() or piece[-1].isspace() or "  " in piece
            space = ' xml:space="preserve"' if keep else ""
            content.append(f"<w:t{space}>{text(piece)}</w:t>")
    return f"<w:r>{properties}{''.join(content)}</w:r>"


def _spoken(value: str, style: str | None = None, *, rtl: bool) -> str:
    """Text of the recording (or the model): with rtl, right-to-left runs around its
    left-to-right stretches."""
    if not rtl:
        return _run(value, style)
    runs = []
    done = 0
    for stretch in _ltr_stretch().finditer(value):
        if stretch.start() > done:
            runs.append(_run(value[done : stretch.start()], style, rtl=True))
        runs.append(_run(stretch.group(), style))
        done = stretch.end()
    if done < len(value) or not runs:
        runs.append(_run(value[done:], style, rtl=True))
    return "".join(runs)


class _Body:
    """The document body's XML, built paragraph by paragraph."""

    def __init__(self, writing: WritingSystem) -> None:
        self.parts: list[str] = []
        self.right_to_left = writing.right_to_left

    def paragraph(self, *runs: str, style: str | None = None) -> None:
        properties = ""
        if style is not None or self.right_to_left:
            properties = (
                "<w:pPr>"
                + (f'<w:pStyle w:val="{style}"/>' if style is not None else "")
                + ("<w:bidi/>" if self.right_to_left else "")
                + "</w:pPr>"
            )
        self.parts.append(f"<w:p>{properties}{''.join(runs)}</w:p>")

    def spoken(self, value: str, style: str | None = None) -> str:
        """Runs of the recording's language: right to left when the language is."""
        return _spoken(value, style, rtl=self.right_to_left)

    def heading(self, title: str, level: int) -> None:
        self.paragraph(_run(title), style=f"Heading{level}")

    def bullets(self, items: Iterable[Sequence[str]]) -> None:
        for runs in items:
            self.paragraph(*runs, style="ListBullet")

    def table(self, header: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
        """A table with a repeated header row; cells are runs' XML."""
        widths = [width for _, width in _SPEAKER_TABLE_COLUMNS]
        self.parts.append(
            '<w:tbl><w:tblPr><w:tblStyle w:val="TableGrid"/>'
            + ("<w:bidiVisual/>" if self.right_to_left else "")
            + f'<w:tblW w:w="{sum(widths)}" w:type="dxa"/>'
            + '<w:tblLook w:val="04A0" w:firstRow="1" w:lastRow="0" w:firstColumn="1" '
            'w:lastColumn="0" w:noHBand="0" w:noVBand="1"/></w:tblPr><w:tblGrid>'
            + "".join(f'<w:gridCol w:w="{width}"/>' for width in widths)
            + "</w:tblGrid>"
        )
        header_runs = [_run(title, "Strong") for title in header]
        for index, cells in enumerate([header_runs, *rows]):
            self.parts.append("<w:tr>" + ("<w:trPr><w:tblHeader/></w:trPr>" if index == 0 else ""))
            for cell, width in zip(cells, widths, strict=True):
                self.parts.append(f'<w:tc><w:tcPr><w:tcW w:w="{width}" w:type="dxa"/></w:tcPr>')
                self.paragraph(cell)
                self.parts.append("</w:tc>")
            self.parts.append("</w:tr>")
        self.parts.append("</w:tbl>")


def _time(seconds: float) -> str:
    return f"[{format_clock(seconds)}]"


def _lines(value: str) -> list[str]:
    """A model's text as paragraphs: one per non-empty line."""
    return [line.strip() for line in value.splitlines() if line.strip()]


def _summary_section(body: _Body, summary: Summary) -> None:
    model = summary.model_summary
    if model is None and not summary.highlights and not summary.keywords:
        return
    body.heading("Summary", 1)
    if model is not None:
        # The model may write in another language than the recording's (its own field).
        model_rtl = writing_system(model.language).right_to_left if model.language else None
        rtl = body.right_to_left if model_rtl is None else model_rtl
        for line in _lines(model.summary):
            body.paragraph(_spoken(line, rtl=rtl))
        if model.key_points:
            body.heading("Key points", 2)
            body.bullets([_spoken(point, rtl=rtl)] for point in model.key_points)
        if model.action_items:
            body.heading("Action items", 2)
            body.bullets(
                [_spoken(item.text, rtl=rtl)]
                + (
                    [_run(" ("), _spoken(item.owner, "Strong", rtl=rtl), _run(")")]
                    if item.owner
                    else []
                )
                for item in model.action_items
            )
    if summary.highlights:
        body.heading("Highlights", 2)
        body.bullets(
            [_run(_time(h.start_seconds) + " ", "Timestamp")]
            + ([body.spoken(h.speaker, "Speaker"), _run(": ")] if h.speaker else [])
            + [body.spoken(h.text)]
            for h in summary.highlights
        )
    if summary.keywords:
        body.paragraph(_run("Keywords: ", "Strong"), body.spoken(", ".join(summary.keywords)))


def _speakers_section(body: _Body, summary: Summary) -> None:
    if not summary.speakers:
        return
    body.heading("Speakers", 1)
    body.table(
        [title for title, _ in _SPEAKER_TABLE_COLUMNS],
        [
            [
                body.spoken(s.label, "Speaker"),
                _run(format_clock(s.talk_time_seconds)),
                _run(str(s.word_count)),
                _run(f"{s.share:.1%}"),
            ]
            for s in summary.speakers
        ],
    )


def _transcript_section(
    body: _Body, summary: Summary, turns: Sequence[Turn], writing: WritingSystem
) -> None:
    body.heading("Transcript", 1)
    if not turns:
        body.paragraph(_run(NO_SPEECH))
        return

    def turn_paragraph(turn: Turn) -> None:
        label = [body.spoken(turn.speaker, "Speaker"), _run(" ")] if turn.speaker else []
        stamp = _run(_time(turn.start) + " ", "Timestamp")
        body.paragraph(*label, stamp, body.spoken(writing.join([w.text for w in turn.words])))

    # A turn belongs to the chapter it starts in; turns before the first chapter (a
    # model's chapters may start late) come before any heading. One pass over both.
    chapters = shown_chapters(summary)
    position = 0
    for index, chapter in enumerate(chapters):
        if index == 0:
            while position < len(turns) and turns[position].start < chapter.start_seconds:
                turn_paragraph(turns[position])
                position += 1
        body.paragraph(
            _run(_time(chapter.start_seconds) + " ", "Timestamp"),
            body.spoken(chapter.title),
            style="Heading2",
        )
        following = chapters[index + 1].start_seconds if index + 1 < len(chapters) else None
        while position < len(turns) and (following is None or turns[position].start < following):
            turn_paragraph(turns[position])
            position += 1
    for turn in turns[position:]:
        turn_paragraph(turn)


def _title(summary: Summary) -> str:
    """The upload's title, else its file name (as summary.md)."""
    key = summary.source.key
    name = key.rsplit("/", 1)[-1] if key else summary.job_name or "transcript"
    return summary.title or name


def _document(summary: Summary, turns: Sequence[Turn], writing: WritingSystem) -> str:
    body = _Body(writing)
    title = _title(summary)
    body.paragraph(body.spoken(title), style="Title")
    facts = (
        f"Duration {format_clock(summary.duration_seconds)} \u00b7 "
        f"Language {summary.language_code or 'unknown'} \u00b7 Words {summary.word_count}"
    )
    body.paragraph(_run(facts + (" \u00b7 Redacted" if summary.redacted else "")), style="Subtitle")
    if turns:
        _summary_section(body, summary)
        _speakers_section(body, summary)
    _transcript_section(body, summary, turns, writing)
    return (
        parts.XML_DECLARATION
        + f'<w:document xmlns:w="{parts.W_NAMESPACE}"><w:body>'
        + "".join(body.parts)
        + parts.section_properties(writing.right_to_left)
        + "</w:body></w:document>"
    )


def render_transcript_docx(
    summary: Summary, turns: Sequence[Turn], *, writing: WritingSystem
) -> bytes:
    """transcript.docx: the summary and the turns (turns.turns_of) as a Word document,
    words joined and laid out as ``writing`` says (scripts.writing_system)."""
    title = _title(summary)
    package = {
        "[Content_Types].xml": parts.CONTENT_TYPES,
        "_rels/.rels": parts.PACKAGE_RELATIONSHIPS,
        "docProps/app.xml": parts.app_properties(),
        "docProps/core.xml": parts.core_properties(
            title, summary.language_code, summary.keywords, summary.created_at
        ),
        "word/_rels/document.xml.rels": parts.DOCUMENT_RELATIONSHIPS,
        "word/document.xml": _document(summary, turns, writing),
        "word/numbering.xml": parts.NUMBERING,
        "word/settings.xml": parts.SETTINGS,
        "word/styles.xml": parts.styles(
            summary.language_code,
            east_asian=writing in (JAPANESE, CHINESE, KOREAN),
            right_to_left=writing.right_to_left,
        ),
    }
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        # Sorted names put [Content_Types].xml first, where some readers look for it.
        for name in sorted(package):
            entry = zipfile.ZipInfo(name, date_time=_ZIP_TIME)
            entry.compress_type = zipfile.ZIP_DEFLATED
            entry.create_system = 0  # the same header bytes on every platform
            entry.external_attr = 0
            archive.writestr(entry, package[name].encode("utf-8"), compresslevel=_ZIP_LEVEL)
    return buffer.getvalue()
