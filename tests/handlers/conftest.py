"""Handlers run as Lambda runs them: code from CodeUri, layer on the path, the
environment template.yaml declares, and moto in place of S3 and Transcribe — moto made
to answer as AWS does where it matters: every call a function makes is checked against
that function's own role in template.yaml (403 for a missing key without s3:ListBucket,
local_pipeline.iam), and Transcribe reports redacted output, FailureReason and its
concurrent-job quota (local_pipeline.transcribe_model)."""

from __future__ import annotations

import copy
import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote_plus

import boto3
import pytest
from botocore.awsrequest import AWSResponse, HTTPHeaders
from moto import mock_aws

from local_pipeline.iam import Account, Denial, RoleEnforcer, moto_object_exists, role_of_function
from local_pipeline.invoke import LocalLambdaContext, function_environment, load_handler
from local_pipeline.template import Template
from local_pipeline.transcribe_model import realistic_transcribe, written_keys
from tests.conftest import MEDIA, REPO, TRANSCRIPTS, load_event

STACK_NAME = "transcription-pipeline"
# Where the outputs of the sample upload (events/s3-put.json: "uploads/My Talk.mp4") go.
OUTPUT_PREFIX = "uploads/My Talk.mp4/"
SIX_FILES = [
    "subtitles.srt",
    "subtitles.vtt",
    "summary.json",
    "summary.md",
    "transcript.json",
    "transcript.txt",
]


@dataclass
class Stack:
    template: Template
    s3: Any
    transcribe: Any
    input_bucket: str
    output_bucket: str
    enforcer: RoleEnforcer

    def invoke(self, logical_id: str, event: dict[str, Any], **env: str) -> Any:
        """Run a function as Lambda would, with its role's permissions enforced."""
        spec = self.template.function(logical_id)
        role = role_of_function(self.template, logical_id)
        with function_environment(spec, env), self.enforcer.acting_as(role):
            handler = load_handler(spec)
            return handler(copy.deepcopy(event), LocalLambdaContext(function_name=logical_id))

    def take_denials(self) -> list[Denial]:
        """The calls the roles refused so far (a test that expects some takes them)."""
        denials, self.enforcer.denials[:] = list(self.enforcer.denials), []
        return denials

    def job_name_of(self, key: str) -> str:
        """The job the pipeline names for the object under ``key`` now (as S3 sees it)."""
        from transcription_pipeline.aws import ObjectStore
        from transcription_pipeline.naming import S3Location, job_name_for

        head = ObjectStore(self.s3).head(S3Location(self.input_bucket, key))
        assert head is not None, f"no object {key}"
        prefix = self.template.function("StartTranscriptionFunction").environment["JOB_NAME_PREFIX"]
        return job_name_for(prefix, S3Location(self.input_bucket, key), head.revision)

    def complete_job(self, job_name: str, transcript: bytes) -> dict[str, Any]:
        """What Transcribe does: write the transcript file(s) the job's settings call for
        (``redacted-<name>`` with PII redaction), then finish the job."""
        job = self.transcribe_backend().transcriptions[job_name]
        for key in written_keys(job, job.output_key).values():
            self.s3.put_object(Bucket=self.output_bucket, Key=key, Body=transcript)
        return self.finish_job(job_name)

    def fail_job(self, job_name: str, reason: str) -> None:
        """A job Transcribe failed (moto never fails one)."""
        job = self.transcribe_backend().transcriptions[job_name]
        job.status = "FAILED"
        job.failure_reason = reason

    def transcribe_backend(self) -> Any:
        from moto.transcribe.models import transcribe_backends

        return transcribe_backends[self.template.account_id][self.template.region]

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


# -- uploads and S3 events -----------------------------------------------------------------
def s3_record(bucket: str, key: str, body: bytes | None, size: int | None = None) -> dict[str, Any]:
    """A record shaped like S3's, key encoded the way S3 encodes it (space as '+')."""
    record: dict[str, Any] = copy.deepcopy(load_event("s3-put.json")["Records"][0])
    record["s3"]["bucket"]["name"] = bucket
    record["s3"]["object"]["key"] = quote_plus(key, safe="/")
    record["s3"]["object"]["size"] = len(body) if size is None and body is not None else size
    record["s3"]["object"]["eTag"] = hashlib.md5(body or b"").hexdigest()
    return record


