"""Writing a source's final record: its outputs, or its error.json, never both."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from transcription_pipeline.aws import ObjectStore
from transcription_pipeline.naming import ERROR_RECORD, OUTPUT_FILES, S3Location, output_key


def publish_outputs(
    store: ObjectStore, bucket: str, source_key: str, files: Mapping[str, bytes]
) -> None:
    """Write the outputs, then drop an error.json that an earlier upload of this key left."""
    for name, body in files.items():
        store.put(S3Location(bucket, output_key(source_key, name)), body)
    store.delete(bucket, [output_key(source_key, ERROR_RECORD)])


def publish_error(
    store: ObjectStore, bucket: str, source_key: str, record: Mapping[str, Any]
) -> None:
    """Write error.json, then drop outputs that an earlier upload of this key left."""
    store.put_json(S3Location(bucket, output_key(source_key, ERROR_RECORD)), record)
    store.delete(bucket, [output_key(source_key, name) for name in OUTPUT_FILES])
