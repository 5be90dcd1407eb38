"""make regenerate (python -m operations.regenerate) under moto: which records are sent and
which counted, ten to a PutEvents call, with the stack's request source matching the
template's rule; resuming after an interruption sends each upload once; --retranscribe
copies each upload onto itself with its metadata; a dry run sends nothing."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from local_pipeline.template import Template
from operations.regenerate import (
    Options,
    StackOutputs,
    final_records,
    run_regenerate,
)
from tests.conftest import REPO

STACK = "regen-stack"
TEMPLATE = Template(REPO / "template.yaml", stack_name=STACK)
INPUT = TEMPLATE.physical_name("InputBucket")
OUTPUT = TEMPLATE.physical_name("OutputBucket")
REQUEST_SOURCE = str(TEMPLATE.resolve(TEMPLATE.document["Outputs"]["RequestSource"]["Value"]))
OUTPUTS = StackOutputs(STACK, INPUT, OUTPUT, REQUEST_SOURCE, "aws")


class Cloud:
    def __init__(self) -> None:
        self.s3 = boto3.client("s3", region_name="us-east-1")
        self.events = boto3.client("events", region_name="us-east-1")
        sqs = boto3.client("sqs", region_name="us-east-1")
        for bucket in (INPUT, OUTPUT):
            self.s3.create_bucket(Bucket=bucket)
        # The process function's rule from template.yaml, delivering to a queue here.
        pattern = TEMPLATE.function("ProcessTranscriptFunction").events["RegenerateRequested"]
        self.url = sqs.create_queue(QueueName="process")["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=self.url, AttributeNames=["QueueArn"])[
            "Attributes"
        ]["QueueArn"]
        self.events.put_rule(
            Name="regen", EventPattern=json.dumps(pattern["Properties"]["Pattern"])
        )
        self.events.put_targets(Rule="regen", Targets=[{"Id": "q", "Arn": arn}])
        self.sqs = sqs

    def record(self, key: str, name: str = "summary.json") -> None:
        body = json.dumps({"source": {"bucket": INPUT, "key": key}}).encode()
        self.s3.put_object(Bucket=OUTPUT, Key=f"{key}/{name}", Body=body)

    def requested(self) -> list[str]:
        keys: list[str] = []
        while True:
            answer = self.sqs.receive_message(QueueUrl=self.url, MaxNumberOfMessages=10)
            messages = answer.get("Messages", [])
            if not messages:
                return keys
            for message in messages:
                event = json.loads(message["Body"])
                assert event["detail-type"] == "Regenerate Requested"
                keys.append(event["detail"]["key"])
                self.sqs.delete_message(QueueUrl=self.url, ReceiptHandle=message["ReceiptHandle"])


@pytest.fixture
def cloud() -> Iterator[Cloud]:
    with mock_aws():
        yield Cloud()


def run(cloud: Cloud, tmp_path: Path, **options: Any) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = run_regenerate(
        cloud.s3,
        cloud.events,
        OUTPUTS,
        Options(state_path=tmp_path / "state.json", rate=0, **options),
        out=out,
        err=err,
    )
    return code, out.getvalue(), err.getvalue()


def test_summaries_are_requested_and_error_records_counted(cloud: Cloud, tmp_path: Path) -> None:
    for key in ("a/one.mp3", "a/two words.mp3", "b/other.mp3"):
        cloud.record(key)
    cloud.record("a/bad.mkv", "error.json")
    cloud.s3.put_object(Bucket=OUTPUT, Key="a/one.mp3/transcript.json", Body=b"{}")
    cloud.s3.put_object(Bucket=OUTPUT, Key="_transcribe/x.json/summary.json", Body=b"{}")
    long_key = "long/" + "k" * 1100 + ".mp3"  # its outputs sit in a shortened folder
    long_folder = "long/" + "k" * 990 + "~0123456789abcdef"
    cloud.s3.put_object(
        Bucket=OUTPUT,
        Key=f"{long_folder}/summary.json",
        Body=json.dumps({"source": {"bucket": INPUT, "key": long_key}}).encode(),
    )

    code, out, _ = run(cloud, tmp_path, prefix="a/")

    assert code == 0
    assert sorted(cloud.requested()) == ["a/one.mp3", "a/two words.mp3"]
    assert "requested: 2" in out
    assert "error_record: 1" in out
    records = list(final_records(cloud.s3, OUTPUT, "", ""))
    assert [r.source_key for r in records if r.record_key.startswith("long/")] == [long_key]
    assert not any(r.record_key.startswith("_transcribe/") for r in records)


def test_an_interrupted_run_goes_on_where_it_stopped(
    cloud: Cloud, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    keys = [f"many/{n:03}.mp3" for n in range(25)]
    for key in keys:
        cloud.record(key)
    real_put = cloud.events.put_events
    calls: list[int] = []

    def put_then_interrupt(**request: Any) -> Any:
        calls.append(len(request["Entries"]))
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real_put(**request)

    monkeypatch.setattr(cloud.events, "put_events", put_then_interrupt)
    code, _, err = run(cloud, tmp_path)
    assert code == 1
    assert "Interrupted" in err
    first = cloud.requested()
    assert first == keys[:10]
    assert calls == [10, 10]  # PutEvents takes ten entries a call

    monkeypatch.setattr(cloud.events, "put_events", real_put)
    code, out, _ = run(cloud, tmp_path)

    assert code == 0
    assert "Resuming after many/009.mp3/summary.json" in out
    assert sorted(first + cloud.requested()) == keys  # each exactly once
    assert json.loads((tmp_path / "state.json").read_text())["complete"] is True


def test_entries_eventbridge_refuses_are_reported_and_sent_again(
    cloud: Cloud, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cloud.record("r/one.mp3")
    cloud.record("r/two.mp3")
    real_put = cloud.events.put_events

    def refuse_the_second(**request: Any) -> Any:
        real_put(Entries=request["Entries"][:1])
        return {
            "FailedEntryCount": 1,
            "Entries": [{"EventId": "1"}, {"ErrorCode": "InternalFailure", "ErrorMessage": "x"}],
        }

    monkeypatch.setattr(cloud.events, "put_events", refuse_the_second)
    code, out, _ = run(cloud, tmp_path)
    assert code == 1
    assert "r/two.mp3" in out
    assert cloud.requested() == ["r/one.mp3"]

    monkeypatch.setattr(cloud.events, "put_events", real_put)
    assert run(cloud, tmp_path)[0] == 0
    assert cloud.requested() == ["r/two.mp3"]


def test_retranscribe_copies_each_upload_onto_itself_with_its_metadata(
    cloud: Cloud, tmp_path: Path
) -> None:
    cloud.s3.put_bucket_versioning(Bucket=INPUT, VersioningConfiguration={"Status": "Enabled"})
    first = cloud.s3.put_object(
        Bucket=INPUT,
        Key="t/talk.mp3",
        Body=b"ID3 media",
        ContentType="audio/mpeg",
        Metadata={"language": "es-US"},
    )
    cloud.record("t/talk.mp3")
    cloud.record("t/gone.mp3", "error.json")

    code, out, _ = run(cloud, tmp_path, retranscribe=True)

    assert code == 0
    head = cloud.s3.head_object(Bucket=INPUT, Key="t/talk.mp3")
    assert head["VersionId"] != first["VersionId"]  # a new revision: a new job
    assert head["Metadata"] == {"language": "es-US"}
    assert head["ContentType"] == "audio/mpeg"
    assert "retranscribed: 1" in out
    assert "source_missing: 1" in out
    assert cloud.requested() == []


def test_a_dry_run_sends_and_saves_nothing(cloud: Cloud, tmp_path: Path) -> None:
    cloud.record("d/one.mp3")

    code, out, _ = run(cloud, tmp_path, dry_run=True)

    assert code == 0
    assert "would_request: 1" in out
    assert cloud.requested() == []
    assert not (tmp_path / "state.json").exists()
