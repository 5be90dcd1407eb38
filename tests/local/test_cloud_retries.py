"""The local cloud retries a function invoked asynchronously (an EventBridge rule) as
Lambda would: as often as that function's ``EventInvokeConfig.MaximumRetryAttempts`` in
the template says, or twice without one; then the event goes to the function's
``OnFailure`` destination as Lambda's invocation record, if it has one.

(The start function is not invoked asynchronously: its SQS event source's retries are the
queue's, see test_sqs_event_source.py.)

No speech model: every handler is replaced by one that fails, so only the dispatcher runs.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from local_pipeline.cloud import LocalCloud, default_template
from local_pipeline.invoke import Handler
from local_pipeline.template import (
    DEFAULT_MAXIMUM_RETRY_ATTEMPTS,
    FunctionSpec,
    Template,
    load_template,
)
from operations.redrive import plan_redrive
from tests.conftest import REPO

START = "StartTranscriptionFunction"
PROCESS = "ProcessTranscriptFunction"
RECONCILE = "ReconcileFunction"


# -- what the template says, per function ---------------------------------------------------


def declared_retries(document: dict[str, Any], logical_id: str) -> int | None:
    """MaximumRetryAttempts as written in the template (the function's, else Globals')."""
    globals_ = document.get("Globals", {}).get("Function", {})
    properties = {**globals_, **document["Resources"][logical_id]["Properties"]}
    retries = properties.get("EventInvokeConfig", {}).get("MaximumRetryAttempts")
    return None if retries is None else int(retries)


def test_every_function_of_the_template_gets_its_own_retry_count() -> None:
    document = load_template(REPO / "template.yaml")
    template = default_template(REPO)

    specs = {spec.logical_id: spec for spec in template.functions()}

    assert set(specs) == {START, PROCESS, RECONCILE}
    for logical_id, spec in specs.items():
        declared = declared_retries(document, logical_id)
        expected = DEFAULT_MAXIMUM_RETRY_ATTEMPTS if declared is None else declared
        assert spec.maximum_retry_attempts == expected, logical_id
        assert spec.async_attempts == expected + 1, logical_id
    # What the dead-letter handling of template.yaml is built on (see its comments).
    assert specs[PROCESS].async_attempts == 3
    assert specs[PROCESS].on_failure_destination == (
        "arn:aws:sqs:us-east-1:123456789012:transcription-pipeline-ProcessTranscriptDeadLetterQueue"
    )
    assert [event["Type"] for event in specs[START].events.values()] == ["SQS"]
    assert specs[START].on_failure_destination is None


@pytest.mark.parametrize(
    ("invoke_config", "attempts"),
    [
        ("", 1 + DEFAULT_MAXIMUM_RETRY_ATTEMPTS),  # none: Lambda's default of two retries
        ("EventInvokeConfig: {MaximumRetryAttempts: 0}", 1),
        ("EventInvokeConfig: {MaximumRetryAttempts: !Ref Retries}", 2),
    ],
)
def test_retry_count_comes_from_event_invoke_config(
    tmp_path: Path, invoke_config: str, attempts: int
) -> None:
    template_file = tmp_path / "template.yaml"
    template_file.write_text(
        f"""
Parameters:
  Retries: {{Type: Number, Default: 1}}
Resources:
  Function:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: functions/example/
      Handler: app.handler
      {invoke_config}
"""
    )

    spec = Template(template_file, stack_name="example").function("Function")

    assert spec.async_attempts == attempts


def test_globals_event_invoke_config_applies_to_functions_without_their_own(
    tmp_path: Path,
) -> None:
    template_file = tmp_path / "template.yaml"
    template_file.write_text(
        """
Globals:
  Function:
    EventInvokeConfig: {MaximumRetryAttempts: 0}
Resources:
  Inherits:
    Type: AWS::Serverless::Function
    Properties: {CodeUri: a/, Handler: app.handler}
  Overrides:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: b/
      Handler: app.handler
      EventInvokeConfig: {MaximumRetryAttempts: 1}
