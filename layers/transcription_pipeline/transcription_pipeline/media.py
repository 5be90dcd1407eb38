"""Decide whether an uploaded object can be sent to Amazon Transcribe.

Pure domain code: it looks at the object's key, its size (from the S3 event)
and at most ``MAX_PROBE_BYTES`` of its content, read through a callback, so it
never needs the whole object and never touches AWS itself.

Transcribe is told the ``MediaFormat`` explicitly and fails a job whose content
does not match it, whose Ogg/WebM audio is not Opus, that has more than two
audio channels, or that is a Matroska or QuickTime file. Catching these here
gives the uploader an immediate, plain reason instead of a FAILED job minutes
later.
"""

from __future__ import annotations

import re
import struct
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from enum import StrEnum

__all__ = [
    "MAX_MEDIA_BYTES",
    "MAX_PROBE_BYTES",
    "MediaCheck",
    "MediaFormat",
    "RangeReader",
    "check_media",
]


class MediaFormat(StrEnum):
    """Transcribe's ``MediaFormat`` values."""

    MP3 = "mp3"
    MP4 = "mp4"
    M4A = "m4a"
    WAV = "wav"
    FLAC = "flac"
    OGG = "ogg"
    WEBM = "webm"
    AMR = "amr"


MAX_MEDIA_BYTES: int = 2 * 1024**3  # Transcribe's 2 GB limit
MAX_PROBE_BYTES: int = 64 * 1024  # total bytes we may read from one object, all reads together

RangeReader = Callable[[int, int], bytes]
"""``read(offset, length) -> bytes``; may return fewer bytes at the end of the object."""


@dataclass(frozen=True)
class MediaCheck:
    """The verdict on one object."""

    media_format: MediaFormat | None  # set when accepted
    detected: str  # what the content looks like, for people
    reason: str | None  # None when accepted; otherwise a sentence for an error record

    @property
    def accepted(self) -> bool:
        return self.media_format is not None and self.reason is None


# The first read covers small files whole and the headers of large ones; the
# rest of the budget pays for small reads of box/element headers further on.
_HEAD_BYTES = 32 * 1024
_MAX_WALK = 64  # top-level boxes / elements / blocks we follow before giving up
# A RIFF size a few bytes larger than the object is common and harmless:
# streaming writers fill sizes in ahead of the data, uploads end a little
# short, some writers count the 8-byte RIFF header or a pad byte they never
# wrote. ffmpeg decodes such files, so only a bigger gap counts as truncation.
_RIFF_SIZE_SLACK = 64

_EXTENSIONS: dict[str, MediaFormat] = {
    "mp3": MediaFormat.MP3,
    "mp4": MediaFormat.MP4,
    "m4v": MediaFormat.MP4,
    "m4a": MediaFormat.M4A,
    "wav": MediaFormat.WAV,
    "flac": MediaFormat.FLAC,
    "ogg": MediaFormat.OGG,
    "opus": MediaFormat.OGG,
    "webm": MediaFormat.WEBM,
    "amr": MediaFormat.AMR,
}
_SUPPORTED = sorted(_EXTENSIONS)
_SUPPORTED_TEXT = (
    "Supported extensions are "
    + ", ".join(f".{e}" for e in _SUPPORTED[:-1])
    + f" and .{_SUPPORTED[-1]}."
)
_FORMAT_NAMES: dict[MediaFormat, str] = {
    MediaFormat.MP3: "MP3",
    MediaFormat.MP4: "MP4",
    MediaFormat.M4A: "M4A",
    MediaFormat.WAV: "WAV",
    MediaFormat.FLAC: "FLAC",
    MediaFormat.OGG: "Ogg",
    MediaFormat.WEBM: "WebM",
    MediaFormat.AMR: "AMR",
}


def check_media(key: str, size: int, read: RangeReader) -> MediaCheck:
    """Check one object; ``key`` must already be URL-decoded.

    Every problem in the bytes becomes a rejection with a reason; only an
    exception raised by ``read`` itself (e.g. the object vanished) propagates,
    so the caller can let it be retried.
    """
    if size == 0:
        return MediaCheck(
            None, "empty", "The upload is empty (0 bytes); there is nothing to transcribe."
        )
    if size < 0:
        return MediaCheck(None, "unknown", f"The upload reports an invalid size ({size} bytes).")
    if size > MAX_MEDIA_BYTES:
        return MediaCheck(
            None,
            "not inspected",
            f"The file is {size / 1024**3:.2f} GB ({size} bytes); Amazon Transcribe accepts files "
            f"up to 2 GB ({MAX_MEDIA_BYTES} bytes).",
        )
    ext = _extension(key)
    expected = _EXTENSIONS.get(ext) if ext is not None else None
    content = _sniff_safely(_Probe(read, size))
    return _verdict(ext, expected, content)


def _extension(key: str) -> str | None:
    name = key.rsplit("/", 1)[-1]
    _, dot, ext = name.rpartition(".")
    if not dot or not ext:
        return None
    return ext.lower()


@dataclass(frozen=True)
class _Content:
    """What the bytes are, independent of the file name."""

    family: MediaFormat | None  # the Transcribe format family, if it is one
    detected: str  # short label, e.g. "ogg/vorbis"
    problem: str | None = None  # why Transcribe would still refuse it
    noun: str = ""  # for sentences, e.g. "an Ogg file with Vorbis audio"; default by family

    def describe(self) -> str:
        if self.noun:
            return self.noun
        return _FAMILY_NOUNS[self.family] if self.family is not None else "unrecognised data"


