"""Reconciliation under moto: it settles the in-flight items, not the bucket.

Items come from the start function itself (a job started through the upload queue);
``Stack.age_in_flight`` makes them older than ReconcileMinAgeMinutes, since moto stamps
them "now". Lost completion events are recovered, jobs Transcribe does not know go back
on the upload queue, waiting jobs are left, one bad item never stops the others, a run
out of time resumes where it stopped, and the cost follows the work in flight.
"""

from __future__ import annotations

import itertools
import json
import logging
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import unquote_plus

import boto3
import pytest
from moto.s3.models import s3_backends

from local_pipeline.iam import role_of_function
from tests.conftest import MEDIA, TRANSCRIPTS, load_event
from tests.handlers.conftest import (
    EVERY_OUTPUT,
    OUTPUT_PREFIX,
    PROCESS,
    RECONCILE,
    SAMPLE_KEY,
    ApiCall,
    Stack,
    complete_sample_job,
    job_event,
    job_names,
    outputs,
    sample_job,
    start_sample_job,
    upload,
)
from transcription_pipeline.aws import (
    Announcer,
    InFlightJobs,
    ObjectStore,
    TranscribeJobs,
    UploadQueue,
)
from transcription_pipeline.config import load_settings
from transcription_pipeline.reconcile import (
    LIST_REQUESTS_PER_SECOND,
    RateLimit,
    ReconcileReport,
    reconcile,
)

SCHEDULED_EVENT = {
    "version": "0",
    "id": "c1b8e0e4-1d5c-4e8c-9f68-3a1b2c3d4e5f",
    "detail-type": "Scheduled Event",
    "source": "aws.events",
    "account": "123456789012",
    "time": "2026-11-24T10:15:00Z",
    "region": "us-east-1",
    "resources": ["arn:aws:events:us-east-1:123456789012:rule/reconcile"],
    "detail": {},
}


def run_later(stack: Stack, **env: str) -> dict[str, int]:
    """The scheduled function, once every item in flight is older than the minimum age."""
    stack.age_in_flight(minutes=120)
    counts: dict[str, int] = stack.invoke(RECONCILE, SCHEDULED_EVENT, **env)
    return counts


def reconcile_as_the_function(
    stack: Stack,
    *,
    time_is_up: Callable[[], bool] = lambda: False,
    before_list_request: Callable[[], None] = lambda: None,
) -> ReconcileReport:
    """The use case with the function's own role and settings, for what the handler
    decides itself (the clock, the pace). Fresh clients, as the function makes them: a
    botocore client keeps the event hooks of its session as they were when it was made."""
    settings = load_settings(stack.template.function(RECONCILE).environment)
    with stack.enforcer.acting_as(role_of_function(stack.template, RECONCILE)):
        return reconcile(
            settings,
            ObjectStore(boto3.client("s3")),
            TranscribeJobs(boto3.client("transcribe")),
            InFlightJobs(stack.in_flight_table, boto3.client("dynamodb")),
            UploadQueue(stack.upload_queue_url, boto3.client("sqs")),
            Announcer(settings.event_source, boto3.client("events")),
            now=datetime.now(UTC),
            time_is_up=time_is_up,
            before_list_request=before_list_request,
        )


def budget(items: int) -> Callable[[], bool]:
    """A clock with time for ``items`` items, then none."""
    looks: Iterator[bool] = itertools.chain([False] * items, itertools.repeat(True))
    return lambda: next(looks)


def plain_transcript() -> bytes:
    return (TRANSCRIPTS / "01-plain.json").read_bytes()


def queued_messages(stack: Stack) -> list[dict[str, Any]]:
    answer = stack.sqs.receive_message(
        QueueUrl=stack.upload_queue_url,
        MaxNumberOfMessages=10,
        MessageAttributeNames=["All"],
        VisibilityTimeout=0,
    )
    messages: list[dict[str, Any]] = answer.get("Messages", [])
    return messages


