"""Names and locations: job names, where outputs go, and S3 URIs.

Everything here is deterministic so that a repeated event leads to the same job
name (Transcribe then answers ConflictException) and the same output keys.
"""

from __future__ import annotations

import hashlib
import posixpath
import re
import unicodedata
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import unquote, urlsplit

MAX_JOB_NAME_LENGTH = 200
_HASH_LENGTH = 16  # 64 bits of SHA-256: collisions are not a practical concern per stack
_UNSAFE_RUN = re.compile(r"[^0-9a-zA-Z._-]+")

# Files Transcribe writes itself; they must never start a job.
TRANSCRIBE_CHECK_FILE = ".write_access_check_file.temp"

TRANSCRIPT_JSON = "transcript.json"
TRANSCRIPT_TEXT = "transcript.txt"
SUBTITLES_SRT = "subtitles.srt"
SUBTITLES_VTT = "subtitles.vtt"
SUMMARY_JSON = "summary.json"
SUMMARY_MARKDOWN = "summary.md"
CHAPTERS_VTT = "chapters.vtt"
TRANSCRIPT_HTML = "transcript.html"
TRANSCRIPT_DOCX = "transcript.docx"
ERROR_RECORD = "error.json"
# Every output a record may hold (a new upload's record removes the ones it does not).
OUTPUT_FILES = (
    TRANSCRIPT_JSON,
    TRANSCRIPT_TEXT,
    SUBTITLES_SRT,
    SUBTITLES_VTT,
    CHAPTERS_VTT,
    SUMMARY_JSON,
    SUMMARY_MARKDOWN,
    TRANSCRIPT_HTML,
    TRANSCRIPT_DOCX,
)
# What every published record holds (OUTPUT_FILES less the optional ones).
RECORD_FILES = tuple(name for name in OUTPUT_FILES if name != TRANSCRIPT_DOCX)
# Translations of an upload's outputs: <folder>/translations/<language code>/<file name>.
TRANSLATIONS_FOLDER = "translations"
TRANSLATED_FILES = (TRANSCRIPT_TEXT, SUBTITLES_SRT, SUBTITLES_VTT, SUMMARY_JSON, ERROR_RECORD)
_LONGEST_LANGUAGE_CODE = "ckb-IQ"


def translation_name(language_code: str, file_name: str) -> str:
    """The name of one translated output inside the upload's folder."""
    return f"{TRANSLATIONS_FOLDER}/{language_code}/{file_name}"


@dataclass(frozen=True)
class S3Location:
    bucket: str
    key: str

    @property
    def uri(self) -> str:
        return f"s3://{self.bucket}/{self.key}"


def _readable_stem(key: str) -> str:
    """The file name without extension, folded to the characters a job name allows."""
    stem = posixpath.splitext(posixpath.basename(key))[0]
    ascii_stem = unicodedata.normalize("NFKD", stem).encode("ascii", "ignore").decode()
    return _UNSAFE_RUN.sub("-", ascii_stem).strip("-._")


def revision_of(etag: str, version_id: str | None, last_modified: datetime | None) -> str:
    """What one upload of an object is told apart by: its job name and records derive from it.

    With versioning, every upload gets a new versionId. Without it, the eTag alone would
    make identical bytes uploaded again look like the first upload, so a re-upload after
    a failed job (or after its outputs were deleted, or after the stack was redeployed:
    Transcribe keeps job names taken for 90 days) would be ignored as a duplicate. The
    object's Last-Modified time, which S3 sets on every upload and which HEAD, GET and
    LIST all report (to the second), tells those uploads apart; a duplicate delivery of
    one event still reads the same object and gets the same revision.
    """
    if version_id:
        return version_id
    if last_modified is None:
        raise ValueError("an unversioned object's revision needs its Last-Modified time")
    stamp = last_modified.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")
    return f"{etag}@{stamp}"


def job_name_for(prefix: str, source: S3Location, revision: str, variant: str = "") -> str:
    """A job name unique to one version of one object, recognisable by its file name.

    ``revision`` comes from ``revision_of``, so every new upload gets a new job and a
    duplicate event does not. ``variant`` (the fingerprint of per-file options that change
    the transcription) ends the name when set: the same upload with other options is
    another job; without per-file options the name is what it always was.
    """
    digest = hashlib.sha256(
        "\n".join((source.bucket, source.key, revision)).encode("utf-8")
    ).hexdigest()[:_HASH_LENGTH]
    suffix = f"{digest}.{variant}" if variant else digest
    room = MAX_JOB_NAME_LENGTH - len(prefix) - 1 - len(suffix)
    stem = _readable_stem(source.key)[: max(room - 1, 0)].rstrip("-._")
    return f"{prefix}{stem}.{suffix}" if stem else f"{prefix}{suffix}"


def raw_output_key(raw_output_prefix: str, job_name: str) -> str:
    """Where Transcribe writes its JSON: an exact ``.json`` key inside the reserved prefix."""
    return f"{raw_output_prefix}{job_name}.json"


