"""The local cloud runs the template's SQS event source as Lambda does.

Lambda Developer Guide, "Using Lambda with Amazon SQS" and "Handling errors for an SQS
event source": the function gets up to BatchSize messages in one event; with
``ReportBatchItemFailures`` the messages it names in ``batchItemFailures`` stay in the
queue (with the visibility the function gave them) and the others are deleted; a
function that raises leaves the whole batch, which comes back after the visibility
timeout; the queue's redrive policy moves a message to the dead-letter queue once it has
been received maxReceiveCount times.

No speech model: the handlers are replaced by the tests' own, so only the wiring runs.
"""

from __future__ import annotations

import hashlib
import io
import json
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from local_pipeline.cloud import (
    Invocation,
    LocalCloud,
    _failed_items,
    _s3_notification_configuration,
    default_template,
)
from local_pipeline.invoke import Handler
from local_pipeline.template import FunctionSpec, Template
from tests.conftest import REPO

START = "StartTranscriptionFunction"
UPLOAD_QUEUE = "UploadQueue"
DEAD_LETTERS = "StartTranscriptionDeadLetterQueue"
VISIBILITY = 1  # the queues' visibility timeout in these tests, seconds

StartHandler = Callable[[dict[str, Any]], Any]


@dataclass
class Deliveries:
    """Every record the start handler got, and the events (batches) they came in."""

    events: list[dict[str, Any]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def records(self, body_prefix: str = "") -> list[dict[str, Any]]:
        with self.lock:
            return [
                record
                for event in self.events
                for record in event["Records"]
                if record["body"].startswith(body_prefix)
            ]

    def bodies(self, body_prefix: str = "") -> list[str]:
        return [record["body"] for record in self.records(body_prefix)]


@dataclass
class Harness:
    cloud: LocalCloud
    deliveries: Deliveries
    behaviour: dict[str, StartHandler]  # "start": what the start handler does

    @property
    def sqs(self) -> Any:
        return self.cloud.client("sqs")

    def send(self, *bodies: str, origin: str | None = None) -> None:
        attributes = {"origin": {"DataType": "String", "StringValue": origin}} if origin else {}
        self.sqs.send_message_batch(
            QueueUrl=self.cloud.queue_url(UPLOAD_QUEUE),
            Entries=[
                {"Id": str(index), "MessageBody": body, "MessageAttributes": attributes}
                for index, body in enumerate(bodies)
            ],
        )

    def counts(self, logical_id: str) -> tuple[int, int]:
        """(visible, in flight) messages of one of the template's queues."""
        attributes = self.sqs.get_queue_attributes(
            QueueUrl=self.cloud.queue_url(logical_id),
            AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
        )["Attributes"]
        return (
            int(attributes["ApproximateNumberOfMessages"]),
            int(attributes["ApproximateNumberOfMessagesNotVisible"]),
        )


def wait_until(condition: Callable[[], bool], timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def cloud_with_start_handler(
    template: Template, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Harness]:
    deliveries = Deliveries()
    behaviour: dict[str, StartHandler] = {"start": lambda _event: {"batchItemFailures": []}}

    def load(spec: FunctionSpec) -> Handler:
        def handler(event: dict[str, Any], _context: Any) -> Any:
            if spec.logical_id != START:
                return None
            with deliveries.lock:
                deliveries.events.append(event)
            if event["Records"][0]["body"].startswith('{"Service": "Amazon S3"'):
                return {"batchItemFailures": []}  # the s3:TestEvent of the set-up
            return behaviour["start"](event)

        return handler

    monkeypatch.setattr("local_pipeline.cloud.load_handler", load)
    with LocalCloud(template, visibility_timeout=VISIBILITY) as cloud:
        ready = Harness(cloud, deliveries, behaviour)
        # S3 tests the notification when it is set up; that message is out of the way first.
        wait_until(lambda: "s3:TestEvent" in "".join(deliveries.bodies('{"Service"')))
        wait_until(lambda: ready.counts(UPLOAD_QUEUE) == (0, 0))
        yield ready


@pytest.fixture
def harness(monkeypatch: pytest.MonkeyPatch) -> Iterator[Harness]:
    yield from cloud_with_start_handler(default_template(REPO), monkeypatch)


def test_an_upload_reaches_the_start_function_through_the_template_queue(
    harness: Harness,
) -> None:
    """The bucket's NotificationConfiguration from the template: S3 -> UploadQueue."""
    bucket = harness.cloud.bucket_name("InputBucket")
    harness.cloud.client("s3").put_object(Bucket=bucket, Key="talks/my talk.mp4", Body=b"x")

    wait_until(lambda: bool(harness.deliveries.records('{"Records"')))

    (record,) = harness.deliveries.records('{"Records"')
    (s3_record,) = json.loads(record["body"])["Records"]
    assert s3_record["eventName"].startswith("ObjectCreated:")
    assert s3_record["s3"]["bucket"]["name"] == bucket
    assert s3_record["s3"]["object"]["key"] == "talks/my+talk.mp4"
    assert record["eventSourceARN"] == (
        "arn:aws:sqs:us-east-1:123456789012:transcription-pipeline-UploadQueue"
    )
    wait_until(lambda: harness.counts(UPLOAD_QUEUE) == (0, 0))  # deleted after success


def test_each_record_has_the_shape_lambda_gives_it(harness: Harness) -> None:
    harness.send('{"shape": 1}', origin="reconcile")

    wait_until(lambda: bool(harness.deliveries.records('{"shape"')))

    (record,) = harness.deliveries.records('{"shape"')
    assert set(record) == {
        "messageId",
        "receiptHandle",
        "body",
        "attributes",
        "messageAttributes",
        "md5OfBody",
        "md5OfMessageAttributes",
        "eventSource",
        "eventSourceARN",
        "awsRegion",
    }
    assert record["body"] == '{"shape": 1}'
    assert record["md5OfBody"] == hashlib.md5(b'{"shape": 1}').hexdigest()
    assert record["messageAttributes"] == {
        "origin": {
            "stringValue": "reconcile",
            "stringListValues": [],
            "binaryListValues": [],
            "dataType": "String",
        }
    }
    attributes = record["attributes"]
    assert attributes["ApproximateReceiveCount"] == "1"
    assert attributes["SentTimestamp"].isdigit()
    assert attributes["ApproximateFirstReceiveTimestamp"].isdigit()
    assert (record["eventSource"], record["awsRegion"]) == ("aws:sqs", "us-east-1")
    assert record["eventSourceARN"].endswith(":transcription-pipeline-UploadQueue")


def hold_the_queue(harness: Harness) -> threading.Event:
    """Keep the start handler busy on a first message while the test fills the queue,
    so that the next receive takes them all in one batch; set the event to go on."""
    release = threading.Event()
    original = harness.behaviour["start"]

    def gate(event: dict[str, Any]) -> Any:
        if event["Records"][0]["body"] == "gate":
            release.wait(10)
            return {"batchItemFailures": []}
        return original(event)

    harness.behaviour["start"] = gate
    harness.send("gate")
    wait_until(lambda: bool(harness.deliveries.records("gate")))
    return release


def test_a_partial_batch_response_keeps_exactly_the_named_messages(harness: Harness) -> None:
    sqs = harness.sqs
    queue_url = harness.cloud.queue_url(UPLOAD_QUEUE)

    def start(event: dict[str, Any]) -> Any:
        failures = []
        for record in event["Records"]:
            first = record["attributes"]["ApproximateReceiveCount"] == "1"
            if record["body"].startswith("fail") and first:
                failures.append({"itemIdentifier": record["messageId"]})
                if record["body"] == "fail-later":
                    # What the start function does: its own delay before the next try.
                    sqs.change_message_visibility(
                        QueueUrl=queue_url,
                        ReceiptHandle=record["receiptHandle"],
                        VisibilityTimeout=4,
                    )
        return {"batchItemFailures": failures}

    harness.behaviour["start"] = start
    release = hold_the_queue(harness)
    harness.send("ok-1", "fail-soon", "ok-2", "fail-later", "ok-3")
    release.set()

    wait_until(lambda: len(harness.deliveries.bodies("fail")) == 4)

    batches = [
        [record["body"] for record in event["Records"]]
        for event in harness.deliveries.events
        if not event["Records"][0]["body"].startswith(("gate", "{"))
    ]
    # One batch of five, then each failed message alone, the one the function delayed last.
    assert sorted(batches[0]) == ["fail-later", "fail-soon", "ok-1", "ok-2", "ok-3"]
    assert batches[1:] == [["fail-soon"], ["fail-later"]]
    assert sorted(harness.deliveries.bodies("ok")) == ["ok-1", "ok-2", "ok-3"]  # deleted
    retried = {r["body"]: r for r in harness.deliveries.records("fail")[2:]}
    assert retried["fail-soon"]["attributes"]["ApproximateReceiveCount"] == "2"
    first_seen = int(harness.deliveries.records("fail-later")[0]["attributes"]["SentTimestamp"])
    again = int(retried["fail-later"]["attributes"]["SentTimestamp"])
    assert again == first_seen  # the same message, not a copy
    wait_until(lambda: harness.counts(UPLOAD_QUEUE) == (0, 0))


def test_a_delay_the_function_sets_is_kept(harness: Harness) -> None:
    sqs = harness.sqs
    queue_url = harness.cloud.queue_url(UPLOAD_QUEUE)
    seen: list[float] = []

    def start(event: dict[str, Any]) -> Any:
        seen.append(time.monotonic())
        (record,) = event["Records"]
        if len(seen) == 1:
            sqs.change_message_visibility(
                QueueUrl=queue_url, ReceiptHandle=record["receiptHandle"], VisibilityTimeout=3
            )
            return {"batchItemFailures": [{"itemIdentifier": record["messageId"]}]}
        return {"batchItemFailures": []}

    harness.behaviour["start"] = start
    harness.send("later")

    wait_until(lambda: len(seen) == 2)

    assert seen[1] - seen[0] >= 2.9  # not the queue's 1 s: the function's 3 s


def test_a_handler_that_raises_leaves_the_whole_batch(harness: Harness) -> None:
    def start(event: dict[str, Any]) -> Any:
        if any(r["attributes"]["ApproximateReceiveCount"] == "1" for r in event["Records"]):
            raise RuntimeError("the start function fails for this test")
        return {"batchItemFailures": []}

    harness.behaviour["start"] = start
    release = hold_the_queue(harness)
    harness.send("a", "b", "c")
    release.set()

    def records() -> list[dict[str, Any]]:
        return [r for r in harness.deliveries.records() if r["body"] in ("a", "b", "c")]

    wait_until(lambda: len(records()) == 6)
    wait_until(lambda: harness.counts(UPLOAD_QUEUE) == (0, 0))

    counts = sorted((r["body"], r["attributes"]["ApproximateReceiveCount"]) for r in records())
    assert counts == [("a", "1"), ("a", "2"), ("b", "1"), ("b", "2"), ("c", "1"), ("c", "2")]
    failed = [i for i in harness.cloud.invocations if i.function == START and i.error]
    assert [i.error for i in failed] == ["RuntimeError: the start function fails for this test"]


def test_a_partial_batch_response_naming_an_unknown_message_fails_the_whole_batch(
    harness: Harness,
) -> None:
    def start(event: dict[str, Any]) -> Any:
        if event["Records"][0]["attributes"]["ApproximateReceiveCount"] == "1":
            return {"batchItemFailures": [{"itemIdentifier": "not-a-message-of-this-batch"}]}
        return {"batchItemFailures": []}

    harness.behaviour["start"] = start
    harness.send("named-wrongly")

    wait_until(lambda: len(harness.deliveries.bodies("named-wrongly")) == 2)
    wait_until(lambda: harness.counts(UPLOAD_QUEUE) == (0, 0))


@pytest.mark.parametrize(
    ("result", "error", "kept"),
    [
        (None, None, set()),
        ({}, None, set()),
        ({"batchItemFailures": []}, None, set()),
        ({"batchItemFailures": None}, None, set()),
        ({"batchItemFailures": [{"itemIdentifier": "m2"}]}, None, {"m2"}),
        (None, "RuntimeError: boom", {"m1", "m2"}),
        ("not an object", None, {"m1", "m2"}),
        ({"batchItemFailures": [{"itemIdentifier": ""}]}, None, {"m1", "m2"}),
        ({"batchItemFailures": [{"itemIdentifier": None}]}, None, {"m1", "m2"}),
        ({"batchItemFailures": [{"itemId": "m1"}]}, None, {"m1", "m2"}),
        ({"batchItemFailures": [{"itemIdentifier": "m9"}]}, None, {"m1", "m2"}),
    ],
)
def test_which_messages_lambda_leaves_in_the_queue(
    result: Any, error: str | None, kept: set[str]
) -> None:
    invocation = Invocation(START, 1, 0.0, result=result, error=error)
    messages = [{"MessageId": "m1"}, {"MessageId": "m2"}]

    left, _why = _failed_items(invocation, messages, reports_item_failures=True)

    assert left == kept


def test_without_report_batch_item_failures_the_response_is_ignored() -> None:
    invocation = Invocation(START, 1, 0.0, result={"batchItemFailures": [{"itemIdentifier": "m1"}]})

    left, _ = _failed_items(invocation, [{"MessageId": "m1"}], reports_item_failures=False)

    assert left == set()


@pytest.fixture
def redriving(monkeypatch: pytest.MonkeyPatch) -> Iterator[Harness]:
    """The template's cloud with the upload queue's maxReceiveCount lowered from 300 to 3."""
    template = default_template(REPO)
    redrive = template.resources[UPLOAD_QUEUE]["Properties"]["RedrivePolicy"]
    assert redrive["maxReceiveCount"] == 300  # what the test shortens
    redrive["maxReceiveCount"] = 3
    yield from cloud_with_start_handler(template, monkeypatch)


def test_a_message_goes_to_the_dead_letter_queue_after_max_receive_count(
    redriving: Harness,
) -> None:
    def start(_event: dict[str, Any]) -> Any:
        raise RuntimeError("never works")

    redriving.behaviour["start"] = start
    redriving.send('{"Records": []}', origin="backfill")

    wait_until(lambda: redriving.counts(DEAD_LETTERS)[0] == 1, timeout=30)

    counts = [
        r["attributes"]["ApproximateReceiveCount"]
        for r in redriving.deliveries.records('{"Records": []}')
    ]
    assert counts == ["1", "2", "3"]  # maxReceiveCount receives, then the dead-letter queue
    assert redriving.counts(UPLOAD_QUEUE) == (0, 0)
    (dead,) = redriving.sqs.receive_message(
        QueueUrl=redriving.cloud.queue_url(DEAD_LETTERS), MessageAttributeNames=["All"]
    )["Messages"]
    assert dead["Body"] == '{"Records": []}'
    assert dead["MessageAttributes"] == {
        "origin": {"StringValue": "backfill", "DataType": "String"}
    }


def test_a_bucket_notification_of_the_template_becomes_the_s3_api_request() -> None:
    template = {
        "QueueConfigurations": [
            {"Event": "s3:ObjectCreated:*", "Queue": "arn:aws:sqs:us-east-1:1:q"},
            {
                "Event": "s3:ObjectRemoved:*",
                "Queue": "arn:aws:sqs:us-east-1:1:r",
                "Filter": {"S3Key": {"Rules": [{"Name": "prefix", "Value": "in/"}]}},
            },
        ]
    }

    assert _s3_notification_configuration("Bucket", template) == {
        "QueueConfigurations": [
            {"QueueArn": "arn:aws:sqs:us-east-1:1:q", "Events": ["s3:ObjectCreated:*"]},
            {
                "QueueArn": "arn:aws:sqs:us-east-1:1:r",
                "Events": ["s3:ObjectRemoved:*"],
                "Filter": {"Key": {"FilterRules": [{"Name": "prefix", "Value": "in/"}]}},
            },
        ]
    }
    with pytest.raises(NotImplementedError, match="LambdaConfigurations"):
        _s3_notification_configuration("Bucket", {"LambdaConfigurations": []})


def test_each_cloud_of_a_process_gets_its_functions_logs() -> None:
    """The real start function, in two clouds one after the other: the second one's log
    holds its own invocations (Powertools' Logger keeps the stream of its first import)."""
    logs: list[io.StringIO] = []
    for key in ("first/a.mp4", "second/b.mp4"):
        logs.append(io.StringIO())
        with LocalCloud(default_template(REPO), function_log=logs[-1]) as cloud:
            bucket = cloud.bucket_name("InputBucket")
            cloud.client("s3").put_object(Bucket=bucket, Key=key, Body=b"not media")
            assert cloud.wait_for_final_record(key, 20) is not None, cloud.invocations

    def handled(log: io.StringIO) -> list[tuple[str, str]]:
        lines = [json.loads(line) for line in log.getvalue().splitlines() if line.startswith("{")]
        return [(e["key"], e["outcome"]) for e in lines if e.get("message") == "upload handled"]

    assert handled(logs[0]) == [("first/a.mp4", "rejected")]
    assert handled(logs[1]) == [("second/b.mp4", "rejected")]