_FAMILY_NOUNS: dict[MediaFormat, str] = {
    MediaFormat.MP3: "MP3 audio",
    MediaFormat.MP4: "an MP4 file",
    MediaFormat.M4A: "an MP4 file",
    MediaFormat.WAV: "WAV audio",
    MediaFormat.FLAC: "FLAC audio",
    MediaFormat.OGG: "an Ogg file",
    MediaFormat.WEBM: "a WebM file",
    MediaFormat.AMR: "AMR audio",
}


def _verdict(ext: str | None, expected: MediaFormat | None, content: _Content) -> MediaCheck:
    if expected is None:
        if ext is None:
            unsupported = "The file name has no extension"
        else:
            unsupported = f"The file extension '.{ext}' is not supported"
        if content.problem is not None and content.family is not None:
            # "The file is a Matroska (.mkv) video; ..." already says it all.
            named = ext is not None and f"(.{ext})" in content.problem
            also = "" if named else f" {unsupported} either."
            reason = f"{content.problem}{also} {_SUPPORTED_TEXT}"
        elif content.family is not None:
            reason = (
                f"{unsupported}, although the content looks like {content.describe()}; "
                f"name it {_suggested_extension(content.family)}. {_SUPPORTED_TEXT}"
            )
        else:
            reason = f"{unsupported} (the content is {content.describe()}). {_SUPPORTED_TEXT}"
        return MediaCheck(None, content.detected, reason)
    if not _compatible(expected, content.family):
        reason = (
            f"The file is named '.{ext}' but its content is {content.describe()}, "
            f"not {_FORMAT_NAMES[expected]}; "
            "Amazon Transcribe rejects content that does not match the file type."
        )
        if content.family is not None and content.problem is None:
            reason += (
                f" Rename it to {_suggested_extension(content.family)} to have it transcribed."
            )
        return MediaCheck(None, content.detected, reason)
    if content.problem is not None:
        return MediaCheck(None, content.detected, content.problem)
    return MediaCheck(expected, content.detected, None)


def _compatible(expected: MediaFormat, family: MediaFormat | None) -> bool:
    # .mp4 and .m4a are both ISO-BMFF; Transcribe takes either name for either content.
    if family is MediaFormat.MP4:
        return expected in (MediaFormat.MP4, MediaFormat.M4A)
    return family is expected


def _suggested_extension(family: MediaFormat) -> str:
    return ".mp4 or .m4a" if family is MediaFormat.MP4 else f".{family.value}"


# --- reading ---------------------------------------------------------------


class _Probe:
    """Budgeted access to the object: one head read, then small reads."""

    def __init__(self, read: RangeReader, size: int) -> None:
        self._read = read
        self.size = size
        self.spent = 0
        self.read_failed = False
        self.head = self._fetch(0, _HEAD_BYTES)

    @property
    def remaining(self) -> int:
        return MAX_PROBE_BYTES - self.spent

    def _fetch(self, offset: int, length: int) -> bytes:
        # Clamp to the object and to the budget, so no input can make us overspend.
        length = min(length, self.size - offset, self.remaining)
        if offset < 0 or length <= 0:
            return b""
        self.spent += length
        try:
            data = self._read(offset, length)
        except BaseException:
            self.read_failed = True
            raise
        return bytes(data[:length])

    def at(self, offset: int, length: int) -> bytes:
        """Bytes at ``offset``; fewer at the end of the object or when the budget is spent."""
        if offset < 0 or length <= 0:
            return b""
        end = offset + length
        if end <= len(self.head) or (offset < len(self.head) and len(self.head) >= self.size):
            return self.head[offset:end]
        if offset < len(self.head):
            # Straddles the head: reuse what we have, fetch only the rest.
            return self.head[offset:] + self._fetch(len(self.head), end - len(self.head))
        return self._fetch(offset, length)


class _CorruptError(Exception):
    """A structure inside the file is inconsistent."""


def _sniff_safely(probe: _Probe) -> _Content:
    try:
        return _sniff(probe)
    except Exception:
        if probe.read_failed:
            raise  # the reader's own error: let the caller retry
        # Hostile or odd bytes must never crash the pipeline.
        return _Content(None, "unknown", noun="data that could not be parsed")


def _truncated(name: str, claimed: int, size: int) -> str:
    return f"The {name} file appears truncated: header says {claimed} bytes, object has {size}."


def _u32be(b: bytes, off: int) -> int:
    value: int = struct.unpack_from(">I", b, off)[0]
    return value


def _u64be(b: bytes, off: int) -> int:
    value: int = struct.unpack_from(">Q", b, off)[0]
    return value


def _u32le(b: bytes, off: int) -> int:
    value: int = struct.unpack_from("<I", b, off)[0]
    return value


def _u16le(b: bytes, off: int) -> int:
    value: int = struct.unpack_from("<H", b, off)[0]
    return value


# --- dispatch --------------------------------------------------------------