"""
    )
    template = Template(template_file, stack_name="example")

    assert template.function("Inherits").async_attempts == 1
    assert template.function("Overrides").async_attempts == 2


# -- what the dispatcher does with it -------------------------------------------------------


@pytest.fixture
def failing_cloud(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[LocalCloud, list[str]]]:
    """The local cloud of template.yaml with ProcessTranscriptFunction allowed one retry
    and its handler failing."""

    def load_failing(spec: FunctionSpec) -> Handler:
        def fail(event: dict[str, Any], context: Any) -> Any:
            if spec.logical_id != PROCESS:
                return None
            raise RuntimeError(f"{spec.logical_id} fails for this test")

        return fail

    monkeypatch.setattr("local_pipeline.cloud.load_handler", load_failing)
    template = default_template(REPO)
    process = template.resources[PROCESS]["Properties"]
    process["EventInvokeConfig"] = {**process["EventInvokeConfig"], "MaximumRetryAttempts": 1}
    activity: list[str] = []
    with LocalCloud(template, on_activity=activity.append) as cloud:
        yield cloud, activity


def queue_is_empty(cloud: LocalCloud, name: str) -> bool:
    """No message left, visible or waiting out its visibility timeout for a retry."""
    sqs = cloud.client("sqs")
    url = sqs.get_queue_url(QueueName=name)["QueueUrl"]
    counts = sqs.get_queue_attributes(
        QueueUrl=url,
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    return all(int(value) == 0 for value in counts.values())


COMPLETED = {
    "TranscriptionJobName": "transcription-pipeline.talk",
    "TranscriptionJobStatus": "COMPLETED",
}


def test_a_failing_function_is_retried_then_its_event_goes_to_the_on_failure_queue(
    failing_cloud: tuple[LocalCloud, list[str]],
) -> None:
    cloud, activity = failing_cloud
    cloud.client("events").put_events(
        Entries=[
            {
                "Source": "aws.transcribe",
                "DetailType": "Transcribe Job State Change",
                "Detail": json.dumps(COMPLETED),
            }
        ]
    )
    sqs = cloud.client("sqs")
    dead_letters = cloud.queue_url("ProcessTranscriptDeadLetterQueue")

    def failures() -> list[int]:
        return [i.attempt for i in cloud.invocations if i.function == PROCESS and i.error]

    deadline = time.monotonic() + 30
    records: list[dict[str, Any]] = []
    while time.monotonic() < deadline and not records:
        records = sqs.receive_message(QueueUrl=dead_letters).get("Messages", [])
        time.sleep(0.1)

    # Given up on after the last attempt, as Lambda gives up on the event...
    assert failures() == [1, 2], cloud.invocations
    assert queue_is_empty(cloud, f"local-{PROCESS}-JobFinished")
    assert f"{PROCESS} failed (attempt 1 of 2): RuntimeError: {PROCESS} fails for this test" in (
        activity
    )
    assert any(line.startswith(f"{PROCESS} failed (attempt 2 of 2)") for line in activity)
    # ...and recorded in its OnFailure queue as Lambda's invocation record.
    (message,) = records
    record = json.loads(message["Body"])
    context = record["requestContext"]
    assert context["functionArn"] == (
        "arn:aws:lambda:us-east-1:123456789012:function:"
        "transcription-pipeline-ProcessTranscriptFunction:$LATEST"
    )
    assert (context["condition"], context["approximateInvokeCount"]) == ("RetriesExhausted", 2)
    assert record["requestPayload"]["detail"] == COMPLETED
    assert record["requestPayload"]["detail-type"] == "Transcribe Job State Change"
    assert record["responsePayload"] == {
        "errorType": "RuntimeError",
        "errorMessage": f"{PROCESS} fails for this test",
    }
    # What operations/redrive.py reads back from that queue.
    replay = plan_redrive(message["Body"], process_function_arn="unused")
    assert replay.function_arn.endswith(":transcription-pipeline-ProcessTranscriptFunction")
    assert replay.payload == record["requestPayload"]
