"""What AWS does that moto does not, and the pipeline on top of it (issue: works on the
first real deploy). Every call here is checked against the calling function's own role,
and S3 answers a missing key with 403 to a role without s3:ListBucket (conftest)."""

from __future__ import annotations

import json
import logging
import time
from typing import Any

import pytest
from botocore.exceptions import ClientError

from local_pipeline.iam import Role, role_of_function
from local_pipeline.transcribe_model import set_concurrent_job_quota
from tests.conftest import MEDIA, TRANSCRIPTS
from tests.handlers.conftest import (
    PROCESS,
    RECONCILE,
    Stack,
    completion,
    job_names,
    s3_record,
)
from transcription_pipeline.aws import ObjectStore
from transcription_pipeline.start import retry_delay

KEY = "talks/interview.mp4"
SCHEDULED_EVENT = {"detail-type": "Scheduled Event", "source": "aws.events", "detail": {}}


def upload(stack: Stack, key: str = KEY, media: str = "video.mp4") -> dict[str, Any]:
    """Put the media and return its S3 record, as S3 would send it."""
    body = (MEDIA / media).read_bytes()
    stack.s3.put_object(Bucket=stack.input_bucket, Key=key, Body=body)
    return s3_record(stack.input_bucket, key, body)


def output(stack: Stack, name: str, key: str = KEY) -> bytes:
    return stack.output(f"{key}/{name}")


# -- 1. PII redaction -------------------------------------------------------------------
@pytest.mark.parametrize("redaction_output", ["redacted", "redacted_and_unredacted"])
def test_redacted_job_publishes_the_redacted_transcript_only(
    stack: Stack, redaction_output: str
) -> None:
    assert stack.start(upload(stack), PII_REDACTION="true").failures == []
    (name,) = job_names(stack)
    job = stack.transcribe_backend().transcriptions[name]
    assert job.content_redaction == {"RedactionType": "PII", "RedactionOutput": "redacted"}
    job.content_redaction["RedactionOutput"] = redaction_output  # as a job may be started
    redacted = TRANSCRIPTS / "v6-pii-redaction.json"  # names replaced by [PII]
    stack.complete_job(name, redacted.read_bytes())
    if redaction_output == "redacted_and_unredacted":
        # Transcribe's plain file holds the personal data: it must never be published.
        plain = (TRANSCRIPTS / "01-plain.json").read_bytes()
        stack.s3.put_object(Bucket=stack.output_bucket, Key=f"_transcribe/{name}.json", Body=plain)

    result = stack.invoke(PROCESS, completion(name))

    assert result["outcome"] == "published"
    assert output(stack, "transcript.json") == redacted.read_bytes()
    assert "[PII]" in output(stack, "transcript.txt").decode()
    raw_keys = [k for k in stack.output_keys() if k.startswith("_transcribe/")]
    assert f"_transcribe/redacted-{name}.json" in raw_keys


def test_redacted_job_without_a_redacted_file_is_recorded_not_published(
    stack: Stack, fake_aws_answer: Any
) -> None:
    stack.start(upload(stack), PII_REDACTION="true")
    (name,) = job_names(stack)
    source = f"s3://{stack.input_bucket}/{KEY}"
    fake_aws_answer(
        "transcribe",
        "GetTranscriptionJob",
        200,
        {
            "TranscriptionJob": {
                "TranscriptionJobName": name,
                "TranscriptionJobStatus": "COMPLETED",
                "Media": {"MediaFileUri": source},
                "ContentRedaction": {"RedactionType": "PII", "RedactionOutput": "redacted"},
                # Only the unredacted file is named: publishing it would leak PII.
                "Transcript": {"TranscriptFileUri": f"s3://{stack.output_bucket}/x.json"},
            }
        },
    )

    result = stack.invoke(PROCESS, completion(name))

    assert result["outcome"] == "failure_recorded"
    record = json.loads(output(stack, "error.json"))
    assert "never published" in record["reason"]


