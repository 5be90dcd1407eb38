"""FLAC: the metadata blocks, from STREAMINFO to the last one before the audio.

STREAMINFO must come first and gives the channel count (Transcribe takes mono
or stereo); blocks that run past the object, or a header with no audio after
it, mean the upload was cut off. The ``fLaC`` marker may follow an ID3 tag.
"""

from __future__ import annotations

from transcription_pipeline.media.probe import (
    MAX_WALK,
    Content,
    MediaFormat,
    Probe,
    too_many_channels,
    truncated,
)

__all__ = ["sniff_flac"]


def sniff_flac(probe: Probe, start: int = 0) -> Content:
    """FLAC whose ``fLaC`` marker is at ``start`` (after an ID3 tag, if any)."""
    size = probe.size
    detected = "flac"
    off = start + 4
    for index in range(MAX_WALK):
        header = probe.at(off, 4)
        if len(header) < 4:
            if off + 4 > size:
                return Content(MediaFormat.FLAC, detected, truncated("FLAC", off + 4, size))
            return Content(MediaFormat.FLAC, detected)  # budget spent: accept
        last, kind, length = header[0] & 0x80, header[0] & 0x7F, int.from_bytes(header[1:4], "big")
        end = off + 4 + length
        if index == 0:
            if kind != 0 or length < 34:
                return Content(
                    MediaFormat.FLAC,
                    detected,
                    "The FLAC file is corrupt: it has no STREAMINFO block.",
                )
            if end > size:
                return Content(MediaFormat.FLAC, detected, truncated("FLAC", end, size))
            info = probe.at(off + 4, 34)
            if len(info) == 34:
                rate = int.from_bytes(info[10:13], "big") >> 4
                channels = ((info[12] >> 1) & 0x07) + 1
                detected = f"flac ({channels} ch, {rate} Hz)"
                if channels > 2:
                    return Content(MediaFormat.FLAC, detected, too_many_channels("FLAC", channels))
        elif kind == 127:
            return Content(
                MediaFormat.FLAC, detected, "The FLAC file is corrupt: invalid metadata block."
            )
        if end > size:
            return Content(MediaFormat.FLAC, detected, truncated("FLAC", end, size))
        if last:
            if end >= size:
                return Content(
                    MediaFormat.FLAC,
                    detected,
                    "The FLAC file has no audio after its header; it appears truncated.",
                )
            return Content(MediaFormat.FLAC, detected)
        off = end
    return Content(MediaFormat.FLAC, detected)
