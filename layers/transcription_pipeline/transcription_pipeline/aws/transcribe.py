"""Amazon Transcribe: start a job, list this stack's jobs, read one."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

from transcription_pipeline.aws.errors import CLIENT_CONFIG, error_code

if TYPE_CHECKING:
    from mypy_boto3_transcribe import TranscribeServiceClient

# Transcribe's answers when it is at a quota: concurrent jobs (without queueing), the
# 10,000-job queue, or the request rate after botocore's own retries. A later try works.
_CAPACITY_ERRORS = frozenset(
    {
        "LimitExceededException",
        "LimitExceededConcurrentJobException",
        "ThrottlingException",
        "TooManyRequestsException",
    }
)

# Listed in the order a job passes through them; a job moving on between two listings is
# seen twice at worst, and the later status wins.
JOB_STATUSES = ("QUEUED", "IN_PROGRESS", "COMPLETED", "FAILED")


class CapacityExceeded(Exception):
    """Transcribe is at a quota (jobs, queue or request rate): the same request works later."""


class JobRefused(Exception):
    """Transcribe refused the job request itself (BadRequestException): retrying won't help."""


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


class TranscribeJobs:
    def __init__(
        self, client: TranscribeServiceClient | None = None, *, max_attempts: int = 5
    ) -> None:
        config = CLIENT_CONFIG.merge(
            Config(retries={"mode": "standard", "max_attempts": max_attempts})
        )
        self._transcribe: TranscribeServiceClient = client or boto3.client(
            "transcribe", config=config
        )

    def start(self, request: Mapping[str, Any]) -> bool:
        """Start a job; False when a job of that name exists already (a repeated event)."""
        try:
            self._transcribe.start_transcription_job(**request)
        except ClientError as error:
            code = error_code(error)
            if code == "ConflictException":
                return False
            if code in _CAPACITY_ERRORS:
                raise CapacityExceeded(code) from error
            if code == "BadRequestException":
                message = error.response.get("Error", {}).get("Message", "")
                raise JobRefused(message or "Transcribe rejected the request") from error
            raise
        return True

    def statuses_since(
        self,
        name_prefix: str,
        since: datetime,
        *,
        before_each_request: Callable[[], None] = lambda: None,
    ) -> dict[str, str]:
        """Every job of this stack created since ``since``: name -> status.

        One listing per status, 100 jobs a page, ``before_each_request`` called before
        every page (to keep under ListTranscriptionJobs' 5 requests a second). Transcribe
        lists newest first, so a page entirely older than ``since`` ends a status's walk
        (a whole page, not one entry, so a little disorder costs nothing).
        """
        statuses: dict[str, str] = {}
        for status in JOB_STATUSES:
            request: dict[str, Any] = {
                "Status": status,
                "JobNameContains": name_prefix,
                "MaxResults": 100,
            }
            while True:
                before_each_request()
                page = self._transcribe.list_transcription_jobs(**request)
                summaries = page.get("TranscriptionJobSummaries", [])
                for summary in summaries:
                    name = summary.get("TranscriptionJobName", "")
                    created = summary.get("CreationTime")
                    if name.startswith(name_prefix) and (created is None or created >= since):
                        statuses[name] = status
                created_times = [s["CreationTime"] for s in summaries if "CreationTime" in s]
                whole_page_older = bool(created_times) and max(created_times) < since
                token = page.get("NextToken")
                if not token or whole_page_older:
                    break
                request["NextToken"] = token
        return statuses

    def names_containing(self, text: str) -> list[str]:
        """Every job Transcribe still knows (it keeps them 90 days) whose name contains
        ``text``, in every status."""
        names: list[str] = []
        for status in JOB_STATUSES:
            request: dict[str, Any] = {
                "Status": status,
                "JobNameContains": text,
                "MaxResults": 100,
            }
            while True:
                page = self._transcribe.list_transcription_jobs(**request)
                names += [
                    s.get("TranscriptionJobName", "")
                    for s in page.get("TranscriptionJobSummaries", [])
                ]
                token = page.get("NextToken")
                if not token:
                    break
                request["NextToken"] = token
        return sorted(set(names) - {""})

    def delete(self, name: str) -> None:
        """Forget a finished job (its record names the upload); an unknown job is fine."""
        try:
            self._transcribe.delete_transcription_job(TranscriptionJobName=name)
        except ClientError as error:
            # Transcribe answers BadRequestException for a name it does not know.
            if error_code(error) in ("BadRequestException", "NotFoundException"):
                return
            raise

    def get(self, name: str) -> TranscriptionJob | None:
        """The job's details, or None when Transcribe does not know the job."""
        try:
            job = self._transcribe.get_transcription_job(TranscriptionJobName=name)[
                "TranscriptionJob"
            ]
        except ClientError as error:
            # Transcribe answers BadRequestException ("couldn't be found") for unknown names.
            if error_code(error) in ("BadRequestException", "NotFoundException"):
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
