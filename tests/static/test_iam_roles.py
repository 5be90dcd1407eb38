"""The roles the IAM-checked tests enforce are the roles SAM deploys.

The handler and end-to-end tests evaluate every call against ``role_of_function``, which
reads the functions' ``Policies`` from template.yaml; here the SAM translation (what
CloudFormation actually creates) must hold exactly those statements, so a test that
passes under the model passes under the deployed role.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from local_pipeline.iam import IamRequest, is_allowed, role_of_function
from local_pipeline.template import Template
from tests.conftest import REPO
from tests.static.conftest import translate

pytestmark = pytest.mark.static

FUNCTIONS = ["StartTranscriptionFunction", "ProcessTranscriptFunction", "ReconcileFunction"]
STACK = "transcription-pipeline"


def resolved_translation(tmp_path: Path, parameters: dict[str, str]) -> tuple[Template, Any]:
    translated = tmp_path / "translated.json"
    translate(REPO / "template.yaml", translated)
    # The translated template is plain CloudFormation: resolve it like template.yaml.
    document = json.loads(translated.read_text())
    plain = tmp_path / "translated.yaml"
    plain.write_text(json.dumps(document))
    return Template(plain, stack_name=STACK, parameter_overrides=parameters), document


@pytest.mark.parametrize("customer_key", ["false", "true"])
def test_model_roles_equal_the_deployed_roles(tmp_path: Path, customer_key: str) -> None:
    parameters = {"CustomerManagedKey": customer_key}
    translated, document = resolved_translation(tmp_path, parameters)
    source = Template(REPO / "template.yaml", stack_name=STACK, parameter_overrides=parameters)

    for function in FUNCTIONS:
        role = document["Resources"][f"{function}Role"]["Properties"]
        deployed = [
            statement
            for policy in translated.resolve(role["Policies"])
            # SAM's own policy for the on-failure destination: used by Lambda, not the code.
            if policy is not None and not policy["PolicyName"].endswith("OnFailureSQSPolicy")
            for statement in policy["PolicyDocument"]["Statement"]
        ]
        modelled = [s for p in role_of_function(source, function).policies for s in p["Statement"]]
        assert deployed == modelled, function


def test_start_transcription_job_is_pinned_to_this_stack_s_output(tmp_path: Path) -> None:
    template = Template(REPO / "template.yaml", stack_name=STACK)
    output_bucket = template.physical_name("OutputBucket")
    for function in ("StartTranscriptionFunction", "ReconcileFunction"):
        role = role_of_function(template, function)
        start = "transcribe:StartTranscriptionJob"
        ours = {
            "transcribe:OutputBucketName": output_bucket,
            "transcribe:OutputKey": "_transcribe/j.json",
        }
        assert is_allowed(role.policies, IamRequest(start, "*", ours))
        elsewhere = {**ours, "transcribe:OutputBucketName": "someone-elses-bucket"}
        assert not is_allowed(role.policies, IamRequest(start, "*", elsewhere))
        outside = {**ours, "transcribe:OutputKey": "talks/x.mp4/transcript.json"}
        assert not is_allowed(role.policies, IamRequest(start, "*", outside))


def test_jobs_of_other_applications_cannot_be_read() -> None:
    template = Template(REPO / "template.yaml", stack_name=STACK)
    job_arn = "arn:aws:transcribe:us-east-1:123456789012:transcription-job/{}"
    for function in ("ProcessTranscriptFunction", "ReconcileFunction"):
        policies = role_of_function(template, function).policies
        read = "transcribe:GetTranscriptionJob"
        assert is_allowed(policies, IamRequest(read, job_arn.format(f"{STACK}.talk.0123")))
        assert not is_allowed(policies, IamRequest(read, job_arn.format("other-app.talk")))
