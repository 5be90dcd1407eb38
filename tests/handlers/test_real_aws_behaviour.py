"""What AWS does that moto does not, and the pipeline on top of it (issue: works on the
first real deploy). Every call here is checked against the calling function's own role,
and S3 answers a missing key with 403 to a role without s3:ListBucket (conftest)."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from botocore.exceptions import ClientError

from local_pipeline.iam import Role, role_of_function
from local_pipeline.transcribe_model import set_concurrent_job_quota
from tests.conftest import MEDIA, TRANSCRIPTS
from tests.handlers.conftest import Stack, s3_record
from transcription_pipeline.aws import ObjectStore, TranscribeJobs
from transcription_pipeline.config import load_settings
from transcription_pipeline.reconcile import reconcile

START = "StartTranscriptionFunction"
PROCESS = "ProcessTranscriptFunction"
RECONCILE = "ReconcileFunction"
KEY = "talks/interview.mp4"


def upload(stack: Stack, key: str = KEY, media: str = "video.mp4") -> dict[str, Any]:
    """Put the media and return its S3 event, as S3 would send it."""
    body = (MEDIA / media).read_bytes()
    stack.s3.put_object(Bucket=stack.input_bucket, Key=key, Body=body)
    return {"Records": [s3_record(stack.input_bucket, key, body)]}


def completion(job_name: str, status: str = "COMPLETED") -> dict[str, Any]:
    return {
        "version": "0",
        "id": "5d2e8c3b-0000-4000-8000-000000000000",
        "detail-type": "Transcribe Job State Change",
        "source": "aws.transcribe",
        "account": "123456789012",
        "time": "2026-11-24T10:03:00Z",
        "region": "us-east-1",
        "resources": [],
        "detail": {"TranscriptionJobName": job_name, "TranscriptionJobStatus": status},
    }


def job_names(stack: Stack) -> list[str]:
    summaries = stack.transcribe.list_transcription_jobs()["TranscriptionJobSummaries"]
    return sorted(s["TranscriptionJobName"] for s in summaries)


def output(stack: Stack, name: str, key: str = KEY) -> bytes:
    return stack.output(f"{key}/{name}")


# -- 1. PII redaction -------------------------------------------------------------------
@pytest.mark.parametrize("redaction_output", ["redacted", "redacted_and_unredacted"])
def test_redacted_job_publishes_the_redacted_transcript_only(
    stack: Stack, redaction_output: str
) -> None:
    assert stack.invoke(START, upload(stack), PII_REDACTION="true") == {"started": 1}
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
    stack.invoke(START, upload(stack), PII_REDACTION="true")
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
    stack.invoke(START, upload(stack))
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


def test_a_real_access_denied_is_raised_not_taken_for_a_missing_object(
    stack: Stack, fake_aws_answer: Any
) -> None:
    event = upload(stack)
    fake_aws_answer(
        "s3",
        "GetObject",
        403,
        {"Error": {"Code": "AccessDenied", "Message": "Access Denied"}},
    )

    with pytest.raises(ClientError, match="AccessDenied"):
        stack.invoke(START, event)
    assert job_names(stack) == []
    assert stack.output_keys() == []


def test_an_expired_raw_transcript_gets_an_error_record(stack: Stack) -> None:
    stack.invoke(START, upload(stack))
    (name,) = job_names(stack)
    stack.complete_job(name, (TRANSCRIPTS / "01-plain.json").read_bytes())
    stack.s3.delete_object(Bucket=stack.output_bucket, Key=f"_transcribe/{name}.json")

    result = stack.invoke(PROCESS, completion(name))

    assert result["outcome"] == "failure_recorded"
    record = json.loads(output(stack, "error.json"))
    assert "no longer exists" in record["reason"]
    assert "Upload the file again" in record["reason"]


# -- 3. reconciliation: one bad item never stops the rest --------------------------------
def test_one_failing_job_does_not_stop_reconciliation(
    stack: Stack, caplog: pytest.LogCaptureFixture
) -> None:
    stack.invoke(START, upload(stack))
    stack.invoke(START, upload(stack, "talks/panel.mp4"))
    good, bad = job_names(stack)
    stack.complete_job(good, (TRANSCRIPTS / "01-plain.json").read_bytes())
    stack.complete_job(bad, (TRANSCRIPTS / "01-plain.json").read_bytes())
    # A job of ours whose media is in a bucket the role may not read: S3 refuses it.
    job = stack.transcribe_backend().transcriptions[bad]
    job.media = {"MediaFileUri": "s3://someone-elses-bucket/private.mp4"}

    counts = stack.invoke(RECONCILE, {})

    assert counts["jobs_checked"] == 2
    assert counts["jobs_published"] == 1
    assert counts["items_failed"] == 1
    (denial,) = stack.take_denials()
    assert denial.request.resource == "arn:aws:s3:::someone-elses-bucket/private.mp4"
    skipped = [r for r in caplog.records if "skipped an item" in r.getMessage()]
    assert [r.__dict__["item"] for r in skipped] == [bad]
    assert "AccessDenied" in skipped[0].__dict__["error"]


def test_reconciliation_stops_before_its_time_is_up_and_says_so(stack: Stack) -> None:
    for index in range(3):
        stack.invoke(START, upload(stack, f"talks/{index}.mp4"))
    for name in job_names(stack):
        stack.complete_job(name, (TRANSCRIPTS / "01-plain.json").read_bytes())
    looks = iter([False, True])  # time for one item, then none

    with stack.enforcer.acting_as(role_of_function(stack.template, RECONCILE)):
        report = reconcile(
            load_settings(stack.template.function(RECONCILE).environment),
            ObjectStore(stack.s3),
            TranscribeJobs(stack.transcribe),
            now=datetime.now(UTC),
            time_is_up=lambda: next(looks, True),
        )

    assert report.stopped_early
    assert report.jobs_checked == 1
    assert report.uploads_checked == 0  # not started once time ran out
    counts = stack.invoke(RECONCILE, {})  # the next run carries on
    assert counts["jobs_published"] == 2
    assert counts["stopped_early"] == 0


# -- 6. a re-upload is a new upload; a repeated event is not -----------------------------
def test_identical_bytes_uploaded_again_after_a_failed_job_are_transcribed_again(
    stack: Stack,
) -> None:
    first_event = upload(stack)
    stack.invoke(START, first_event)
    (first,) = job_names(stack)
    stack.fail_job(first, "Internal failure")
    stack.invoke(PROCESS, completion(first, "FAILED"))
    assert json.loads(output(stack, "error.json"))["status"] == "FAILED"
    time.sleep(1.1)  # S3 stamps uploads to the second

    again = stack.invoke(START, upload(stack))
    repeated = stack.invoke(START, first_event)  # the first upload's event, delivered late

    assert again == {"started": 1}
    assert repeated == {"already_started": 1}  # it reads the object as it is now
    second = next(name for name in job_names(stack) if name != first)
    stack.complete_job(second, (TRANSCRIPTS / "01-plain.json").read_bytes())
    assert stack.invoke(PROCESS, completion(second))["outcome"] == "published"
    assert "error.json" not in [k.rsplit("/", 1)[1] for k in stack.output_keys()]


def test_a_duplicate_event_after_the_answer_starts_nothing(stack: Stack) -> None:
    event = upload(stack)
    stack.invoke(START, event)
    (name,) = job_names(stack)
    stack.complete_job(name, (TRANSCRIPTS / "01-plain.json").read_bytes())
    stack.invoke(PROCESS, completion(name))

    assert stack.invoke(START, event) == {"already_started": 1}
    assert job_names(stack) == [name]


def test_identical_bytes_uploaded_again_after_outputs_were_deleted_get_new_outputs(
    stack: Stack,
) -> None:
    stack.invoke(START, upload(stack))
    (first,) = job_names(stack)
    stack.complete_job(first, (TRANSCRIPTS / "01-plain.json").read_bytes())
    stack.invoke(PROCESS, completion(first))
    for key in stack.output_keys():
        stack.s3.delete_object(Bucket=stack.output_bucket, Key=key)
    time.sleep(1.1)

    assert stack.invoke(START, upload(stack)) == {"started": 1}
    assert len(job_names(stack)) == 2


# -- 7. versionId "null" -----------------------------------------------------------------
def test_version_id_null_of_a_suspended_bucket_is_answered_not_superseded(stack: Stack) -> None:
    event = upload(stack)
    event["Records"][0]["s3"]["object"]["versionId"] = "null"

    assert stack.invoke(START, event) == {"started": 1}
    (name,) = job_names(stack)
    stack.complete_job(name, (TRANSCRIPTS / "01-plain.json").read_bytes())
    assert stack.invoke(PROCESS, completion(name))["outcome"] == "published"


# -- the Transcribe stand-in: the concurrent-job quota ------------------------------------
def test_above_the_concurrent_job_quota_the_start_is_raised_for_a_retry(stack: Stack) -> None:
    set_concurrent_job_quota(1)
    stack.invoke(START, upload(stack))

    with pytest.raises(ClientError) as raised:
        stack.invoke(START, upload(stack, "talks/second.mp4"))

    assert raised.value.response["Error"]["Code"] == "LimitExceededException"
    assert stack.output_keys() == []  # a quota is not a rejection


def test_reconcile_answers_a_lost_upload_event_after_an_old_job_of_the_same_bytes(
    stack: Stack,
) -> None:
    """Transcribe keeps job names taken for 90 days: a stack redeployed under the same
    name meets its predecessor's jobs. A new upload's job name cannot collide with them."""
    stack.invoke(START, upload(stack))
    (old,) = job_names(stack)
    stack.complete_job(old, (TRANSCRIPTS / "01-plain.json").read_bytes())
    for key in stack.output_keys():  # the old stack's buckets are gone
        stack.s3.delete_object(Bucket=stack.output_bucket, Key=key)
    time.sleep(1.1)
    upload(stack)  # its event is lost

    with stack.enforcer.acting_as(role_of_function(stack.template, RECONCILE)):
        report = reconcile(
            load_settings(stack.template.function(RECONCILE).environment),
            ObjectStore(stack.s3),
            TranscribeJobs(stack.transcribe),
            now=datetime.now(UTC) + timedelta(hours=2),
        )

    assert report.uploads_restarted == {"started": 1}
    assert len(job_names(stack)) == 2