def _sniff(probe: _Probe) -> _Content:
    head = probe.head
    if not head:
        return _Content(None, "unknown", noun="unreadable (no bytes could be read)")
    if head[:4] in (b"RIFF", b"RF64"):
        return _sniff_riff(probe)
    if head[:4] == b"fLaC":
        return _sniff_flac(probe)
    if head[:4] == b"OggS":
        return _sniff_ogg(probe)
    if head[:4] == b"\x1a\x45\xdf\xa3":
        return _sniff_ebml(probe)
    if head[4:8] == b"ftyp":
        return _sniff_iso(probe)
    if head.startswith(b"#!AMR"):
        return _sniff_amr(probe)
    if head[:3] == b"ID3":
        return _sniff_id3(probe)
    other = _sniff_other(head)
    if other is not None:
        return other
    if head[4:8] in (b"moov", b"mdat", b"wide", b"free", b"skip") and _u32be(head, 0) >= 8:
        # Old QuickTime files start without an ftyp box.
        return _Content(
            MediaFormat.MP4,
            "quicktime (no ftyp)",
            "The file looks like an old QuickTime (.mov) movie without an 'ftyp' box; "
            "Amazon Transcribe needs an MP4 file.",
            noun="a QuickTime movie",
        )
    mp3 = _sniff_mpeg_audio(probe, 0)
    if mp3 is None:
        # Stream dumps start mid-frame or with zero padding: search as far as the
        # budget lets us, as ffmpeg also searches for the first frame.
        mp3 = _scan_mpeg_audio(probe.at(0, MAX_PROBE_BYTES), 0)
    if mp3 is not None:
        return mp3
    return _sniff_text(head)


# --- WAV (RIFF) --------------------------------------------------------------

_WAV_CODECS = {1: "pcm", 3: "float", 6: "a-law", 7: "mu-law", 0xFFFE: "extensible"}


def _sniff_riff(probe: _Probe) -> _Content:
    head, size = probe.head, probe.size
    if size < 12 or len(head) < 12:
        return _Content(
            MediaFormat.WAV,
            "riff (too short)",
            f"The WAV file is only {size} bytes long; it appears truncated.",
            noun="a RIFF header too short to be WAV audio",
        )
    form = head[8:12]
    if form != b"WAVE":
        if form == b"WEBP":
            return _Content(None, "webp image", noun="a WebP image")
        if form[:3] == b"AVI":
            return _Content(None, "avi video", noun="an AVI video")
        return _Content(
            None, f"riff ({form.decode('latin-1')!r})", noun="a RIFF file that is not WAV audio"
        )
    riff_size = _u32le(head, 4)
    # 0 and 0xFFFFFFFF mean "unknown" (streamed WAV, RF64): no size to check.
    if (
        head[:4] == b"RIFF"
        and riff_size not in (0, 0xFFFFFFFF)
        and riff_size + 8 > size + _RIFF_SIZE_SLACK
    ):
        return _Content(MediaFormat.WAV, "wav", _truncated("WAV", riff_size + 8, size))
    fmt = _wav_fmt(head)
    if fmt is None:
        return _Content(MediaFormat.WAV, "wav")
    codec, channels, rate = fmt
    detected = f"wav ({codec}, {channels} ch, {rate} Hz)"
    if channels > 2:
        return _Content(MediaFormat.WAV, detected, _too_many_channels("WAV", channels))
    return _Content(MediaFormat.WAV, detected)


def _wav_fmt(head: bytes) -> tuple[str, int, int] | None:
    off = 12
    for _ in range(_MAX_WALK):
        if off + 8 > len(head):
            return None
        chunk, length = head[off : off + 4], _u32le(head, off + 4)
        if chunk == b"fmt ":
            if off + 16 > len(head) or length < 8:
                return None
            tag = _u16le(head, off + 8)
            return (
                _WAV_CODECS.get(tag, f"codec 0x{tag:04x}"),
                _u16le(head, off + 10),
                _u32le(head, off + 12),
            )
        if chunk == b"data":
            return None
        off += 8 + length + (length & 1)  # chunks are word aligned
    return None


def _too_many_channels(name: str, channels: int) -> str:
    return (
        f"The {name} file has {channels} audio channels; Amazon Transcribe accepts mono or stereo."
    )


# --- FLAC --------------------------------------------------------------------


def _sniff_flac(probe: _Probe, start: int = 0) -> _Content:
    """FLAC whose ``fLaC`` marker is at ``start`` (after an ID3 tag, if any)."""
    size = probe.size
    detected = "flac"
    off = start + 4
    for index in range(_MAX_WALK):
        header = probe.at(off, 4)
        if len(header) < 4:
            if off + 4 > size:
                return _Content(MediaFormat.FLAC, detected, _truncated("FLAC", off + 4, size))
            return _Content(MediaFormat.FLAC, detected)  # budget spent: accept
        last, kind, length = header[0] & 0x80, header[0] & 0x7F, int.from_bytes(header[1:4], "big")
        end = off + 4 + length
        if index == 0:
            if kind != 0 or length < 34:
                return _Content(
                    MediaFormat.FLAC,
                    detected,
                    "The FLAC file is corrupt: it has no STREAMINFO block.",
                )
            if end > size:
                return _Content(MediaFormat.FLAC, detected, _truncated("FLAC", end, size))
            info = probe.at(off + 4, 34)
            if len(info) == 34:
                rate = int.from_bytes(info[10:13], "big") >> 4
                channels = ((info[12] >> 1) & 0x07) + 1
                detected = f"flac ({channels} ch, {rate} Hz)"
                if channels > 2:
                    return _Content(
                        MediaFormat.FLAC, detected, _too_many_channels("FLAC", channels)
                    )
        elif kind == 127:
            return _Content(
                MediaFormat.FLAC, detected, "The FLAC file is corrupt: invalid metadata block."
            )
        if end > size:
            return _Content(MediaFormat.FLAC, detected, _truncated("FLAC", end, size))
        if last:
            if end >= size:
                return _Content(
                    MediaFormat.FLAC,
                    detected,
                    "The FLAC file has no audio after its header; it appears truncated.",
                )
            return _Content(MediaFormat.FLAC, detected)
        off = end
    return _Content(MediaFormat.FLAC, detected)


