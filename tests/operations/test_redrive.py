"""Dead-letter redrive: planning, replaying and moving against moto SQS, and the command line.

The start function's dead-letter queue is the upload queue's own: its messages go back to
the upload queue as they are. The other two hold events for the process function, which
are replayed to it. moto cannot run Lambda Invoke without Docker, so a botocore
before-call hook on boto3's default session answers it (the ``fake_aws_answer`` idea of
tests/handlers): it decodes what would go on the wire — function, invocation type,
payload — and answers 202, or a throttling error for the payloads a test chooses.
"""

from __future__ import annotations

import copy
import io
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote

import boto3
import pytest
from botocore.awsrequest import AWSResponse, HTTPHeaders
from moto import mock_aws

from operations.redrive import (
    SOURCE_EVENTBRIDGE_DLQ,
    RedriveReport,
    UnknownMessage,
    main,
    move_queue,
    plan_move,
    plan_redrive,
    redrive_queue,
)
from tests.conftest import REPO, load_event

ACCOUNT = "123456789012"
STACK = "transcription-pipeline"
START_ARN = f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:{STACK}-StartTranscriptionFunction-Ab1"
PROCESS_ARN = f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:{STACK}-ProcessTranscriptFunction-Cd2"
OTHER_ARN = f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:someone-elses-function"
SECRET = "words-from-the-transcript-never-printed"


S3_EVENT = load_event("s3-put.json")
COMPLETED_EVENT = load_event("transcribe-completed.json")
FAILED_EVENT = load_event("transcribe-failed.json")


def s3_event(key: str) -> dict[str, Any]:
    event = copy.deepcopy(S3_EVENT)
    event["Records"][0]["s3"]["object"]["key"] = key
    return event


def job_event(job_name: str) -> dict[str, Any]:
    event = copy.deepcopy(COMPLETED_EVENT)
    event["detail"]["TranscriptionJobName"] = job_name
    return event


def invocation_record(
    function_arn: str, payload: dict[str, Any], condition: str = "RetriesExhausted"
) -> str:
    """An on-failure destination record, laid out as Lambda writes it to SQS."""
    record = {
        "version": "1.0",
        "timestamp": "2026-11-24T10:06:01.123Z",
        "requestContext": {
            "requestId": "e4b46cbf-b738-xmpl-8880-a18cdf61200e",
            "functionArn": function_arn,
            "condition": condition,
            "approximateInvokeCount": 3,
        },
        "requestPayload": payload,
        "responseContext": {
            "statusCode": 200,
            "executedVersion": "$LATEST",
            "functionError": "Unhandled",
        },
        "responsePayload": {
            "errorMessage": f"An error occurred (ThrottlingException): {SECRET}",
            "errorType": "ClientError",
            "requestId": "e4b46cbf-b738-xmpl-8880-a18cdf61200e",
            "stackTrace": ['  File "/var/task/app.py", line 1, in lambda_handler\n'],
        },
    }
    return json.dumps(record)


# -- plan_redrive ----------------------------------------------------------------------------


def s3_notification(key: str) -> str:
    """An upload queue message body: the S3 event notification, as S3 writes it."""
    return json.dumps(s3_event(key), separators=(",", ":"))


def test_an_upload_message_is_moved_as_it_is() -> None:
    body = s3_notification("uploads/My+Talk.mp4")

    move = plan_move(body)

    assert move.body == body
    assert (
        move.summary
        == "s3://transcription-pipeline-input-123456789012-us-east-1/uploads/My+Talk.mp4"
    )


