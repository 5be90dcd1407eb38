"""Completion events: one per final record, on the default bus, matching the documented
rule (README, Completion events), emitted after the record and retried when it fails."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest

from tests.conftest import TRANSCRIPTS
from tests.handlers.conftest import PROCESS, Stack, completion, job_names, upload

SOURCE = "transcription-pipeline.transcription-pipeline"  # transcription-pipeline.<stack>
# The sample rule of the README: every event of this stack's pipeline.
DOCUMENTED_PATTERN = {
    "source": [SOURCE],
    "detail-type": ["Transcript Published", "Transcription Failed", "Upload Rejected"],
}


@pytest.fixture
def subscriber(stack: Stack) -> Any:
    """A rule with the documented pattern on the default bus, delivering to a queue."""
    events = boto3.client("events", region_name="us-east-1")
    sqs = boto3.client("sqs", region_name="us-east-1")
    url = sqs.create_queue(QueueName="subscriber")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    events.put_rule(Name="pipeline-events", EventPattern=json.dumps(DOCUMENTED_PATTERN))
    events.put_targets(Rule="pipeline-events", Targets=[{"Id": "queue", "Arn": arn}])

    def received() -> list[dict[str, Any]]:
        messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
        return [json.loads(m["Body"]) for m in messages]

    return received


def test_a_published_transcript_is_announced_with_its_outputs(
    stack: Stack, subscriber: Any
) -> None:
    stack.start(upload(stack, "talks/one.mp3", "tone.mp3"))
    (name,) = job_names(stack)
    stack.complete_job(name, (TRANSCRIPTS / "01-plain.json").read_bytes())
    stack.invoke(PROCESS, completion(name))

    (event,) = subscriber()
    assert event["source"] == SOURCE
    assert event["detail-type"] == "Transcript Published"
    detail = event["detail"]
    assert detail["input"]["key"] == "talks/one.mp3"
    assert detail["input"]["bucket"] == stack.input_bucket
    assert detail["input"]["revision"]
    assert detail["job_name"] == name
    assert detail["outputs"]["summary.json"] == "talks/one.mp3/summary.json"
    assert detail["word_count"] > 0
    assert detail["duration_seconds"] > 0
    # The record was there before the event (what the event names exists).
    assert stack.output(detail["outputs"]["summary.json"])


def test_a_rejected_upload_and_a_failed_job_are_announced_with_the_reason(
    stack: Stack, subscriber: Any
) -> None:
    stack.start(upload(stack, "bad/video.mkv", "video.mkv"))
    stack.start(upload(stack, "talks/two.mp3", "tone.mp3"))
    (name,) = job_names(stack)
    stack.fail_job(name, "Failed to parse audio file.")
    stack.invoke(PROCESS, completion(name, "FAILED"))

    by_type = {e["detail-type"]: e["detail"] for e in subscriber()}
    assert set(by_type) == {"Upload Rejected", "Transcription Failed"}
    rejected = by_type["Upload Rejected"]
    assert rejected["input"]["key"] == "bad/video.mkv"
    assert "Matroska" in rejected["reason"]
    assert rejected["error_record"] == "bad/video.mkv/error.json"
    assert rejected["job_name"] is None
    failed = by_type["Transcription Failed"]
    assert failed["job_name"] == name
    assert failed["error_record"] == "talks/two.mp3/error.json"
    assert json.loads(stack.output(failed["error_record"]))["reason"] == failed["reason"]


@pytest.mark.usefixtures("no_backoff")
def test_a_failed_emit_keeps_the_record_and_the_retry_announces_it(
    stack: Stack, subscriber: Any, fake_aws_answer: Any
) -> None:
    stack.start(upload(stack, "talks/three.mp3", "tone.mp3"))
    (name,) = job_names(stack)
    stack.complete_job(name, (TRANSCRIPTS / "01-plain.json").read_bytes())
    eventbridge_down = [True]
    fake_aws_answer(
        "events",
        "PutEvents",
        200,
        {"FailedEntryCount": 1, "Entries": [{"ErrorCode": "InternalFailure", "ErrorMessage": "x"}]},
        when=lambda _params: eventbridge_down[0],
    )
    with pytest.raises(Exception, match="InternalFailure"):
        stack.invoke(PROCESS, completion(name))  # Lambda retries a raised error
    first = stack.output("talks/three.mp3/summary.json")  # the record came first
    assert [item["job_name"] for item in stack.in_flight()] == [name]  # still tracked
    assert subscriber() == []

    eventbridge_down[0] = False
    assert stack.invoke(PROCESS, completion(name))["outcome"] == "published"
    assert stack.output("talks/three.mp3/summary.json") == first  # the same bytes again
    (event,) = subscriber()
    assert event["detail"]["job_name"] == name
    assert stack.in_flight() == []
