"""``media_duration``: the recording's length, from the header in the first 64 KiB.

The summary states how long the recording is; the media header says so
exactly for most containers, without decoding and without the transcript.
Only the first ``MAX_PROBE_BYTES`` of the object are ever read (the probe is
given the window's size, so no helper can reach past it), in as few ranged
reads as ``Probe`` manages: one 32 KiB head read covers the header of every
file whose header is near its start.

Where the header does not hold the length, or holds it only at the end of the
file, the answer is None and the caller falls back to the transcript:

* Ogg (Opus, Vorbis): the length is the granule position of the *last* page;
  the first pages carry no total.
* AMR: the storage format (RFC 4867) has no header beyond its magic line and
  no frame count; the length is only known by counting frames to the end.
* MP4/MOV whose ``moov`` box lies after the media data (ffmpeg's default
  without ``-movflags +faststart``, beyond the first 64 KiB): the budget is the
  first 64 KiB, so the end of the file is not read.
* WebM written live (browsers' MediaRecorder) has no Segment Duration.

MP3 without a Xing/Info or VBRI header is estimated from its size and the
first frame's bitrate (exact for constant bitrate); ``exact`` says which.
"""

from __future__ import annotations

import math
import struct
from collections.abc import Iterator
from typing import NamedTuple

from transcription_pipeline.media.ebml import ebml_children, ebml_element_at
from transcription_pipeline.media.id3 import skip_id3
from transcription_pipeline.media.mpeg import MpegFrame, mpeg_frame
from transcription_pipeline.media.probe import (
    MAX_PROBE_BYTES,
    MAX_WALK,
    Probe,
    RangeReader,
    u16le,
    u32be,
    u32le,
    u64be,
)

__all__ = ["MediaDuration", "media_duration"]


class MediaDuration(NamedTuple):
    """The length the media header states."""

    seconds: float
    exact: bool  # False: estimated from the size and bitrate (MP3 without a VBR header)


def media_duration(size: int, read: RangeReader) -> MediaDuration | None:
    """The recording's length from its header in the first 64 KiB; None when they do not say.

    ``size`` is the object's size (from the S3 event or HEAD). Odd, truncated or
    hostile bytes give None, never an exception; an exception raised by
    ``read`` itself propagates, as ``check_media``'s does, so the caller decides.
    """
    if size <= 0:
        return None
    # A probe over the window only: its reads are clamped to the first 64 KiB,
    # whatever offsets a header claims. ``size`` stays the object's real size.
    probe = Probe(read, min(size, MAX_PROBE_BYTES))
    try:
        found = _duration(probe, size)
    except Exception:
        if probe.read_failed:
            raise  # the reader's own error
        return None  # bytes that do not parse are not worth failing a summary for
    if found is None or not math.isfinite(found.seconds) or found.seconds <= 0:
        return None
    return found


def _duration(probe: Probe, size: int) -> MediaDuration | None:
    head = probe.head
    if head[:4] in (b"RIFF", b"RF64"):
        return _wav(probe, size)
    if head[:4] == b"fLaC":
        return _flac(probe, 0)
    if head[:4] == b"OggS":
        return None  # the length is the last page's granule position, at the end
    if head[:4] == _EBML_MAGIC:
        return _ebml(probe)
    if head[4:8] == b"ftyp" or head[4:8] in _BARE_QUICKTIME:
        return _iso(probe)
    if head.startswith(b"#!AMR"):
        return None  # no frame count or length in the AMR storage format
    start = 0
    if head[:3] == b"ID3":
        after = skip_id3(probe)
        if not isinstance(after, int):
            return None
        start = after
    # What follows the tags: in the head, or (a tag longer than the head, as
    # cover art makes) the rest of the window in one read.
    audio = head[start:] if start < len(head) else probe.at(start, MAX_PROBE_BYTES)
    if audio[:4] == b"fLaC":  # taggers put ID3v2 in front of FLAC too
        return _flac(probe, start)
    return _mp3(probe, audio, size, start)


# --- WAV (RIFF / RF64) ---------------------------------------------------------

# Codecs whose byte rate is exact: PCM, float, A-law, mu-law, extensible (in
# practice PCM). For others it is an average, and a fact chunk's count is exact.
_CONSTANT_RATE_WAV = {1, 3, 6, 7, 0xFFFE}
_UNKNOWN_SIZES = {0, 0xFFFFFFFF}  # streaming writers; RF64 puts the size in ds64