def put_media(stack: Stack, key: str, media_file: str) -> bytes:
    """Upload a file of tests/media to the input bucket under ``key``; returns its bytes."""
    body = (MEDIA / media_file).read_bytes()
    stack.s3.put_object(Bucket=stack.input_bucket, Key=key, Body=body)
    return body


def jobs(stack: Stack) -> list[dict[str, Any]]:
    """Every Transcribe job started so far, in full (GetTranscriptionJob)."""
    summaries = stack.transcribe.list_transcription_jobs()["TranscriptionJobSummaries"]
    return [
        stack.transcribe.get_transcription_job(TranscriptionJobName=s["TranscriptionJobName"])[
            "TranscriptionJob"
        ]
        for s in summaries
    ]


# -- the sample job: events/s3-put.json started, then finished by "Transcribe" -------------
def start_sample_job(stack: Stack, **env: str) -> None:
    body = (MEDIA / "video.mp4").read_bytes()
    stack.s3.put_object(Bucket=stack.input_bucket, Key="uploads/My Talk.mp4", Body=body)
    assert stack.invoke("StartTranscriptionFunction", load_event("s3-put.json"), **env) == {
        "started": 1
    }


def sample_job(stack: Stack) -> str:
    """The name of the one job these tests start (it depends on the upload's time)."""
    (summary,) = stack.transcribe.list_transcription_jobs()["TranscriptionJobSummaries"]
    return str(summary["TranscriptionJobName"])


def job_event(stack: Stack, file_name: str = "transcribe-completed.json") -> dict[str, Any]:
    """A sample completion event from events/, for the sample job."""
    event = load_event(file_name)
    event["detail"]["TranscriptionJobName"] = sample_job(stack)
    return event


def complete_sample_job(stack: Stack, fixture: str, **env: str) -> bytes:
    """What Transcribe would do: write its JSON at the job's output key and finish."""
    raw = (TRANSCRIPTS / fixture).read_bytes()
    start_sample_job(stack, **env)
    stack.complete_job(sample_job(stack), raw)
    return raw


def outputs(stack: Stack) -> dict[str, bytes]:
    """The sample upload's outputs, as file name -> bytes."""
    return {
        key.removeprefix(OUTPUT_PREFIX): stack.output(key)
        for key in stack.output_keys()
        if key.startswith(OUTPUT_PREFIX)
    }


# -- fixtures ------------------------------------------------------------------------------
@pytest.fixture(scope="session")
def _parsed_template() -> Template:
    """template.yaml parsed once (parsing it takes longer than most handler tests)."""
    return Template(REPO / "template.yaml", stack_name=STACK_NAME)


@pytest.fixture
def stack(_parsed_template: Template) -> Iterator[Stack]:
    template = copy.deepcopy(_parsed_template)  # a test may change its own copy
    enforcer = RoleEnforcer(
        Account(template.account_id, template.region), moto_object_exists(template.account_id)
    )
    with mock_aws(), realistic_transcribe():
        # Inside the mock: moto swaps boto3's default session, which the handlers use.
        uninstall = enforcer.install(boto3._get_default_session().events)
        s3 = boto3.client("s3")
        input_bucket = template.physical_name("InputBucket")
        output_bucket = template.physical_name("OutputBucket")
        for bucket in (input_bucket, output_bucket):
            s3.create_bucket(Bucket=bucket)
        try:
            yield Stack(
                template, s3, boto3.client("transcribe"), input_bucket, output_bucket, enforcer
            )
        finally:
            uninstall()
    # A refused call can hide behind error handling (reconciliation isolates items):
    # every refusal a test did not take fails it, naming the missing permission.
    assert not enforcer.denials, "IAM refused: " + "; ".join(map(str, enforcer.denials))


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
