"""The local cloud retries a failing function as Lambda would: as often as that function's
``EventInvokeConfig.MaximumRetryAttempts`` in the template says, or twice without one.

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
    assert specs[START].async_attempts == 3
    assert specs[PROCESS].async_attempts == 3


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
    """The local cloud of template.yaml with StartTranscriptionFunction allowed one retry,
    ProcessTranscriptFunction no EventInvokeConfig at all, and every handler failing."""

    def load_failing(spec: FunctionSpec) -> Handler:
        def fail(event: dict[str, Any], context: Any) -> Any:
            if "Records" not in event and "detail" not in event:
                return "ignored"  # s3:TestEvent, sent when the notification is set up
            raise RuntimeError(f"{spec.logical_id} fails for this test")

        return fail

    monkeypatch.setattr("local_pipeline.cloud.load_handler", load_failing)
    template = default_template(REPO)
    start = template.resources[START]["Properties"]
    start["EventInvokeConfig"] = {**start["EventInvokeConfig"], "MaximumRetryAttempts": 1}
    del template.resources[PROCESS]["Properties"]["EventInvokeConfig"]
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


def test_failing_functions_are_retried_as_their_event_invoke_config_says(
    failing_cloud: tuple[LocalCloud, list[str]],
) -> None:
    cloud, activity = failing_cloud
    cloud.client("s3").put_object(
        Bucket=cloud.bucket_name("InputBucket"), Key="talk.mp4", Body=b"not a video"
    )
    cloud.client("events").put_events(
        Entries=[
            {
                "Source": "aws.transcribe",
                "DetailType": "Transcribe Job State Change",
                "Detail": json.dumps(
                    {
                        "TranscriptionJobName": "transcription-pipeline.talk",
                        "TranscriptionJobStatus": "COMPLETED",
                    }
                ),
            }
        ]
    )

    def failures(logical_id: str) -> list[int]:
        return [
            invocation.attempt
            for invocation in cloud.invocations
            if invocation.function == logical_id and invocation.error
        ]

    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if (
            failures(START)
            and failures(PROCESS)
            and queue_is_empty(cloud, f"local-{START}-Upload")
            and queue_is_empty(cloud, f"local-{PROCESS}-JobFinished")
        ):
            break
        time.sleep(0.1)

    # Deleted after the last attempt: given up on, as Lambda gives up on the event.
    assert failures(START) == [1, 2], cloud.invocations
    assert failures(PROCESS) == [1, 2, 3], cloud.invocations
    assert f"{START} failed (attempt 2 of 2): RuntimeError: {START} fails for this test" in (
        activity
    )
    assert any(line.startswith(f"{PROCESS} failed (attempt 3 of 3)") for line in activity)