def _wav(probe: Probe, size: int) -> MediaDuration | None:
    if probe.head[8:12] != b"WAVE":
        return None  # WebP, AVI
    codec = rate = byte_rate = 0
    data_size64: int | None = None
    fact_samples: int | None = None
    off = 12
    for _ in range(MAX_WALK):
        header = probe.at(off, 8)
        if len(header) < 8:
            return None  # no data chunk within the window
        kind, length = header[:4], u32le(header, 4)
        if kind == b"fmt ":
            fmt = probe.at(off + 8, 16)
            if len(fmt) < 16:
                return None
            codec, rate, byte_rate = u16le(fmt, 0), u32le(fmt, 4), u32le(fmt, 8)
        elif kind == b"ds64":
            ds64 = probe.at(off + 8, 16)  # RIFF size, then data size (64-bit each)
            if len(ds64) == 16:
                data_size64 = struct.unpack_from("<Q", ds64, 8)[0]
        elif kind == b"fact":
            fact = probe.at(off + 8, 4)
            if len(fact) == 4:
                fact_samples = u32le(fact, 0)
        elif kind == b"data":
            return _wav_length(
                codec,
                rate,
                byte_rate,
                fact_samples,
                _wav_data_size(length, data_size64, off + 8, size),
            )
        off += 8 + length + (length & 1)  # chunks are word aligned
    return None


def _wav_data_size(claimed: int, data_size64: int | None, start: int, size: int) -> int:
    """Audio bytes: what the data chunk claims, but no more than the object holds."""
    available = size - start
    if claimed == 0xFFFFFFFF and data_size64:
        claimed = data_size64
    elif claimed in _UNKNOWN_SIZES:
        claimed = available
    # An upload cut short claims more than it holds: what is there is what plays.
    return max(0, min(claimed, available))


def _wav_length(
    codec: int, rate: int, byte_rate: int, fact_samples: int | None, data_bytes: int
) -> MediaDuration | None:
    if codec not in _CONSTANT_RATE_WAV and fact_samples and rate:
        return MediaDuration(fact_samples / rate, True)
    if byte_rate == 0:
        return None  # no fmt chunk before data, or a broken one
    return MediaDuration(data_bytes / byte_rate, codec in _CONSTANT_RATE_WAV)


# --- FLAC ----------------------------------------------------------------------


def _flac(probe: Probe, start: int) -> MediaDuration | None:
    """STREAMINFO, which must be the first metadata block after ``fLaC`` at ``start``."""
    block = probe.at(start, 4 + 4 + 34)
    if len(block) < 42 or block[:4] != b"fLaC" or block[4] & 0x7F != 0:
        return None
    if int.from_bytes(block[5:8], "big") < 34:
        return None
    info = block[8:]
    # After min/max block and frame sizes (10 bytes): sample rate (20 bits),
    # channels - 1 (3), bits per sample - 1 (5), total samples (36).
    rate = int.from_bytes(info[10:13], "big") >> 4
    total = ((info[13] & 0x0F) << 32) | u32be(info, 14)
    if rate == 0 or total == 0:
        return None  # 0 total samples: the encoder did not know (a stream)
    return MediaDuration(total / rate, True)


# --- WebM / Matroska -------------------------------------------------------------

_EBML_MAGIC = b"\x1a\x45\xdf\xa3"
_EBML_HEADER = 0x1A45DFA3
_SEGMENT = 0x18538067
_INFO = 0x1549A966
_CLUSTER = 0x1F43B675
_TIMECODE_SCALE = 0x2AD7B1
_SEGMENT_DURATION = 0x4489
_VOID = 0xEC
_CRC32 = 0xBF
_DEFAULT_TIMECODE_SCALE = 1_000_000  # ns per tick when Info does not say


def _ebml(probe: Probe) -> MediaDuration | None:
    found = ebml_element_at(probe, 0)
    if found is None or found[0] != _EBML_HEADER or found[1] is None:
        return None
    off = found[2] + found[1]
    segment_data: int | None = None
    for _ in range(MAX_WALK):  # Void/CRC may sit between the header and the Segment
        found = ebml_element_at(probe, off)
        if found is None:
            return None
        element, value, data = found
        if element == _SEGMENT:
            segment_data = data
            break
        if element not in (_VOID, _CRC32) or value is None:
            return None
        off = data + value
    if segment_data is None:
        return None
    off = segment_data
    # Info precedes the first Cluster in every muxer's output; SeekHead, Void
    # and Tracks may come first and are skipped by their sizes.
    for _ in range(MAX_WALK):
        found = ebml_element_at(probe, off)
        if found is None:
            return None
        element, value, data = found
        if element == _CLUSTER or value is None:
            return None
        if element == _INFO:
            body = probe.at(data, value)
            return _ebml_info(body) if len(body) == value else None
        off = data + value
    return None


