"""ProcessTranscriptFunction under moto, driven by the files in events/."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
from aws_lambda_powertools.logging.formatter import LambdaPowertoolsFormatter
from botocore.exceptions import ClientError

from tests.conftest import MEDIA, TRANSCRIPTS, load_event
from tests.handlers.conftest import (
    EVERY_OUTPUT,
    OUTPUT_PREFIX,
    SAMPLE_KEY,
    ApiCall,
    Stack,
    complete_sample_job,
    completion,
    job_event,
    job_names,
    outputs,
    sample_job,
    start_sample_job,
    upload,
)
from transcription_pipeline.process import JobNotFinished

PROCESS = "ProcessTranscriptFunction"


def test_completed_event_publishes_every_output(stack: Stack) -> None:
    raw = complete_sample_job(stack, "03-speaker-identification.json")

    result = stack.invoke(PROCESS, job_event(stack))

    assert result == {"outcome": "published", "job_name": sample_job(stack)}
    files = outputs(stack)
    assert sorted(files) == EVERY_OUTPUT
    assert files["transcript.json"] == raw  # byte for byte
    summary = json.loads(files["summary.json"])
    assert summary["source"] == {"bucket": stack.input_bucket, "key": "uploads/My Talk.mp4"}
    assert summary["job_name"] == sample_job(stack)
    assert summary["language_code"] == "en-US"  # from the job: this transcript has none
    spoken = [
        item for item in json.loads(raw)["results"]["items"] if item["type"] == "pronunciation"
    ]
    assert summary["word_count"] == len(spoken)
    assert [s["label"] for s in summary["speakers"]] == ["spk_0", "spk_1", "spk_2"]
    assert files["transcript.txt"].decode().startswith("[00:00] spk_0: She was gone")
    assert files["subtitles.srt"].decode().startswith("1\n00:00:00,490 --> ")
    assert files["subtitles.vtt"].decode().startswith("WEBVTT\n\n")
    markdown = files["summary.md"].decode()
    assert "## Highlights" in markdown
    assert summary["highlights"][0]["text"] in markdown


def test_outputs_carry_content_types(stack: Stack) -> None:
    complete_sample_job(stack, "01-plain.json")
    stack.invoke(PROCESS, job_event(stack))

    def content_type(name: str) -> str:
        head = stack.s3.head_object(Bucket=stack.output_bucket, Key=OUTPUT_PREFIX + name)
        return str(head["ContentType"])

    assert content_type("summary.json") == "application/json"
    assert content_type("subtitles.vtt") == "text/vtt; charset=utf-8"
    assert content_type("summary.md") == "text/markdown; charset=utf-8"


def test_processing_the_same_event_twice_gives_the_same_objects(stack: Stack) -> None:
    complete_sample_job(stack, "03-speaker-identification.json")

    stack.invoke(PROCESS, job_event(stack))
    first = outputs(stack)
    stack.invoke(PROCESS, job_event(stack))

    assert outputs(stack) == first


def test_created_at_is_the_job_completion_time(stack: Stack) -> None:
    complete_sample_job(stack, "01-plain.json")
    job = stack.transcribe.get_transcription_job(TranscriptionJobName=sample_job(stack))[
        "TranscriptionJob"
    ]

    stack.invoke(PROCESS, job_event(stack))

    created_at = json.loads(stack.output(OUTPUT_PREFIX + "summary.json"))["created_at"]
    parsed = datetime.fromisoformat(created_at.replace("Z", "+00:00"))
    assert parsed == job["CompletionTime"].astimezone(UTC)


def test_empty_transcript_still_gives_every_file(stack: Stack) -> None:
    complete_sample_job(stack, "v4-empty.json")

    stack.invoke(PROCESS, job_event(stack))

    files = outputs(stack)
    assert sorted(files) == EVERY_OUTPUT
    assert files["subtitles.srt"] == b""
    assert files["subtitles.vtt"] == b"WEBVTT\n"
    summary = json.loads(files["summary.json"])
    assert summary["no_speech"] is True
    assert summary["word_count"] == 0
    assert "no speech" in files["summary.md"].decode().lower()


def test_success_replaces_an_earlier_error_record(stack: Stack) -> None:
    stack.s3.put_object(Bucket=stack.output_bucket, Key=OUTPUT_PREFIX + "error.json", Body=b"{}")
    complete_sample_job(stack, "01-plain.json")

    stack.invoke(PROCESS, job_event(stack))

    assert sorted(outputs(stack)) == EVERY_OUTPUT


def failed_job_answer(job_name: str, reason: str) -> dict[str, Any]:
    """GetTranscriptionJob as Transcribe answers for a failed job (moto never fails one)."""
    return {
        "TranscriptionJob": {
            "TranscriptionJobName": job_name,
            "TranscriptionJobStatus": "FAILED",
            "FailureReason": reason,
            "Media": {
                "MediaFileUri": "s3://transcription-pipeline-input-123456789012-us-east-1/"
                "uploads/My Talk.mp4"
            },
            "CompletionTime": datetime(2026, 11, 24, 10, 3, tzinfo=UTC),
        }
    }


def test_failed_event_writes_error_json_with_the_reason(stack: Stack, fake_aws_answer: Any) -> None:
    start_sample_job(stack)
    stack.s3.put_object(Bucket=stack.output_bucket, Key=OUTPUT_PREFIX + "summary.md", Body=b"old")
    reason = "Unsupported media format: the media file has no audio stream."
    fake_aws_answer(
        "transcribe", "GetTranscriptionJob", 200, failed_job_answer(sample_job(stack), reason)
    )

    result = stack.invoke(PROCESS, job_event(stack, "transcribe-failed.json"))

    assert result["outcome"] == "failure_recorded"
    assert sorted(outputs(stack)) == ["error.json"]  # the stale output went too
    record = json.loads(stack.output(OUTPUT_PREFIX + "error.json"))
    assert record["status"] == "FAILED"
    assert record["transcribe_failure_reason"] == reason
    assert record["reason"] == (
        "The file has no audio track to transcribe (a video without sound?)."
    )
    assert record["job_name"] == sample_job(stack)
    assert record["created_at"] == "2026-11-24T10:03:00Z"


def test_event_for_an_unknown_job_is_ignored(stack: Stack) -> None:
    result = stack.invoke(PROCESS, load_event("transcribe-completed.json"))  # no such job

    assert result["outcome"] == "unknown"
    assert stack.output_keys() == []


def test_event_for_another_applications_job_is_ignored(stack: Stack, fake_aws_answer: Any) -> None:
    event = load_event("transcribe-completed.json")
    event["detail"]["TranscriptionJobName"] = "someone-elses-job"
    calls = fake_aws_answer("transcribe", "GetTranscriptionJob", 200, {})

    result = stack.invoke(PROCESS, event)

    assert result["outcome"] == "foreign"
    assert calls == []  # not even looked up
    assert stack.output_keys() == []


@pytest.mark.parametrize(
    "event",
    [
        {"detail-type": "Transcribe Job State Change", "source": "aws.transcribe"},
        {
            "detail-type": "Transcribe Job State Change",
            "source": "aws.transcribe",
            "detail": {"TranscriptionJobName": 7},
        },
        {"detail-type": "Object Created", "source": "aws.s3", "detail": {}},
    ],
)
def test_malformed_events_are_logged_and_dropped(stack: Stack, event: dict[str, Any]) -> None:
    assert stack.invoke(PROCESS, event) == {"outcome": "malformed"}
    assert stack.output_keys() == []


def test_job_not_yet_finished_is_raised_for_retry(stack: Stack) -> None:
    start_sample_job(stack)  # moto reports the job QUEUED on the first look

    with pytest.raises(JobNotFinished, match="QUEUED"):
        stack.invoke(PROCESS, job_event(stack))
    assert stack.output_keys() == []


def test_logs_carry_counts_but_never_transcript_text(
    stack: Stack, caplog: pytest.LogCaptureFixture
) -> None:
    raw = complete_sample_job(stack, "03-speaker-identification.json")
    caplog.clear()

    stack.invoke(PROCESS, job_event(stack))

    # Format records as Powertools writes them to CloudWatch: message plus every extra key.
    formatter = LambdaPowertoolsFormatter()
    logged = "\n".join(formatter.format(record) for record in caplog.records).lower()
    spoken = [
        item["alternatives"][0]["content"].lower()
        for item in json.loads(raw)["results"]["items"]
        if item["type"] == "pronunciation"
    ]
    phrases = {" ".join(spoken[i : i + 3]) for i in range(len(spoken) - 2)}
    assert '"word_count":354' in logged.replace(" ", "")
    assert "she was gone" in phrases  # the check below looks for real phrases
    assert sorted(phrase for phrase in phrases if phrase in logged) == []


def test_outputs_carry_the_source_revision_and_job(stack: Stack) -> None:
    complete_sample_job(stack, "01-plain.json")
    uploaded = stack.s3.head_object(Bucket=stack.input_bucket, Key="uploads/My Talk.mp4")
    # video.mp4's eTag and the upload's time: identical bytes uploaded later are a new revision
    revision = "7372c15e30c9f4dbbd8fa2cecd611189@" + uploaded["LastModified"].strftime(
        "%Y%m%dT%H%M%SZ"
    )

    stack.invoke(PROCESS, job_event(stack))

    for name in EVERY_OUTPUT:
        head = stack.s3.head_object(Bucket=stack.output_bucket, Key=OUTPUT_PREFIX + name)
        assert head["Metadata"] == {"source-revision": revision, "job-name": sample_job(stack)}


def test_a_late_answer_for_replaced_content_is_not_published(stack: Stack) -> None:
    """Key re-uploaded with new content while the old job ran: the old job's completion
    (late, reordered or replayed) must not overwrite the answer for the new content."""
    complete_sample_job(stack, "01-plain.json")
    stack.s3.put_object(
        Bucket=stack.input_bucket,
        Key="uploads/My Talk.mp4",
        Body=(MEDIA / "faststart.mp4").read_bytes(),
    )

    result = stack.invoke(PROCESS, job_event(stack))

    assert result["outcome"] == "superseded"
    assert outputs(stack) == {}


def test_an_answer_is_still_written_when_the_source_was_deleted(stack: Stack) -> None:
    complete_sample_job(stack, "01-plain.json")
    stack.s3.delete_object(Bucket=stack.input_bucket, Key="uploads/My Talk.mp4")

    result = stack.invoke(PROCESS, job_event(stack))

    assert result["outcome"] == "published"
    assert sorted(outputs(stack)) == EVERY_OUTPUT


# -- the in-flight table: an answered job is no longer in flight -------------------------------


def in_flight_jobs(stack: Stack) -> list[str]:
    return [item["job_name"] for item in stack.in_flight()]


def test_publishing_removes_the_in_flight_item_after_the_record(
    stack: Stack, api_calls: list[ApiCall]
) -> None:
    complete_sample_job(stack, "01-plain.json")
    assert in_flight_jobs(stack) == [sample_job(stack)]
    api_calls.clear()

    stack.invoke(PROCESS, job_event(stack))

    assert in_flight_jobs(stack) == []
    operations = [
        (c.operation, c.params.get("Key", "") if c.service == "s3" else "") for c in api_calls
    ]
    removed = operations.index(("DeleteItem", ""))
    recorded = operations.index(("PutObject", OUTPUT_PREFIX + "summary.json"))
    assert recorded < removed  # an item removed too early could leave an upload unanswered
    (delete,) = [c for c in api_calls if c.operation == "DeleteItem"]
    assert delete.params["Key"] == {
        "source_key": {"S": "uploads/My Talk.mp4"},
        "job_name": {"S": sample_job(stack)},
    }


def test_a_recorded_failure_removes_the_in_flight_item(stack: Stack, fake_aws_answer: Any) -> None:
    start_sample_job(stack)
    fake_aws_answer(
        "transcribe",
        "GetTranscriptionJob",
        200,
        failed_job_answer(sample_job(stack), "Internal failure"),
    )

    result = stack.invoke(PROCESS, job_event(stack, "transcribe-failed.json"))

    assert result["outcome"] == "failure_recorded"
    assert in_flight_jobs(stack) == []


def test_a_superseded_job_removes_its_in_flight_item(stack: Stack) -> None:
    complete_sample_job(stack, "01-plain.json")
    stack.s3.put_object(
        Bucket=stack.input_bucket, Key=SAMPLE_KEY, Body=(MEDIA / "faststart.mp4").read_bytes()
    )

    assert stack.invoke(PROCESS, job_event(stack))["outcome"] == "superseded"
    assert in_flight_jobs(stack) == []  # the new upload has (or gets) its own item


@pytest.mark.usefixtures("no_backoff")
def test_an_item_stays_in_flight_when_publishing_fails(stack: Stack, fake_aws_answer: Any) -> None:
    complete_sample_job(stack, "01-plain.json")
    fake_aws_answer(
        "s3",
        "PutObject",
        503,
        {"Error": {"Code": "SlowDown", "Message": "Please reduce your request rate."}},
    )

    with pytest.raises(ClientError, match="SlowDown"):
        stack.invoke(PROCESS, job_event(stack))

    assert in_flight_jobs(stack) == [sample_job(stack)]  # reconciliation finds it


def test_an_unfinished_job_stays_in_flight(stack: Stack) -> None:
    start_sample_job(stack)

    with pytest.raises(JobNotFinished):
        stack.invoke(PROCESS, job_event(stack))

    assert in_flight_jobs(stack) == [sample_job(stack)]


def test_events_of_unknown_and_foreign_jobs_touch_no_item(
    stack: Stack, api_calls: list[ApiCall]
) -> None:
    start_sample_job(stack)
    foreign = load_event("transcribe-completed.json")
    foreign["detail"]["TranscriptionJobName"] = "someone-elses-job"
    api_calls.clear()

    assert stack.invoke(PROCESS, load_event("transcribe-completed.json"))["outcome"] == "unknown"
    assert stack.invoke(PROCESS, foreign)["outcome"] == "foreign"

    assert [c for c in api_calls if c.service == "dynamodb"] == []
    assert in_flight_jobs(stack) == [sample_job(stack)]


def test_the_duration_is_the_recording_s_length_from_its_header(stack: Stack) -> None:
    # The sample upload is tests/media/video.mp4 (1.6 s, its moov in the first 64 KiB);
    # the transcript it is paired with here runs to 141.54 s.
    complete_sample_job(stack, "03-speaker-identification.json")

    stack.invoke(PROCESS, job_event(stack))

    files = outputs(stack)
    summary = json.loads(files["summary.json"])
    assert summary["duration_seconds"] == 1.6
    assert summary["duration_source"] == "media header"
    assert "- **Duration:** 0:00:02 (from the media header)" in files["summary.md"].decode()


def test_without_a_length_in_the_header_the_duration_is_the_transcript_s(stack: Stack) -> None:
    # Ogg Opus keeps its length at the end of the file, beyond the first 64 KiB.
    assert stack.start(upload(stack, "talks/a.ogg", "opus.ogg")).failures == []
    (name,) = job_names(stack)
    stack.complete_job(name, (TRANSCRIPTS / "03-speaker-identification.json").read_bytes())

    stack.invoke(PROCESS, completion(name))

    summary = json.loads(stack.output("talks/a.ogg/summary.json"))
    assert summary["duration_seconds"] == 141.54
    assert summary["duration_source"] == "transcript"
    assert "- **Duration:** 0:02:22\n" in stack.output("talks/a.ogg/summary.md").decode()


def test_summary_json_is_written_last(stack: Stack, api_calls: list[ApiCall]) -> None:
    # The record readers wait for: once it exists, every other output does.
    complete_sample_job(stack, "03-speaker-identification.json")

    stack.invoke(PROCESS, job_event(stack))

    written = [
        call.params["Key"].removeprefix(OUTPUT_PREFIX)
        for call in api_calls
        if call.operation == "PutObject" and call.params["Key"].startswith(OUTPUT_PREFIX)
    ]
    assert sorted(written) == EVERY_OUTPUT
    assert written[-1] == "summary.json"
