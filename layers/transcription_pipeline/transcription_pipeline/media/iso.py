"""MP4, M4A and QuickTime (ISO-BMFF): the ftyp brand, the top-level boxes, the moov tracks.

Transcribe refuses QuickTime, an MP4 without a 'moov' box (a recording cut off
before the muxer finished), without audio or with more than two channels. The
tracks are read only when moov is within the budget. HEIF/AVIF images share
the box structure and are named as images.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from transcription_pipeline.media.probe import (
    MAX_WALK,
    Content,
    CorruptError,
    MediaFormat,
    Probe,
    too_many_channels,
    truncated,
    u32be,
    u64be,
)

__all__ = ["sniff_bare_quicktime", "sniff_iso"]

_QUICKTIME_BRAND = b"qt  "
# Image formats that share the ISO box structure; everything else is let through.
_IMAGE_BRANDS = {
    b"heic",
    b"heix",
    b"heim",
    b"heis",
    b"hevc",
    b"mif1",
    b"msf1",
    b"avif",
    b"avis",
    b"avci",
    b"crx ",
}


def _iso_box(probe: Probe, off: int) -> tuple[bytes, int, int] | None:
    """(type, header length, box size) of the top-level box at ``off``; None if unreadable."""
    buf = probe.at(off, 16)
    if len(buf) < 8:
        return None
    box_size, kind = u32be(buf, 0), buf[4:8]
    if box_size == 1:
        if len(buf) < 16:
            return None
        return kind, 16, u64be(buf, 8)
    if box_size == 0:  # runs to the end of the file
        return kind, 8, probe.size - off
    return kind, 8, box_size


def sniff_iso(probe: Probe) -> Content:
    head, size = probe.head, probe.size
    ftyp_size = u32be(head, 0)
    if ftyp_size < 16 or ftyp_size > len(head):
        if ftyp_size > size:
            return Content(MediaFormat.MP4, "mp4", truncated("MP4", ftyp_size, size))
        return Content(MediaFormat.MP4, "mp4", "The MP4 file is corrupt: invalid 'ftyp' box.")
    major = head[8:12]
    brands = [head[i : i + 4] for i in range(16, ftyp_size - 3, 4)]
    shown = major.decode("latin-1").strip() or "?"
    if major == _QUICKTIME_BRAND:
        return Content(
            MediaFormat.MP4,
            "quicktime mov (brand qt)",
            "The file is a QuickTime (.mov) movie; "
            "Amazon Transcribe accepts MP4 but not QuickTime.",
            noun="a QuickTime (.mov) movie",
        )
    if major in _IMAGE_BRANDS or (
        brands and all(b in _IMAGE_BRANDS or b == b"miaf" for b in brands)
    ):
        return Content(None, f"heif/avif image (brand {shown})", noun="a HEIF/AVIF image")
    detected = f"mp4 (brand {shown})"

    moov: bytes | None = None
    moov_seen = walked_to_end = False
    off = 0
    for _ in range(MAX_WALK):
        if off + 8 > size:
            walked_to_end = True  # a few trailing bytes are harmless
            break
        box = _iso_box(probe, off)
        if box is None:
            break  # budget spent: cannot see further
        kind, header_len, box_size = box
        if not all(0x20 <= c < 0x7F for c in kind):
            break  # not a box: trailing junk is not our business
        if box_size < header_len:
            return Content(
                MediaFormat.MP4,
                detected,
                f"The MP4 file is corrupt: box at byte {off} has an invalid size.",
            )
        end = off + box_size
        if end > size:
            return Content(MediaFormat.MP4, detected, truncated("MP4", end, size))
        moov_seen = moov_seen or kind == b"moov"
        # Keep a little budget back so the walk can go on after reading moov.
        if (
            kind == b"moov"
            and moov is None
            and (end <= len(head) or box_size <= probe.remaining - 1024)
        ):
            body = probe.at(off + header_len, box_size - header_len)
            if len(body) == box_size - header_len:
                moov = body
        off = end

    if walked_to_end and not moov_seen:
        # Typical of a recording that was cut off before the muxer finished.
        return Content(
            MediaFormat.MP4,
            detected,
            "The MP4 file has no 'moov' box (its index); "
            "it was probably not finished when it was uploaded.",
        )
    if moov is None:
        return Content(MediaFormat.MP4, detected)
    try:
        tracks = _iso_tracks(moov)
    except CorruptError:
        return Content(
            MediaFormat.MP4, detected, "The MP4 file is corrupt: its 'moov' box is invalid."
        )
    summary = ", ".join(f"{t.handler}:{t.codec}" if t.codec else t.handler for t in tracks)
    detected = f"mp4 (brand {shown}; {summary or 'no tracks'})"
    audio = [t for t in tracks if t.handler == "soun"]
    if not audio:
        return Content(
            MediaFormat.MP4,
            detected,
            "The MP4 file has no audio track.",
            noun="an MP4 file without audio",
        )
    channels = max(t.channels for t in audio)
    if channels > 2:
        return Content(MediaFormat.MP4, detected, too_many_channels("MP4", channels))
    return Content(MediaFormat.MP4, detected)


def sniff_bare_quicktime(head: bytes) -> Content | None:
    """An old QuickTime movie, which starts without an ftyp box; None if it is not one."""
    if head[4:8] in (b"moov", b"mdat", b"wide", b"free", b"skip") and u32be(head, 0) >= 8:
        return Content(
            MediaFormat.MP4,
            "quicktime (no ftyp)",
            "The file looks like an old QuickTime (.mov) movie without an 'ftyp' box; "
            "Amazon Transcribe needs an MP4 file.",
            noun="a QuickTime movie",
        )
    return None


def _iso_children(b: bytes, start: int, end: int) -> Iterator[tuple[bytes, int, int]]:
    """(type, payload start, box end) of each box in a fully read range."""
    off = start
    while off + 8 <= end:
        box_size, kind, header_len = u32be(b, off), b[off + 4 : off + 8], 8
        if box_size == 1:
            if off + 16 > end:
                raise CorruptError("box header overruns its parent")
            box_size, header_len = u64be(b, off + 8), 16
        elif box_size == 0:
            box_size = end - off
        if box_size < header_len or off + box_size > end:
            raise CorruptError("box overruns its parent")
        yield kind, off + header_len, off + box_size
        off += box_size


@dataclass(frozen=True)
class _IsoTrack:
    handler: str  # hdlr handler_type, e.g. "soun"
    codec: str  # first sample entry type, e.g. "mp4a"
    channels: int  # 0 when the sample entry does not say


def _iso_tracks(moov: bytes) -> list[_IsoTrack]:
    """Each trak in a moov payload."""
    tracks: list[_IsoTrack] = []
    for kind, start, end in _iso_children(moov, 0, len(moov)):
        if kind != b"trak":
            continue
        handler, codec, channels = "", "", 0
        for mdia, m_start, m_end in _iso_children(moov, start, end):
            if mdia != b"mdia":
                continue
            for child, c_start, c_end in _iso_children(moov, m_start, m_end):
                if child == b"hdlr" and c_start + 12 <= c_end:
                    # full box: version+flags, pre_defined, then handler_type
                    handler = moov[c_start + 8 : c_start + 12].decode("latin-1")
                elif child == b"minf":
                    codec, channels = _iso_sample_entry(moov, c_start, c_end)
        tracks.append(_IsoTrack(handler, codec, channels if handler == "soun" else 0))
    return tracks


def _iso_sample_entry(b: bytes, start: int, end: int) -> tuple[str, int]:
    """(type, channel count or 0) of the first sample entry under a minf payload."""
    for kind, s_start, s_end in _iso_children(b, start, end):
        if kind != b"stbl":
            continue
        for child, c_start, c_end in _iso_children(b, s_start, s_end):
            # stsd: version+flags, entry count, then sample entries named by codec
            if child == b"stsd" and c_start + 16 <= c_end:
                codec = b[c_start + 12 : c_start + 16].decode("latin-1").strip()
                try:
                    channels = _iso_audio_channels(b, c_start + 8, c_end)
                except CorruptError:
                    channels = 0  # an odd codec header is for Transcribe to judge
                return codec, channels
    return "", 0


# AudioSpecificConfig channelConfiguration -> channels (ISO 14496-3; 0: in a PCE).
_AAC_CHANNELS = {1: 1, 2: 2, 3: 3, 4: 4, 5: 5, 6: 6, 7: 8, 11: 7, 12: 8, 13: 24, 14: 8}


def _iso_audio_channels(b: bytes, start: int, end: int) -> int:
    """Channel count of the first sample entry in an stsd range; 0 when it does not say."""
    entry, start, end = next(_iso_children(b, start, end), (b"", 0, 0))
    # SampleEntry: 6 reserved + data_reference_index; then version, revision,
    # vendor, channelcount. Version 1 (QuickTime) adds 16 bytes before the
    # child boxes; version 2 moves the count elsewhere, so it is left alone.
    if start + 28 > end:
        return 0
    version = int.from_bytes(b[start + 8 : start + 10], "big")
    if version > 1:
        return 0
    channels = int.from_bytes(b[start + 16 : start + 18], "big")
    if entry == b"mp4a":
        # Some writers leave channelcount at its template value 2; the AAC
        # decoder goes by the AudioSpecificConfig in esds.
        for child, c_start, c_end in _iso_children(b, start + 28 + 16 * version, end):
            if child == b"esds":
                channels = _esds_channels(b[c_start:c_end]) or channels
    return channels


def _esds_channels(esds: bytes) -> int:
    """channelConfiguration of the AudioSpecificConfig in an esds payload; 0 if unknown."""
    # ES_Descriptor (tag 3) > DecoderConfigDescriptor (4) > DecoderSpecificInfo (5).
    off = _descriptor(esds, 4, 3)  # after version+flags
    if off is None or off + 3 > len(esds):
        return 0
    flags = esds[off + 2]
    off += 3 + (2 if flags & 0x80 else 0)  # ES_ID, flags, dependsOn_ES_ID
    if flags & 0x40 and off < len(esds):  # URL
        off += 1 + esds[off]
    off += 2 if flags & 0x20 else 0  # OCR_ES_Id
    off = _descriptor(esds, off, 4)
    if off is None:
        return 0
    off = _descriptor(esds, off + 13, 5)  # after object type, stream type, buffer, bitrates
    if off is None:
        return 0
    config = esds[off : off + 6]
    bits = int.from_bytes(config, "big")
    width = 8 * len(config)

    def take(n: int) -> int:
        nonlocal width
        width -= n
        return (bits >> width) & ((1 << n) - 1) if width >= 0 else -1

    if take(5) == 31:  # audioObjectType escape
        take(6)
    if take(4) == 15:  # explicit sampling frequency
        take(24)
    return _AAC_CHANNELS.get(take(4), 0)


def _descriptor(b: bytes, off: int, tag: int) -> int | None:
    """Payload offset of the MPEG-4 descriptor with ``tag`` at ``off``; None if it is not."""
    if off >= len(b) or b[off] != tag:
        return None
    off += 1
    for _ in range(4):  # size: up to four bytes of 7 bits, high bit means more
        if off >= len(b):
            return None
        off += 1
        if not b[off - 1] & 0x80:
            return off
    return None
