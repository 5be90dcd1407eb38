"""ID3v2 tags in front of the audio: skipped, tag by tag, to where the audio starts.

Taggers put ID3v2 in front of MP3 and of FLAC alike, so this module only finds
the end of the tags; the dispatcher looks at what follows. A tagged file is
taken for MP3, as most are, so the problems found here are said of an MP3 file.
"""

from __future__ import annotations

from transcription_pipeline.media.probe import Content, MediaFormat, Probe, truncated

__all__ = ["skip_id3"]


def skip_id3(probe: Probe) -> int | Content:
    """Offset of the first byte after the ID3v2 tags at the start, or what is wrong with them."""
    size = probe.size
    off = 0
    for _ in range(4):  # some files carry several tags back to back
        tag = probe.at(off, 10)
        if len(tag) < 10 or tag[:3] != b"ID3":
            break
        if any(c & 0x80 for c in tag[6:10]) or tag[3] == 0xFF:
            return Content(
                MediaFormat.MP3, "mp3 (ID3 tag)", "The MP3 file is corrupt: invalid ID3 tag."
            )
        # "ID3", version (2 bytes), flags, then a syncsafe size (7 bits per
        # byte) that excludes the 10-byte header and the footer (flag 0x10).
        body = (tag[6] << 21) | (tag[7] << 14) | (tag[8] << 7) | tag[9]
        footer = 10 if tag[5] & 0x10 else 0
        off += 10 + body + footer
        if off > size:
            return Content(MediaFormat.MP3, "mp3 (ID3 tag)", truncated("MP3", off, size))
    if off >= size:
        return Content(
            MediaFormat.MP3, "mp3 (ID3 tag only)", "The MP3 file has an ID3 tag but no audio."
        )
    return off