def test_an_invocation_record_of_the_old_start_function_moves_its_s3_event() -> None:
    """Left in the queue from before the upload queue, when S3 invoked the function."""
    move = plan_move(invocation_record(f"{START_ARN}:$LATEST", S3_EVENT))

    assert json.loads(move.body) == S3_EVENT
    assert move.summary == (
        "s3://transcription-pipeline-input-123456789012-us-east-1/uploads/My+Talk.mp4;"
        " RetriesExhausted after 3 attempt(s), ClientError; from an invocation record"
    )
    assert SECRET not in move.summary


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ("junk", "not JSON"),
        ("[1]", "not an object"),
        ('{"hello": "world"}', "not an S3 event notification"),
        ('{"Records": []}', "not an S3 event notification"),
        ('{"Records": [{"no": "s3"}]}', "not an S3 event notification"),
        (
            '{"Service":"Amazon S3","Event":"s3:TestEvent","Bucket":"b"}',
            "not an S3 event notification",
        ),
        (json.dumps(COMPLETED_EVENT), "not an S3 event notification"),
        (invocation_record(PROCESS_ARN, FAILED_EVENT), "payload is not an S3 event"),
    ],
)
def test_what_is_not_an_upload_message_is_not_moved(body: str, reason: str) -> None:
    with pytest.raises(UnknownMessage, match=reason):
        plan_move(body)


@pytest.mark.parametrize("qualifier", [":$LATEST", ":3", ":live", ""])
def test_process_record_replays_the_event_to_the_unqualified_process_function(
    qualifier: str,
) -> None:
    replay = plan_redrive(
        invocation_record(PROCESS_ARN + qualifier, FAILED_EVENT, condition="EventAgeExceeded"),
        process_function_arn="arn:aws:lambda:us-east-1:123456789012:function:not-used",
    )

    assert replay.function_arn == PROCESS_ARN
    assert replay.payload == FAILED_EVENT
    assert replay.summary.startswith(
        "job transcription-pipeline.My-Talk.1615274bbcc13e72 FAILED; EventAgeExceeded"
    )


def test_eventbridge_event_goes_to_the_process_function_as_it_is() -> None:
    replay = plan_redrive(json.dumps(COMPLETED_EVENT), process_function_arn=PROCESS_ARN)

    assert replay.function_arn == PROCESS_ARN
    assert replay.payload == COMPLETED_EVENT
    assert replay.source == SOURCE_EVENTBRIDGE_DLQ
    assert replay.summary == "job transcription-pipeline.My-Talk.1615274bbcc13e72 COMPLETED"


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ('{"hello": "world"}', "neither a Lambda invocation record nor an EventBridge event"),
        ("[1, 2, 3]", "not an object"),
        ('"a string"', "not an object"),
        ("null", "not an object"),
        (invocation_record(START_ARN, S3_EVENT, condition="Success"), "on-success"),
        (
            invocation_record("arn:aws:sqs:us-east-1:123456789012:queue", S3_EVENT),
            "not a Lambda function ARN",
        ),
        (
            json.dumps({"requestContext": {"functionArn": START_ARN}, "requestPayload": "text"}),
            "requestPayload is not a JSON object",
        ),
        (
            json.dumps({**COMPLETED_EVENT, "source": "aws.s3", "detail-type": "Object Created"}),
            "not a Transcribe job state change",
        ),
    ],
)
def test_junk_json_is_unknown(body: str, reason: str) -> None:
    with pytest.raises(UnknownMessage, match=reason):
        plan_redrive(body, process_function_arn=PROCESS_ARN)


@pytest.mark.parametrize("body", ["", "not json at all", '{"truncated": ', "\x00\x01"])
def test_non_json_is_unknown(body: str) -> None:
    with pytest.raises(UnknownMessage, match="not JSON"):
        plan_redrive(body, process_function_arn=PROCESS_ARN)


# -- redrive_queue against moto SQS ----------------------------------------------------------


@dataclass
class Invocation:
    function_name: str
    invocation_type: str
    payload: dict[str, Any]


@dataclass
class FakeLambda:
    """Answers lambda:Invoke on boto3's default session; records what was sent."""

    calls: list[Invocation] = field(default_factory=list)
    fails: Callable[[Invocation], bool] = lambda _call: False

    def answer(self, **kwargs: Any) -> tuple[AWSResponse, dict[str, Any]]:
        request = kwargs["params"]
        # url_path: /2015-03-31/functions/<quoted FunctionName>/invocations
        name = unquote(request["url_path"].split("/")[3])
        call = Invocation(
            function_name=name,
            invocation_type=request["headers"]["X-Amz-Invocation-Type"],
            payload=json.loads(request["body"]),
        )
        self.calls.append(call)
        if self.fails(call):
            error = {"Code": "TooManyRequestsException", "Message": "Rate exceeded"}
            parsed = {"Error": error, "ResponseMetadata": {"HTTPStatusCode": 429}}
            return AWSResponse("https://fake.invalid", 429, HTTPHeaders(), None), parsed
        parsed = {"StatusCode": 202, "ResponseMetadata": {"HTTPStatusCode": 202}}
        return AWSResponse("https://fake.invalid", 202, HTTPHeaders(), None), parsed

    def sent(self) -> list[tuple[str, str, dict[str, Any]]]:
        return [(c.function_name, c.invocation_type, c.payload) for c in self.calls]


