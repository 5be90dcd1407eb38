"""The roles the IAM-checked tests enforce are the roles SAM deploys, and each grants
exactly what its code needs.

The handler and end-to-end tests evaluate every call against ``role_of_function``, which
reads the functions' ``Policies`` from template.yaml; the SAM translation (what
CloudFormation actually creates) must hold exactly those statements, so a test that
passes under the model passes under the deployed role. The managed policies SAM adds are
listed with the reason they are there: none of them is used by the functions' code.

The rest checks the permissions that bound what a mistake can do, with the same
evaluator as the handler tests (local_pipeline.iam): the role Transcribe assumes for
queued jobs, the only role the start function may pass, the queue it may delay
messages on, and the one item of the in-flight table reconciliation may read and write.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from local_pipeline.iam import (
    Account,
    IamRequest,
    Policy,
    iam_requests,
    is_allowed,
    role_of_function,
)
from local_pipeline.template import Template
from tests.conftest import REPO
from tests.static.conftest import translate

FUNCTIONS = ["StartTranscriptionFunction", "ProcessTranscriptFunction", "ReconcileFunction"]
STACK = "transcription-pipeline"
MANAGED = "arn:aws:iam::aws:policy/"
# What SAM attaches, and who uses it: never the function's code (the handler tests would
# be refused: the modelled role holds only the inline policies).
MANAGED_POLICIES = {
    # Every function: Lambda writes the function's logs.
    MANAGED + "service-role/AWSLambdaBasicExecutionRole": set(FUNCTIONS),
    # Tracing: Active: Lambda sends the invocation's trace segments.
    MANAGED + "AWSXrayWriteOnlyAccess": set(FUNCTIONS),
    # The SQS event source: Lambda's poller receives and deletes the upload queue's
    # messages (sqs:ReceiveMessage, DeleteMessage, GetQueueAttributes) as the function.
    MANAGED + "service-role/AWSLambdaSQSQueueExecutionRole": {"StartTranscriptionFunction"},
}
# What the poller needs and the code must not do itself: not in the modelled role.
POLLER_ACTIONS = ["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes"]


def stack_template(**parameters: str) -> Template:
    return Template(REPO / "template.yaml", stack_name=STACK, parameter_overrides=parameters)


@pytest.fixture(scope="module")
def template() -> Template:
    return stack_template()


def resolved_translation(tmp_path: Path, parameters: dict[str, str]) -> tuple[Template, Any]:
    translated = tmp_path / "translated.json"
    translate(REPO / "template.yaml", translated)
    # The translated template is plain CloudFormation: resolve it like template.yaml.
    document = json.loads(translated.read_text())
    plain = tmp_path / "translated.yaml"
    plain.write_text(json.dumps(document))
    return Template(plain, stack_name=STACK, parameter_overrides=parameters), document


@pytest.mark.static
@pytest.mark.parametrize("customer_key", ["false", "true"])
def test_model_roles_equal_the_deployed_roles(tmp_path: Path, customer_key: str) -> None:
    parameters = {"CustomerManagedKey": customer_key}
    translated, document = resolved_translation(tmp_path, parameters)
    source = stack_template(**parameters)

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
        managed = {arn for arn, users in MANAGED_POLICIES.items() if function in users}
        assert set(translated.resolve(role["ManagedPolicyArns"])) == managed, function


@pytest.mark.parametrize("function", FUNCTIONS)
def test_what_lambda_does_with_the_queue_is_not_in_the_code_s_role(
    template: Template, function: str
) -> None:
    policies = role_of_function(template, function).policies
    queue = template.resolve({"Fn::GetAtt": ["UploadQueue", "Arn"]})

    for action in POLLER_ACTIONS:
        assert not is_allowed(policies, IamRequest(action, queue)), (function, action)


# -- the role Transcribe assumes for queued jobs --------------------------------------------


def data_access_role(template: Template) -> tuple[dict[str, Any], list[Policy]]:
    properties = template.resources["TranscribeDataAccessRole"]["Properties"]
    trust: dict[str, Any] = template.resolve(properties["AssumeRolePolicyDocument"])
    policies: list[Policy] = []
    for policy in properties["Policies"]:
        document = template.resolve(policy["PolicyDocument"])
        statements = [s for s in document["Statement"] if s is not None]  # !If -> NoValue
        policies.append({**document, "Statement": statements})
    assert "ManagedPolicyArns" not in properties
    return trust, policies


def test_only_this_account_s_transcribe_may_assume_the_data_access_role(
    template: Template,
) -> None:
    trust, _ = data_access_role(template)
    (statement,) = trust["Statement"]

    assert statement["Effect"] == "Allow"
    assert statement["Principal"] == {"Service": "transcribe.amazonaws.com"}
    assert statement["Action"] == "sts:AssumeRole"
    # Confused-deputy protection: Transcribe acting for this account only.
    condition = statement["Condition"]
    assert condition["StringEquals"] == {"aws:SourceAccount": template.account_id}
    assert set(condition) <= {"StringEquals", "ArnLike"}
    if "ArnLike" in condition:
        assert condition["ArnLike"] == {
            "aws:SourceArn": f"arn:aws:transcribe:{template.region}:{template.account_id}:*"
        }


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def statement_set(policies: list[Policy]) -> set[tuple[str, str]]:
    """(action, resource) for every Allow, conditions checked empty."""
    found = set()
    for policy in policies:
        for statement in policy["Statement"]:
            assert statement["Effect"] == "Allow"
            assert "Condition" not in statement
            actions = as_list(statement["Action"])
            resources = as_list(statement["Resource"])
            found |= {(action, resource) for action in actions for resource in resources}
    return found


@pytest.mark.parametrize("customer_key", ["false", "true"])
def test_the_data_access_role_reads_uploads_and_writes_transcribe_output_only(
    customer_key: str,
) -> None:
    template = stack_template(CustomerManagedKey=customer_key)
    _, policies = data_access_role(template)
    input_bucket = f"arn:aws:s3:::{template.physical_name('InputBucket')}"
    output_bucket = f"arn:aws:s3:::{template.physical_name('OutputBucket')}"
    raw_prefix = template.function("StartTranscriptionFunction").environment["RAW_OUTPUT_PREFIX"]
    expected = {
        ("s3:GetObject", f"{input_bucket}/*"),
        ("s3:ListBucket", input_bucket),
        ("s3:PutObject", f"{output_bucket}/{raw_prefix}*"),
    }
    if customer_key == "true":
        key = template.resolve({"Fn::GetAtt": ["EncryptionKey", "Arn"]})
        expected |= {("kms:Decrypt", key), ("kms:GenerateDataKey", key)}

    assert statement_set(policies) == expected
    # So a queued job cannot overwrite a published output, nor read one.
    summary = f"{output_bucket}/a.mp3/summary.json"
    assert not is_allowed(policies, IamRequest("s3:PutObject", summary))
    assert not is_allowed(policies, IamRequest("s3:GetObject", summary))


# -- what the start function may do beyond S3 and Transcribe ------------------------------


def test_the_start_function_may_pass_only_the_data_access_role_to_transcribe(
    template: Template,
) -> None:
    policies = role_of_function(template, "StartTranscriptionFunction").policies
    role = template.resolve({"Fn::GetAtt": ["TranscribeDataAccessRole", "Arn"]})
    to_transcribe = {"iam:PassedToService": "transcribe.amazonaws.com"}

    assert is_allowed(policies, IamRequest("iam:PassRole", role, to_transcribe))
    other_role = f"arn:aws:iam::{template.account_id}:role/{STACK}-StartTranscriptionFunctionRole"
    assert not is_allowed(policies, IamRequest("iam:PassRole", other_role, to_transcribe))
    assert not is_allowed(policies, IamRequest("iam:PassRole", "*", to_transcribe))
    to_lambda = {"iam:PassedToService": "lambda.amazonaws.com"}
    assert not is_allowed(policies, IamRequest("iam:PassRole", role, to_lambda))
    assert not is_allowed(policies, IamRequest("iam:PassRole", role))  # no service named
    for function in ("ProcessTranscriptFunction", "ReconcileFunction"):
        others = role_of_function(template, function).policies
        assert not is_allowed(others, IamRequest("iam:PassRole", role, to_transcribe)), function


def test_only_the_start_function_delays_messages_and_only_on_the_upload_queue(
    template: Template,
) -> None:
    upload_queue = template.resolve({"Fn::GetAtt": ["UploadQueue", "Arn"]})
    queues = [
        template.resolve({"Fn::GetAtt": [queue, "Arn"]})
        for queue in template.resources_of_type("AWS::SQS::Queue")
    ]
    assert upload_queue in queues
    change = "sqs:ChangeMessageVisibility"

    start = role_of_function(template, "StartTranscriptionFunction").policies
    for queue in queues:
        assert is_allowed(start, IamRequest(change, queue)) == (queue == upload_queue), queue
    for function in ("ProcessTranscriptFunction", "ReconcileFunction"):
        policies = role_of_function(template, function).policies
        assert not any(is_allowed(policies, IamRequest(change, q)) for q in queues), function


def test_only_reconciliation_and_the_start_function_send_to_the_upload_queue(
    template: Template,
) -> None:
    # Reconciliation re-queues unknown jobs; the start function re-queues a fresh copy of
    # an upload that waited long for capacity. No one sends anywhere else.
    senders = {"ReconcileFunction", "StartTranscriptionFunction"}
    queues = {
        queue: template.resolve({"Fn::GetAtt": [queue, "Arn"]})
        for queue in template.resources_of_type("AWS::SQS::Queue")
    }
    for function in FUNCTIONS:
        policies = role_of_function(template, function).policies
        for queue, arn in queues.items():
            may_send = is_allowed(policies, IamRequest("sqs:SendMessage", arn))
            assert may_send == (function in senders and queue == "UploadQueue")


# -- the in-flight table: who does what ---------------------------------------------------


def table_request(template: Template, action: str, leading_key: str | None = None) -> IamRequest:
    table = template.resolve({"Fn::GetAtt": ["InFlightTable", "Arn"]})
    context = {} if leading_key is None else {"dynamodb:LeadingKeys": leading_key}
    return IamRequest(f"dynamodb:{action}", table, context)


TABLE_ACTIONS = ["GetItem", "PutItem", "DeleteItem", "UpdateItem", "Scan", "Query"]


@pytest.mark.parametrize(
    ("function", "may"),
    [
        ("StartTranscriptionFunction", {"PutItem"}),  # an item per started job
        ("ProcessTranscriptFunction", {"DeleteItem"}),  # removed once answered
        ("ReconcileFunction", {"Scan", "DeleteItem"}),  # read and settle (checkpoint: below)
    ],
)
def test_each_function_does_its_part_of_the_in_flight_table(
    template: Template, function: str, may: set[str]
) -> None:
    policies = role_of_function(template, function).policies
    upload_key = "uploads/My Talk.mp4"

    for action in TABLE_ACTIONS:
        leading_key = None if action in ("Scan", "Query") else upload_key
        request = table_request(template, action, leading_key)
        assert is_allowed(policies, request) == (action in may), (function, action)


def test_reconciliation_reads_and_writes_only_its_checkpoint_item(template: Template) -> None:
    from transcription_pipeline.aws.dynamodb import _CHECKPOINT_KEY

    policies = role_of_function(template, "ReconcileFunction").policies
    checkpoint = _CHECKPOINT_KEY["source_key"]["S"]

    for action in ("GetItem", "PutItem"):
        assert is_allowed(policies, table_request(template, action, checkpoint)), action
        assert not is_allowed(policies, table_request(template, action, "uploads/a.mp3")), action
        assert not is_allowed(policies, table_request(template, action, checkpoint + "x")), action
    other_table = IamRequest(
        "dynamodb:PutItem",
        f"arn:aws:dynamodb:{template.region}:{template.account_id}:table/other",
        {"dynamodb:LeadingKeys": checkpoint},
    )
    assert not is_allowed(policies, other_table)


# -- Transcribe --------------------------------------------------------------------------------


def test_start_transcription_job_is_pinned_to_this_stack_s_output(template: Template) -> None:
    output_bucket = template.physical_name("OutputBucket")
    start = "transcribe:StartTranscriptionJob"
    ours = {
        "transcribe:OutputBucketName": output_bucket,
        "transcribe:OutputKey": "_transcribe/j.json",
    }
    role = role_of_function(template, "StartTranscriptionFunction")
    assert is_allowed(role.policies, IamRequest(start, "*", ours))
    elsewhere = {**ours, "transcribe:OutputBucketName": "someone-elses-bucket"}
    assert not is_allowed(role.policies, IamRequest(start, "*", elsewhere))
    outside = {**ours, "transcribe:OutputKey": "talks/x.mp4/transcript.json"}
    assert not is_allowed(role.policies, IamRequest(start, "*", outside))
    # Reconciliation starts nothing itself: it puts the upload back on the queue.
    for function in ("ProcessTranscriptFunction", "ReconcileFunction"):
        policies = role_of_function(template, function).policies
        assert not is_allowed(policies, IamRequest(start, "*", ours)), function


def test_jobs_of_other_applications_cannot_be_read(template: Template) -> None:
    job_arn = "arn:aws:transcribe:us-east-1:123456789012:transcription-job/{}"
    for function in ("ProcessTranscriptFunction", "ReconcileFunction"):
        policies = role_of_function(template, function).policies
        read = "transcribe:GetTranscriptionJob"
        assert is_allowed(policies, IamRequest(read, job_arn.format(f"{STACK}.talk.0123")))
        assert not is_allowed(policies, IamRequest(read, job_arn.format("other-app.talk")))


# -- the summary model: that model or profile only -------------------------------------------
PROFILE_ARN = "arn:aws:bedrock:us-east-1:123456789012:inference-profile/"


@pytest.mark.parametrize("function", ["ProcessTranscriptFunction", "ReconcileFunction"])
def test_the_summary_model_is_the_only_one_a_role_may_invoke(function: str) -> None:
    account = Account("123456789012", "us-east-1")
    profile = "us.anthropic.claude-3-5-haiku-20241022-v1:0"
    with_profile = role_of_function(stack_template(SummaryModelId=profile), function).policies
    with_model = role_of_function(stack_template(SummaryModelId="amazon.nova-lite-v1:0"), function)
    without = role_of_function(stack_template(), function).policies

    # A cross-Region profile: the profile, then the model it routes to, through it only.
    assert all(
        is_allowed(with_profile, request)
        for request in iam_requests("bedrock-runtime", "Converse", {"modelId": profile}, account)
    )
    routed_elsewhere = IamRequest(
        "bedrock:InvokeModel",
        "arn:aws:bedrock:us-west-2::foundation-model/anthropic.claude-3-5-haiku-20241022-v1:0",
        {"bedrock:InferenceProfileArn": PROFILE_ARN + profile},
    )
    assert is_allowed(with_profile, routed_elsewhere)
    assert not is_allowed(
        with_profile,
        IamRequest(
            "bedrock:InvokeModel",
            "arn:aws:bedrock:us-west-2::foundation-model/anthropic.claude-3-5-haiku-20241022-v1:0",
        ),
    )
    for other in ("anthropic.claude-3-opus-20240229-v1:0", "us.amazon.nova-pro-v1:0"):
        assert not all(
            is_allowed(with_profile, r)
            for r in iam_requests("bedrock-runtime", "Converse", {"modelId": other}, account)
        ), other
    # A model id: that model only.
    (direct,) = iam_requests(
        "bedrock-runtime", "Converse", {"modelId": "amazon.nova-lite-v1:0"}, account
    )
    assert is_allowed(with_model.policies, direct)
    # No SummaryModelId: no model at all.
    assert not is_allowed(without, direct)
