"""Reconciliation under moto: lost completion events and lost upload events are recovered."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from local_pipeline.iam import role_of_function
from tests.conftest import MEDIA, TRANSCRIPTS, load_event
from tests.handlers.conftest import (
    OUTPUT_PREFIX,
    SIX_FILES,
    Stack,
    complete_sample_job,
    job_event,
    outputs,
    sample_job,
)
from transcription_pipeline.aws import ObjectStore, TranscribeJobs
from transcription_pipeline.config import load_settings
from transcription_pipeline.reconcile import reconcile

RECONCILE = "ReconcileFunction"
START = "StartTranscriptionFunction"
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


def run_reconcile_later(stack: Stack, hours: float = 2) -> dict[str, int]:
    """The use case as the scheduled function runs it, with the clock moved forward so
    that uploads made a moment ago count as old (moto stamps objects with 'now')."""
    environment = stack.template.function(RECONCILE).environment
    with stack.enforcer.acting_as(role_of_function(stack.template, RECONCILE)):
        report = reconcile(
            load_settings(environment),
            ObjectStore(stack.s3),
            TranscribeJobs(stack.transcribe),
            now=datetime.now(UTC) + timedelta(hours=hours),
        )
    return report.as_dict()


def test_lost_completion_event_is_processed_by_the_schedule(stack: Stack) -> None:
    complete_sample_job(stack, "03-speaker-identification.json")  # no event is delivered

    counts = stack.invoke(RECONCILE, SCHEDULED_EVENT)

    assert counts["jobs_checked"] == 1
    assert counts["jobs_published"] == 1
    assert sorted(outputs(stack)) == SIX_FILES
    summary = json.loads(stack.output(OUTPUT_PREFIX + "summary.json"))
    assert summary["job_name"] == sample_job(stack)


def test_a_job_with_its_record_is_left_alone(stack: Stack) -> None:
    complete_sample_job(stack, "01-plain.json")
    stack.invoke("ProcessTranscriptFunction", job_event(stack))
    before = outputs(stack)

    counts = stack.invoke(RECONCILE, SCHEDULED_EVENT)

    assert counts["jobs_answered"] == 1
    assert not any(key.startswith("jobs_published") for key in counts)
    assert outputs(stack) == before


def test_lost_upload_event_is_started_once_old_enough(stack: Stack) -> None:
    stack.s3.put_object(
        Bucket=stack.input_bucket, Key="lost/talk.mp3", Body=(MEDIA / "tone.mp3").read_bytes()
    )

    young = stack.invoke(RECONCILE, SCHEDULED_EVENT)  # just uploaded: its event may be coming
    later = run_reconcile_later(stack)
    again = run_reconcile_later(stack)

    assert young["uploads_checked"] == 0
    assert later["uploads_started"] == 1
    assert again["uploads_in_flight"] == 1  # the job exists now: not started twice
    summaries = stack.transcribe.list_transcription_jobs()["TranscriptionJobSummaries"]
    assert len(summaries) == 1
    assert summaries[0]["TranscriptionJobName"].startswith("transcription-pipeline.talk.")


def test_lost_event_of_an_unsupported_upload_gets_its_error_record(stack: Stack) -> None:
    stack.s3.put_object(Bucket=stack.input_bucket, Key="lost/notes.mp4", Body=b"just text\n")

    first = run_reconcile_later(stack)
    second = run_reconcile_later(stack)

    assert first["uploads_rejected"] == 1
    assert second["uploads_answered"] == 1
    record = json.loads(stack.output("lost/notes.mp4/error.json"))
    assert record["status"] == "REJECTED"


def test_answered_and_skipped_objects_are_not_restarted(stack: Stack) -> None:
    body = (MEDIA / "video.mp4").read_bytes()
    stack.s3.put_object(Bucket=stack.input_bucket, Key="uploads/My Talk.mp4", Body=body)
    stack.invoke(START, load_event("s3-put.json"))
    stack.s3.put_object(Bucket=stack.input_bucket, Key="folder/", Body=b"")

    counts = run_reconcile_later(stack)

    assert counts["uploads_checked"] == 1  # the folder marker is not an upload
    assert counts["uploads_in_flight"] == 1
    assert len(stack.transcribe.list_transcription_jobs()["TranscriptionJobSummaries"]) == 1


def test_finished_job_for_replaced_content_is_not_published(stack: Stack) -> None:
    complete_sample_job(stack, "01-plain.json")
    stack.s3.put_object(
        Bucket=stack.input_bucket,
        Key="uploads/My Talk.mp4",
        Body=(MEDIA / "faststart.mp4").read_bytes(),
    )

    counts = stack.invoke(RECONCILE, SCHEDULED_EVENT)

    assert counts["jobs_superseded"] == 1
    assert outputs(stack) == {}


@pytest.mark.parametrize("fixture", ["v4-empty.json"])
def test_recovered_job_is_processed_like_an_event_would(stack: Stack, fixture: str) -> None:
    complete_sample_job(stack, fixture)

    stack.invoke(RECONCILE, SCHEDULED_EVENT)

    assert json.loads(stack.output(OUTPUT_PREFIX + "summary.json"))["no_speech"] is True
    assert (TRANSCRIPTS / fixture).read_bytes() == stack.output(OUTPUT_PREFIX + "transcript.json")
