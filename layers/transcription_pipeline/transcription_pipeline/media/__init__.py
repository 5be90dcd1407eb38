"""Decide whether an uploaded object can be sent to Amazon Transcribe.

Pure domain code: it looks at the object's key, its size (from the S3 event)
and at most ``MAX_PROBE_BYTES`` of its content, read through a callback, so it
never needs the whole object and never touches AWS itself.

Transcribe is told the ``MediaFormat`` explicitly and fails a job whose content
does not match it, whose Ogg/WebM audio is not Opus, that has more than two
audio channels, or that is a Matroska or QuickTime file. Catching these here
gives the uploader an immediate, plain reason instead of a FAILED job minutes
later.

``check_media`` is the one entry point. Inside: ``check`` (limits, extension,
verdict) over ``sniff`` (dispatch on the magic bytes) over one module per
container (``riff``, ``flac``, ``ogg``, ``ebml``, ``iso``, ``mpeg`` with
``id3``, ``amr``) and ``other`` for non-media content, all over ``probe`` (the
budgeted reader and the shared result type), which imports none of them.
"""

from __future__ import annotations

from transcription_pipeline.media.check import MAX_MEDIA_BYTES, MediaCheck, check_media
from transcription_pipeline.media.probe import MAX_PROBE_BYTES, MediaFormat, RangeReader

__all__ = [
    "MAX_MEDIA_BYTES",
    "MAX_PROBE_BYTES",
    "MediaCheck",
    "MediaFormat",
    "RangeReader",
    "check_media",
]