# -- 2. 403 for a missing key, and real 403s ---------------------------------------------
def test_a_role_without_list_bucket_sees_a_deleted_upload_as_forbidden(stack: Stack) -> None:
    """The model itself: S3's answer depends on s3:ListBucket, as documented."""
    stack.start(upload(stack))
    stack.s3.delete_object(Bucket=stack.input_bucket, Key=KEY)
    store = ObjectStore(stack.s3)
    from transcription_pipeline.naming import S3Location

    with_list = role_of_function(stack.template, PROCESS)
    without_list = Role(
        "ProcessWithoutListBucket",
        tuple(
            {"Statement": [s for s in policy["Statement"] if s.get("Action") != "s3:ListBucket"]}
            for policy in with_list.policies
        ),
    )
    with stack.enforcer.acting_as(with_list):
        assert store.head(S3Location(stack.input_bucket, KEY)) is None  # 404: missing
    with stack.enforcer.acting_as(without_list), pytest.raises(ClientError) as raised:
        store.head(S3Location(stack.input_bucket, KEY))
    assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403


def test_a_real_access_denied_is_retried_not_taken_for_a_missing_object(
    stack: Stack, fake_aws_answer: Any, caplog: pytest.LogCaptureFixture
) -> None:
    record = upload(stack)
    fake_aws_answer(
        "s3",
        "GetObject",
        403,
        {"Error": {"Code": "AccessDenied", "Message": "Access Denied"}},
    )

    with caplog.at_level(logging.WARNING):
        delivery = stack.start(record)

    # Not "gone" (that would drop the upload): put back on the queue with a delay.
    (message_id,) = delivery.message_ids
    assert delivery.failures == [message_id]
    assert stack.visible_in(message_id) == pytest.approx(retry_delay(1, message_id), abs=2)
    (warning,) = [r for r in caplog.records if "put back on the queue" in r.getMessage()]
    assert "AccessDenied" in str(warning.exc_info[1] if warning.exc_info else "")
    assert job_names(stack) == []
    assert stack.output_keys() == []


def test_an_expired_raw_transcript_gets_an_error_record(stack: Stack) -> None:
    stack.start(upload(stack))
    (name,) = job_names(stack)
    stack.complete_job(name, (TRANSCRIPTS / "01-plain.json").read_bytes())
    stack.s3.delete_object(Bucket=stack.output_bucket, Key=f"_transcribe/{name}.json")

    result = stack.invoke(PROCESS, completion(name))

    assert result["outcome"] == "failure_recorded"
    record = json.loads(output(stack, "error.json"))
    assert "no longer exists" in record["reason"]
    assert "Upload the file again" in record["reason"]


# -- 3. reconciliation: one bad item never stops the rest (test_reconcile.py) ------------
def test_a_refused_item_is_reported_by_the_schedule_and_kept(
    stack: Stack, caplog: pytest.LogCaptureFixture
) -> None:
    """A real 403 inside reconciliation (a job whose media the role may not read) is
    reported and its item kept for the next run; the run itself does not fail."""
    stack.start(upload(stack))
    (name,) = job_names(stack)
    stack.complete_job(name, (TRANSCRIPTS / "01-plain.json").read_bytes())
    job = stack.transcribe_backend().transcriptions[name]
    job.media = {"MediaFileUri": "s3://someone-elses-bucket/private.mp4"}
    stack.age_in_flight(minutes=120)

    counts = stack.invoke(RECONCILE, SCHEDULED_EVENT)

    assert counts["items_failed"] == 1
    (denial,) = stack.take_denials()
    assert denial.request.action == "s3:GetObject"
    assert [item["job_name"] for item in stack.in_flight()] == [name]
    assert any("skipped an item" in r.getMessage() for r in caplog.records)


# -- 6. a re-upload is a new upload; a repeated event is not -----------------------------
def test_identical_bytes_uploaded_again_after_a_failed_job_are_transcribed_again(
    stack: Stack,
) -> None:
    first_event = upload(stack)
    stack.start(first_event)
    (first,) = job_names(stack)
    stack.fail_job(first, "Internal failure")
    stack.invoke(PROCESS, completion(first, "FAILED"))
    assert json.loads(output(stack, "error.json"))["status"] == "FAILED"
    time.sleep(1.1)  # S3 stamps uploads to the second

    again = stack.start(upload(stack))
    assert len(job_names(stack)) == 2
    repeated = stack.start(first_event)  # the first upload's event, delivered late

    assert again.failures == repeated.failures == []
    assert len(job_names(stack)) == 2  # it reads the object as it is now: no third job
    second = next(name for name in job_names(stack) if name != first)
    stack.complete_job(second, (TRANSCRIPTS / "01-plain.json").read_bytes())
    assert stack.invoke(PROCESS, completion(second))["outcome"] == "published"
    assert "error.json" not in [k.rsplit("/", 1)[1] for k in stack.output_keys()]


