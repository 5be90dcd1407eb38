"""The base every container module builds on: formats, the budgeted reader, the result.

Container modules read the object only through ``Probe``, which clamps every
read to the object and to ``MAX_PROBE_BYTES`` in total, so no input can make a
check read more. Each answers with a ``Content``: what the bytes are, and why
Transcribe would still refuse them. This module imports no other media module.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

__all__ = [
    "MAX_PROBE_BYTES",
    "MAX_WALK",
    "Content",
    "CorruptError",
    "MediaFormat",
    "Probe",
    "RangeReader",
    "too_many_channels",
    "truncated",
    "u16le",
    "u32be",
    "u32le",
    "u64be",
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


MAX_PROBE_BYTES: int = 64 * 1024  # total bytes we may read from one object, all reads together

RangeReader = Callable[[int, int], bytes]
"""``read(offset, length) -> bytes``; may return fewer bytes at the end of the object."""

# The first read covers small files whole and the headers of large ones; the
# rest of the budget pays for small reads of box/element headers further on.
_HEAD_BYTES = 32 * 1024
MAX_WALK = 64  # top-level boxes / elements / blocks we follow before giving up


@dataclass(frozen=True)
class Content:
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


class Probe:
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


class CorruptError(Exception):
    """A structure inside the file is inconsistent."""


def truncated(name: str, claimed: int, size: int) -> str:
    return f"The {name} file appears truncated: header says {claimed} bytes, object has {size}."


def too_many_channels(name: str, channels: int) -> str:
    return (
        f"The {name} file has {channels} audio channels; Amazon Transcribe accepts mono or stereo."
    )


def u32be(b: bytes, off: int) -> int:
    value: int = struct.unpack_from(">I", b, off)[0]
    return value


def u64be(b: bytes, off: int) -> int:
    value: int = struct.unpack_from(">Q", b, off)[0]
    return value


def u32le(b: bytes, off: int) -> int:
    value: int = struct.unpack_from("<I", b, off)[0]
    return value


def u16le(b: bytes, off: int) -> int:
    value: int = struct.unpack_from("<H", b, off)[0]
    return value
