"""A burst of 500 uploads against a throttling Transcribe: 500 jobs, none twice, none
lost, nothing dead-lettered, and no invocation fails (nobody is paged).

Faults are injected where AWS would produce them, inside moto's Transcribe, so the error
travels over the wire and the adapter's botocore retries (standard mode) really run. On
top of that the harness plays the SQS event source of template.yaml: batches of
BatchSize from the upload queue, the messages not reported in ``batchItemFailures``
deleted, the others back on the queue after the delay the function set, and moto's SQS
clock moved forward while nothing is visible.
"""

from __future__ import annotations

import copy
import hashlib
import random
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from moto.core.exceptions import JsonRESTError
from moto.transcribe.models import TranscribeBackend

from local_pipeline.transcribe_model import set_concurrent_job_quota
from tests.conftest import MEDIA, load_event
from tests.handlers.conftest import Stack, job_names

UPLOADS = 500


class TranscribeError(JsonRESTError):
    def __init__(self, code: str, message: str, status: int) -> None:
        super().__init__(code, message)
        self.code = status


class FlakyTranscribe:
    """StartTranscriptionJob as a busy account sees it:

    - windows of 40 calls in every 200 where Transcribe is at a quota (its job queue
      full: LimitExceededException on every call, so retries in the window cannot help);
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
def flaky_transcribe(stack: Stack) -> Iterator[FlakyTranscribe]:
    # Not monkeypatch: the stack's own patch of this method (realistic_transcribe) must be
    # undone after this one, not before.
    current = TranscribeBackend.start_transcription_job
    flaky = FlakyTranscribe(current)

    def start_job(backend: Any, **request: Any) -> Any:
        return flaky(backend, **request)

    TranscribeBackend.start_transcription_job = start_job  # type: ignore[method-assign,assignment]
    try:
        yield flaky
    finally:
        TranscribeBackend.start_transcription_job = current  # type: ignore[method-assign]


@pytest.mark.usefixtures("no_backoff")
def test_burst_of_uploads_under_throttling(stack: Stack, flaky_transcribe: FlakyTranscribe) -> None:
    set_concurrent_job_quota(UPLOADS)
    body = (MEDIA / "tone.mp3").read_bytes()
    etag = hashlib.md5(body).hexdigest()
    template_record = load_event("s3-put.json")["Records"][0]
    notifications = []
    for index in range(UPLOADS):
        key = f"burst/talk {index:03}.mp3"
        stack.s3.put_object(Bucket=stack.input_bucket, Key=key, Body=body)
        record = copy.deepcopy(template_record)
        record["s3"]["object"].update(key=key.replace(" ", "+"), size=len(body), eTag=etag)
        notifications.append({"Records": [record]})
    # S3 delivers at least once: a tenth of the events arrive twice, some out of order.
    notifications += [notifications[i] for i in range(0, UPLOADS, 10)]
    random.Random(3).shuffle(notifications)
    for notification in notifications:
        stack.enqueue(notification)

    invocations = failed_invocations = put_back = idle_minutes = 0
    most_receives = 0
    while stack.queued_ids():
        assert invocations < 2000, "the queue does not drain"
        assert idle_minutes < 48 * 60, "the queue does not drain"
        records = stack.receive()
        if not records:
            stack.clock.advance(60)  # nothing visible: a minute passes
            idle_minutes += 1
            continue
        most_receives = max(
            most_receives, *(int(r["attributes"]["ApproximateReceiveCount"]) for r in records)
        )
        invocations += 1
        try:
            response = stack.run_start(records)
        except Exception:  # noqa: BLE001 - Lambda: the batch comes back after VisibilityTimeout
            failed_invocations += 1
            continue
        put_back += len(response["batchItemFailures"])

    # The faults really happened on every path...
    assert flaky_transcribe.throttled > 100
    assert flaky_transcribe.lost_responses > 5
    assert put_back > 50, "no message went back to the queue: the retry path went untested"
    assert most_receives >= 3
    # ...nobody was paged: no invocation failed (Errors alarm), nothing dead-lettered...
    assert failed_invocations == 0
    assert stack.dead_letter_ids() == []
    # ...and every upload has exactly its one job, tracked in flight.
    expected = {stack.job_name_of(f"burst/talk {index:03}.mp3") for index in range(UPLOADS)}
    assert set(job_names(stack)) == expected
    assert len(job_names(stack)) == UPLOADS
    assert {item["job_name"] for item in stack.in_flight()} == expected
    assert stack.output_keys() == []  # throttling is never turned into a rejection
    assert idle_minutes < 12 * 60  # drained within hours of (simulated) time
