"""Writing a source's final record: its outputs, or its error.json, never both.

Every record carries, as S3 metadata, the source revision it answers and the job that
produced it, so reconciliation can tell an answered upload from an unanswered one with
a HEAD request.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from transcription_pipeline.aws import ObjectStore
from transcription_pipeline.naming import (
    ERROR_RECORD,
    OUTPUT_FILES,
    SUMMARY_JSON,
    TRANSLATED_FILES,
    TRANSLATIONS_FOLDER,
    S3Location,
    output_key,
    translation_name,
)
from transcription_pipeline.stable_json import json_bytes

if TYPE_CHECKING:
    from transcription_pipeline.translation import TranslationOutcome

REVISION_METADATA = "source-revision"
JOB_METADATA = "job-name"


def record_metadata(revision: str | None, job_name: str | None) -> dict[str, str]:
    metadata = {}
    if revision:
        metadata[REVISION_METADATA] = revision
    if job_name:
        metadata[JOB_METADATA] = job_name
    return metadata


def publish_outputs(
    store: ObjectStore,
    bucket: str,
    source_key: str,
    files: Mapping[str, bytes],
    metadata: Mapping[str, str],
) -> None:
    """Write the outputs, summary.json last, then drop what an earlier record of this key
    left and this one does not hold: its error.json, or an output no longer written
    (TranscriptDocument off). summary.json is the record reconciliation and waiting
    readers look for: once it is there, every other output is."""
    for name in sorted(files, key=lambda name: name == SUMMARY_JSON):
        store.put(S3Location(bucket, output_key(source_key, name)), files[name], metadata)
    stale = [ERROR_RECORD, *(name for name in OUTPUT_FILES if name not in files)]
    store.delete(bucket, [output_key(source_key, name) for name in stale])


def publish_translations(
    store: ObjectStore,
    bucket: str,
    source_key: str,
    outcome: TranslationOutcome,
    metadata: Mapping[str, str],
    occurred_at: str,
) -> None:
    """Each language's files under translations/<code>/, or its error.json saying why
    there are none (and no stale files beside it); a skipped language is left alone."""
    for result in outcome.languages:
        if result.status == "translated":
            for name, body in result.files.items():
                location = S3Location(
                    bucket, output_key(source_key, translation_name(result.target, name))
                )
                store.put(location, body, metadata)
            store.delete(
                bucket, [output_key(source_key, translation_name(result.target, ERROR_RECORD))]
            )
        elif result.status == "failed":
            record = {
                "error": "translation_failed",
                "target_language": result.target,
                "reason": result.reason,
                "error_code": result.error_code,
                # Throttling: a later regenerate (make regenerate) may well succeed.
                "retryable": result.retryable,
                "occurred_at": occurred_at,
            }
            error_key = output_key(source_key, translation_name(result.target, ERROR_RECORD))
            store.put(S3Location(bucket, error_key), json_bytes(record), metadata)
            store.delete(
                bucket,
                [
                    output_key(source_key, translation_name(result.target, name))
                    for name in TRANSLATED_FILES
                    if name != ERROR_RECORD
                ],
            )


def publish_error(
    store: ObjectStore,
    bucket: str,
    source_key: str,
    record: Mapping[str, Any],
    metadata: Mapping[str, str],
) -> None:
    """Write error.json, then drop outputs that an earlier upload of this key left."""
    store.put(
        S3Location(bucket, output_key(source_key, ERROR_RECORD)), json_bytes(record), metadata
    )
    store.delete(
        bucket,
        [
            *(output_key(source_key, name) for name in OUTPUT_FILES),
            *translation_keys(store, bucket, source_key),
        ],
    )


def translation_keys(store: ObjectStore, bucket: str, source_key: str) -> list[str]:
    """Every translated output of ``source_key`` (any language an earlier upload asked for)."""
    folder = output_key(source_key, TRANSLATIONS_FOLDER + "/")
    return [item.key for item in store.list_objects(bucket, prefix=folder)]


def final_record_metadata(store: ObjectStore, bucket: str, source_key: str) -> dict[str, str]:
    """Metadata of the current final record of a source key ({} when there is none)."""
    for name in (SUMMARY_JSON, ERROR_RECORD):
        head = store.head(S3Location(bucket, output_key(source_key, name)))
        if head is not None:
            return head.metadata
    return {}