@pytest.fixture
def fake_lambda() -> Iterator[FakeLambda]:
    fake = FakeLambda()
    session = boto3._get_default_session()
    # botocore types hooks as returning None; a before-call hook may answer instead.
    session.events.register("before-call.lambda.Invoke", fake.answer)  # type: ignore[arg-type]
    yield fake
    session.events.unregister("before-call.lambda.Invoke", fake.answer)  # type: ignore[arg-type]


@pytest.fixture
def sqs() -> Iterator[Any]:
    with mock_aws():
        yield boto3.client("sqs")


def make_queue(sqs: Any, *bodies: str, name: str = "dead-letters") -> str:
    url: str = sqs.create_queue(QueueName=name)["QueueUrl"]
    for body in bodies:
        sqs.send_message(QueueUrl=url, MessageBody=body)
    return url


def eventbridge_dlq_message(sqs: Any, url: str, event: dict[str, Any]) -> None:
    """As EventBridge writes it: the event as the body, the reason as attributes."""
    attributes = {
        "RULE_ARN": f"arn:aws:events:us-east-1:{ACCOUNT}:rule/{STACK}-transcribe-job-finished",
        "TARGET_ARN": PROCESS_ARN,
        "ERROR_CODE": "SDK_CLIENT_ERROR",
        "ERROR_MESSAGE": "Lambda returned TooManyRequestsException",
        "EXHAUSTED_RETRY_CONDITION": "MaximumRetryAttempts",
        "RETRY_ATTEMPTS": "185",
    }
    sqs.send_message(
        QueueUrl=url,
        MessageBody=json.dumps(event),
        MessageAttributes={
            key: {"DataType": "String", "StringValue": value} for key, value in attributes.items()
        },
    )


