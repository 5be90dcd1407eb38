"""``check_media``: the size limits, the file extension, and the verdict on both.

The content is named by ``sniff``; this module weighs it against the name the
uploader gave, because Transcribe is told the format from the extension and
fails a job whose content does not match it.
"""

from __future__ import annotations

from dataclasses import dataclass

from transcription_pipeline.media.probe import Content, MediaFormat, Probe, RangeReader
from transcription_pipeline.media.sniff import sniff_safely

__all__ = ["MAX_MEDIA_BYTES", "MediaCheck", "check_media"]

MAX_MEDIA_BYTES: int = 2 * 1024**3  # Transcribe's 2 GB limit


@dataclass(frozen=True)
class MediaCheck:
    """The verdict on one object."""

    media_format: MediaFormat | None  # set when accepted
    detected: str  # what the content looks like, for people
    reason: str | None  # None when accepted; otherwise a sentence for an error record

    @property
    def accepted(self) -> bool:
        return self.media_format is not None and self.reason is None


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
    content = sniff_safely(Probe(read, size))
    return _verdict(ext, expected, content)


def _extension(key: str) -> str | None:
    name = key.rsplit("/", 1)[-1]
    _, dot, ext = name.rpartition(".")
    if not dot or not ext:
        return None
    return ext.lower()


def _verdict(ext: str | None, expected: MediaFormat | None, content: Content) -> MediaCheck:
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
