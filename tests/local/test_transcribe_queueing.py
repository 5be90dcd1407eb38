"""The local Transcribe's job queueing, as the Transcribe developer guide ("Job queueing")
and API reference (JobExecutionSettings) describe it:

- ``AllowDeferredExecution`` without a ``DataAccessRoleArn`` is a BadRequestException;
- above the concurrent-job quota a request without queueing gets LimitExceededException,
  one with queueing waits, up to 10,000 jobs (then LimitExceededConcurrentJobException);
- queued jobs run in at most 90 % of the quota, so requests without queueing still get in;
- Transcribe reads the media and writes the output as the data-access role, so a role too
  narrow for that fails the job — checked against the role's policy in template.yaml.

No speech model: the engine gets a recogniser that hears nothing.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws
from moto.transcribe.models import transcribe_backends

from local_pipeline import transcribe_model
from local_pipeline.cloud import LocalCloud, default_template
from local_pipeline.engine import LocalTranscribeEngine
from local_pipeline.iam import role_logical_id, role_of_resource, trusts_service
from local_pipeline.speech import Recognition
from local_pipeline.template import Template
from local_pipeline.transcribe_model import realistic_transcribe, set_concurrent_job_quota
from tests.conftest import REPO

ROLE = "arn:aws:iam::123456789012:role/transcription-pipeline-TranscribeDataAccessRole"
DATA_ACCESS_ROLE = "TranscribeDataAccessRole"


# -- StartTranscriptionJob: the request and the quota ---------------------------------------


@pytest.fixture
def transcribe() -> Iterator[Any]:
    with mock_aws(), realistic_transcribe():
        yield boto3.client("transcribe", region_name="us-east-1")


def start(client: Any, name: str, *, queue: bool, role: str | None = ROLE) -> None:
    request: dict[str, Any] = {
        "TranscriptionJobName": name,
        "Media": {"MediaFileUri": "s3://in/x.mp3"},
        "LanguageCode": "en-US",
    }
    if queue:
        settings: dict[str, Any] = {"AllowDeferredExecution": True}
        if role:
            settings["DataAccessRoleArn"] = role
        request["JobExecutionSettings"] = settings
    client.start_transcription_job(**request)


def error_code(call: Callable[[], None]) -> str:
    with pytest.raises(ClientError) as raised:
        call()
    return str(raised.value.response["Error"]["Code"])


def finish(name: str) -> None:
    transcribe_backends["123456789012"]["us-east-1"].transcriptions[name]._status = "COMPLETED"


def test_queueing_without_a_data_access_role_is_a_bad_request(transcribe: Any) -> None:
    assert error_code(lambda: start(transcribe, "no-role", queue=True, role=None)) == (
        "BadRequestException"
    )
    start(transcribe, "with-role", queue=True)
    start(transcribe, "no-queueing", queue=False)

    jobs = transcribe.list_transcription_jobs()["TranscriptionJobSummaries"]
    names = [job["TranscriptionJobName"] for job in jobs]
    assert sorted(names) == ["no-queueing", "with-role"]


def test_above_the_quota_only_a_queueing_request_is_accepted(transcribe: Any) -> None:
    set_concurrent_job_quota(2)
    start(transcribe, "a", queue=False)
    start(transcribe, "b", queue=True)  # below the quota: runs at once

    assert error_code(lambda: start(transcribe, "c", queue=False)) == "LimitExceededException"
    start(transcribe, "c", queue=True)  # waits in Transcribe's queue
    finish("a")
    start(transcribe, "d", queue=False)  # a slot is free again


def test_queued_jobs_leave_a_tenth_of_the_quota_to_requests_without_queueing(
    transcribe: Any,
) -> None:
    set_concurrent_job_quota(10)
    for index in range(10):
        start(transcribe, f"running-{index}", queue=False)
    for index in range(3):
        start(transcribe, f"queued-{index}", queue=True)
    finish("running-0")
    finish("running-1")

    # Two slots free: queued jobs may take one (up to 9 of 10), the other is for a request
    # without queueing; a queueing request waits behind the queued ones.
    start(transcribe, "direct-1", queue=False)
    assert error_code(lambda: start(transcribe, "direct-2", queue=False)) == (
        "LimitExceededException"
    )
    start(transcribe, "queued-3", queue=True)


def test_the_queue_holds_10000_jobs(transcribe: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(transcribe_model, "QUEUED_JOB_LIMIT", 2)  # 10,000 in AWS
    set_concurrent_job_quota(1)
    start(transcribe, "running", queue=True)
    start(transcribe, "queued-1", queue=True)
    start(transcribe, "queued-2", queue=True)

    assert error_code(lambda: start(transcribe, "queued-3", queue=True)) == (
        "LimitExceededConcurrentJobException"
    )


# -- the data-access role, from template.yaml -----------------------------------------------


def test_the_data_access_role_of_the_template() -> None:
    template = default_template(REPO)

    assert role_logical_id(template, ROLE) == DATA_ACCESS_ROLE
    assert role_logical_id(template, ROLE + "-other") is None
    assert trusts_service(template, DATA_ACCESS_ROLE, "transcribe.amazonaws.com")
    assert not trusts_service(template, DATA_ACCESS_ROLE, "lambda.amazonaws.com")
    role = role_of_resource(template, DATA_ACCESS_ROLE)
    statements = [s for policy in role.policies for s in policy["Statement"]]
    # The customer-key statement is an !If that resolves to AWS::NoValue by default.
    assert [s["Sid"] for s in statements] == ["ReadUploads", "FindUploads", "WriteTranscribeOutput"]


class HearsNothing:
    """A recogniser for the engine that returns no words, at once."""

    def load(self) -> None:
        pass

    @contextlib.contextmanager
    def observed(self, **_: Any) -> Iterator[None]:
        yield

    def recognise(self, media: Path) -> Recognition:
        assert media.stat().st_size > 0
        return Recognition(words=(), segments=(), language="en", audio_seconds=1.0)


def without_statement(template: Template, sid: str) -> Template:
    document = template.resources[DATA_ACCESS_ROLE]["Properties"]["Policies"][0]["PolicyDocument"]
    before = len(document["Statement"])
    document["Statement"] = [s for s in document["Statement"] if s.get("Sid") != sid]
    assert len(document["Statement"]) == before - 1
    return template


def run_upload(template: Template) -> tuple[LocalCloud, LocalTranscribeEngine, dict[str, bytes]]:
    with (
        LocalCloud(template) as cloud,
        LocalTranscribeEngine(cloud, HearsNothing()) as engine,  # type: ignore[arg-type]
    ):
        cloud.client("s3").put_object(
            Bucket=cloud.bucket_name("InputBucket"),
            Key="in/tone.mp3",
            Body=(REPO / "tests" / "media" / "tone.mp3").read_bytes(),
        )
        files = cloud.wait_for_final_record("in/tone.mp3", 30)
    assert files is not None, cloud.invocations
    return cloud, engine, files


def test_with_the_template_role_the_job_completes() -> None:
    cloud, engine, files = run_upload(default_template(REPO))

    assert "summary.json" in files
    assert len(engine.completed) == 1
    assert not cloud.enforcer.denials


def test_a_data_access_role_that_may_not_read_the_upload_fails_the_job() -> None:
    template = without_statement(default_template(REPO), "ReadUploads")

    cloud, engine, files = run_upload(template)

    assert set(files) == {"error.json"}
    record = json.loads(files["error.json"])
    assert record["status"] == "FAILED"
    assert "not authorized to perform: s3:GetObject" in record["transcribe_failure_reason"]
    assert len(engine.failed) == 1
    (denial,) = cloud.enforcer.denials
    assert denial.role == DATA_ACCESS_ROLE
    assert (denial.request.action, denial.request.resource) == (
        "s3:GetObject",
        "arn:aws:s3:::transcription-pipeline-input-123456789012-us-east-1/in/tone.mp3",
    )


def test_a_data_access_role_that_may_not_write_the_output_fails_the_job() -> None:
    template = without_statement(default_template(REPO), "WriteTranscribeOutput")

    cloud, _engine, files = run_upload(template)

    record = json.loads(files["error.json"])
    assert record["status"] == "FAILED"
    assert "could not write to the output location" in record["transcribe_failure_reason"]
    (denial,) = cloud.enforcer.denials
    assert denial.role == DATA_ACCESS_ROLE
    assert denial.request.action == "s3:PutObject"
    assert denial.request.resource.endswith("/_transcribe/.write_access_check_file.temp")


def test_a_role_transcribe_may_not_assume_fails_the_job() -> None:
    template = default_template(REPO)
    trust = template.resources[DATA_ACCESS_ROLE]["Properties"]["AssumeRolePolicyDocument"]
    trust["Statement"][0]["Principal"] = {"Service": "lambda.amazonaws.com"}

    _cloud, _engine, files = run_upload(template)

    record = json.loads(files["error.json"])
    assert "could not assume the data access role" in record["transcribe_failure_reason"]
    assert ROLE in record["transcribe_failure_reason"]