def test_a_duplicate_event_after_the_answer_starts_nothing(stack: Stack) -> None:
    event = upload(stack)
    stack.start(event)
    (name,) = job_names(stack)
    stack.complete_job(name, (TRANSCRIPTS / "01-plain.json").read_bytes())
    stack.invoke(PROCESS, completion(name))

    assert stack.start(event).failures == []
    assert job_names(stack) == [name]
    # Tracked again (the job exists: ConflictException); the schedule finds it answered.
    assert [item["job_name"] for item in stack.in_flight()] == [name]
    stack.age_in_flight(minutes=120)
    assert stack.invoke(RECONCILE, SCHEDULED_EVENT)["jobs_answered"] == 1
    assert stack.in_flight() == []


def test_identical_bytes_uploaded_again_after_outputs_were_deleted_get_new_outputs(
    stack: Stack,
) -> None:
    stack.start(upload(stack))
    (first,) = job_names(stack)
    stack.complete_job(first, (TRANSCRIPTS / "01-plain.json").read_bytes())
    stack.invoke(PROCESS, completion(first))
    for key in stack.output_keys():
        stack.s3.delete_object(Bucket=stack.output_bucket, Key=key)
    time.sleep(1.1)

    assert stack.start(upload(stack)).failures == []
    assert len(job_names(stack)) == 2


# -- 7. versionId "null" -----------------------------------------------------------------
def test_version_id_null_of_a_suspended_bucket_is_answered_not_superseded(stack: Stack) -> None:
    record = upload(stack)
    record["s3"]["object"]["versionId"] = "null"

    assert stack.start(record).failures == []
    (name,) = job_names(stack)
    stack.complete_job(name, (TRANSCRIPTS / "01-plain.json").read_bytes())
    assert stack.invoke(PROCESS, completion(name))["outcome"] == "published"


# -- the Transcribe stand-in: the concurrent-job quota ------------------------------------
def test_above_the_concurrent_job_quota_a_job_waits_in_transcribe_s_queue(stack: Stack) -> None:
    set_concurrent_job_quota(1)
    stack.start(upload(stack))

    delivery = stack.start(upload(stack, "talks/second.mp4"))

    assert delivery.failures == []  # queued by Transcribe (AllowDeferredExecution)
    assert len(job_names(stack)) == 2
    assert len(stack.in_flight()) == 2


@pytest.mark.usefixtures("no_backoff")
def test_without_the_data_access_role_the_quota_sends_the_upload_back(stack: Stack) -> None:
    """Why the role is there: without JobExecutionSettings the quota refuses the job, and
    the upload can only wait on the upload queue (put back with a delay, not lost)."""
    set_concurrent_job_quota(1)
    stack.start(upload(stack))

    delivery = stack.start(upload(stack, "talks/second.mp4"), TRANSCRIBE_DATA_ACCESS_ROLE_ARN="")

    (message_id,) = delivery.message_ids
    assert delivery.failures == [message_id]
    assert stack.visible_in(message_id) == pytest.approx(retry_delay(1, message_id), abs=2)
    assert len(job_names(stack)) == 1
    assert stack.output_keys() == []  # a quota is not a rejection


def test_a_backfill_after_an_old_job_of_the_same_bytes_starts_a_new_job(stack: Stack) -> None:
    """Transcribe keeps job names taken for 90 days: a stack redeployed under the same
    name meets its predecessor's jobs. An upload whose S3 event was lost, sent again by
    backfill, gets a job name that cannot collide with them."""
    stack.start(upload(stack))
    (old,) = job_names(stack)
    stack.complete_job(old, (TRANSCRIPTS / "01-plain.json").read_bytes())
    for key in stack.output_keys():  # the old stack's buckets and table are gone
        stack.s3.delete_object(Bucket=stack.output_bucket, Key=key)
    for item in stack.in_flight():
        key_of_item = {"source_key": {"S": item["source_key"]}, "job_name": {"S": item["job_name"]}}
        stack.dynamodb.delete_item(TableName=stack.in_flight_table, Key=key_of_item)
    time.sleep(1.1)
    record = upload(stack)  # its event is lost

    delivery = stack.start(record, origin="backfill")

    assert delivery.failures == []
    assert len(job_names(stack)) == 2
    assert [item["job_name"] for item in stack.in_flight()] == [stack.job_name_of(KEY)]
    assert stack.job_name_of(KEY) != old