def queue_counts(sqs: Any, url: str) -> tuple[int, int]:
    """(visible, in flight) messages."""
    attributes = sqs.get_queue_attributes(
        QueueUrl=url,
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    return (
        int(attributes["ApproximateNumberOfMessages"]),
        int(attributes["ApproximateNumberOfMessagesNotVisible"]),
    )


def receive_all_now(sqs: Any, url: str) -> list[str]:
    bodies: list[str] = []
    while True:
        messages = sqs.receive_message(
            QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=0, VisibilityTimeout=30
        ).get("Messages", [])
        if not messages:
            return bodies
        bodies += [message["Body"] for message in messages]


def redrive(sqs: Any, url: str, **options: Any) -> RedriveReport:
    return redrive_queue(
        sqs,
        boto3.client("lambda"),
        url,
        process_function_arn=PROCESS_ARN,
        wait_seconds=0,
        **options,
    )


def test_each_message_is_replayed_to_its_function_with_the_original_payload_then_deleted(
    sqs: Any, fake_lambda: FakeLambda
) -> None:
    url = make_queue(
        sqs,
        invocation_record(f"{PROCESS_ARN}:$LATEST", job_event("transcription-pipeline.a.1")),
        invocation_record(f"{PROCESS_ARN}:live", FAILED_EVENT),
    )
    eventbridge_dlq_message(sqs, url, COMPLETED_EVENT)

    report = redrive(sqs, url)

    assert sorted(fake_lambda.sent(), key=str) == sorted(
        [
            (PROCESS_ARN, "Event", job_event("transcription-pipeline.a.1")),
            (PROCESS_ARN, "Event", FAILED_EVENT),
            (PROCESS_ARN, "Event", COMPLETED_EVENT),
        ],
        key=str,
    )
    assert (report.replayed, report.failed, report.skipped_unknown) == (3, 0, 0)
    assert report.ok
    assert queue_counts(sqs, url) == (0, 0)
    assert receive_all_now(sqs, url) == []
    lines = "\n".join(report.lines)
    assert "replayed to transcription-pipeline-ProcessTranscriptFunction-Cd2" in lines
    assert "job transcription-pipeline.a.1 COMPLETED; RetriesExhausted" in lines
    assert "job transcription-pipeline.My-Talk.1615274bbcc13e72 COMPLETED; EventBridge" in lines
    assert "SDK_CLIENT_ERROR" in lines
    assert SECRET not in lines


def test_more_than_one_batch_is_drained(sqs: Any, fake_lambda: FakeLambda) -> None:
    jobs = [f"transcription-pipeline.talk-{index:02}.1" for index in range(23)]
    url = make_queue(sqs, *(invocation_record(PROCESS_ARN, job_event(job)) for job in jobs))

    report = redrive(sqs, url)

    assert report.replayed == 23
    sent = [call.payload["detail"]["TranscriptionJobName"] for call in fake_lambda.calls]
    assert sorted(sent) == jobs
    assert queue_counts(sqs, url) == (0, 0)


def test_a_failed_invoke_leaves_that_message_and_deletes_the_others(
    sqs: Any, fake_lambda: FakeLambda
) -> None:
    throttled = "transcription-pipeline.throttled.1"
    url = make_queue(
        sqs,
        invocation_record(PROCESS_ARN, job_event("transcription-pipeline.one.1")),
        invocation_record(PROCESS_ARN, job_event(throttled)),
        invocation_record(PROCESS_ARN, COMPLETED_EVENT),
    )
    fake_lambda.fails = lambda call: throttled in json.dumps(call.payload)

    report = redrive(sqs, url, visibility_timeout=1)

    assert len(fake_lambda.calls) == 3  # each message tried once
    assert (report.replayed, report.failed, report.skipped_unknown) == (2, 1, 0)
    assert not report.ok
    failed_line = next(line for line in report.lines if "TooManyRequestsException" in line)
    assert "kept" in failed_line
    assert queue_counts(sqs, url) == (0, 1)  # in flight until its visibility timeout ends
    time.sleep(1.2)
    remaining = receive_all_now(sqs, url)
    assert len(remaining) == 1
    assert json.loads(remaining[0])["requestPayload"] == job_event(throttled)


def test_dry_run_invokes_nothing_and_leaves_every_message_visible(
    sqs: Any, fake_lambda: FakeLambda
) -> None:
    bodies = [
        invocation_record(f"{PROCESS_ARN}:$LATEST", COMPLETED_EVENT),
        invocation_record(PROCESS_ARN, FAILED_EVENT),
        json.dumps(COMPLETED_EVENT),
        "junk",
    ]
    url = make_queue(sqs, *bodies)

    report = redrive(sqs, url, dry_run=True)

    assert fake_lambda.calls == []
    assert (report.would_replay, report.replayed, report.skipped_unknown) == (3, 0, 1)
    assert sum("would replay to" in line for line in report.lines) == 3
    assert queue_counts(sqs, url) == (4, 0)
    assert sorted(receive_all_now(sqs, url)) == sorted(bodies)  # receivable at once


def test_unknown_messages_are_kept_visible_and_reported(sqs: Any, fake_lambda: FakeLambda) -> None:
    junk = [f"plain text mentioning {SECRET}", '{"some": "json"}']
    url = make_queue(sqs, junk[0], invocation_record(PROCESS_ARN, FAILED_EVENT), junk[1])

    report = redrive(sqs, url)

    assert fake_lambda.sent() == [(PROCESS_ARN, "Event", FAILED_EVENT)]
    assert (report.replayed, report.failed, report.skipped_unknown) == (1, 0, 2)
    assert not report.ok
    assert sum("kept, not recognised" in line for line in report.lines) == 2
    assert SECRET not in "\n".join(report.lines)
    assert sorted(receive_all_now(sqs, url)) == sorted(junk)


def test_a_record_of_another_function_is_not_replayed_when_functions_are_given(
    sqs: Any, fake_lambda: FakeLambda
) -> None:
    url = make_queue(
        sqs,
        invocation_record(f"{OTHER_ARN}:$LATEST", COMPLETED_EVENT),
        # The start function reads the upload queue now: never replayed to it.
        invocation_record(f"{START_ARN}:$LATEST", S3_EVENT),
    )

    report = redrive(sqs, url, allowed_function_arns={PROCESS_ARN})

    assert fake_lambda.calls == []
    assert report.skipped_unknown == 2
    lines = "\n".join(report.lines)
    assert "someone-elses-function, not a function of this stack" in lines
    assert "StartTranscriptionFunction-Ab1, not a function of this stack" in lines
    assert len(receive_all_now(sqs, url)) == 2


def test_max_messages_stops_early(sqs: Any, fake_lambda: FakeLambda) -> None:
    url = make_queue(
        sqs, *(invocation_record(PROCESS_ARN, job_event(f"stack.k{i}.1")) for i in range(5))
    )

    report = redrive(sqs, url, max_messages=2)

    assert report.replayed == 2
    assert len(fake_lambda.calls) == 2
    assert queue_counts(sqs, url) == (3, 0)


# -- move_queue: the start function's dead letters back to the upload queue ----------------


def receive_messages_now(sqs: Any, url: str) -> list[dict[str, Any]]:
    messages: list[dict[str, Any]] = []
    while True:
        batch = sqs.receive_message(
            QueueUrl=url,
            MaxNumberOfMessages=10,
            WaitTimeSeconds=0,
            VisibilityTimeout=30,
            AttributeNames=["All"],
            MessageAttributeNames=["All"],
        ).get("Messages", [])
        if not batch:
            return messages
        messages += batch


def send_upload(sqs: Any, url: str, key: str, origin: str | None = None) -> str:
    body = s3_notification(key)
    attributes = {"origin": {"DataType": "String", "StringValue": origin}} if origin else {}
    sqs.send_message(QueueUrl=url, MessageBody=body, MessageAttributes=attributes)
    return body


def by_body(messages: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {message["Body"]: message.get("MessageAttributes", {}) for message in messages}


def test_upload_messages_go_back_to_the_upload_queue_with_body_and_attributes(
    sqs: Any, fake_lambda: FakeLambda
) -> None:
    dead_letters = make_queue(sqs, name="start-dlq")
    uploads = make_queue(sqs, name="upload-queue")
    new_upload = send_upload(sqs, dead_letters, "uploads/new.mp4")
    reconciled = send_upload(sqs, dead_letters, "uploads/lost.mp4", origin="reconcile")
    backfilled = send_upload(sqs, dead_letters, "uploads/old.mp4", origin="backfill")

    report = move_queue(sqs, dead_letters, uploads, wait_seconds=0)

    assert (report.replayed, report.failed, report.skipped_unknown) == (3, 0, 0)
    assert report.summary("StartTranscriptionDeadLetterQueue") == (
        "StartTranscriptionDeadLetterQueue: 3 moved to the upload queue, 0 failed, 0 unknown (kept)"
    )
    assert fake_lambda.calls == []  # nothing is invoked: the queue's event source takes over
    assert queue_counts(sqs, dead_letters) == (0, 0)
    moved = receive_messages_now(sqs, uploads)
    assert by_body(moved) == {
        new_upload: {},
        reconciled: {"origin": {"StringValue": "reconcile", "DataType": "String"}},
        backfilled: {"origin": {"StringValue": "backfill", "DataType": "String"}},
    }
    lines = "\n".join(report.lines)
    assert "uploads/lost.mp4; origin reconcile" in lines
    assert "eTag" not in lines


def test_a_message_dead_lettered_by_the_redrive_policy_gets_all_its_tries_again(
    sqs: Any,
) -> None:
    """The round trip: SQS moves it after maxReceiveCount receives; moved back, it is a
    new message whose receive count starts again."""
    dead_letters = make_queue(sqs, name="start-dlq")
    dead_letters_arn = sqs.get_queue_attributes(QueueUrl=dead_letters, AttributeNames=["QueueArn"])[
        "Attributes"
    ]["QueueArn"]
    redrive_policy = {"deadLetterTargetArn": dead_letters_arn, "maxReceiveCount": 2}
    uploads = sqs.create_queue(
        QueueName="upload-queue",
        Attributes={"VisibilityTimeout": "0", "RedrivePolicy": json.dumps(redrive_policy)},
    )["QueueUrl"]
    body = send_upload(sqs, uploads, "uploads/stuck.mp4", origin="backfill")
    for _ in range(2):
        assert len(sqs.receive_message(QueueUrl=uploads)["Messages"]) == 1  # never deleted
    assert sqs.receive_message(QueueUrl=uploads).get("Messages", []) == []
    assert queue_counts(sqs, dead_letters) == (1, 0)

    report = move_queue(sqs, dead_letters, uploads, wait_seconds=0)

    assert report.replayed == 1
    (again,) = receive_messages_now(sqs, uploads)
    assert again["Body"] == body
    assert again["Attributes"]["ApproximateReceiveCount"] == "1"
    assert again["MessageAttributes"]["origin"]["StringValue"] == "backfill"


def test_an_old_invocation_record_goes_back_as_its_s3_event(sqs: Any) -> None:
    dead_letters = make_queue(sqs, invocation_record(START_ARN, S3_EVENT), name="start-dlq")
    uploads = make_queue(sqs, name="upload-queue")

    report = move_queue(sqs, dead_letters, uploads, wait_seconds=0)

    assert report.replayed == 1
    (moved,) = receive_messages_now(sqs, uploads)
    assert json.loads(moved["Body"]) == S3_EVENT
    assert "MessageAttributes" not in moved


def test_messages_that_are_not_uploads_stay_in_the_dead_letter_queue(sqs: Any) -> None:
    junk = [
        f"plain text mentioning {SECRET}",
        json.dumps(COMPLETED_EVENT),
        invocation_record(PROCESS_ARN, FAILED_EVENT),
    ]
    dead_letters = make_queue(sqs, *junk, name="start-dlq")
    uploads = make_queue(sqs, name="upload-queue")
    send_upload(sqs, dead_letters, "uploads/real.mp4")

    report = move_queue(sqs, dead_letters, uploads, wait_seconds=0)

    assert (report.replayed, report.skipped_unknown) == (1, 3)
    assert not report.ok
    assert SECRET not in "\n".join(report.lines)
    assert sorted(receive_all_now(sqs, dead_letters)) == sorted(junk)  # visible at once
    assert len(receive_all_now(sqs, uploads)) == 1


def test_a_dry_run_moves_nothing(sqs: Any) -> None:
    dead_letters = make_queue(sqs, name="start-dlq")
    uploads = make_queue(sqs, name="upload-queue")
    send_upload(sqs, dead_letters, "uploads/a.mp4", origin="reconcile")

    report = move_queue(sqs, dead_letters, uploads, wait_seconds=0, dry_run=True)

    assert (report.would_replay, report.replayed) == (1, 0)
    assert "would move to the upload queue" in report.lines[0]
    assert report.lines[0].endswith(
        "(s3://transcription-pipeline-input-123456789012-us-east-1/uploads/a.mp4; origin reconcile)"
    )
    assert queue_counts(sqs, dead_letters) == (1, 0)
    assert queue_counts(sqs, uploads) == (0, 0)


def test_a_failed_send_keeps_the_message(sqs: Any) -> None:
    dead_letters = make_queue(sqs, name="start-dlq")
    send_upload(sqs, dead_letters, "uploads/a.mp4")
    gone = "https://sqs.us-east-1.amazonaws.com/123456789012/no-such-queue"

    report = move_queue(sqs, dead_letters, gone, wait_seconds=0, visibility_timeout=1)

    assert (report.replayed, report.failed) == (0, 1)
    assert "kept, sending it to the upload queue failed" in report.lines[0]
    assert queue_counts(sqs, dead_letters) == (0, 1)  # back after its visibility timeout
    time.sleep(1.2)
    assert len(receive_all_now(sqs, dead_letters)) == 1


# -- the command line ------------------------------------------------------------------------

QUEUE_NAMES = {
    "StartTranscriptionDeadLetterQueue": "start-dlq",
    "ProcessTranscriptDeadLetterQueue": "process-dlq",
    "JobEventsDeadLetterQueue": "events-dlq",
    "UploadQueue": "upload-queue",
}


def stack_template(*, without: str = "") -> str:
    outputs: dict[str, Any] = {
        f"{logical_id}Url": {"Value": {"Ref": logical_id}} for logical_id in QUEUE_NAMES
    }
    outputs["StartTranscriptionFunctionArn"] = {"Value": START_ARN}
    outputs["ProcessTranscriptFunctionArn"] = {"Value": PROCESS_ARN}
    outputs.pop(without, None)
    template = {
        "AWSTemplateFormatVersion": "2010-09-09",
        "Resources": {
            logical_id: {"Type": "AWS::SQS::Queue", "Properties": {"QueueName": name}}
            for logical_id, name in QUEUE_NAMES.items()
        },
        "Outputs": outputs,
    }
    return json.dumps(template)


@dataclass
class DeployedStack:
    sqs: Any
    queues: dict[str, str]  # logical id -> URL


@pytest.fixture
def deployed() -> Iterator[DeployedStack]:
    with mock_aws():
        cloudformation = boto3.client("cloudformation")
        cloudformation.create_stack(StackName=STACK, TemplateBody=stack_template())
        outputs = cloudformation.describe_stacks(StackName=STACK)["Stacks"][0]["Outputs"]
        by_key = {output["OutputKey"]: output["OutputValue"] for output in outputs}
        queues = {logical_id: by_key[f"{logical_id}Url"] for logical_id in QUEUE_NAMES}
        yield DeployedStack(boto3.client("sqs"), queues)


def run_cli(*arguments: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main([*arguments, "--wait-seconds", "0"], stdout=out, stderr=err)
    return code, out.getvalue(), err.getvalue()


def summary_lines(output: str) -> list[str]:
    return [line for line in output.splitlines() if not line.startswith(" ")]


def test_cli_redrives_every_queue_and_prints_one_summary_line_each(
    deployed: DeployedStack, fake_lambda: FakeLambda
) -> None:
    start_url = deployed.queues["StartTranscriptionDeadLetterQueue"]
    keys = ("uploads/a.mp4", "uploads/b.mp4", "uploads/c.mp4")
    bodies = [send_upload(deployed.sqs, start_url, key, origin="backfill") for key in keys]
    deployed.sqs.send_message(
        QueueUrl=deployed.queues["ProcessTranscriptDeadLetterQueue"],
        MessageBody=invocation_record(f"{PROCESS_ARN}:$LATEST", FAILED_EVENT),
    )
    eventbridge_dlq_message(
        deployed.sqs, deployed.queues["JobEventsDeadLetterQueue"], COMPLETED_EVENT
    )

    code, out, err = run_cli("--stack-name", STACK, "--region", "us-east-1")

    assert (code, err) == (0, "")
    assert summary_lines(out) == [
        "StartTranscriptionDeadLetterQueue: 3 moved to the upload queue, 0 failed,"
        " 0 unknown (kept)",
        "ProcessTranscriptDeadLetterQueue: 1 replayed, 0 failed, 0 unknown (kept)",
        "JobEventsDeadLetterQueue: 1 replayed, 0 failed, 0 unknown (kept)",
    ]
    assert sorted(fake_lambda.sent(), key=str) == sorted(
        [(PROCESS_ARN, "Event", FAILED_EVENT), (PROCESS_ARN, "Event", COMPLETED_EVENT)],
        key=str,
    )
    moved = receive_messages_now(deployed.sqs, deployed.queues["UploadQueue"])
    backfill = {"origin": {"StringValue": "backfill", "DataType": "String"}}
    assert by_body(moved) == {body: backfill for body in bodies}
    dead_letter_queues = [url for name, url in deployed.queues.items() if name != "UploadQueue"]
    assert all(queue_counts(deployed.sqs, url) == (0, 0) for url in dead_letter_queues)
    assert SECRET not in out


def test_cli_exits_non_zero_when_something_is_unknown_or_failed(
    deployed: DeployedStack, fake_lambda: FakeLambda
) -> None:
    start_url = deployed.queues["StartTranscriptionDeadLetterQueue"]
    deployed.sqs.send_message(QueueUrl=start_url, MessageBody="junk")
    send_upload(deployed.sqs, start_url, "uploads/a.mp4")
    deployed.sqs.send_message(
        QueueUrl=deployed.queues["ProcessTranscriptDeadLetterQueue"],
        MessageBody=invocation_record(PROCESS_ARN, FAILED_EVENT),
    )
    fake_lambda.fails = lambda call: call.function_name == PROCESS_ARN

    code, out, _ = run_cli("--stack-name", STACK)

    assert code == 1
    assert summary_lines(out) == [
        "StartTranscriptionDeadLetterQueue: 1 moved to the upload queue, 0 failed,"
        " 1 unknown (kept)",
        "ProcessTranscriptDeadLetterQueue: 0 replayed, 1 failed, 0 unknown (kept)",
        "JobEventsDeadLetterQueue: 0 replayed, 0 failed, 0 unknown (kept)",
    ]
    assert "  StartTranscriptionDeadLetterQueue " in out  # per-message lines, indented
    assert "not recognised: body is not JSON" in out


def test_cli_dry_run_of_one_queue_changes_nothing(
    deployed: DeployedStack, fake_lambda: FakeLambda
) -> None:
    start_url = deployed.queues["StartTranscriptionDeadLetterQueue"]
    send_upload(deployed.sqs, start_url, "uploads/a.mp4")

    code, out, _ = run_cli("--stack-name", STACK, "--queue", "start", "--dry-run")

    assert code == 0
    assert summary_lines(out) == [
        "StartTranscriptionDeadLetterQueue: 1 to move to the upload queue, 0 unknown (kept)"
        " [dry run: nothing sent or deleted]"
    ]
    assert fake_lambda.calls == []
    assert queue_counts(deployed.sqs, start_url) == (1, 0)
    assert queue_counts(deployed.sqs, deployed.queues["UploadQueue"]) == (0, 0)


def test_cli_missing_stack_is_a_clean_error() -> None:
    with mock_aws():
        code, out, err = run_cli("--stack-name", "no-such-stack")

    assert code == 2
    assert out == ""
    assert err == "error: stack 'no-such-stack' does not exist in us-east-1\n"


def test_cli_missing_output_is_a_clean_error() -> None:
    with mock_aws():
        boto3.client("cloudformation").create_stack(
            StackName="old-stack",
            TemplateBody=stack_template(without="JobEventsDeadLetterQueueUrl"),
        )
        code, _, err = run_cli("--stack-name", "old-stack")
        only_start, _, _ = run_cli("--stack-name", "old-stack", "--queue", "start")

    assert code == 2
    assert "has no output JobEventsDeadLetterQueueUrl" in err
    assert "Traceback" not in err
    assert only_start == 0  # the outputs a single queue needs are there


def test_cli_start_needs_the_upload_queue_and_nothing_else_of_the_functions() -> None:
    with mock_aws():
        cloudformation = boto3.client("cloudformation")
        cloudformation.create_stack(
            StackName="no-upload-queue", TemplateBody=stack_template(without="UploadQueueUrl")
        )
        cloudformation.create_stack(
            StackName="no-process-arn",
            TemplateBody=stack_template(without="ProcessTranscriptFunctionArn"),
        )
        start_code, _, start_err = run_cli("--stack-name", "no-upload-queue", "--queue", "start")
        process_code, _, _ = run_cli("--stack-name", "no-upload-queue", "--queue", "process")
        only_start, _, _ = run_cli("--stack-name", "no-process-arn", "--queue", "start")

    assert start_code == 2
    assert "has no output UploadQueueUrl" in start_err
    assert process_code == 0
    assert only_start == 0


def test_module_runs_and_honours_aws_endpoint_url() -> None:
    """``python -m operations.redrive``: the endpoint comes from the environment only;
    an unreachable one is a clean error (nothing listens on the discard port)."""
    env = {
        **os.environ,
        "AWS_ENDPOINT_URL": "http://127.0.0.1:9",
        "AWS_MAX_ATTEMPTS": "1",
    }
    result = subprocess.run(
        [sys.executable, "-m", "operations.redrive", "--stack-name", STACK],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert "127.0.0.1:9" in result.stderr
