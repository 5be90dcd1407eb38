"""Content that is not media Transcribe takes: images, documents, archives, text, other audio.

Named by its magic bytes, or by a look at the text, so the uploader is told
what they actually sent rather than only that it is not audio.
"""

from __future__ import annotations

from transcription_pipeline.media.probe import Content

__all__ = ["sniff_other", "sniff_text"]

_OTHER_MAGIC: tuple[tuple[bytes, str, str], ...] = (
    (b"\x89PNG\r\n\x1a\n", "png image", "a PNG image"),
    (b"\xff\xd8\xff", "jpeg image", "a JPEG image"),
    (b"GIF87a", "gif image", "a GIF image"),
    (b"GIF89a", "gif image", "a GIF image"),
    (b"%PDF-", "pdf document", "a PDF document"),
    (b"PK\x03\x04", "zip archive", "a ZIP archive (or an Office document)"),
    (b"PK\x05\x06", "zip archive", "an empty ZIP archive"),
    (b"\x1f\x8b", "gzip archive", "a gzip archive"),
    (b"\x30\x26\xb2\x75\x8e\x66\xcf\x11", "asf (wma/wmv)", "a Windows Media (ASF) file"),
    (b"caff", "caf audio", "a Core Audio (CAF) file"),
    (b"MThd", "midi", "a MIDI file"),
)


def sniff_other(head: bytes) -> Content | None:
    for magic, detected, noun in _OTHER_MAGIC:
        if head.startswith(magic):
            return Content(None, detected, noun=noun)
    if head[:4] == b"FORM" and head[8:12] in (b"AIFF", b"AIFC"):
        return Content(None, "aiff audio", noun="AIFF audio")
    return None


def sniff_text(head: bytes) -> Content:
    sample = head[:4096]
    if b"\x00" in sample:
        return Content(None, "unknown", noun="unrecognised data")
    try:
        text = sample.decode("utf-8")
    except UnicodeDecodeError as exc:
        if exc.start < len(sample) - 3:
            return Content(None, "unknown", noun="unrecognised data")
        text = sample[: exc.start].decode("utf-8")  # the read cut a character in two
    text = text.removeprefix("\ufeff")
    if not text:
        return Content(None, "unknown", noun="unrecognised data")
    printable = sum(1 for c in text if c.isprintable() or c in "\t\n\r\f")
    if printable < 0.95 * len(text):
        return Content(None, "unknown", noun="unrecognised data")
    start = text.lstrip().lower()
    if start.startswith(("<!doctype html", "<html", "<head", "<body")):
        return Content(None, "html", noun="an HTML page")
    if start.startswith("<svg") or (start.startswith("<?xml") and "<svg" in start):
        return Content(None, "svg image", noun="an SVG image")
    if start.startswith("<?xml"):
        return Content(None, "xml", noun="an XML document")
    return Content(None, "text", noun="plain text")
