"""Ogg: the beginning-of-stream pages, one per logical stream, name the codecs.

Transcribe accepts Ogg only with Opus audio, in mono or stereo (OpusHead gives
the channel count); Vorbis and the rest are refused with the codec named.
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

__all__ = ["sniff_ogg"]

_OGG_CODECS: tuple[tuple[bytes, str], ...] = (
    (b"OpusHead", "opus"),
    (b"\x01vorbis", "vorbis"),
    (b"\x7fFLAC", "flac"),
    (b"Speex   ", "speex"),
    (b"\x80theora", "theora"),
    (b"fishead\x00", "skeleton"),
    (b"\x80kate", "kate"),
)


def sniff_ogg(probe: Probe) -> Content:
    head, size = probe.head, probe.size
    codecs: list[str] = []
    channels = 0
    off = 0
    # Each logical stream starts with one BOS page; they all come first.
    for index in range(MAX_WALK):
        if head[off : off + 4] != b"OggS" or off + 27 > len(head):
            if index == 0 and off + 27 > size:
                return Content(MediaFormat.OGG, "ogg", truncated("Ogg", 27, size))
            break
        if head[off + 4] != 0:
            return Content(MediaFormat.OGG, "ogg", "The Ogg file is corrupt: unknown page version.")
        flags, segments = head[off + 5], head[off + 26]
        table = head[off + 27 : off + 27 + segments]
        body = off + 27 + segments
        end = body + sum(table)
        if index == 0 and (end > size or len(table) < segments):
            return Content(MediaFormat.OGG, "ogg", truncated("Ogg", max(end, body), size))
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
            return Content(
                MediaFormat.OGG,
                detected,
                too_many_channels("Ogg", channels),
                noun="Ogg Opus audio",
            )
        return Content(MediaFormat.OGG, detected, noun="Ogg Opus audio")
    if "vorbis" in codecs:
        return Content(
            MediaFormat.OGG,
            detected,
            "The Ogg file's audio is Vorbis; Amazon Transcribe accepts Ogg only with Opus audio.",
            noun="an Ogg file with Vorbis audio",
        )
    if codecs:
        return Content(
            MediaFormat.OGG,
            detected,
            f"The Ogg file carries {'+'.join(codecs)}, not Opus audio; "
            "Amazon Transcribe accepts Ogg only with Opus.",
            noun="an Ogg file without Opus audio",
        )
    return Content(
        MediaFormat.OGG,
        detected,
        "The Ogg file is corrupt: it does not start with a stream header.",
    )
