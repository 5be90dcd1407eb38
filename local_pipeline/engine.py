"""A local Amazon Transcribe: completes the jobs moto holds, with real speech recognition.

moto records StartTranscriptionJob calls but writes no transcript and sends no event.
This engine takes over moto's job state (jobs stay QUEUED until it acts), and for each
job, first in first out: writes the write check file Transcribe writes first, reads the
media from the local bucket, recognises it with faster-whisper, writes a transcript in
Transcribe's JSON layout at the job's output location, marks the job COMPLETED or FAILED,
and sends the "Transcribe Job State Change" event through moto's EventBridge.

The job's language is not pretended: Whisper tiny.en recognises English only. A job for
another language (``LanguageCode`` es-US, say) keeps it — GetTranscriptionJob reports it,
the pipeline's outputs carry it — while the transcript holds what was recognised as
English and, as Transcribe's own for a job with a fixed language, no ``language_code``;
the engine says so in a line of its own.

A job with a ``DataAccessRoleArn`` (job queueing) is run as Transcribe runs it: its S3
calls are made as that role — one of the template's AWS::IAM::Role resources, trusted by
transcribe.amazonaws.com — and checked against the role's policies, so a role that may
not read the media or write the output fails the job with a FailureReason that says so.

While it recognises, the engine reports progress through ``on_activity`` every few
seconds: a ``ProgressReport`` (a ``str`` saying where it got to, how fast and how long is
left, with those figures as attributes), and keeps ``last_activity`` up to date, so that
whoever waits for a job can tell a long recording from a stalled one. ``stop()`` ends the
recognition in progress within about a second (between two of Whisper's batches).
"""

from __future__ import annotations

import contextlib
import json
import shutil
import tempfile
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from botocore.exceptions import ClientError
from moto.moto_api import state_manager
from moto.transcribe.models import FakeTranscriptionJob, transcribe_backends

from local_pipeline.cloud import LocalCloud
from local_pipeline.iam import Role, role_logical_id, role_of_resource, trusts_service
from local_pipeline.speech import (
    MediaDecodeError,
    Recognition,
    RecognitionCancelled,
    RecognitionProgress,
    SpeechRecogniser,
)
from local_pipeline.transcribe_json import transcript_document
from local_pipeline.transcribe_model import realistic_transcribe, written_keys

JOB_MODEL = "transcribe::transcriptionjob"
Activity = Callable[[str], None]
# How often a recognition in progress is reported through on_activity.
PROGRESS_SECONDS = 2.0
# Media is read from the bucket this much at a time (a stop is seen between reads).
DOWNLOAD_CHUNK = 1024 * 1024
TRANSCRIBE_SERVICE = "transcribe.amazonaws.com"
WRITE_CHECK_FILE = ".write_access_check_file.temp"


def clock(seconds: float) -> str:
    """``h:mm:ss``, or ``m:ss`` under an hour."""
    minutes, secs = divmod(max(round(seconds), 0), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02}:{secs:02}" if hours else f"{minutes}:{secs:02}"


class ProgressReport(str):
    """One line about a recognition in progress, with its figures as attributes.

    A ``str``, so that any ``on_activity`` can print it; a terminal can rewrite one line
    with these instead of adding a line each time.
    """

    job: str
    figures: str  # the part after the job name
    position: float  # seconds of the media recognised
    total: float | None  # the media's duration, when its container states it
    speed: float | None  # seconds of media per second of recognition (x real time)
    remaining: float | None  # seconds of recognition still to go, at that speed

    def __new__(cls, job: str, progress: RecognitionProgress, elapsed: float) -> ProgressReport:
        speed = progress.position / elapsed if elapsed > 0 and progress.position > 0 else None
        share = progress.share
        remaining = None
        if speed and progress.total is not None and share is not None:
            remaining = max(progress.total - progress.position, 0.0) / speed
        parts = [
            f"{clock(progress.position)} of {clock(progress.total)} ({share:.0%})"
            if progress.total is not None and share is not None
            else f"{clock(progress.position)} so far"
        ]
        if speed:
            parts.append(f"{speed:.1f}x real time")
        if remaining is not None:
            parts.append(f"about {clock(remaining)} left")
        figures = ", ".join(parts)
        report = super().__new__(cls, f"Transcribe (local): recognising {job}: {figures}")
        report.figures = figures
        report.job = job
        report.position = progress.position
        report.total = progress.total
        report.speed = speed
        report.remaining = remaining
        return report


class JobFailed(Exception):
    """Transcribe fails the job (not the media): its FailureReason."""


def _split_s3_uri(uri: str) -> tuple[str, str]:
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    return bucket, key