def _ebml_info(body: bytes) -> MediaDuration | None:
    scale = _DEFAULT_TIMECODE_SCALE
    ticks: float | None = None
    for element, start, end in ebml_children(body, 0, len(body)):
        if element == _TIMECODE_SCALE:
            scale = int.from_bytes(body[start:end], "big") or _DEFAULT_TIMECODE_SCALE
        elif element == _SEGMENT_DURATION:
            if end - start == 4:
                ticks = struct.unpack(">f", body[start:end])[0]
            elif end - start == 8:
                ticks = struct.unpack(">d", body[start:end])[0]
    if ticks is None:
        return None  # live WebM (e.g. MediaRecorder) leaves Duration out
    return MediaDuration(ticks * scale / 1e9, True)


# --- MP4 / M4A / MOV (ISO BMFF) ----------------------------------------------------

_BARE_QUICKTIME = (b"moov", b"mdat", b"wide", b"free", b"skip")
_ALL_ONES = {0xFFFFFFFF, 0xFFFFFFFFFFFFFFFF}  # "duration unknown" in mvhd/mdhd


def _iso(probe: Probe) -> MediaDuration | None:
    # Only the first 64 KiB: a moov after the media data (no faststart) is out
    # of reach on purpose, so the caller falls back to the transcript.
    off = 0
    for _ in range(MAX_WALK):
        header = probe.at(off, 16)
        box = _box_header(header, 0, len(header))
        if box is None:
            return None
        kind, header_len, box_size = box
        if box_size == 0:
            box_size = probe.size - off  # runs to the end of the file
        if box_size < header_len:
            return None
        if kind == b"moov":
            # mvhd is moov's first child in practice: try what the head read
            # holds before paying for the rest of a large moov (only needed
            # for the audio track's mdhd). A moov longer than the window is
            # parsed as far as it was read.
            start, end = off + header_len, off + box_size
            in_head = probe.head[start:end]
            found = _moov_duration(in_head)
            if found is None and len(in_head) < end - start:
                found = _moov_duration(probe.at(start, end - start))
            return found
        off += box_size
    return None


def _box_header(b: bytes, off: int, end: int) -> tuple[bytes, int, int] | None:
    """(type, header length, box size; 0 = to the end of the parent) of the box at ``off``."""
    if off + 8 > end:
        return None
    box_size, kind = u32be(b, off), b[off + 4 : off + 8]
    if box_size == 1:
        if off + 16 > end:
            return None
        return kind, 16, u64be(b, off + 8)
    return kind, 8, box_size


def _boxes(b: bytes, start: int, end: int) -> Iterator[tuple[bytes, int, int]]:
    """(type, payload start, payload end) of each child box in ``b[start:end]``.

    Lenient where ``iso``'s walker is strict: ``b`` may be a moov cut off by the
    window, so a box that runs past the bytes we hold is yielded clipped.
    """
    end = min(end, len(b))
    off = start
    while True:
        box = _box_header(b, off, end)
        if box is None:
            return
        kind, header_len, box_size = box
        if box_size == 0:
            box_size = end - off
        if box_size < header_len:
            return
        yield kind, off + header_len, min(off + box_size, end)
        off += box_size


def _moov_duration(moov: bytes) -> MediaDuration | None:
    audio: MediaDuration | None = None
    for kind, start, end in _boxes(moov, 0, len(moov)):
        if kind == b"mvhd":
            timescale, ticks = _header_duration(moov, start, end)
            movie = _seconds(ticks, timescale)
            if movie is not None:
                return movie
        elif kind == b"trak" and audio is None:
            audio = _audio_track_duration(moov, start, end)
    # mvhd says 0 or "unknown" (some recorders): the audio track's own length.
    # Fragmented MP4 (browsers' MediaRecorder, ffmpeg's empty_moov) states 0
    # in both: its length is the sum of the fragments, so None.
    return audio


def _header_duration(b: bytes, start: int, end: int) -> tuple[int, int | None]:
    """(timescale, duration) of an mvhd or mdhd payload; duration None when not stated."""
    # Full box: version (1) and flags (3); then creation and modification
    # times, timescale, duration: 32-bit fields in version 0, 64-bit times and
    # duration in version 1 (ISO/IEC 14496-12, 8.2.2 / 8.4.2).
    if start + 4 > end:
        return 0, None
    if b[start] == 1:
        if start + 32 > end:
            return 0, None
        return u32be(b, start + 20), u64be(b, start + 24)
    if start + 20 > end:
        return 0, None
    return u32be(b, start + 12), u32be(b, start + 16)