# --- Ogg ---------------------------------------------------------------------

_OGG_CODECS: tuple[tuple[bytes, str], ...] = (
    (b"OpusHead", "opus"),
    (b"\x01vorbis", "vorbis"),
    (b"\x7fFLAC", "flac"),
    (b"Speex   ", "speex"),
    (b"\x80theora", "theora"),
    (b"fishead\x00", "skeleton"),
    (b"\x80kate", "kate"),
)


def _sniff_ogg(probe: _Probe) -> _Content:
    head, size = probe.head, probe.size
    codecs: list[str] = []
    channels = 0
    off = 0
    # Each logical stream starts with one BOS page; they all come first.
    for index in range(_MAX_WALK):
        if head[off : off + 4] != b"OggS" or off + 27 > len(head):
            if index == 0 and off + 27 > size:
                return _Content(MediaFormat.OGG, "ogg", _truncated("Ogg", 27, size))
            break
        if head[off + 4] != 0:
            return _Content(
                MediaFormat.OGG, "ogg", "The Ogg file is corrupt: unknown page version."
            )
        flags, segments = head[off + 5], head[off + 26]
        table = head[off + 27 : off + 27 + segments]
        body = off + 27 + segments
        end = body + sum(table)
        if index == 0 and (end > size or len(table) < segments):
            return _Content(MediaFormat.OGG, "ogg", _truncated("Ogg", max(end, body), size))
        if not flags & 0x02:  # not a beginning-of-stream page: the headers are over
            break
        packet = head[body:end]
        name = next((n for magic, n in _OGG_CODECS if packet.startswith(magic)), "unknown")
        if name == "opus" and len(packet) > 9:
            channels = max(channels, packet[9])
        codecs.append(name)
        off = end
    detected = "ogg/" + "+".join(codecs) if codecs else "ogg"
    if "opus" in codecs:
        if channels > 2:
            return _Content(
                MediaFormat.OGG,
                detected,
                _too_many_channels("Ogg", channels),
                noun="Ogg Opus audio",
            )
        return _Content(MediaFormat.OGG, detected, noun="Ogg Opus audio")
    if "vorbis" in codecs:
        return _Content(
            MediaFormat.OGG,
            detected,
            "The Ogg file's audio is Vorbis; Amazon Transcribe accepts Ogg only with Opus audio.",
            noun="an Ogg file with Vorbis audio",
        )
    if codecs:
        return _Content(
            MediaFormat.OGG,
            detected,
            f"The Ogg file carries {'+'.join(codecs)}, not Opus audio; "
            "Amazon Transcribe accepts Ogg only with Opus.",
            noun="an Ogg file without Opus audio",
        )
    return _Content(
        MediaFormat.OGG,
        detected,
        "The Ogg file is corrupt: it does not start with a stream header.",
    )


# --- WebM / Matroska (EBML) -----------------------------------------------------

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
        raise _CorruptError("element id past the data")
    first = b[off]
    length = 1
    while length <= 4 and not first & (0x80 >> (length - 1)):
        length += 1
    if length > 4 or off + length > len(b):
        raise _CorruptError("invalid element id")
    return int.from_bytes(b[off : off + length], "big"), length


def _ebml_size(b: bytes, off: int) -> tuple[int | None, int]:
    """Data size (None when unknown: all value bits set) and its length in bytes."""
    if off >= len(b):
        raise _CorruptError("element size past the data")
    first = b[off]
    length = 1
    while length <= 8 and not first & (0x80 >> (length - 1)):
        length += 1
    if length > 8 or off + length > len(b):
        raise _CorruptError("invalid element size")
    value = int.from_bytes(b[off : off + length], "big") & ((1 << (7 * length)) - 1)
    if value == (1 << (7 * length)) - 1:
        return None, length
    return value, length


def _ebml_children(b: bytes, start: int, end: int) -> Iterator[tuple[int, int, int]]:
    """(id, data start, data end) of each child of a fully read element."""
    off = start
    while off < end:
        element, id_len = _ebml_id(b, off)
        value, size_len = _ebml_size(b, off + id_len)
        data = off + id_len + size_len
        if value is None or data + value > end:
            raise _CorruptError("child element overruns its parent")
        yield element, data, data + value
        off = data + value


