"""WAV (RIFF and RF64): the form type, the RIFF size against the object, the fmt chunk.

Transcribe takes WAV in mono or stereo; a RIFF size well past the object means
an upload that was cut off. WebP and AVI share the RIFF wrapper and are named
for what they are.
"""

from __future__ import annotations

from transcription_pipeline.media.probe import (
    MAX_WALK,
    Content,
    MediaFormat,
    Probe,
    too_many_channels,
    truncated,
    u16le,
    u32le,
)

__all__ = ["sniff_riff"]

# A RIFF size a few bytes larger than the object is common and harmless:
# streaming writers fill sizes in ahead of the data, uploads end a little
# short, some writers count the 8-byte RIFF header or a pad byte they never
# wrote. ffmpeg decodes such files, so only a bigger gap counts as truncation.
_RIFF_SIZE_SLACK = 64

_WAV_CODECS = {1: "pcm", 3: "float", 6: "a-law", 7: "mu-law", 0xFFFE: "extensible"}


def sniff_riff(probe: Probe) -> Content:
    head, size = probe.head, probe.size
    if size < 12 or len(head) < 12:
        return Content(
            MediaFormat.WAV,
            "riff (too short)",
            f"The WAV file is only {size} bytes long; it appears truncated.",
            noun="a RIFF header too short to be WAV audio",
        )
    form = head[8:12]
    if form != b"WAVE":
        if form == b"WEBP":
            return Content(None, "webp image", noun="a WebP image")
        if form[:3] == b"AVI":
            return Content(None, "avi video", noun="an AVI video")
        return Content(
            None, f"riff ({form.decode('latin-1')!r})", noun="a RIFF file that is not WAV audio"
        )
    riff_size = u32le(head, 4)
    # 0 and 0xFFFFFFFF mean "unknown" (streamed WAV, RF64): no size to check.
    if (
        head[:4] == b"RIFF"
        and riff_size not in (0, 0xFFFFFFFF)
        and riff_size + 8 > size + _RIFF_SIZE_SLACK
    ):
        return Content(MediaFormat.WAV, "wav", truncated("WAV", riff_size + 8, size))
    fmt = _wav_fmt(head)
    if fmt is None:
        return Content(MediaFormat.WAV, "wav")
    codec, channels, rate = fmt
    detected = f"wav ({codec}, {channels} ch, {rate} Hz)"
    if channels > 2:
        return Content(MediaFormat.WAV, detected, too_many_channels("WAV", channels))
    return Content(MediaFormat.WAV, detected)


def _wav_fmt(head: bytes) -> tuple[str, int, int] | None:
    off = 12
    for _ in range(MAX_WALK):
        if off + 8 > len(head):
            return None
        chunk, length = head[off : off + 4], u32le(head, off + 4)
        if chunk == b"fmt ":
            if off + 16 > len(head) or length < 8:
                return None
            tag = u16le(head, off + 8)
            return (
                _WAV_CODECS.get(tag, f"codec 0x{tag:04x}"),
                u16le(head, off + 10),
                u32le(head, off + 12),
            )
        if chunk == b"data":
            return None
        off += 8 + length + (length & 1)  # chunks are word aligned
    return None
