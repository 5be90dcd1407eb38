"""Amazon S3: ranged reads of uploads, HEAD, listing, writing and removing outputs."""

from __future__ import annotations

import posixpath
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

import boto3
from botocore.exceptions import ClientError

from transcription_pipeline.aws.errors import CLIENT_CONFIG, error_code
from transcription_pipeline.naming import S3Location, revision_of

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

CONTENT_TYPES = {
    ".json": "application/json",
    ".txt": "text/plain; charset=utf-8",
    ".srt": "application/x-subrip; charset=utf-8",
    ".vtt": "text/vtt; charset=utf-8",
    ".md": "text/markdown; charset=utf-8",
    ".html": "text/html; charset=utf-8",
    ".docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
}


class ObjectGone(Exception):
    """The object (or the version the event named) no longer exists.

    S3 says so with 404 only to a caller that may ``s3:ListBucket`` the bucket; to anyone
    else a missing key is 403 AccessDenied, indistinguishable from a real refusal (S3 API
    reference, GetObject/HeadObject "Permissions"). The template grants ListBucket where a
    function must tell "missing" apart, and a 403 is always raised as the error it is.
    """


@dataclass(frozen=True)
class ObjectHead:
    etag: str  # without quotes, as S3 events carry it
    version_id: str | None
    last_modified: datetime
    metadata: dict[str, str]
    size: int = 0

    @property
    def revision(self) -> str:
        """What a job name and the records derive from (see ``naming.revision_of``)."""
        return revision_of(self.etag, self.version_id, self.last_modified)


@dataclass(frozen=True)
class RangeRead:
    data: bytes
    last_modified: datetime  # of the object version read: part of its revision
    metadata: dict[str, str] = field(default_factory=dict)  # its S3 user metadata


@dataclass(frozen=True)
class ListedObject:
    key: str
    size: int
    etag: str
    last_modified: datetime


class ObjectStore:
    def __init__(self, client: S3Client | None = None) -> None:
        self._s3: S3Client = client or boto3.client("s3", config=CLIENT_CONFIG)
        self.bytes_read = 0  # ranged-read accounting, for logs and the read-budget tests

    def read_range(
        self,
        location: S3Location,
        offset: int,
        length: int,
        *,
        version_id: str | None = None,
        etag: str | None = None,
    ) -> RangeRead:
        """Bytes ``offset .. offset+length-1`` of exactly the object version an event named.

        With a versionId we read that version; otherwise the eTag guards the read, so a
        newer upload under the same key raises ObjectGone instead of being validated in
        place of the one the event described (its own event will follow).
        """
        request: dict[str, Any] = {
            "Bucket": location.bucket,
            "Key": location.key,
            "Range": f"bytes={offset}-{offset + length - 1}",
        }
        if version_id:
            request["VersionId"] = version_id
        elif etag:
            request["IfMatch"] = etag if etag.startswith('"') else f'"{etag}"'
        try:
            response = self._s3.get_object(**request)
        except ClientError as error:
            if error_code(error) in ("NoSuchKey", "NoSuchVersion", "PreconditionFailed", "404"):
                raise ObjectGone(location.uri) from error
            raise
        body = response["Body"].read()
        self.bytes_read += len(body)
        return RangeRead(body, response["LastModified"], dict(response.get("Metadata", {})))

    def read_all(self, location: S3Location) -> bytes:
        try:
            return self._s3.get_object(Bucket=location.bucket, Key=location.key)["Body"].read()
        except ClientError as error:
            if error_code(error) in ("NoSuchKey", "404"):
                raise ObjectGone(location.uri) from error
            raise

    def read_with_metadata(self, location: S3Location) -> tuple[bytes, dict[str, str]]:
        """The whole object and its S3 user metadata, in one GET; raises ObjectGone."""
        try:
            response = self._s3.get_object(Bucket=location.bucket, Key=location.key)
        except ClientError as error:
            if error_code(error) in ("NoSuchKey", "404"):
                raise ObjectGone(location.uri) from error
            raise
        return response["Body"].read(), dict(response.get("Metadata", {}))

    def head(self, location: S3Location) -> ObjectHead | None:
        """The object's revision and metadata, or None when there is no such object."""
        try:
            response = self._s3.head_object(Bucket=location.bucket, Key=location.key)
        except ClientError as error:
            if error_code(error) in ("NoSuchKey", "404", "NotFound"):
                return None
            raise
        version_id = response.get("VersionId")
        return ObjectHead(
            etag=str(response.get("ETag", "")).strip('"'),
            version_id=version_id if version_id and version_id != "null" else None,
            last_modified=response["LastModified"],
            metadata=dict(response.get("Metadata", {})),
            size=int(response.get("ContentLength", 0)),
        )

    def list_objects(
        self, bucket: str, prefix: str = "", start_after: str = ""
    ) -> Iterator[ListedObject]:
        """Objects in key order, from ``prefix`` on, after ``start_after`` (a resume point)."""
        paginator = self._s3.get_paginator("list_objects_v2")
        request: dict[str, Any] = {"Bucket": bucket, "Prefix": prefix}
        if start_after:
            request["StartAfter"] = start_after
        for page in paginator.paginate(**request):
            for item in page.get("Contents", []):
                yield ListedObject(
                    key=item["Key"],
                    size=int(item.get("Size", 0)),
                    etag=str(item.get("ETag", "")).strip('"'),
                    last_modified=item["LastModified"],
                )

    def put(
        self, location: S3Location, body: bytes, metadata: Mapping[str, str] | None = None
    ) -> None:
        """Write an object, its Content-Type chosen by the key's extension."""
        extension = posixpath.splitext(location.key)[1]
        self._s3.put_object(
            Bucket=location.bucket,
            Key=location.key,
            Body=body,
            ContentType=CONTENT_TYPES.get(extension, "application/octet-stream"),
            Metadata=dict(metadata or {}),
        )

    def delete(self, bucket: str, keys: Iterable[str]) -> None:
        """Delete keys if present (absent keys are not an error)."""
        objects = [{"Key": key} for key in keys]
        if not objects:
            return
        response = self._s3.delete_objects(
            Bucket=bucket,
            Delete={"Objects": objects, "Quiet": True},  # type: ignore[typeddict-item]
        )
        errors = response.get("Errors", [])
        if errors:
            raise RuntimeError(f"could not delete {len(errors)} stale object(s): {errors[0]}")