# -- 1. a finished job without its record: the lost completion event ---------------------------


def test_lost_completion_event_is_processed_by_the_schedule(stack: Stack) -> None:
    complete_sample_job(stack, "03-speaker-identification.json")  # no event is delivered

    counts = run_later(stack)

    assert counts["items_in_flight"] == counts["items_checked"] == 1
    assert counts["jobs_published"] == 1
    assert sorted(outputs(stack)) == EVERY_OUTPUT
    summary = json.loads(stack.output(OUTPUT_PREFIX + "summary.json"))
    assert summary["job_name"] == sample_job(stack)
    assert stack.in_flight() == []  # answered: no longer in flight


def test_items_younger_than_the_minimum_age_wait_for_their_event(stack: Stack) -> None:
    complete_sample_job(stack, "01-plain.json")

    counts = stack.invoke(RECONCILE, SCHEDULED_EVENT)  # the job's event may be coming

    assert counts["items_in_flight"] == 1
    assert counts["items_checked"] == 0
    assert counts["list_requests"] == 0  # nothing old enough: Transcribe is not asked
    assert outputs(stack) == {}


def test_a_failed_job_without_its_record_gets_its_error_record(stack: Stack) -> None:
    start_sample_job(stack)
    stack.fail_job(sample_job(stack), "Internal failure")

    counts = run_later(stack)

    assert counts["jobs_failure_recorded"] == 1
    assert json.loads(stack.output(OUTPUT_PREFIX + "error.json"))["status"] == "FAILED"
    assert stack.in_flight() == []


def test_an_answered_job_s_stale_item_is_removed_and_its_outputs_left_alone(
    stack: Stack, api_calls: list[ApiCall]
) -> None:
    complete_sample_job(stack, "01-plain.json")
    stack.invoke(PROCESS, job_event(stack))
    stack.start(load_event("s3-put.json"))  # a late duplicate: the job exists, tracked again
    assert len(stack.in_flight()) == 1
    before = outputs(stack)
    api_calls.clear()

    counts = run_later(stack)

    assert counts["jobs_answered"] == 1
    assert not any(key.startswith("jobs_published") for key in counts)
    assert outputs(stack) == before
    assert not [c for c in api_calls if c.operation in ("PutObject", "DeleteObject")]
    assert stack.in_flight() == []


def test_finished_job_for_replaced_content_is_not_published(stack: Stack) -> None:
    complete_sample_job(stack, "01-plain.json")
    stack.s3.put_object(
        Bucket=stack.input_bucket, Key=SAMPLE_KEY, Body=(MEDIA / "faststart.mp4").read_bytes()
    )

    counts = run_later(stack)

    assert counts["jobs_superseded"] == 1
    assert outputs(stack) == {}
    assert stack.in_flight() == []  # the new upload has its own event and item


@pytest.mark.parametrize("fixture", ["v4-empty.json"])
def test_recovered_job_is_processed_like_an_event_would(stack: Stack, fixture: str) -> None:
    complete_sample_job(stack, fixture)

    run_later(stack)

    assert json.loads(stack.output(OUTPUT_PREFIX + "summary.json"))["no_speech"] is True
    assert (TRANSCRIPTS / fixture).read_bytes() == stack.output(OUTPUT_PREFIX + "transcript.json")


def test_a_job_older_than_its_item_is_asked_for_by_name(
    stack: Stack, api_calls: list[ApiCall]
) -> None:
    """A repeated event re-adds the item of a job started long before: the listing (from
    an hour before the oldest item) misses it, and it is looked up by name."""
    complete_sample_job(stack, "01-plain.json")
    name = sample_job(stack)
    stack.transcribe_backend().transcriptions[name].creation_time -= timedelta(days=2)
    api_calls.clear()

    counts = run_later(stack)

    assert counts["jobs_published"] == 1
    listed = [c for c in api_calls if c.operation == "ListTranscriptionJobs"]
    asked = [c for c in api_calls if c.operation == "GetTranscriptionJob"]
    assert len(listed) == counts["list_requests"] >= 4  # one listing per status at least
    assert asked[0].params == {"TranscriptionJobName": name}


