"""A burst of 500 uploads against a throttling Transcribe: 500 jobs, none twice, none lost.

Faults are injected where AWS would produce them, at the HTTP layer ('before-send'), so
the adapter's botocore retries (standard mode, with backoff) really run. On top of that
the harness plays Lambda's part: a raised error is retried as often as the function's
EventInvokeConfig in template.yaml allows, then the event goes to the dead-letter queue;
the scheduled reconciliation then finds the uploads without a job.
"""

from __future__ import annotations

import copy
import hashlib
import random
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from moto.core.exceptions import JsonRESTError
from moto.transcribe.models import TranscribeBackend

from local_pipeline.iam import role_of_function
from local_pipeline.invoke import LocalLambdaContext, function_environment, load_handler
from local_pipeline.transcribe_model import set_concurrent_job_quota
from tests.conftest import MEDIA, load_event
from tests.handlers.conftest import Stack
from transcription_pipeline.aws import ObjectStore, TranscribeJobs
from transcription_pipeline.config import load_settings
from transcription_pipeline.reconcile import restart_uploads

UPLOADS = 500


class TranscribeError(JsonRESTError):
    def __init__(self, code: str, message: str, status: int) -> None:
        super().__init__(code, message)
        self.code = status


class FlakyTranscribe:
    """StartTranscriptionJob as a busy account sees it, raised inside moto's Transcribe so
    the error travels over the wire like AWS's and botocore's retries handle it:

    - windows of 40 calls in every 200 where the concurrent-job quota is exhausted
      (LimitExceededException on every call: retries in the window cannot succeed);
    - 15 % throttling outside them;
    - 5 % of the calls that succeed lose their response (a 500 after the job was made),
      so the retry meets ConflictException for a job that exists.
    """

    def __init__(self, start_job: Callable[..., Any], seed: int = 7) -> None:
        self._start_job = start_job
        self.random = random.Random(seed)
        self.calls = 0
        self.throttled = 0
        self.lost_responses = 0

    def __call__(self, backend: Any, **request: Any) -> Any:
        self.calls += 1
        in_exhausted_window = self.calls % 200 < 40
        if in_exhausted_window or self.random.random() < 0.15:
            self.throttled += 1
            raise TranscribeError("LimitExceededException", "Limit exceeded", 400)
        response = self._start_job(backend, **request)
        if self.random.random() < 0.05:
            self.lost_responses += 1
            raise TranscribeError("InternalFailureException", "Response lost", 500)
        return response


@pytest.fixture
def flaky_transcribe(monkeypatch: pytest.MonkeyPatch) -> FlakyTranscribe:
    flaky = FlakyTranscribe(TranscribeBackend.start_transcription_job)

    def start_job(backend: Any, **request: Any) -> Any:
        return flaky(backend, **request)

    monkeypatch.setattr(TranscribeBackend, "start_transcription_job", start_job)
    # Backoff sleeps are real in botocore; the test does not need to wait them out.
    monkeypatch.setattr("botocore.endpoint.time.sleep", lambda _seconds: None)
    return flaky


def test_burst_of_uploads_under_throttling(stack: Stack, flaky_transcribe: FlakyTranscribe) -> None:
    # FlakyTranscribe plays the concurrent-job quota as windows of refusals; moto's jobs
    # never finish on their own here, so the standing quota model would refuse all but 250.
    set_concurrent_job_quota(UPLOADS)
    body = (MEDIA / "tone.mp3").read_bytes()
    etag = hashlib.md5(body).hexdigest()
    template_record = load_event("s3-put.json")["Records"][0]
    events = []
    for index in range(UPLOADS):
        key = f"burst/talk {index:03}.mp3"
        stack.s3.put_object(Bucket=stack.input_bucket, Key=key, Body=body)
        record = copy.deepcopy(template_record)
        record["s3"]["object"].update(key=key.replace(" ", "+"), size=len(body), eTag=etag)
        events.append({"Records": [record]})
    # S3 delivers at least once: a tenth of the events arrive twice, some out of order.
    events += [events[i] for i in range(0, UPLOADS, 10)]
    random.Random(3).shuffle(events)

    spec = stack.template.function("StartTranscriptionFunction")
    start_role = role_of_function(stack.template, spec.logical_id)
    reconcile_role = role_of_function(stack.template, "ReconcileFunction")
    dead_letters = []
    with function_environment(spec, {}), stack.enforcer.acting_as(start_role):
        handler = load_handler(spec)
        for event in events:
            # The first invocation and the retries EventInvokeConfig allows (template.yaml).
            for _attempt in range(spec.async_attempts):
                try:
                    handler(event, LocalLambdaContext(function_name=spec.logical_id))
                    break
                except Exception:  # noqa: BLE001 - Lambda's asynchronous retry
                    continue
            else:
                dead_letters.append(event)

        # The schedule finds what the dead-letter queue holds (it runs until done).
        settings = load_settings(spec.environment)
        store, jobs = ObjectStore(stack.s3), TranscribeJobs(stack.transcribe)
        later = datetime.now(UTC) + timedelta(hours=2)

        for _run in range(10):
            # Quota errors are isolated per upload: every run goes through the whole list.
            with stack.enforcer.acting_as(reconcile_role):
                report = restart_uploads(settings, store, jobs, now=later)
            if report.uploads_in_flight == UPLOADS:
                break

    # The faults really happened on every path...
    assert flaky_transcribe.throttled > 100
    assert flaky_transcribe.lost_responses > 5
    assert dead_letters, "no event exhausted its retries: the DLQ path went untested"
    # ...and every upload has exactly its one job.
    names: list[str] = []
    request: dict[str, Any] = {"MaxResults": 100}
    while True:
        page = stack.transcribe.list_transcription_jobs(**request)
        names += [job["TranscriptionJobName"] for job in page["TranscriptionJobSummaries"]]
        if "NextToken" not in page:
            break
        request["NextToken"] = page["NextToken"]
    expected = {stack.job_name_of(f"burst/talk {index:03}.mp3") for index in range(UPLOADS)}
    assert len(names) == UPLOADS
    assert set(names) == expected
    assert stack.output_keys() == []  # throttling is never turned into a rejection