class LocalTranscribeEngine:
    def __init__(
        self,
        cloud: LocalCloud,
        recogniser: SpeechRecogniser,
        *,
        on_activity: Activity | None = None,
        stop_timeout: float = 30.0,
    ) -> None:
        """``stop_timeout``: how long stop() waits for the job in progress to stop."""
        self._cloud = cloud
        self._recogniser = recogniser
        self._account_id = cloud.template.account_id
        self._region = cloud.template.region
        self._on_activity = on_activity or (lambda _message: None)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._realism = contextlib.ExitStack()
        self._stop_timeout = stop_timeout
        self._folder: Path | None = None
        self.completed: list[str] = []
        self.failed: list[str] = []
        # job name -> (bucket, key) of the transcript written for it
        self.transcripts: dict[str, tuple[str, str]] = {}
        # time.monotonic() of the last sign of life: a job taken, progress, a job ended
        self.last_activity = time.monotonic()

    def __enter__(self) -> LocalTranscribeEngine:
        self.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stop()

    def start(self) -> None:
        # Jobs no longer advance on each GetTranscriptionJob: this engine moves them.
        state_manager.set_transition(JOB_MODEL, {"progression": "manual", "times": 10**9})
        self._realism.enter_context(realistic_transcribe())
        # Media is downloaded here; stop() removes it even if a job is still running.
        self._folder = Path(tempfile.mkdtemp(prefix="local-transcribe-"))
        self._thread = threading.Thread(target=self._run, name="local-transcribe", daemon=True)
        self._thread.start()

    def stop(self, timeout: float | None = None) -> bool:
        """Stop taking jobs and stop the one in progress (it stays IN_PROGRESS: it did
        not finish). Waits up to ``timeout`` seconds (default: the engine's stop_timeout)
        and says whether the engine's thread has ended."""
        self._stop.set()
        stopped = True
        if self._thread is not None:
            self._thread.join(timeout=self._stop_timeout if timeout is None else timeout)
            stopped = not self._thread.is_alive()
            self._thread = None
        if self._folder is not None:
            shutil.rmtree(self._folder, ignore_errors=True)
            self._folder = None
        state_manager.unset_transition(JOB_MODEL)
        self._realism.close()
        return stopped

    def _jobs(self) -> dict[str, FakeTranscriptionJob]:
        jobs: dict[str, FakeTranscriptionJob] = transcribe_backends[self._account_id][
            self._region
        ].transcriptions
        return jobs

    def _run(self) -> None:
        while not self._stop.is_set():
            # _status, not status: reading the property would apply moto's transitions.
            # A new job's _status is None until something reads it (then QUEUED).
            queued = [job for job in list(self._jobs().values()) if job._status in (None, "QUEUED")]
            for job in queued:
                if self._stop.is_set():
                    return
                self.run_job(job)
            if not queued:
                self._stop.wait(0.1)

    def run_job(self, job: FakeTranscriptionJob) -> None:
        name = job.transcription_job_name
        job.status = "IN_PROGRESS"
        job.start_time = datetime.now(UTC)
        self.last_activity = time.monotonic()
        try:
            self._run_job(job)
        except Exception as error:
            # Stopped: on request, or because stop() removed the media folder under the job.
            if not (isinstance(error, RecognitionCancelled) or self._stop.is_set()):
                raise
            self._on_activity(f"Transcribe (local): stopped recognising {name}")
        finally:
            self.last_activity = time.monotonic()

    def _run_job(self, job: FakeTranscriptionJob) -> None:
        name = job.transcription_job_name
        bucket, key = _split_s3_uri(job.media["MediaFileUri"])
        try:
            role = self._data_access_role(job)
            with self._acting_as(role):
                self._check_write_access(job)
            with tempfile.TemporaryDirectory(prefix="job-", dir=self._folder) as folder:
                media = Path(folder) / (Path(key).name or "media")
                with self._acting_as(role):
                    self._download(bucket, key, media)
                self._on_activity(f"Transcribe (local): recognising {name}")
                started = time.monotonic()
                recognition = self._recognise(name, media, started)
                seconds = time.monotonic() - started
            document = transcript_document(name, self._account_id, recognition, language_code=None)
            with self._acting_as(role):
                self._write_output(job, document)
        except (MediaDecodeError, JobFailed) as error:
            self._finish(job, "FAILED", failure_reason=str(error))
            self.failed.append(name)
            self._on_activity(f"Transcribe (local): {name} FAILED: {error}")
            return
        self._finish(job, "COMPLETED")
        self.completed.append(name)
        speed = recognition.audio_seconds / seconds if seconds > 0 else float("inf")
        self._on_activity(
            f"Transcribe (local): {name} COMPLETED, {len(recognition.words)} words from "
            f"{clock(recognition.audio_seconds)} ({recognition.audio_seconds:.1f} s) of audio "
            f"in {seconds:.1f} s ({speed:.1f}x real time)"
        )
        asked = job.language_code or ""
        if asked and asked.split("-")[0].lower() != recognition.language.lower():
            # Not pretended: the job keeps its language, the words are what was recognised.
            self._on_activity(
                f"Transcribe (local): {name} is a job for {asked}, but the local engine "
                f"recognised {recognition.language!r} (Whisper tiny.en knows English only): "
                f"the words are what it heard, the job and the outputs say {asked}"
            )

    def _data_access_role(self, job: FakeTranscriptionJob) -> Role | None:
        """The role Transcribe assumes for this job: its DataAccessRoleArn, one of the
        template's roles trusted by transcribe.amazonaws.com. None without one (then
        Transcribe acts with the caller's permissions, which are not checked here)."""
        arn = (job.job_execution_settings or {}).get("DataAccessRoleArn")
        if not arn:
            return None
        template = self._cloud.template
        logical_id = role_logical_id(template, str(arn))
        if logical_id is None or not trusts_service(template, logical_id, TRANSCRIBE_SERVICE):
            raise JobFailed(
                f"Amazon Transcribe could not assume the data access role {arn}: "
                f"it must exist and trust {TRANSCRIBE_SERVICE}."
            )
        return role_of_resource(template, logical_id)

    def _acting_as(self, role: Role | None) -> contextlib.AbstractContextManager[None]:
        """Transcribe's S3 calls for a job, checked against its data-access role."""
        if role is None:
            return contextlib.nullcontext()
        return self._cloud.enforcer.acting_as(role)

    def _check_write_access(self, job: FakeTranscriptionJob) -> None:
        """Transcribe checks it may write to the output location before the job runs, by
        writing a file there; nothing may react to it."""
        bucket, key = self._output_location(job)
        folder = key.rsplit("/", 1)[0] + "/" if "/" in key else ""
        try:
            self._cloud.client("s3").put_object(
                Bucket=bucket, Key=f"{folder}{WRITE_CHECK_FILE}", Body=b""
            )
        except ClientError as error:
            raise JobFailed(
                f"Amazon Transcribe could not write to the output location "
                f"s3://{bucket}/{folder}: {error}"
            ) from error

    def _download(self, bucket: str, key: str, media: Path) -> None:
        """The media, read a chunk at a time so that a stop need not wait for a big file."""
        try:
            body = self._cloud.client("s3").get_object(Bucket=bucket, Key=key)["Body"]
            with media.open("wb") as out:
                for chunk in body.iter_chunks(DOWNLOAD_CHUNK):
                    if self._stop.is_set():
                        raise RecognitionCancelled("stopped while reading the media")
                    out.write(chunk)
                    self.last_activity = time.monotonic()
        except RecognitionCancelled:
            raise
        except Exception as error:
            raise MediaDecodeError(
                f"The media file could not be read from s3://{bucket}/{key}: {error}"
            ) from error

    def _recognise(self, name: str, media: Path, started: float) -> Recognition:
        reported = started

        def on_progress(progress: RecognitionProgress) -> None:
            nonlocal reported
            now = time.monotonic()
            self.last_activity = now
            if now - reported >= PROGRESS_SECONDS:
                reported = now
                self._on_activity(ProgressReport(name, progress, now - started))

        with self._recogniser.observed(progress=on_progress, should_stop=self._stop.is_set):
            return self._recogniser.recognise(media)

    def _output_location(self, job: FakeTranscriptionJob) -> tuple[str, str]:
        bucket = job._output_bucket_name
        if not bucket:
            raise MediaDecodeError("The job has no OutputBucketName; the local engine needs one.")
        output_key = job.output_key or ""
        if output_key.endswith(".json"):
            return bucket, output_key
        folder = output_key if output_key.endswith("/") or not output_key else output_key + "/"
        return bucket, f"{folder}{job.transcription_job_name}.json"

    def _write_output(self, job: FakeTranscriptionJob, document: dict[str, Any]) -> None:
        bucket, key = self._output_location(job)
        s3 = self._cloud.client("s3")
        body = json.dumps(document, ensure_ascii=False).encode("utf-8")
        # With PII redaction Transcribe writes redacted-<name> (and the plain name only for
        # redacted_and_unredacted). The local engine finds no PII: both hold the same words.
        for written in written_keys(job, key).values():
            try:
                s3.put_object(Bucket=bucket, Key=written, Body=body, ContentType="application/json")
            except ClientError as error:
                raise JobFailed(
                    f"Amazon Transcribe could not write the transcript to "
                    f"s3://{bucket}/{written}: {error}"
                ) from error
        job.transcript = {
            "TranscriptFileUri": f"https://s3.{self._region}.amazonaws.com/{bucket}/{key}"
        }
        self.transcripts[job.transcription_job_name] = (bucket, key)
        job.output_location_type = "CUSTOMER_BUCKET"
        if job.language_code is None and job.identify_language:
            # tiny.en only knows English; say so the way identification would.
            job.language_code = "en-US"
            job.identified_language_score = 1.0

    def _finish(
        self, job: FakeTranscriptionJob, status: str, *, failure_reason: str | None = None
    ) -> None:
        job.status = status
        job.failure_reason = failure_reason  # type: ignore[assignment]
        job.completion_time = datetime.now(UTC)
        self._cloud.client("events").put_events(
            Entries=[
                {
                    "Source": "aws.transcribe",
                    "DetailType": "Transcribe Job State Change",
                    "Detail": json.dumps(
                        {
                            "TranscriptionJobName": job.transcription_job_name,
                            "TranscriptionJobStatus": status,
                        }
                    ),
                }
            ]
        )