# -- 2. a job still running, or one Transcribe does not know -----------------------------------


def test_a_waiting_job_is_left_in_flight(stack: Stack) -> None:
    start_sample_job(stack)
    name = sample_job(stack)
    stack.transcribe.get_transcription_job(TranscriptionJobName=name)  # now QUEUED

    counts = run_later(stack)

    assert counts["jobs_waiting"] == 1
    assert [item["job_name"] for item in stack.in_flight()] == [name]
    assert outputs(stack) == {}
    assert queued_messages(stack) == []


def test_an_unknown_job_goes_back_on_the_upload_queue(stack: Stack) -> None:
    key = "talks/C++ & a talk.mp3"
    record = upload(stack, key, "tone.mp3")
    stack.start(record)
    (old_item,) = stack.in_flight()
    stack.forget_job(old_item["job_name"])  # Transcribe no longer knows it

    counts = run_later(stack)

    assert counts["uploads_requeued"] == 1
    assert stack.in_flight() == []  # the start function tracks it again
    (message,) = queued_messages(stack)
    assert message["MessageAttributes"]["origin"] == {
        "StringValue": "reconcile",
        "DataType": "String",
    }
    (notification,) = json.loads(message["Body"])["Records"]
    assert notification["eventSource"] == "aws:s3"
    assert notification["eventName"].startswith("ObjectCreated:")
    s3 = notification["s3"]
    assert s3["bucket"]["name"] == stack.input_bucket
    assert unquote_plus(s3["object"]["key"]) == key
    assert s3["object"]["key"] == record["s3"]["object"]["key"]  # encoded as S3 encodes it
    assert s3["object"]["size"] == record["s3"]["object"]["size"]
    assert s3["object"]["eTag"] == record["s3"]["object"]["eTag"]

    # The start function takes it like any upload: the job is started again.
    delivery = stack.deliver()
    assert delivery.failures == []
    assert job_names(stack) == [old_item["job_name"]]
    assert [item["job_name"] for item in stack.in_flight()] == [old_item["job_name"]]


@pytest.mark.parametrize("change", ["deleted", "replaced"])
def test_an_unknown_job_of_an_upload_deleted_or_replaced_since_is_dropped(
    stack: Stack, change: str
) -> None:
    stack.start(upload(stack, "talks/gone.mp3", "tone.mp3"))
    (item,) = stack.in_flight()
    stack.forget_job(item["job_name"])
    if change == "deleted":
        stack.s3.delete_object(Bucket=stack.input_bucket, Key="talks/gone.mp3")
    else:  # a new upload under the key: it has its own event, job and item
        stack.s3.put_object(
            Bucket=stack.input_bucket, Key="talks/gone.mp3", Body=(MEDIA / "tone.wav").read_bytes()
        )

    counts = run_later(stack)

    assert counts["items_dropped"] == 1
    assert counts["uploads_requeued"] == 0
    assert stack.in_flight() == []
    assert queued_messages(stack) == []


# -- 3. one bad item never stops the rest ---------------------------------------------------


