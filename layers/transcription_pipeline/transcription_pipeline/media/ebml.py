"""WebM and Matroska (EBML): the doctype in the EBML header, then the Segment's Tracks.

Transcribe accepts WebM, not Matroska, and only with Opus audio in mono or
stereo. Tracks are read when the budget reaches them before the first Cluster;
otherwise the codec is left for Transcribe to judge.
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
)

__all__ = ["ebml_children", "ebml_element_at", "sniff_ebml"]

_EBML_HEADER = 0x1A45DFA3
_EBML_DOCTYPE = 0x4282
_SEGMENT = 0x18538067
_TRACKS = 0x1654AE6B
_CLUSTER = 0x1F43B675
_TRACK_ENTRY = 0xAE
_TRACK_TYPE = 0x83
_CODEC_ID = 0x86
_CODEC_PRIVATE = 0x63A2
_AUDIO = 0xE1
_CHANNELS = 0x9F
_VOID = 0xEC
_CRC32 = 0xBF
_TRACK_VIDEO, _TRACK_AUDIO = 1, 2


def _ebml_id(b: bytes, off: int) -> tuple[int, int]:
    """Element id (marker bits kept) and its length in bytes."""
    if off >= len(b):
        raise CorruptError("element id past the data")
    first = b[off]
    length = 1
    while length <= 4 and not first & (0x80 >> (length - 1)):
        length += 1
    if length > 4 or off + length > len(b):
        raise CorruptError("invalid element id")
    return int.from_bytes(b[off : off + length], "big"), length


def _ebml_size(b: bytes, off: int) -> tuple[int | None, int]:
    """Data size (None when unknown: all value bits set) and its length in bytes."""
    if off >= len(b):
        raise CorruptError("element size past the data")
    first = b[off]
    length = 1
    while length <= 8 and not first & (0x80 >> (length - 1)):
        length += 1
    if length > 8 or off + length > len(b):
        raise CorruptError("invalid element size")
    value = int.from_bytes(b[off : off + length], "big") & ((1 << (7 * length)) - 1)
    if value == (1 << (7 * length)) - 1:
        return None, length
    return value, length


def ebml_children(b: bytes, start: int, end: int) -> Iterator[tuple[int, int, int]]:
    """(id, data start, data end) of each child of a fully read element."""
    off = start
    while off < end:
        element, id_len = _ebml_id(b, off)
        value, size_len = _ebml_size(b, off + id_len)
        data = off + id_len + size_len
        if value is None or data + value > end:
            raise CorruptError("child element overruns its parent")
        yield element, data, data + value
        off = data + value


def sniff_ebml(probe: Probe) -> Content:
    head, size = probe.head, probe.size
    try:
        header_size, size_len = _ebml_size(head, 4)
    except CorruptError:
        return Content(
            MediaFormat.WEBM,
            "ebml",
            "The WebM file is corrupt: invalid EBML header.",
            noun="an EBML file",
        )
    header_data = 4 + size_len
    if header_size is None:
        return Content(
            MediaFormat.WEBM,
            "ebml",
            "The WebM file is corrupt: invalid EBML header.",
            noun="an EBML file",
        )
    header_end = header_data + header_size
    if header_end > size:
        return Content(
            MediaFormat.WEBM, "ebml", truncated("WebM", header_end, size), noun="an EBML file"
        )
    if header_end > len(head):
        return Content(
            MediaFormat.WEBM,
            "ebml",
            "The WebM file is corrupt: oversized EBML header.",
            noun="an EBML file",
        )
    doctype = ""
    try:
        for element, start, end in ebml_children(head, header_data, header_end):
            if element == _EBML_DOCTYPE:
                doctype = head[start:end].rstrip(b"\x00").decode("ascii", "replace")
    except CorruptError:
        return Content(
            MediaFormat.WEBM,
            "ebml",
            "The WebM file is corrupt: invalid EBML header.",
            noun="an EBML file",
        )

    label = doctype if doctype in ("webm", "matroska") else f"ebml ({doctype or 'no doctype'})"
    tracks: list[_EbmlTrack] | None = None
    try:
        tracks, problem = _ebml_segment(probe, header_end)
    except _TruncatedError as exc:
        problem = str(exc)
    except CorruptError as exc:
        problem = f"The WebM file is corrupt: {exc}."
    audio_tracks = [t for t in tracks if t.kind == _TRACK_AUDIO] if tracks is not None else []
    audio = [t.codec for t in audio_tracks]
    has_video = tracks is not None and any(t.kind == _TRACK_VIDEO for t in tracks)
    names = "+".join(_ebml_codec_name(c) for c in audio)
    detected = label + (f"/{names}" if names else "") + (" with video" if has_video else "")

    if doctype == "matroska":
        return Content(
            MediaFormat.WEBM,
            detected,
            "The file is a Matroska (.mkv) video; Amazon Transcribe accepts WebM but not Matroska.",
            noun="a Matroska (.mkv) video",
        )
    if doctype != "webm":
        return Content(
            MediaFormat.WEBM,
            detected,
            f"The file is an EBML document of type '{doctype or 'unknown'}', not WebM.",
            noun="an EBML file that is not WebM",
        )
    if problem is not None:
        return Content(MediaFormat.WEBM, detected, problem)
    if tracks is None:  # Tracks not within reach: let Transcribe judge the codec
        return Content(MediaFormat.WEBM, detected)
    if "A_OPUS" in audio:
        channels = max(t.channels for t in audio_tracks)
        if channels > 2:
            return Content(
                MediaFormat.WEBM,
                detected,
                too_many_channels("WebM", channels),
                noun="WebM Opus audio",
            )
        return Content(MediaFormat.WEBM, detected, noun="WebM Opus audio")
    if not audio:
        return Content(
            MediaFormat.WEBM,
            detected,
            "The WebM file has no audio track.",
            noun="a WebM file without audio",
        )
    if "A_VORBIS" in audio:
        return Content(
            MediaFormat.WEBM,
            detected,
            "The WebM file's audio is Vorbis; Amazon Transcribe accepts WebM only with Opus audio.",
            noun="a WebM file with Vorbis audio",
        )
    return Content(
        MediaFormat.WEBM,
        detected,
        f"The WebM file's audio codec is {', '.join(audio)}; "
        "Amazon Transcribe accepts WebM only with Opus audio.",
        noun="a WebM file without Opus audio",
    )


def _ebml_codec_name(codec: str) -> str:
    return codec.removeprefix("A_").lower() if codec.startswith("A_") else codec.lower()


def _ebml_segment(probe: Probe, off: int) -> tuple[list[_EbmlTrack] | None, str | None]:
    """The tracks when Tracks was fully read, and a truncation problem."""
    size = probe.size
    # Skip Void/CRC elements between the header and the Segment.
    for _ in range(MAX_WALK):
        if off >= size:
            return None, "The WebM file has no Segment after its header; it appears truncated."
        found = ebml_element_at(probe, off)
        if found is None:
            return None, None  # budget spent: cannot see further
        element, value, data = found
        if element == _SEGMENT:
            break
        if element not in (_VOID, _CRC32) or value is None:
            raise CorruptError("no Segment element after the header")
        off = data + value
    else:
        raise CorruptError("no Segment element after the header")
    if data > size:
        return None, truncated("WebM", data, size)
    segment_end = size  # unknown size (live WebM): runs to the end of the object
    if value is not None:
        if data + value > size:
            return None, truncated("WebM", data + value, size)
        segment_end = data + value

    off = data
    for _ in range(MAX_WALK):
        if off >= segment_end:
            return None, None
        found = ebml_element_at(probe, off)
        if found is None:
            return None, None  # budget spent: cannot see further
        element, value, data = found
        if element == _CLUSTER or value is None:
            # Media data has begun (or an unknown-size child we cannot skip).
            return None, None
        if data + value > segment_end:
            if value is not None and data + value > size:
                return None, truncated("WebM", data + value, size)
            raise CorruptError("an element runs past the end of its Segment")
        if element == _TRACKS:
            body = probe.at(data, value)
            if len(body) < value:
                return None, None  # too big for the budget
            return _ebml_tracks(body), None
        off = data + value
    return None, None


class _TruncatedError(CorruptError):
    """The object ends where the structure says there is more."""


def ebml_element_at(probe: Probe, off: int) -> tuple[int, int | None, int] | None:
    """(id, data size or None if unknown, data offset) of the element at ``off``.

    None when the budget ran out before the header could be read.
    """
    buf = probe.at(off, 12)
    try:
        element, id_len = _ebml_id(buf, 0)
        value, size_len = _ebml_size(buf, id_len)
    except CorruptError:
        if len(buf) < 12:
            if off + len(buf) >= probe.size:
                raise _TruncatedError(
                    "The WebM file appears truncated: it ends inside an element header "
                    f"at byte {off}."
                ) from None
            return None
        raise
    return element, value, off + id_len + size_len


@dataclass(frozen=True)
class _EbmlTrack:
    kind: int  # TrackType
    codec: str  # CodecID, e.g. "A_OPUS"
    channels: int  # 0 when the track does not say


def _ebml_tracks(body: bytes) -> list[_EbmlTrack]:
    tracks: list[_EbmlTrack] = []
    for element, start, end in ebml_children(body, 0, len(body)):
        if element != _TRACK_ENTRY:
            continue
        kind, codec, channels = 0, "", 0
        for child, c_start, c_end in ebml_children(body, start, end):
            if child == _TRACK_TYPE:
                kind = int.from_bytes(body[c_start:c_end], "big")
            elif child == _CODEC_ID:
                codec = body[c_start:c_end].rstrip(b"\x00").decode("ascii", "replace")
            elif child == _AUDIO:
                for setting, a_start, a_end in ebml_children(body, c_start, c_end):
                    if setting == _CHANNELS:
                        channels = max(channels, int.from_bytes(body[a_start:a_end], "big"))
            elif child == _CODEC_PRIVATE and body[c_start:c_end].startswith(b"OpusHead"):
                # The Opus decoder goes by its own header: trust the larger count.
                channels = max(channels, body[c_start + 9] if c_end - c_start > 9 else 0)
        tracks.append(_EbmlTrack(kind, codec, channels))
    return tracks
