"""The only module that talks to AWS: S3 and Transcribe behind a few small methods.

Clients honour ``AWS_ENDPOINT_URL`` (boto3 reads it), so the same code runs against
moto locally; nothing here names an endpoint. Throttling and 5xx answers are retried
by botocore's standard retry mode and then raised, so Lambda's asynchronous retries
take over; only answers that mean something to the pipeline are translated.
"""

from __future__ import annotations

import posixpath
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

from transcription_pipeline.naming import S3Location, revision_of

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_transcribe import TranscribeServiceClient

_CLIENT_CONFIG = Config(retries={"mode": "standard", "max_attempts": 5})

CONTENT_TYPES = {
    ".json": "application/json",
    ".txt": "text/plain; charset=utf-8",
    ".srt": "application/x-subrip; charset=utf-8",
    ".vtt": "text/vtt; charset=utf-8",
    ".md": "text/markdown; charset=utf-8",
}


def _error_code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))


class ObjectGone(Exception):
    """The object (or the version the event named) no longer exists.

    S3 says so with 404 only to a caller that may ``s3:ListBucket`` the bucket; to anyone
    else a missing key is 403 AccessDenied, indistinguishable from a real refusal (S3 API
    reference, GetObject/HeadObject "Permissions"). The template grants ListBucket where a
    function must tell "missing" apart, and a 403 is always raised as the error it is.
    """


class JobRefused(Exception):
    """Transcribe refused the job request itself (BadRequestException): retrying won't help."""


@dataclass(frozen=True)
class ObjectHead:
    etag: str  # without quotes, as S3 events carry it
    version_id: str | None
    last_modified: datetime
    metadata: dict[str, str]

    @property
    def revision(self) -> str:
        """What a job name and the records derive from (see ``naming.revision_of``)."""
        return revision_of(self.etag, self.version_id, self.last_modified)


@dataclass(frozen=True)
class RangeRead:
    data: bytes
    last_modified: datetime  # of the object version read: part of its revision


@dataclass(frozen=True)
class ListedObject:
    key: str
    size: int
    etag: str
    last_modified: datetime


@dataclass(frozen=True)
class TranscriptionJob:
    """What GetTranscriptionJob says about a job, reduced to what the pipeline uses."""

    name: str
    status: str
    media_uri: str | None
    transcript_uri: str | None  # the unredacted transcript, when Transcribe wrote one
    redacted_transcript_uri: str | None
    redacts_pii: bool  # the job ran with ContentRedaction: only the redacted file may be used
    failure_reason: str | None
    language_code: str | None
    language_score: float | None
    completed_at: datetime | None


class ObjectStore:
    def __init__(self, client: S3Client | None = None) -> None:
        self._s3: S3Client = client or boto3.client("s3", config=_CLIENT_CONFIG)
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
            if _error_code(error) in ("NoSuchKey", "NoSuchVersion", "PreconditionFailed", "404"):
                raise ObjectGone(location.uri) from error
            raise
        body = response["Body"].read()
        self.bytes_read += len(body)
        return RangeRead(body, response["LastModified"])

    def read_all(self, location: S3Location) -> bytes:
        try:
            return self._s3.get_object(Bucket=location.bucket, Key=location.key)["Body"].read()
        except ClientError as error:
            if _error_code(error) in ("NoSuchKey", "404"):
                raise ObjectGone(location.uri) from error
            raise

    def head(self, location: S3Location) -> ObjectHead | None:
        """The object's revision and metadata, or None when there is no such object."""
        try:
            response = self._s3.head_object(Bucket=location.bucket, Key=location.key)
        except ClientError as error:
            if _error_code(error) in ("NoSuchKey", "404", "NotFound"):
                return None
            raise
        version_id = response.get("VersionId")
        return ObjectHead(
            etag=str(response.get("ETag", "")).strip('"'),
            version_id=version_id if version_id and version_id != "null" else None,
            last_modified=response["LastModified"],
            metadata=dict(response.get("Metadata", {})),
        )

    def list_objects(self, bucket: str) -> Iterator[ListedObject]:
        paginator = self._s3.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=bucket):
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


class TranscribeJobs:
    def __init__(self, client: TranscribeServiceClient | None = None) -> None:
        self._transcribe: TranscribeServiceClient = client or boto3.client(
            "transcribe", config=_CLIENT_CONFIG
        )

    def start(self, request: Mapping[str, Any]) -> bool:
        """Start a job; False when a job of that name exists already (a repeated event)."""
        try:
            self._transcribe.start_transcription_job(**request)
        except ClientError as error:
            code = _error_code(error)
            if code == "ConflictException":
                return False
            if code == "BadRequestException":
                message = error.response.get("Error", {}).get("Message", "")
                raise JobRefused(message or "Transcribe rejected the request") from error
            raise
        return True

    def finished_since(self, name_prefix: str, since: datetime) -> Iterator[str]:
        """Names of this stack's COMPLETED and FAILED jobs created since ``since``."""
        for status in ("COMPLETED", "FAILED"):
            request: dict[str, Any] = {
                "Status": status,
                "JobNameContains": name_prefix,
                "MaxResults": 100,
            }
            while True:
                page = self._transcribe.list_transcription_jobs(**request)
                summaries = page.get("TranscriptionJobSummaries", [])
                for summary in summaries:
                    name = summary.get("TranscriptionJobName", "")
                    created = summary.get("CreationTime")
                    if name.startswith(name_prefix) and (created is None or created >= since):
                        yield name
                # Transcribe lists newest first; a page entirely before the window ends the
                # walk (a whole page, not one entry, so a little disorder costs nothing).
                created_times = [s["CreationTime"] for s in summaries if "CreationTime" in s]
                whole_page_older = bool(created_times) and max(created_times) < since
                token = page.get("NextToken")
                if not token or whole_page_older:
                    break
                request["NextToken"] = token

    def get(self, name: str) -> TranscriptionJob | None:
        """The job's details, or None when Transcribe does not know the job."""
        try:
            job = self._transcribe.get_transcription_job(TranscriptionJobName=name)[
                "TranscriptionJob"
            ]
        except ClientError as error:
            # Transcribe answers BadRequestException ("couldn't be found") for unknown names.
            if _error_code(error) in ("BadRequestException", "NotFoundException"):
                return None
            raise
        score = job.get("IdentifiedLanguageScore")
        transcript = job.get("Transcript", {})
        return TranscriptionJob(
            name=job.get("TranscriptionJobName", name),
            status=job.get("TranscriptionJobStatus", ""),
            media_uri=job.get("Media", {}).get("MediaFileUri"),
            transcript_uri=transcript.get("TranscriptFileUri"),
            redacted_transcript_uri=transcript.get("RedactedTranscriptFileUri"),
            redacts_pii=bool(job.get("ContentRedaction", {}).get("RedactionType")),
            failure_reason=job.get("FailureReason"),
            language_code=job.get("LanguageCode"),
            language_score=float(score) if score is not None else None,
            completed_at=job.get("CompletionTime"),
        )