def test_one_failing_item_is_isolated_and_reported(
    stack: Stack, caplog: pytest.LogCaptureFixture
) -> None:
    stack.start(upload(stack, "talks/good.mp4", "video.mp4"))
    stack.start(upload(stack, "talks/bad.mp4", "video.mp4"))
    bad, good = job_names(stack)
    assert "bad" in bad
    for name in (good, bad):
        stack.complete_job(name, plain_transcript())
    # A job of ours whose media is in a bucket the role may not read: S3 refuses it.
    job = stack.transcribe_backend().transcriptions[bad]
    job.media = {"MediaFileUri": "s3://someone-elses-bucket/private.mp4"}

    counts = run_later(stack)

    assert counts["items_checked"] == 2
    assert counts["jobs_published"] == 1
    assert counts["items_failed"] == 1
    (denial,) = stack.take_denials()
    assert denial.request.resource == "arn:aws:s3:::someone-elses-bucket/private.mp4"
    (skipped,) = [r for r in caplog.records if "skipped an item" in r.getMessage()]
    assert skipped.levelno == logging.WARNING
    assert skipped.__dict__["job_name"] == bad
    assert skipped.__dict__["source_key"] == "talks/bad.mp4"
    assert "AccessDenied" in skipped.__dict__["error"]
    # The failed item stays for the next run; the other was answered.
    assert [item["job_name"] for item in stack.in_flight()] == [bad]
    assert stack.output("talks/good.mp4/summary.json")


# -- 4. out of time: a checkpoint, and the next run carries on after it ----------------------


def test_time_is_up_saves_a_checkpoint_and_the_next_run_resumes_after_it(stack: Stack) -> None:
    for index in range(3):
        stack.start(upload(stack, f"talks/{index}.mp4", "video.mp4"))
    first, second, third = (stack.job_name_of(f"talks/{index}.mp4") for index in range(3))
    stack.transcribe.get_transcription_job(TranscriptionJobName=first)  # waiting: stays
    for name in (second, third):
        stack.complete_job(name, plain_transcript())
    stack.age_in_flight(minutes=120)

    one = reconcile_as_the_function(stack, time_is_up=budget(1))

    assert one.stopped_early
    assert (one.items_checked, one.jobs_waiting) == (1, 1)
    assert stack.checkpoint() == {
        "source_key": "#reconcile",
        "job_name": "#checkpoint",
        "position": f"talks/0.mp4\0{first}",
    }

    two = reconcile_as_the_function(stack, time_is_up=budget(1))

    # After the checkpoint, not from the top again: the second item, not the first.
    assert two.items_checked == 1
    assert two.jobs_recovered == {"published": 1}
    assert stack.output("talks/1.mp4/summary.json")
    assert "talks/2.mp4/summary.json" not in stack.output_keys()
    assert stack.checkpoint() == {
        "source_key": "#reconcile",
        "job_name": "#checkpoint",
        "position": f"talks/1.mp4\0{second}",
    }

    counts = stack.invoke(RECONCILE, SCHEDULED_EVENT)  # the next run, with time enough

    assert counts["stopped_early"] == 0
    assert counts["items_checked"] == 2  # the third, then the first again (wrapped around)
    assert counts["jobs_published"] == counts["jobs_waiting"] == 1
    assert stack.checkpoint() == {
        "source_key": "#reconcile",
        "job_name": "#checkpoint",
        "position": "",
    }
    assert [item["job_name"] for item in stack.in_flight()] == [first]


def test_the_function_stops_before_lambda_s_timeout(
    stack: Stack, caplog: pytest.LogCaptureFixture
) -> None:
    complete_sample_job(stack, "01-plain.json")
    stack.age_in_flight(minutes=120)

    # Less time left than the function's safety margin: it stops before the first item.
    counts = stack.invoke_with_time_left(RECONCILE, SCHEDULED_EVENT, remaining_millis=30_000)

    assert counts["stopped_early"] == 1
    assert counts["items_checked"] == 0
    assert outputs(stack) == {}
    assert any("stopped before the timeout" in r.getMessage() for r in caplog.records)
    assert run_later(stack)["jobs_published"] == 1  # the next run does it


# -- 5. cost follows the work in flight, not the bucket --------------------------------------


def old_answered_objects(stack: Stack, count: int) -> set[str]:
    """``count`` uploads answered long ago, straight into moto's buckets (fast)."""
    backend = s3_backends[stack.template.account_id]["aws"]
    keys = set()
    for index in range(count):
        key = f"archive/{index:05}.mp3"
        backend.put_object(stack.input_bucket, key, b"ID3 old upload")
        backend.put_object(stack.output_bucket, f"{key}/summary.json", b"{}")
        keys.add(key)
    return keys