def _sniff_ebml(probe: _Probe) -> _Content:
    head, size = probe.head, probe.size
    try:
        header_size, size_len = _ebml_size(head, 4)
    except _CorruptError:
        return _Content(
            MediaFormat.WEBM,
            "ebml",
            "The WebM file is corrupt: invalid EBML header.",
            noun="an EBML file",
        )
    header_data = 4 + size_len
    if header_size is None:
        return _Content(
            MediaFormat.WEBM,
            "ebml",
            "The WebM file is corrupt: invalid EBML header.",
            noun="an EBML file",
        )
    header_end = header_data + header_size
    if header_end > size:
        return _Content(
            MediaFormat.WEBM, "ebml", _truncated("WebM", header_end, size), noun="an EBML file"
        )
    if header_end > len(head):
        return _Content(
            MediaFormat.WEBM,
            "ebml",
            "The WebM file is corrupt: oversized EBML header.",
            noun="an EBML file",
        )
    doctype = ""
    try:
        for element, start, end in _ebml_children(head, header_data, header_end):
            if element == _EBML_DOCTYPE:
                doctype = head[start:end].rstrip(b"\x00").decode("ascii", "replace")
    except _CorruptError:
        return _Content(
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
    except _CorruptError as exc:
        problem = f"The WebM file is corrupt: {exc}."
    audio_tracks = [t for t in tracks if t.kind == _TRACK_AUDIO] if tracks is not None else []
    audio = [t.codec for t in audio_tracks]
    has_video = tracks is not None and any(t.kind == _TRACK_VIDEO for t in tracks)
    names = "+".join(_ebml_codec_name(c) for c in audio)
    detected = label + (f"/{names}" if names else "") + (" with video" if has_video else "")

    if doctype == "matroska":
        return _Content(
            MediaFormat.WEBM,
            detected,
            "The file is a Matroska (.mkv) video; Amazon Transcribe accepts WebM but not Matroska.",
            noun="a Matroska (.mkv) video",
        )
    if doctype != "webm":
        return _Content(
            MediaFormat.WEBM,
            detected,
            f"The file is an EBML document of type '{doctype or 'unknown'}', not WebM.",
            noun="an EBML file that is not WebM",
        )
    if problem is not None:
        return _Content(MediaFormat.WEBM, detected, problem)
    if tracks is None:  # Tracks not within reach: let Transcribe judge the codec
        return _Content(MediaFormat.WEBM, detected)
    if "A_OPUS" in audio:
        channels = max(t.channels for t in audio_tracks)
        if channels > 2:
            return _Content(
                MediaFormat.WEBM,
                detected,
                _too_many_channels("WebM", channels),
                noun="WebM Opus audio",
            )
        return _Content(MediaFormat.WEBM, detected, noun="WebM Opus audio")
    if not audio:
        return _Content(
            MediaFormat.WEBM,
            detected,
            "The WebM file has no audio track.",
            noun="a WebM file without audio",
        )
    if "A_VORBIS" in audio:
        return _Content(
            MediaFormat.WEBM,
            detected,
            "The WebM file's audio is Vorbis; Amazon Transcribe accepts WebM only with Opus audio.",
            noun="a WebM file with Vorbis audio",
        )
    return _Content(
        MediaFormat.WEBM,
        detected,
        f"The WebM file's audio codec is {', '.join(audio)}; "
        "Amazon Transcribe accepts WebM only with Opus audio.",
        noun="a WebM file without Opus audio",
    )


def _ebml_codec_name(codec: str) -> str:
    return codec.removeprefix("A_").lower() if codec.startswith("A_") else codec.lower()


def _ebml_segment(probe: _Probe, off: int) -> tuple[list[_EbmlTrack] | None, str | None]:
    """The tracks when Tracks was fully read, and a truncation problem."""
    size = probe.size
    # Skip Void/CRC elements between the header and the Segment.
    for _ in range(_MAX_WALK):
        if off >= size:
            return None, "The WebM file has no Segment after its header; it appears truncated."
        found = _ebml_element_at(probe, off)
        if found is None:
            return None, None  # budget spent: cannot see further
        element, value, data = found
        if element == _SEGMENT:
            break
        if element not in (_VOID, _CRC32) or value is None:
            raise _CorruptError("no Segment element after the header")
        off = data + value
    else:
        raise _CorruptError("no Segment element after the header")
    if data > size:
        return None, _truncated("WebM", data, size)
    segment_end = size  # unknown size (live WebM): runs to the end of the object
    if value is not None:
        if data + value > size:
            return None, _truncated("WebM", data + value, size)
        segment_end = data + value

    off = data
    for _ in range(_MAX_WALK):
        if off >= segment_end:
            return None, None
        found = _ebml_element_at(probe, off)
        if found is None:
            return None, None  # budget spent: cannot see further
        element, value, data = found
        if element == _CLUSTER or value is None:
            # Media data has begun (or an unknown-size child we cannot skip).
            return None, None
        if data + value > segment_end:
            if value is not None and data + value > size:
                return None, _truncated("WebM", data + value, size)
            raise _CorruptError("an element runs past the end of its Segment")
        if element == _TRACKS:
            body = probe.at(data, value)
            if len(body) < value:
                return None, None  # too big for the budget
            return _ebml_tracks(body), None
        off = data + value
    return None, None


class _TruncatedError(_CorruptError):
    """The object ends where the structure says there is more."""


def _ebml_element_at(probe: _Probe, off: int) -> tuple[int, int | None, int] | None:
    """(id, data size or None if unknown, data offset) of the element at ``off``.

    None when the budget ran out before the header could be read.
    """
    buf = probe.at(off, 12)
    try:
        element, id_len = _ebml_id(buf, 0)
        value, size_len = _ebml_size(buf, id_len)
    except _CorruptError:
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
    for element, start, end in _ebml_children(body, 0, len(body)):
        if element != _TRACK_ENTRY:
            continue
        kind, codec, channels = 0, "", 0
        for child, c_start, c_end in _ebml_children(body, start, end):
            if child == _TRACK_TYPE:
                kind = int.from_bytes(body[c_start:c_end], "big")
            elif child == _CODEC_ID:
                codec = body[c_start:c_end].rstrip(b"\x00").decode("ascii", "replace")
            elif child == _AUDIO:
                for setting, a_start, a_end in _ebml_children(body, c_start, c_end):
                    if setting == _CHANNELS:
                        channels = max(channels, int.from_bytes(body[a_start:a_end], "big"))
            elif child == _CODEC_PRIVATE and body[c_start:c_end].startswith(b"OpusHead"):
                # The Opus decoder goes by its own header: trust the larger count.
                channels = max(channels, body[c_start + 9] if c_end - c_start > 9 else 0)
        tracks.append(_EbmlTrack(kind, codec, channels))
    return tracks


# --- MP4 / M4A / MOV (ISO-BMFF) ---------------------------------------------------

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


def _iso_box(probe: _Probe, off: int) -> tuple[bytes, int, int] | None:
    """(type, header length, box size) of the top-level box at ``off``; None if unreadable."""
    buf = probe.at(off, 16)
    if len(buf) < 8:
        return None
    box_size, kind = _u32be(buf, 0), buf[4:8]
    if box_size == 1:
        if len(buf) < 16:
            return None
        return kind, 16, _u64be(buf, 8)
    if box_size == 0:  # runs to the end of the file
        return kind, 8, probe.size - off
    return kind, 8, box_size


def _sniff_iso(probe: _Probe) -> _Content:
    head, size = probe.head, probe.size
    ftyp_size = _u32be(head, 0)
    if ftyp_size < 16 or ftyp_size > len(head):
        if ftyp_size > size:
            return _Content(MediaFormat.MP4, "mp4", _truncated("MP4", ftyp_size, size))
        return _Content(MediaFormat.MP4, "mp4", "The MP4 file is corrupt: invalid 'ftyp' box.")
    major = head[8:12]
    brands = [head[i : i + 4] for i in range(16, ftyp_size - 3, 4)]
    shown = major.decode("latin-1").strip() or "?"
    if major == _QUICKTIME_BRAND:
        return _Content(
            MediaFormat.MP4,
            "quicktime mov (brand qt)",
            "The file is a QuickTime (.mov) movie; "
            "Amazon Transcribe accepts MP4 but not QuickTime.",
            noun="a QuickTime (.mov) movie",
        )
    if major in _IMAGE_BRANDS or (
        brands and all(b in _IMAGE_BRANDS or b == b"miaf" for b in brands)
    ):
        return _Content(None, f"heif/avif image (brand {shown})", noun="a HEIF/AVIF image")
    detected = f"mp4 (brand {shown})"

    moov: bytes | None = None
    moov_seen = walked_to_end = False
    off = 0
    for _ in range(_MAX_WALK):
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
            return _Content(
                MediaFormat.MP4,
                detected,
                f"The MP4 file is corrupt: box at byte {off} has an invalid size.",
            )
        end = off + box_size
        if end > size:
            return _Content(MediaFormat.MP4, detected, _truncated("MP4", end, size))
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
        return _Content(
            MediaFormat.MP4,
            detected,
            "The MP4 file has no 'moov' box (its index); "
            "it was probably not finished when it was uploaded.",
        )
    if moov is None:
        return _Content(MediaFormat.MP4, detected)
    try:
        tracks = _iso_tracks(moov)
    except _CorruptError:
        return _Content(
            MediaFormat.MP4, detected, "The MP4 file is corrupt: its 'moov' box is invalid."
        )
    summary = ", ".join(f"{t.handler}:{t.codec}" if t.codec else t.handler for t in tracks)
    detected = f"mp4 (brand {shown}; {summary or 'no tracks'})"
    audio = [t for t in tracks if t.handler == "soun"]
    if not audio:
        return _Content(
            MediaFormat.MP4,
            detected,
            "The MP4 file has no audio track.",
            noun="an MP4 file without audio",
        )
    channels = max(t.channels for t in audio)
    if channels > 2:
        return _Content(MediaFormat.MP4, detected, _too_many_channels("MP4", channels))
    return _Content(MediaFormat.MP4, detected)


def _iso_children(b: bytes, start: int, end: int) -> Iterator[tuple[bytes, int, int]]:
    """(type, payload start, box end) of each box in a fully read range."""
    off = start
    while off + 8 <= end:
        box_size, kind, header_len = _u32be(b, off), b[off + 4 : off + 8], 8
        if box_size == 1:
            if off + 16 > end:
                raise _CorruptError("box header overruns its parent")
            box_size, header_len = _u64be(b, off + 8), 16
        elif box_size == 0:
            box_size = end - off
        if box_size < header_len or off + box_size > end:
            raise _CorruptError("box overruns its parent")
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
                except _CorruptError:
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


# --- AMR -------------------------------------------------------------------------

# Payload bytes per frame type (RFC 4867 storage format); None marks reserved types.
_AMR_NB_FRAME: tuple[int | None, ...] = (12, 13, 15, 17, 19, 20, 26, 31, 5, *[None] * 6, 0)
_AMR_WB_FRAME: tuple[int | None, ...] = (17, 23, 32, 36, 40, 46, 50, 58, 60, 5, *[None] * 4, 0, 0)


def _sniff_amr(probe: _Probe) -> _Content:
    head, size = probe.head, probe.size
    if head.startswith(b"#!AMR-WB\n"):
        magic, table, detected = 9, _AMR_WB_FRAME, "amr-wb"
    elif head.startswith(b"#!AMR\n"):
        magic, table, detected = 6, _AMR_NB_FRAME, "amr-nb"
    elif head.startswith((b"#!AMR_MC1.0\n", b"#!AMR-WB_MC1.0\n")):
        return _Content(
            MediaFormat.AMR,
            "amr (multichannel)",
            "The AMR file is multichannel; Amazon Transcribe accepts single-channel AMR only.",
            noun="multichannel AMR audio",
        )
    else:
        return _sniff_text(head)
    if size <= magic:
        return _Content(MediaFormat.AMR, detected, "The AMR file has no audio frames.")
    frame_type = (head[magic] >> 3) & 0x0F
    payload = table[frame_type]
    if payload is None or head[magic] & 0x83:  # reserved type or non-zero padding bits
        return _Content(MediaFormat.AMR, detected, "The AMR file is corrupt: invalid first frame.")
    end = magic + 1 + payload
    if end > size:
        return _Content(MediaFormat.AMR, detected, _truncated("AMR", end, size))
    return _Content(MediaFormat.AMR, detected)


# --- MP3 (MPEG audio) ---------------------------------------------------------------

_MPEG_VERSIONS = {3: "MPEG-1", 2: "MPEG-2", 0: "MPEG-2.5"}
_MPEG_RATES = {3: (44100, 48000, 32000), 2: (22050, 24000, 16000), 0: (11025, 12000, 8000)}
_MPEG_BITRATES = {  # kbit/s by (is MPEG-1, layer); index 0 is free format
    (True, 1): (0, 32, 64, 96, 128, 160, 192, 224, 256, 288, 320, 352, 384, 416, 448),
    (True, 2): (0, 32, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320, 384),
    (True, 3): (0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320),
    (False, 1): (0, 32, 48, 56, 64, 80, 96, 112, 128, 144, 160, 176, 192, 224, 256),
    (False, 2): (0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160),
    (False, 3): (0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160),
}


@dataclass(frozen=True)
class _MpegFrame:
    version: int
    layer: int
    rate: int
    length: int | None  # None for free-format bitrate


def _mpeg_frame(b: bytes, off: int) -> _MpegFrame | None:
    if off + 4 > len(b) or b[off] != 0xFF or b[off + 1] & 0xE0 != 0xE0:
        return None
    version = (b[off + 1] >> 3) & 0x03
    layer = 4 - ((b[off + 1] >> 1) & 0x03)  # 4 means reserved
    bitrate_index, rate_index = b[off + 2] >> 4, (b[off + 2] >> 2) & 0x03
    if (
        version == 1
        or layer == 4
        or bitrate_index == 15
        or rate_index == 3
        or b[off + 3] & 0x03 == 2
    ):
        return None
    rate = _MPEG_RATES[version][rate_index]
    kbps = _MPEG_BITRATES[(version == 3, layer)][bitrate_index]
    padding = (b[off + 2] >> 1) & 0x01
    if kbps == 0:
        return _MpegFrame(version, layer, rate, None)
    if layer == 1:
        length = (12 * kbps * 1000 // rate + padding) * 4
    elif layer == 3 and version != 3:
        length = 72 * kbps * 1000 // rate + padding
    else:
        length = 144 * kbps * 1000 // rate + padding
    return _MpegFrame(version, layer, rate, length)


def _same_stream(a: _MpegFrame, b: _MpegFrame) -> bool:
    # What ffmpeg also requires of consecutive headers: same version, layer and rate.
    return (a.version, a.layer, a.rate) == (b.version, b.layer, b.rate)


def _mpeg_label(frame: _MpegFrame) -> str:
    layer = {1: "I", 2: "II", 3: "III"}[frame.layer]
    return f"mp3 ({_MPEG_VERSIONS[frame.version]} layer {layer}, {frame.rate} Hz"


def _sniff_mpeg_audio(probe: _Probe, off: int, window: bytes | None = None) -> _Content | None:
    """MPEG audio whose first frame starts at ``off`` (bytes from ``window`` when given)."""
    data = window if window is not None else probe.head[off:]
    frame = _mpeg_frame(data, 0)
    if frame is None:
        if data[:2] in (b"\xff\xf1", b"\xff\xf9", b"\xff\xf0", b"\xff\xf8"):  # layer bits 00: ADTS
            return _Content(
                None,
                "aac (adts)",
                noun="raw AAC audio (ADTS), which Amazon Transcribe does not accept",
            )
        return None
    detected = _mpeg_label(frame) + ")"
    if frame.length is not None:
        # The next frame, when we already hold it, must look the same: one
        # stray 0xFFEx in random bytes is not MP3.
        following = _mpeg_frame(data, frame.length)
        if frame.length + 4 <= len(data) and (
            following is None or not _same_stream(frame, following)
        ):
            return None
        if off + frame.length > probe.size:
            return _Content(
                MediaFormat.MP3, detected, _truncated("MP3", off + frame.length, probe.size)
            )
    return _Content(MediaFormat.MP3, detected)


# A frame sync: 0xFF, then three more set bits (lookahead, so 0xFF 0xFF 0xFB finds both).
_MPEG_SYNC = re.compile(rb"\xff(?=[\xe0-\xff])")


def _scan_mpeg_audio(data: bytes, base: int) -> _Content | None:
    """MPEG audio whose first whole frame is somewhere in ``data`` (read from ``base``).

    Stream dumps start mid-frame or after zero padding, and taggers pad after an
    ID3 tag, so the first frame need not be at the start. A header found by a
    search must be followed by a second one exactly where its length says:
    random bytes almost never manage that.
    """
    for match in _MPEG_SYNC.finditer(data):
        at = match.start()
        frame = _mpeg_frame(data, at)
        if frame is None or frame.length is None:
            continue  # free format: no length to find the next frame with
        following = _mpeg_frame(data, at + frame.length)
        if following is not None and _same_stream(frame, following):
            detected = _mpeg_label(frame) + (f"; first frame at byte {base + at})" if at else ")")
            return _Content(MediaFormat.MP3, detected)
    return None


def _sniff_id3(probe: _Probe) -> _Content:
    size = probe.size
    off = 0
    for _ in range(4):  # some files carry several tags back to back
        tag = probe.at(off, 10)
        if len(tag) < 10 or tag[:3] != b"ID3":
            break
        if any(c & 0x80 for c in tag[6:10]) or tag[3] == 0xFF:
            return _Content(
                MediaFormat.MP3, "mp3 (ID3 tag)", "The MP3 file is corrupt: invalid ID3 tag."
            )
        # "ID3", version (2 bytes), flags, then a syncsafe size (7 bits per
        # byte) that excludes the 10-byte header and the footer (flag 0x10).
        body = (tag[6] << 21) | (tag[7] << 14) | (tag[8] << 7) | tag[9]
        footer = 10 if tag[5] & 0x10 else 0
        off += 10 + body + footer
        if off > size:
            return _Content(MediaFormat.MP3, "mp3 (ID3 tag)", _truncated("MP3", off, size))
    if off >= size:
        return _Content(
            MediaFormat.MP3, "mp3 (ID3 tag only)", "The MP3 file has an ID3 tag but no audio."
        )
    # Taggers put ID3v2 in front of FLAC too, and ffmpeg skips it. Four bytes
    # first, so that a big tag leaves the budget for the FLAC headers.
    if probe.at(off, 4) == b"fLaC":
        return _sniff_flac(probe, off)
    # Encoders and taggers may pad between the tag and the first frame: search
    # as far as the budget lets us.
    window = probe.at(off, MAX_PROBE_BYTES)
    if not window:
        return _Content(MediaFormat.MP3, "mp3 (ID3 tag)")  # audio beyond the budget
    found = _sniff_mpeg_audio(probe, off, window)
    if found is None or found.family is not MediaFormat.MP3:
        found = _scan_mpeg_audio(window, off)
    if found is not None:
        return found
    if len(window) < 4 and off + len(window) >= size:
        return _Content(
            MediaFormat.MP3, "mp3 (ID3 tag)", "The MP3 file has an ID3 tag but no audio."
        )
    return _Content(
        MediaFormat.MP3,
        "id3 tag + unknown",
        "The file has an ID3 tag but no MPEG audio frame follows it.",
        noun="an ID3 tag followed by unrecognised data",
    )


# --- wrong content ------------------------------------------------------------------

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


def _sniff_other(head: bytes) -> _Content | None:
    for magic, detected, noun in _OTHER_MAGIC:
        if head.startswith(magic):
            return _Content(None, detected, noun=noun)
    if head[:4] == b"FORM" and head[8:12] in (b"AIFF", b"AIFC"):
        return _Content(None, "aiff audio", noun="AIFF audio")
    return None


def _sniff_text(head: bytes) -> _Content:
    sample = head[:4096]
    if b"\x00" in sample:
        return _Content(None, "unknown", noun="unrecognised data")
    try:
        text = sample.decode("utf-8")
    except UnicodeDecodeError as exc:
        if exc.start < len(sample) - 3:
            return _Content(None, "unknown", noun="unrecognised data")
        text = sample[: exc.start].decode("utf-8")  # the read cut a character in two
    text = text.removeprefix("\ufeff")
    if not text:
        return _Content(None, "unknown", noun="unrecognised data")
    printable = sum(1 for c in text if c.isprintable() or c in "\t\n\r\f")
    if printable < 0.95 * len(text):
        return _Content(None, "unknown", noun="unrecognised data")
    start = text.lstrip().lower()
    if start.startswith(("<!doctype html", "<html", "<head", "<body")):
        return _Content(None, "html", noun="an HTML page")
    if start.startswith("<svg") or (start.startswith("<?xml") and "<svg" in start):
        return _Content(None, "svg image", noun="an SVG image")
    if start.startswith("<?xml"):
        return _Content(None, "xml", noun="an XML document")
    return _Content(None, "text", noun="plain text")
