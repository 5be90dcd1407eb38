"""AMR (RFC 4867 storage format): the magic line and the first frame header.

Transcribe takes single-channel AMR-NB and AMR-WB; the multichannel variants
are refused, and a first frame with a reserved type or set padding bits is
corrupt.
"""

from __future__ import annotations

from transcription_pipeline.media.probe import Content, MediaFormat, Probe, truncated

__all__ = ["sniff_amr"]

# Payload bytes per frame type (RFC 4867 storage format); None marks reserved types.
_AMR_NB_FRAME: tuple[int | None, ...] = (12, 13, 15, 17, 19, 20, 26, 31, 5, *[None] * 6, 0)
_AMR_WB_FRAME: tuple[int | None, ...] = (17, 23, 32, 36, 40, 46, 50, 58, 60, 5, *[None] * 4, 0, 0)


def sniff_amr(probe: Probe) -> Content | None:
    """AMR audio at the start of the object; None when ``#!AMR`` is no AMR magic line."""
    head, size = probe.head, probe.size
    if head.startswith(b"#!AMR-WB\n"):
        magic, table, detected = 9, _AMR_WB_FRAME, "amr-wb"
    elif head.startswith(b"#!AMR\n"):
        magic, table, detected = 6, _AMR_NB_FRAME, "amr-nb"
    elif head.startswith((b"#!AMR_MC1.0\n", b"#!AMR-WB_MC1.0\n")):
        return Content(
            MediaFormat.AMR,
            "amr (multichannel)",
            "The AMR file is multichannel; Amazon Transcribe accepts single-channel AMR only.",
            noun="multichannel AMR audio",
        )
    else:
        return None
    if size <= magic:
        return Content(MediaFormat.AMR, detected, "The AMR file has no audio frames.")
    frame_type = (head[magic] >> 3) & 0x0F
    payload = table[frame_type]
    if payload is None or head[magic] & 0x83:  # reserved type or non-zero padding bits
        return Content(MediaFormat.AMR, detected, "The AMR file is corrupt: invalid first frame.")
    end = magic + 1 + payload
    if end > size:
        return Content(MediaFormat.AMR, detected, truncated("AMR", end, size))
    return Content(MediaFormat.AMR, detected)
