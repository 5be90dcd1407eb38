"""Handlers run as Lambda runs them: code from CodeUri, layer on the path, the
environment template.yaml declares, and moto in place of S3 and Transcribe."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import boto3
import pytest
from botocore.awsrequest import AWSResponse, HTTPHeaders
from moto import mock_aws

from local_pipeline.invoke import LocalLambdaContext, function_environment, load_handler
from local_pipeline.template import Template
from tests.conftest import EVENTS, REPO

STACK_NAME = "transcription-pipeline"


@dataclass
class Stack:
    template: Template
    s3: Any
    transcribe: Any
    input_bucket: str
    output_bucket: str

    def invoke(self, logical_id: str, event: dict[str, Any], **env: str) -> Any:
        spec = self.template.function(logical_id)
        with function_environment(spec, env):
            handler = load_handler(spec)
            return handler(copy.deepcopy(event), LocalLambdaContext(function_name=logical_id))

    def output(self, key: str) -> bytes:
        body: bytes = self.s3.get_object(Bucket=self.output_bucket, Key=key)["Body"].read()
        return body

    def output_keys(self) -> list[str]:
        listing = self.s3.list_objects_v2(Bucket=self.output_bucket)
        return sorted(item["Key"] for item in listing.get("Contents", []))

    def finish_job(self, job_name: str) -> dict[str, Any]:
        """moto moves a job one state per GetTranscriptionJob; step it to COMPLETED."""
        for _ in range(3):
            job: dict[str, Any] = self.transcribe.get_transcription_job(
                TranscriptionJobName=job_name
            )["TranscriptionJob"]
            if job["TranscriptionJobStatus"] == "COMPLETED":
                return job
        raise AssertionError(f"moto did not complete {job_name}")


def load_event(name: str) -> dict[str, Any]:
    event: dict[str, Any] = json.loads((EVENTS / name).read_text())
    return event


@pytest.fixture
def stack() -> Iterator[Stack]:
    template = Template(REPO / "template.yaml", stack_name=STACK_NAME)
    with mock_aws():
        s3 = boto3.client("s3")
        input_bucket = template.physical_name("InputBucket")
        output_bucket = template.physical_name("OutputBucket")
        for bucket in (input_bucket, output_bucket):
            s3.create_bucket(Bucket=bucket)
        yield Stack(template, s3, boto3.client("transcribe"), input_bucket, output_bucket)


@pytest.fixture
def fake_aws_answer() -> Iterator[Any]:
    """Replace one AWS operation's answer, for what moto cannot do (FAILED jobs, throttling).

    Registered on boto3's default session before the handler creates its clients, it
    short-circuits the call: botocore then treats the answer exactly like a real one.
    """
    session = boto3._get_default_session()
    registered: list[tuple[str, Any]] = []

    def answer(service: str, operation: str, status: int, body: dict[str, Any]) -> list[int]:
        calls: list[int] = []

        def respond(**_: Any) -> tuple[AWSResponse, dict[str, Any]]:
            calls.append(1)
            parsed = {**body, "ResponseMetadata": {"HTTPStatusCode": status}}
            return AWSResponse("https://fake.invalid", status, HTTPHeaders(), None), parsed

        event_name = f"before-call.{service}.{operation}"
        # botocore types hooks as returning None; a before-call hook may answer instead.
        session.events.register(event_name, respond)  # type: ignore[arg-type]
        registered.append((event_name, respond))
        return calls

    yield answer
    for event_name, handler in registered:
        session.events.unregister(event_name, handler)
