"""The fixed parts of transcript.docx's package and the XML text helpers the body uses.

A minimal WordprocessingML package (ECMA-376 Part 1 and Part 2, Open Packaging
Conventions), written with the standard library: [Content_Types].xml, the package and
document relationships, the document, its styles, numbering (the bullet list) and
settings, and the core and extended properties. Each part is a string; render() in
__init__ zips them. Element order inside pPr, rPr, style, tblPr and sectPr follows the
schema's sequences: Word refuses a document whose children are out of order.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

__all__ = [
    "CONTENT_TYPES",
    "DOCUMENT_RELATIONSHIPS",
    "NUMBERING",
    "PACKAGE_RELATIONSHIPS",
    "SETTINGS",
    "STYLE_IDS",
    "TEXT_WIDTH_TWIPS",
    "W_NAMESPACE",
    "XML_DECLARATION",
    "app_properties",
    "attribute",
    "core_properties",
    "section_properties",
    "styles",
    "text",
]

XML_DECLARATION = '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
W_NAMESPACE = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"
_RELATIONSHIP = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"

# Characters XML 1.0 forbids (C0 controls but tab, newline and carriage return; lone
# surrogates; U+FFFE and U+FFFF): a document holding one does not open.
# https://www.w3.org/TR/xml/#charsets
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def text(value: str) -> str:
    """Character data: what XML forbids removed, & < > escaped."""
    if _NOT_XML.search(value):
        value = _NOT_XML.sub("", value)
    return value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def attribute(value: str) -> str:
    """An attribute value in double quotes, escaped."""
    return text(value).replace('"', "&quot;")


CONTENT_TYPES = (
    XML_DECLARATION + '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
    '<Default Extension="rels" '
    'ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
    '<Default Extension="xml" ContentType="application/xml"/>'
    '<Override PartName="/word/document.xml" ContentType="application/'
    'vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/>'
    '<Override PartName="/word/styles.xml" ContentType="application/'
    'vnd.openxmlformats-officedocument.wordprocessingml.styles+xml"/>'
    '<Override PartName="/word/numbering.xml" ContentType="application/'
    'vnd.openxmlformats-officedocument.wordprocessingml.numbering+xml"/>'
    '<Override PartName="/word/settings.xml" ContentType="application/'
    'vnd.openxmlformats-officedocument.wordprocessingml.settings+xml"/>'
    '<Override PartName="/docProps/core.xml" '
    'ContentType="application/vnd.openxmlformats-package.core-properties+xml"/>'
    '<Override PartName="/docProps/app.xml" ContentType="application/'
    'vnd.openxmlformats-officedocument.extended-properties+xml"/>'
    "</Types>"
)

PACKAGE_RELATIONSHIPS = (
    XML_DECLARATION
    + '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    f'<Relationship Id="rId1" Type="{_RELATIONSHIP}/officeDocument" Target="word/document.xml"/>'
    '<Relationship Id="rId2" Type="http://schemas.openxmlformats.org/package/2006/'
    'relationships/metadata/core-properties" Target="docProps/core.xml"/>'
    f'<Relationship Id="rId3" Type="{_RELATIONSHIP}/extended-properties" '
    'Target="docProps/app.xml"/>'
    "</Relationships>"
)

DOCUMENT_RELATIONSHIPS = (
    XML_DECLARATION
    + '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    f'<Relationship Id="rId1" Type="{_RELATIONSHIP}/styles" Target="styles.xml"/>'
    f'<Relationship Id="rId2" Type="{_RELATIONSHIP}/numbering" Target="numbering.xml"/>'
    f'<Relationship Id="rId3" Type="{_RELATIONSHIP}/settings" Target="settings.xml"/>'
    "</Relationships>"
)

# Without compatibilityMode Word assumes 12 (Word 2007) and opens the document in
# "Compatibility Mode"; 15 is the current feature set (MS-DOCX 2.3.5:
# https://learn.microsoft.com/en-us/openspecs/office_standards/ms-docx/90138c4d-eb18-4edc-aa6c-dfb799cb1d0d).
SETTINGS = (
    XML_DECLARATION + f'<w:settings xmlns:w="{W_NAMESPACE}">'
    '<w:defaultTabStop w:val="720"/>'
    '<w:characterSpacingControl w:val="doNotCompress"/>'
    '<w:compat><w:compatSetting w:name="compatibilityMode" '
    'w:uri="http://schemas.microsoft.com/office/word" w:val="15"/></w:compat>'
    "</w:settings>"
)

# One bullet list (numId 1), used through the List Bullet style.
NUMBERING = (
    XML_DECLARATION + f'<w:numbering xmlns:w="{W_NAMESPACE}">'
    '<w:abstractNum w:abstractNumId="0"><w:multiLevelType w:val="singleLevel"/>'
    '<w:lvl w:ilvl="0"><w:start w:val="1"/><w:numFmt w:val="bullet"/>'
    '<w:lvlText w:val="\u2022"/><w:lvlJc w:val="left"/>'
    '<w:pPr><w:ind w:left="720" w:hanging="360"/></w:pPr></w:lvl></w:abstractNum>'
    '<w:num w:numId="1"><w:abstractNumId w:val="0"/></w:num>'
    "</w:numbering>"
)

# A4 with 1-inch margins (twentieths of a point); the speakers table spans the text width.
_PAGE_WIDTH_TWIPS, _PAGE_HEIGHT_TWIPS, _MARGIN_TWIPS = 11906, 16838, 1440
TEXT_WIDTH_TWIPS = _PAGE_WIDTH_TWIPS - 2 * _MARGIN_TWIPS


def section_properties(right_to_left: bool) -> str:
    margin = _MARGIN_TWIPS
    return (
        f'<w:sectPr><w:pgSz w:w="{_PAGE_WIDTH_TWIPS}" w:h="{_PAGE_HEIGHT_TWIPS}"/>'
        f'<w:pgMar w:top="{margin}" w:right="{margin}" w:bottom="{margin}" w:left="{margin}" '
        'w:header="708" w:footer="708" w:gutter="0"/>'
        + ("<w:bidi/>" if right_to_left else "")
        + "</w:sectPr>"
    )


# (type, id, name, extra: basedOn..qFormat, pPr, rPr, tblPr) — names as Word's built-in
# styles (lower-case "heading 1"), so Word treats them as its own: navigation pane,
# outline levels, table of contents.
_HEADING_RUN = '<w:b/><w:bCs/><w:color w:val="1F3864"/>'
_STYLES: tuple[tuple[str, str, str, str], ...] = (
    ("paragraph", "Normal", "Normal", "<w:qFormat/>"),
    (
        "paragraph",
        "Title",
        "Title",
        '<w:basedOn w:val="Normal"/><w:next w:val="Normal"/><w:qFormat/>'
        '<w:pPr><w:spacing w:after="80" w:line="240" w:lineRule="auto"/>'
        "<w:contextualSpacing/></w:pPr>"
        '<w:rPr><w:kern w:val="28"/><w:sz w:val="56"/><w:szCs w:val="56"/></w:rPr>',
    ),
    (
        "paragraph",
        "Subtitle",
        "Subtitle",
        '<w:basedOn w:val="Normal"/><w:next w:val="Normal"/><w:qFormat/>'
        '<w:rPr><w:color w:val="595959"/></w:rPr>',
    ),
    (
        "paragraph",
        "Heading1",
        "heading 1",
        '<w:basedOn w:val="Normal"/><w:next w:val="Normal"/><w:qFormat/>'
        '<w:pPr><w:keepNext/><w:keepLines/><w:spacing w:before="360" w:after="80"/>'
        '<w:outlineLvl w:val="0"/></w:pPr>'
        f'<w:rPr>{_HEADING_RUN}<w:sz w:val="32"/><w:szCs w:val="32"/></w:rPr>',
    ),
    (
        "paragraph",
        "Heading2",
        "heading 2",
        '<w:basedOn w:val="Normal"/><w:next w:val="Normal"/><w:qFormat/>'
        '<w:pPr><w:keepNext/><w:keepLines/><w:spacing w:before="240" w:after="80"/>'
        '<w:outlineLvl w:val="1"/></w:pPr>'
        f'<w:rPr>{_HEADING_RUN}<w:sz w:val="26"/><w:szCs w:val="26"/></w:rPr>',
    ),
    (
        "paragraph",
        "ListBullet",
        "List Bullet",
        '<w:basedOn w:val="Normal"/><w:qFormat/>'
        '<w:pPr><w:numPr><w:numId w:val="1"/></w:numPr><w:spacing w:after="60"/>'
        '<w:ind w:left="720" w:hanging="360"/><w:contextualSpacing/></w:pPr>',
    ),
    ("character", "DefaultParagraphFont", "Default Paragraph Font", ""),
    ("character", "Strong", "Strong", "<w:qFormat/><w:rPr><w:b/><w:bCs/></w:rPr>"),
    # Speaker and time have their own styles so a reader can restyle all of them at once.
    (
        "character",
        "Speaker",
        "Speaker",
        '<w:basedOn w:val="DefaultParagraphFont"/><w:rPr><w:b/><w:bCs/></w:rPr>',
    ),
    (
        "character",
        "Timestamp",
        "Timestamp",
        '<w:basedOn w:val="DefaultParagraphFont"/><w:rPr><w:color w:val="595959"/></w:rPr>',
    ),
    (
        "table",
        "TableNormal",
        "Normal Table",
        '<w:tblPr><w:tblInd w:w="0" w:type="dxa"/><w:tblCellMar>'
        '<w:top w:w="0" w:type="dxa"/><w:left w:w="108" w:type="dxa"/>'
        '<w:bottom w:w="0" w:type="dxa"/><w:right w:w="108" w:type="dxa"/>'
        "</w:tblCellMar></w:tblPr>",
    ),
    (
        "table",
        "TableGrid",
        "Table Grid",
        '<w:basedOn w:val="TableNormal"/>'
        '<w:pPr><w:spacing w:after="0" w:line="240" w:lineRule="auto"/></w:pPr>'
        "<w:tblPr><w:tblBorders>"
        + "".join(
            f'<w:{edge} w:val="single" w:sz="4" w:space="0" w:color="auto"/>'
            for edge in ("top", "left", "bottom", "right", "insideH", "insideV")
        )
        + "</w:tblBorders></w:tblPr>",
    ),
)
_DEFAULT_STYLES = frozenset({"Normal", "DefaultParagraphFont", "TableNormal"})
STYLE_IDS = frozenset(style_id for _, style_id, _, _ in _STYLES)


def styles(language: str | None, *, east_asian: bool, right_to_left: bool) -> str:
    """styles.xml: the styles above, and the document's language in the defaults.

    w:lang has one attribute per script class: w:val for Latin-script text, w:eastAsia
    for East Asian characters, w:bidi for complex-script (right-to-left) runs. The
    transcript's language goes in w:val, and in the class its script belongs to.
    """
    lang = ""
    if language:
        value = attribute(language)
        lang = f'<w:lang w:val="{value}"'
        lang += f' w:eastAsia="{value}"' if east_asian else ""
        lang += f' w:bidi="{value}"' if right_to_left else ""
        lang += "/>"
    parts = [
        XML_DECLARATION,
        f'<w:styles xmlns:w="{W_NAMESPACE}"><w:docDefaults><w:rPrDefault><w:rPr>',
        '<w:rFonts w:ascii="Calibri" w:hAnsi="Calibri" w:cs="Arial"/>',
        f'<w:sz w:val="22"/><w:szCs w:val="22"/>{lang}</w:rPr></w:rPrDefault>',
        '<w:pPrDefault><w:pPr><w:spacing w:after="160" w:line="259" w:lineRule="auto"/>',
        "</w:pPr></w:pPrDefault></w:docDefaults>",
    ]
    for kind, style_id, name, body in _STYLES:
        default = ' w:default="1"' if style_id in _DEFAULT_STYLES else ""
        parts.append(
            f'<w:style w:type="{kind}"{default} w:styleId="{style_id}">'
            f'<w:name w:val="{name}"/>{body}</w:style>'
        )
    parts.append("</w:styles>")
    return "".join(parts)


def _w3cdtf(timestamp: str) -> str | None:
    """An ISO 8601 time as core.xml's W3CDTF in UTC to the second, None if not a time."""
    try:
        moment = datetime.fromisoformat(timestamp)
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def core_properties(
    title: str, language: str | None, keywords: tuple[str, ...], created_at: str
) -> str:
    """docProps/core.xml. Dates are the summary's (the job's completion), never the
    clock's, so the same transcript always gives the same bytes."""
    parts = [
        XML_DECLARATION,
        '<cp:coreProperties xmlns:cp="http://schemas.openxmlformats.org/package/2006/'
        'metadata/core-properties" xmlns:dc="http://purl.org/dc/elements/1.1/" '
        'xmlns:dcterms="http://purl.org/dc/terms/" '
        'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">',
        f"<dc:title>{text(title)}</dc:title>",
    ]
    if keywords:
        parts.append(f"<cp:keywords>{text(', '.join(keywords))}</cp:keywords>")
    if language:
        parts.append(f"<dc:language>{text(language)}</dc:language>")
    created = _w3cdtf(created_at)
    if created is not None:
        for element in ("created", "modified"):
            parts.append(
                f'<dcterms:{element} xsi:type="dcterms:W3CDTF">{created}</dcterms:{element}>'
            )
    parts.append("</cp:coreProperties>")
    return "".join(parts)


def app_properties() -> str:
    return (
        XML_DECLARATION
        + '<Properties xmlns="http://schemas.openxmlformats.org/officeDocument/2006/'
        'extended-properties"><Application>transcription-pipeline</Application></Properties>'
    )