def old_finished_jobs(stack: Stack, count: int) -> None:
    """``count`` jobs of this stack finished days ago, as Transcribe keeps them (90 days)."""
    for index in range(count):
        name = f"transcription-pipeline.archive-{index:05}.0123456789abcdef"
        stack.transcribe.start_transcription_job(
            TranscriptionJobName=name,
            Media={"MediaFileUri": f"s3://{stack.input_bucket}/archive/{index:05}.mp3"},
            LanguageCode="en-US",
        )
        job = stack.transcribe_backend().transcriptions[name]
        job.status = "COMPLETED"
        job.creation_time -= timedelta(days=3)


def test_cost_follows_the_work_in_flight_not_the_bucket(
    stack: Stack, api_calls: list[ApiCall]
) -> None:
    archive = old_answered_objects(stack, 5000)
    old_finished_jobs(stack, 250)
    names = ("lost event", "waiting", "unknown")
    for name in names:
        stack.start(upload(stack, f"new/{name}.mp3", "tone.mp3"))
    lost, waiting, unknown = (stack.job_name_of(f"new/{n}.mp3") for n in names)
    stack.complete_job(lost, plain_transcript())
    stack.transcribe.get_transcription_job(TranscriptionJobName=waiting)
    stack.forget_job(unknown)
    stack.age_in_flight(minutes=120)
    api_calls.clear()

    counts = stack.invoke(RECONCILE, SCHEDULED_EVENT)

    assert counts["items_in_flight"] == 3
    assert counts["jobs_published"] == counts["jobs_waiting"] == counts["uploads_requeued"] == 1
    by_operation: dict[str, int] = {}
    for call in api_calls:
        by_operation[call.operation] = by_operation.get(call.operation, 0) + 1
    assert by_operation.get("ListObjectsV2", 0) + by_operation.get("ListObjects", 0) == 0
    assert not [c for c in api_calls if str(c.params.get("Key", "")).startswith("archive/")]
    # Two pages for COMPLETED (the new job among the newest, then a page of old ones),
    # one for each other status: the 250 old jobs are not walked through.
    assert by_operation["ListTranscriptionJobs"] == counts["list_requests"] <= 6
    assert by_operation["Scan"] == 1
    assert len(api_calls) <= 40, by_operation
    assert len(archive) == 5000


# -- 6. ListTranscriptionJobs is paced ---------------------------------------------------------


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        assert seconds > 0
        self.now += seconds


def test_list_requests_stay_under_transcribe_s_rate(stack: Stack) -> None:
    """Many pages to list (moto answers at once): the requests still go out at no more
    than 4 a second, under ListTranscriptionJobs' 5 a second shared with the rest."""
    complete_sample_job(stack, "01-plain.json")
    old_finished_jobs(stack, 450)
    for name, job in stack.transcribe_backend().transcriptions.items():
        if "archive" in name:
            job.creation_time += timedelta(days=3)  # recent: all inside the listing window
    stack.age_in_flight(minutes=120)
    clock = FakeClock()
    sent_at: list[float] = []

    def note_time(**_: Any) -> None:
        sent_at.append(clock())

    session = boto3._get_default_session()
    session.events.register("before-call.transcribe.ListTranscriptionJobs", note_time)
    try:
        report = reconcile_as_the_function(
            stack,
            before_list_request=RateLimit(LIST_REQUESTS_PER_SECOND, clock=clock, sleep=clock.sleep),
        )
    finally:
        session.events.unregister("before-call.transcribe.ListTranscriptionJobs", note_time)

    assert report.jobs_recovered == {"published": 1}
    assert len(sent_at) == report.list_requests >= 8  # 5 pages of COMPLETED, 1 per other
    for start in sent_at:
        assert sum(1 for t in sent_at if start <= t < start + 1.0) <= 4
    assert LIST_REQUESTS_PER_SECOND <= 4