def _seconds(ticks: int | None, timescale: int) -> MediaDuration | None:
    if not ticks or ticks in _ALL_ONES or timescale == 0:
        return None
    return MediaDuration(ticks / timescale, True)


def _audio_track_duration(b: bytes, start: int, end: int) -> MediaDuration | None:
    """The mdhd length of a trak payload when its handler is sound."""
    for kind, m_start, m_end in _boxes(b, start, end):
        if kind != b"mdia":
            continue
        handler = b""
        length: MediaDuration | None = None
        for child, c_start, c_end in _boxes(b, m_start, m_end):
            if child == b"mdhd":
                timescale, ticks = _header_duration(b, c_start, c_end)
                length = _seconds(ticks, timescale)
            elif child == b"hdlr" and c_start + 12 <= c_end:
                handler = b[c_start + 8 : c_start + 12]  # after version+flags, pre_defined
        return length if handler == b"soun" else None
    return None


# --- MP3 (MPEG audio) ----------------------------------------------------------------


# Layer III side information bytes by (is MPEG-1, mono).
_SIDE_INFO = {(True, False): 32, (True, True): 17, (False, False): 17, (False, True): 9}


def _samples_per_frame(frame: MpegFrame) -> int:
    if frame.layer == 1:
        return 384
    if frame.layer == 3 and frame.version != 3:
        return 576  # MPEG-2 and 2.5 layer III
    return 1152


def _mp3(probe: Probe, audio: bytes, size: int, start: int) -> MediaDuration | None:
    """MPEG audio from ``start``, where ``audio`` (bytes from ``start``) is what we hold."""
    found = _first_frame(audio)
    if found is None and start + len(audio) < probe.size:
        # A stream that starts with junk or padding past the head read.
        found = _first_frame(probe.at(start, MAX_PROBE_BYTES))
    if found is None:
        return None
    at, frame, data = found
    tagged, frames = _vbr_header(data, at, frame)
    if frames:
        return MediaDuration(frames * _samples_per_frame(frame) / frame.rate, True)
    if tagged:
        # A VBR header frame without a frame count holds no audio, and its
        # bitrate need not be the stream's: estimate from the next frame.
        at += frame.length or 0
        following = mpeg_frame(data, at)
        if following is None:
            return None
        frame = following
    if frame.kbps == 0:
        return None  # free format: no bitrate to estimate from
    # No VBR header: constant bitrate is the norm, so the audio bytes over the
    # bitrate give the length. An ID3v1 or APE tag at the end (not read) adds
    # a few hundred bytes at most.
    audio_bytes = size - (start + at)
    return MediaDuration(audio_bytes * 8 / (frame.kbps * 1000), False)


def _first_frame(data: bytes) -> tuple[int, MpegFrame, bytes] | None:
    """(offset, header, ``data``) of the first frame that the next frame header confirms."""
    at = data.find(b"\xff")
    while at >= 0:
        frame = mpeg_frame(data, at)
        if frame is not None and frame.length is not None:
            following = mpeg_frame(data, at + frame.length)
            if following is not None and _same_stream(frame, following):
                return at, frame, data
        at = data.find(b"\xff", at + 1)
    return None


def _same_stream(a: MpegFrame, b: MpegFrame) -> bool:
    return (a.version, a.layer, a.rate) == (b.version, b.layer, b.rate)


def _vbr_header(data: bytes, at: int, frame: MpegFrame) -> tuple[bool, int | None]:
    """Whether the first frame is a Xing/Info or VBRI header, and its frame count."""
    # Xing/Info (LAME, ffmpeg) follows the side information, whose size depends
    # on the MPEG version and on mono vs. stereo.
    xing = at + 4 + _SIDE_INFO[(frame.version == 3, frame.mono)]
    if data[xing : xing + 4] in (b"Xing", b"Info"):
        if xing + 12 <= len(data) and u32be(data, xing + 4) & 0x1:  # flags: frames field
            return True, u32be(data, xing + 8)
        return True, None
    # VBRI (Fraunhofer) sits 32 bytes after the frame header: tag, version,
    # delay, quality (2 bytes each), stream bytes, then frames (4 each).
    vbri = at + 4 + 32
    if data[vbri : vbri + 4] == b"VBRI":
        return True, u32be(data, vbri + 14) if vbri + 18 <= len(data) else None
    return False, None
