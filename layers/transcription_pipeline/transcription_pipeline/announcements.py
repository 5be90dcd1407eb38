"""Completion events: what the pipeline tells other systems when a file has its answer.

For every final record one event goes to the account's default EventBridge bus, with this
stack's own ``source`` (``transcription-pipeline.<stack>``), so any team can subscribe
with a rule. The record is always written first and the event after; a failed emit is
raised, so the retry writes the same record again (same bytes) and emits again: delivery
is at least once, and ``detail.record_id`` is the same on every repeat (consumers dedupe on
it). Detail: ids, keys, sizes and counts only, never transcript text.
"""

from __future__ import annotations

import enum
import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from transcription_pipeline.naming import ERROR_RECORD, OUTPUT_FILES, S3Location, output_key

SCHEMA_VERSION = 1


class DetailType(enum.StrEnum):
    PUBLISHED = "Transcript Published"
    FAILED = "Transcription Failed"  # Transcribe failed the job, or refused to start it
    REJECTED = "Upload Rejected"  # not a file Transcribe can take; no job was started


@dataclass(frozen=True)
class Announcement:
    detail_type: DetailType
    detail: Mapping[str, Any]


def _record_id(source: S3Location, revision: str | None, job_name: str | None, kind: str) -> str:
    text = "\n".join((source.bucket, source.key, revision or "", job_name or "", kind))
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def _common(
    source: S3Location, revision: str | None, job_name: str | None, output_bucket: str
) -> dict[str, Any]:
    return {
        "version": SCHEMA_VERSION,
        "input": {"bucket": source.bucket, "key": source.key, "revision": revision},
        "job_name": job_name,
        "output_bucket": output_bucket,
    }


def published(
    source: S3Location,
    *,
    revision: str | None,
    job_name: str,
    output_bucket: str,
    language_code: str | None,
    duration_seconds: float,
    word_count: int,
    output_names: Sequence[str] = OUTPUT_FILES,
    summary_source: str = "offline",
    translations: Mapping[str, str] | None = None,
) -> Announcement:
    """``output_names``: the files written; ``translations``: language -> translated,
    failed or skipped (its files are under translations/<language>/)."""
    detail = _common(source, revision, job_name, output_bucket)
    detail.update(
        {
            "record_id": _record_id(source, revision, job_name, "published"),
            "outputs": {name: output_key(source.key, name) for name in output_names},
            "language_code": language_code,
            "duration_seconds": duration_seconds,
            "word_count": word_count,
            "summary_source": summary_source,
        }
    )
    if translations:
        detail["translations"] = dict(translations)
    return Announcement(DetailType.PUBLISHED, detail)


def not_transcribed(
    detail_type: DetailType,
    source: S3Location,
    *,
    revision: str | None,
    job_name: str | None,
    output_bucket: str,
    reason: str,
) -> Announcement:
    """Transcription Failed or Upload Rejected: the reason is error.json's ``reason``."""
    detail = _common(source, revision, job_name, output_bucket)
    detail.update(
        {
            "record_id": _record_id(source, revision, job_name, str(detail_type)),
            "error_record": output_key(source.key, ERROR_RECORD),
            "reason": reason,
        }
    )
    return Announcement(detail_type, detail)
