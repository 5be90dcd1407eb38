"""A local Amazon Transcribe: completes the jobs moto holds, with real speech recognition.

moto records StartTranscriptionJob calls but writes no transcript and sends no event.
This engine takes over moto's job state (jobs stay QUEUED until it acts), and for each
job: reads the media from the local bucket, recognises it with faster-whisper, writes a
transcript in Transcribe's JSON layout at the job's output location (after the write
check file Transcribe writes first), marks the job COMPLETED or FAILED, and sends the
"Transcribe Job State Change" event through moto's EventBridge.
"""

from __future__ import annotations

import contextlib
import json
import tempfile
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from moto.moto_api import state_manager
from moto.transcribe.models import FakeTranscriptionJob, transcribe_backends

from local_pipeline.cloud import LocalCloud
from local_pipeline.speech import MediaDecodeError, SpeechRecogniser
from local_pipeline.transcribe_json import transcript_document
from local_pipeline.transcribe_model import realistic_transcribe, written_keys

JOB_MODEL = "transcribe::transcriptionjob"
Activity = Callable[[str], None]


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
    ) -> None:
        self._cloud = cloud
        self._recogniser = recogniser
        self._account_id = cloud.template.account_id
        self._region = cloud.template.region
        self._on_activity = on_activity or (lambda _message: None)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._realism = contextlib.ExitStack()
        self.completed: list[str] = []
        self.failed: list[str] = []

    def __enter__(self) -> LocalTranscribeEngine:
        self.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stop()

    def start(self) -> None:
        # Jobs no longer advance on each GetTranscriptionJob: this engine moves them.
        state_manager.set_transition(JOB_MODEL, {"progression": "manual", "times": 10**9})
        self._realism.enter_context(realistic_transcribe())
        self._thread = threading.Thread(target=self._run, name="local-transcribe", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=120)
            self._thread = None
        state_manager.unset_transition(JOB_MODEL)
        self._realism.close()

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
        bucket, key = _split_s3_uri(job.media["MediaFileUri"])
        s3 = self._cloud.client("s3")
        try:
            with tempfile.TemporaryDirectory(prefix="local-transcribe-") as folder:
                media = Path(folder) / (Path(key).name or "media")
                try:
                    s3.download_file(bucket, key, str(media))
                except Exception as error:
                    raise MediaDecodeError(
                        f"The media file could not be read from s3://{bucket}/{key}: {error}"
                    ) from error
                self._on_activity(f"Transcribe (local): recognising {name}")
                started = time.monotonic()
                recognition = self._recogniser.recognise(media)
                seconds = time.monotonic() - started
            document = transcript_document(name, self._account_id, recognition, language_code=None)
            self._write_output(job, document)
        except MediaDecodeError as error:
            self._finish(job, "FAILED", failure_reason=str(error))
            self.failed.append(name)
            self._on_activity(f"Transcribe (local): {name} FAILED: {error}")
            return
        self._finish(job, "COMPLETED")
        self.completed.append(name)
        self._on_activity(
            f"Transcribe (local): {name} COMPLETED, {len(recognition.words)} words from "
            f"{recognition.audio_seconds:.1f} s of audio in {seconds:.1f} s"
        )

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
        folder = key.rsplit("/", 1)[0] + "/" if "/" in key else ""
        # Transcribe checks it may write before the job; nothing may react to this file.
        s3.put_object(Bucket=bucket, Key=f"{folder}.write_access_check_file.temp", Body=b"")
        body = json.dumps(document, ensure_ascii=False).encode("utf-8")
        # With PII redaction Transcribe writes redacted-<name> (and the plain name only for
        # redacted_and_unredacted). The local engine finds no PII: both hold the same words.
        for written in written_keys(job, key).values():
            s3.put_object(Bucket=bucket, Key=written, Body=body, ContentType="application/json")
        job.transcript = {
            "TranscriptFileUri": f"https://s3.{self._region}.amazonaws.com/{bucket}/{key}"
        }
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
