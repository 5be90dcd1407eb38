"""What Amazon Transcribe does that moto's Transcribe does not, added on top of moto.

Used by the local engine and by the handler tests, so both meet Transcribe as AWS
documents it (Transcribe developer guide and API reference):

- ``FailureReason`` in GetTranscriptionJob for FAILED jobs.
- PII redaction: GetTranscriptionJob reports ``ContentRedaction`` and the transcript at
  ``Transcript.RedactedTranscriptFileUri``, a file named ``redacted-<name>``; with
  ``RedactionOutput=redacted`` there is no ``TranscriptFileUri``, with
  ``redacted_and_unredacted`` it names the *unredacted* file ("Redacting PII in your
  batch job", GetTranscriptionJob "Transcript").
- The concurrent-job quota (250 by default): StartTranscriptionJob answers
  ``LimitExceededException`` while that many jobs are queued or running, unless the
  request asks for queueing (``JobExecutionSettings.AllowDeferredExecution``) — then up
  to 10,000 more wait ("Job queueing"; Service Quotas).
- Job records stay (90 days in AWS, for the whole run here), so a job name is never
  free again: moto already answers ``ConflictException`` for a repeated name.
"""

from __future__ import annotations

import contextlib
import posixpath
from collections.abc import Iterator
from typing import Any

from moto.core.exceptions import JsonRESTError
from moto.transcribe.models import FakeTranscriptionJob, TranscribeBackend

DEFAULT_CONCURRENT_JOB_QUOTA = 250
QUEUED_JOB_LIMIT = 10_000
REDACTED_PREFIX = "redacted-"

_moto_response_object = FakeTranscriptionJob.response_object
_moto_start = TranscribeBackend.start_transcription_job


class LimitExceededException(JsonRESTError):
    def __init__(self, message: str) -> None:
        super().__init__("LimitExceededException", message)


def redaction_output(job: FakeTranscriptionJob) -> str | None:
    """``redacted``, ``redacted_and_unredacted``, or None when the job does not redact."""
    redaction = job.content_redaction or {}
    if not redaction.get("RedactionType"):
        return None
    return str(redaction.get("RedactionOutput") or "redacted")


def redacted_key(key: str) -> str:
    """Where Transcribe writes the redacted transcript: ``redacted-`` before the file name
    (of an S3 key or of the https URI that names it)."""
    folder, name = posixpath.split(key)
    return posixpath.join(folder, REDACTED_PREFIX + name)


def written_keys(job: FakeTranscriptionJob, transcript_key: str) -> dict[str, str]:
    """The transcript files a finished job leaves: {"redacted"|"unredacted": key}."""
    output = redaction_output(job)
    if output is None:
        return {"unredacted": transcript_key}
    keys = {"redacted": redacted_key(transcript_key)}
    if output == "redacted_and_unredacted":
        keys["unredacted"] = transcript_key
    return keys


def transcript_field(job: FakeTranscriptionJob, uri: str) -> dict[str, str]:
    """GetTranscriptionJob's ``Transcript`` for a job whose plain output URI is ``uri``."""
    output = redaction_output(job)
    if output is None:
        return {"TranscriptFileUri": uri}
    field = {"RedactedTranscriptFileUri": redacted_key(uri)}  # the same file name rule
    if output == "redacted_and_unredacted":
        field["TranscriptFileUri"] = uri
    return field


def _realistic_response(job: FakeTranscriptionJob, response_type: str) -> dict[str, Any]:
    response: dict[str, Any] = _moto_response_object(job, response_type)
    if response_type != "GET":
        return response
    body = response["TranscriptionJob"]
    if job.failure_reason:
        body["FailureReason"] = job.failure_reason
    if redaction_output(job) is not None:
        body["ContentRedaction"] = dict(job.content_redaction)
    if job.job_execution_settings.get("AllowDeferredExecution"):
        body["JobExecutionSettings"] = dict(job.job_execution_settings)
    transcript = body.get("Transcript", {})
    if "TranscriptFileUri" in transcript and "RedactedTranscriptFileUri" not in transcript:
        body["Transcript"] = transcript_field(job, transcript["TranscriptFileUri"])
    return response


class _Quota:
    limit = DEFAULT_CONCURRENT_JOB_QUOTA


def _active_jobs(backend: TranscribeBackend) -> int:
    # _status, not status: reading the property would move moto's jobs along.
    return sum(
        1
        for job in backend.transcriptions.values()
        if job._status in (None, "QUEUED", "IN_PROGRESS")
    )


def _start_within_quota(backend: TranscribeBackend, **request: Any) -> dict[str, Any]:
    if request["transcription_job_name"] not in backend.transcriptions:
        active = _active_jobs(backend)
        deferred = (request.get("job_execution_settings") or {}).get("AllowDeferredExecution")
        if active >= _Quota.limit and not deferred:
            raise LimitExceededException(
                "You have reached your limit of concurrent transcription jobs. "
                "Wait for a job to finish, or set AllowDeferredExecution to queue it."
            )
        if active >= _Quota.limit + QUEUED_JOB_LIMIT:
            raise LimitExceededException("The job queue is full (10,000 queued jobs).")
    result: dict[str, Any] = _moto_start(backend, **request)
    return result


def set_concurrent_job_quota(limit: int) -> None:
    """Change the concurrent-job quota while ``realistic_transcribe`` is on."""
    _Quota.limit = limit


@contextlib.contextmanager
def realistic_transcribe(
    concurrent_job_quota: int = DEFAULT_CONCURRENT_JOB_QUOTA,
) -> Iterator[None]:
    """moto's Transcribe, answering as AWS does (see the module docstring)."""
    FakeTranscriptionJob.response_object = _realistic_response  # type: ignore[method-assign,assignment]
    TranscribeBackend.start_transcription_job = _start_within_quota  # type: ignore[method-assign,assignment]
    _Quota.limit = concurrent_job_quota
    try:
        yield
    finally:
        FakeTranscriptionJob.response_object = _moto_response_object  # type: ignore[method-assign]
        TranscribeBackend.start_transcription_job = _moto_start  # type: ignore[method-assign]
        _Quota.limit = DEFAULT_CONCURRENT_JOB_QUOTA
