"""MP3 (MPEG audio): frame headers, confirmed by the next frame where its length says.

One stray 0xFFEx in random bytes is not MP3, so a header counts only when a
second one of the same stream follows it. Stream dumps and padded tags put the
first frame anywhere, so the search runs as far as the budget lets it, as
ffmpeg's does. Raw AAC (ADTS) looks similar and is named, not accepted.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from transcription_pipeline.media.probe import (
    MAX_PROBE_BYTES,
    Content,
    MediaFormat,
    Probe,
    truncated,
)

__all__ = ["MpegFrame", "mpeg_frame", "scan_mpeg_audio", "sniff_after_id3", "sniff_mpeg_audio"]

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
class MpegFrame:
    """One MPEG audio frame header."""

    version: int  # 3: MPEG-1, 2: MPEG-2, 0: MPEG-2.5
    layer: int
    rate: int
    length: int | None  # None for free-format bitrate
    kbps: int = 0  # 0 for free format
    mono: bool = False  # channel mode 3 (single channel): a shorter side info


def mpeg_frame(b: bytes, off: int) -> MpegFrame | None:
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
    mono = b[off + 3] >> 6 == 3
    if kbps == 0:
        return MpegFrame(version, layer, rate, None, 0, mono)
    if layer == 1:
        length = (12 * kbps * 1000 // rate + padding) * 4
    elif layer == 3 and version != 3:
        length = 72 * kbps * 1000 // rate + padding
    else:
        length = 144 * kbps * 1000 // rate + padding
    return MpegFrame(version, layer, rate, length, kbps, mono)


def _same_stream(a: MpegFrame, b: MpegFrame) -> bool:
    # What ffmpeg also requires of consecutive headers: same version, layer and rate.
    return (a.version, a.layer, a.rate) == (b.version, b.layer, b.rate)


def _mpeg_label(frame: MpegFrame) -> str:
    layer = {1: "I", 2: "II", 3: "III"}[frame.layer]
    return f"mp3 ({_MPEG_VERSIONS[frame.version]} layer {layer}, {frame.rate} Hz"


def sniff_mpeg_audio(probe: Probe, off: int, window: bytes | None = None) -> Content | None:
    """MPEG audio whose first frame starts at ``off`` (bytes from ``window`` when given)."""
    data = window if window is not None else probe.head[off:]
    frame = mpeg_frame(data, 0)
    if frame is None:
        if data[:2] in (b"\xff\xf1", b"\xff\xf9", b"\xff\xf0", b"\xff\xf8"):  # layer bits 00: ADTS
            return Content(
                None,
                "aac (adts)",
                noun="raw AAC audio (ADTS), which Amazon Transcribe does not accept",
            )
        return None
    detected = _mpeg_label(frame) + ")"
    if frame.length is not None:
        # The next frame, when we already hold it, must look the same: one
        # stray 0xFFEx in random bytes is not MP3.
        following = mpeg_frame(data, frame.length)
        if frame.length + 4 <= len(data) and (
            following is None or not _same_stream(frame, following)
        ):
            return None
        if off + frame.length > probe.size:
            return Content(
                MediaFormat.MP3, detected, truncated("MP3", off + frame.length, probe.size)
            )
    return Content(MediaFormat.MP3, detected)


# A frame sync: 0xFF, then three more set bits (lookahead, so 0xFF 0xFF 0xFB finds both).
_MPEG_SYNC = re.compile(rb"\xff(?=[\xe0-\xff])")


def scan_mpeg_audio(data: bytes, base: int) -> Content | None:
    """MPEG audio whose first whole frame is somewhere in ``data`` (read from ``base``).

    Stream dumps start mid-frame or after zero padding, and taggers pad after an
    ID3 tag, so the first frame need not be at the start. A header found by a
    search must be followed by a second one exactly where its length says:
    random bytes almost never manage that.
    """
    for match in _MPEG_SYNC.finditer(data):
        at = match.start()
        frame = mpeg_frame(data, at)
        if frame is None or frame.length is None:
            continue  # free format: no length to find the next frame with
        following = mpeg_frame(data, at + frame.length)
        if following is not None and _same_stream(frame, following):
            detected = _mpeg_label(frame) + (f"; first frame at byte {base + at})" if at else ")")
            return Content(MediaFormat.MP3, detected)
    return None


def sniff_after_id3(probe: Probe, off: int) -> Content:
    """MPEG audio after ID3 tags that end at ``off``, before the end of the object."""
    size = probe.size
    # Encoders and taggers may pad between the tag and the first frame: search
    # as far as the budget lets us.
    window = probe.at(off, MAX_PROBE_BYTES)
    if not window:
        return Content(MediaFormat.MP3, "mp3 (ID3 tag)")  # audio beyond the budget
    found = sniff_mpeg_audio(probe, off, window)
    if found is None or found.family is not MediaFormat.MP3:
        found = scan_mpeg_audio(window, off)
    if found is not None:
        return found
    if len(window) < 4 and off + len(window) >= size:
        return Content(
            MediaFormat.MP3, "mp3 (ID3 tag)", "The MP3 file has an ID3 tag but no audio."
        )
    return Content(
        MediaFormat.MP3,
        "id3 tag + unknown",
        "The file has an ID3 tag but no MPEG audio frame follows it.",
        noun="an ID3 tag followed by unrecognised data",
    )