REDACTED_PREFIX = "redacted-"


def raw_output_keys(raw_output_prefix: str, job_name: str) -> tuple[str, str]:
    """Every file a job can leave under the prefix: its JSON and, with PII redaction, the
    redacted JSON, whose file name Transcribe starts with ``redacted-`` (Transcribe
    developer guide, "Redacting PII in your batch job")."""
    return (
        raw_output_key(raw_output_prefix, job_name),
        f"{raw_output_prefix}{REDACTED_PREFIX}{job_name}.json",
    )


def job_name_start(prefix: str, source: S3Location) -> str:
    """What every job name of ``source`` starts with, whatever its revision and variant
    (the readable stem is cut shortest with a variant, so that is the one used)."""
    name = job_name_for(prefix, source, "", "0" * 8)
    start = name[: len(name) - (_HASH_LENGTH + 1 + 8)]  # the prefix and the stem, cut
    return start if start == prefix else start.removesuffix(".")


MAX_S3_KEY_BYTES = 1024  # S3 refuses longer keys (KeyTooLongError), counted in UTF-8 bytes
_FOLDER_MARK = "~"
# Every output of one source shares one folder, so the folder is sized for the longest name.
_LONGEST_OUTPUT_BYTES = max(
    len(name.encode("utf-8"))
    for name in (
        *OUTPUT_FILES,
        ERROR_RECORD,
        *(translation_name(_LONGEST_LANGUAGE_CODE, name) for name in TRANSLATED_FILES),
    )
)
_MAX_FOLDER_BYTES = MAX_S3_KEY_BYTES - 1 - _LONGEST_OUTPUT_BYTES


def _cut_utf8(text: str, max_bytes: int) -> str:
    """The longest prefix of ``text`` of at most ``max_bytes`` UTF-8 bytes, whole characters."""
    return text.encode("utf-8")[:max_bytes].decode("utf-8", "ignore")


def output_folder(source_key: str) -> str:
    """The folder that holds every output of ``source_key``.

    Normally the key itself. When ``<key>/<longest output name>`` would exceed S3's
    1024-byte limit, the key is cut at a character boundary and ``~`` plus 16 hex
    characters of SHA-256 of the whole key are appended, so two long keys that share
    their first bytes still get different folders.
    """
    if len(source_key.encode("utf-8")) <= _MAX_FOLDER_BYTES:
        return source_key
    digest = hashlib.sha256(source_key.encode("utf-8")).hexdigest()[:_HASH_LENGTH]
    room = _MAX_FOLDER_BYTES - len(_FOLDER_MARK) - _HASH_LENGTH
    return f"{_cut_utf8(source_key, room)}{_FOLDER_MARK}{digest}"


def output_key(source_key: str, file_name: str) -> str:
    """Outputs for ``uploads/My Talk.mp4`` live under ``uploads/My Talk.mp4/``.

    Keys too long for that get a shortened folder (see ``output_folder``); the result
    is always a valid S3 key for the pipeline's own output names.
    """
    key = f"{output_folder(source_key)}/{file_name}"
    if len(key.encode("utf-8")) > MAX_S3_KEY_BYTES:
        raise ValueError(f"output name {file_name!r} is too long for an S3 key")
    return key


def is_transcribe_check_file(key: str) -> bool:
    """The file Transcribe writes to test its access before a job; never an upload."""
    return posixpath.basename(key) == TRANSCRIBE_CHECK_FILE


def parse_s3_uri(uri: str) -> S3Location:
    """``s3://bucket/key`` as Transcribe reports ``Media.MediaFileUri`` (key not encoded)."""
    if not uri.startswith("s3://"):
        raise ValueError(f"not an s3:// URI: {uri!r}")
    bucket, _, key = uri[len("s3://") :].partition("/")
    if not bucket or not key:
        raise ValueError(f"s3:// URI without bucket or key: {uri!r}")
    return S3Location(bucket, key)


def parse_transcript_uri(uri: str) -> S3Location:
    """The S3 object behind ``Transcript.TranscriptFileUri``.

    Transcribe reports an https URL, path style (``https://s3.<region>.amazonaws.com/
    <bucket>/<key>``) or virtual-hosted style (``https://<bucket>.s3.<region>...``),
    with the key URL-encoded.
    """
    if uri.startswith("s3://"):
        return parse_s3_uri(uri)
    parts = urlsplit(uri)
    host = parts.hostname or ""
    path = unquote(parts.path.lstrip("/"))
    if host.startswith("s3.") or host.startswith("s3-") or not host.endswith("amazonaws.com"):
        bucket, _, key = path.partition("/")
    else:
        bucket, key = host.split(".s3", 1)[0], path
    if not bucket or not key:
        raise ValueError(f"cannot find bucket and key in transcript URI {uri!r}")
    return S3Location(bucket, key)
