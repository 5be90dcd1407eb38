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
  ``LimitExceededException`` while that many jobs are running, unless the request asks
  for queueing (``JobExecutionSettings.AllowDeferredExecution``) — then the job waits in
  Transcribe's queue, up to 10,000 jobs, beyond which the answer is
  ``LimitExceededConcurrentJobException``. Queued jobs run in at most 90 % of the quota,
  so 10 % stays free for requests without queueing ("Job queueing"; Service Quotas).
  Which jobs count as running is bookkeeping here: the local engine runs one at a time.
- ``AllowDeferredExecution`` needs a ``DataAccessRoleArn`` (the role Transcribe assumes
  to read the media and write the output): ``BadRequestException`` without one
  (API reference, JobExecutionSettings). The local engine makes its S3 calls for such a
  job as that role (engine.py), so a role that may not read the media fails the job.
- Job records stay (90 days in AWS, for the whole run here), so a job name is never
  free again: moto already answers ``ConflictException`` for a repeated name.
"""

from __future__ import annotations

import contextlib
import posixpath
from collections.abc import Iterator
from typing import Any

from moto.core.exceptions import JsonRESTError
from moto.transcribe.exceptions import BadRequestException
from moto.transcribe.models import FakeTranscriptionJob, TranscribeBackend

DEFAULT_CONCURRENT_JOB_QUOTA = 250
QUEUED_JOB_LIMIT = 10_000
# Transcribe runs queued jobs in at most this share of the concurrent-job quota.
QUEUED_JOBS_SHARE = 0.9
REDACTED_PREFIX = "redacted-"
# Set on a job that had to wait in Transcribe's queue when it was started.
_DEFERRED = "_local_deferred"

_moto_response_object = FakeTranscriptionJob.response_object
_moto_start = TranscribeBackend.start_transcription_job


class LimitExceededException(JsonRESTError):
    def __init__(self, message: str) -> None:
        super().__init__("LimitExceededException", message)


class LimitExceededConcurrentJobException(JsonRESTError):
    def __init__(self, message: str) -> None:
        super().__init__("LimitExceededConcurrentJobException", message)


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


def _occupancy(backend: TranscribeBackend) -> tuple[int, int]:
    """(running, waiting): jobs holding a slot of the quota, and jobs in the queue.

    A job started below the quota runs at once. Queued jobs are pulled from the queue,
    first in first out, while running jobs hold less than QUEUED_JOBS_SHARE of the quota;
    a job pulled from the queue holds its slot until it ends. (Pulled here, when the next
    request is counted: the same answer as pulling them the moment a slot frees up.)
    """
    # _status, not status: reading the property would move moto's jobs along.
    active = [
        job
        for job in backend.transcriptions.values()  # in the order they were started
        if job._status in (None, "QUEUED", "IN_PROGRESS")
    ]
    running = sum(1 for job in active if not getattr(job, _DEFERRED, False))
    share = max(1, int(_Quota.limit * QUEUED_JOBS_SHARE))
    waiting = 0
    for job in active:
        if not getattr(job, _DEFERRED, False):
            continue
        if running < share:
            setattr(job, _DEFERRED, False)  # pulled from the queue: it runs now
            running += 1
        else:
            waiting += 1
    return running, waiting


def _start_within_quota(backend: TranscribeBackend, **request: Any) -> dict[str, Any]:
    name = request["transcription_job_name"]
    execution = request.get("job_execution_settings") or {}
    deferrable = bool(execution.get("AllowDeferredExecution"))
    if deferrable and not execution.get("DataAccessRoleArn"):
        raise BadRequestException(
            "If you include AllowDeferredExecution in your request, you must also include "
            "DataAccessRoleArn."
        )
    queue_it = False
    if name not in backend.transcriptions:
        running, waiting = _occupancy(backend)
        # A queueable request also waits behind jobs already queued (first in, first out).
        if running >= _Quota.limit or (deferrable and waiting):
            if not deferrable:
                raise LimitExceededException(
                    "You have reached your limit of concurrent transcription jobs. "
                    "Wait for a job to finish, or set AllowDeferredExecution to queue it."
                )
            if waiting >= QUEUED_JOB_LIMIT:
                raise LimitExceededConcurrentJobException(
                    f"The job queue is full ({QUEUED_JOB_LIMIT:,} queued jobs)."
                )
            queue_it = True
    result: dict[str, Any] = _moto_start(backend, **request)
    if queue_it:
        setattr(backend.transcriptions[name], _DEFERRED, True)
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
