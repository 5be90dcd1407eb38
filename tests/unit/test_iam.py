"""The IAM model on its own: the evaluation rules of the IAM User Guide ("Policy
evaluation logic", "Condition operators") and the requests of the Service Authorization
Reference, so the handler tests' permission checks can be trusted."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError

from local_pipeline.cloud import default_template
from local_pipeline.iam import (
    Account,
    IamRequest,
    PolicyNotUnderstood,
    Role,
    RoleEnforcer,
    account_of,
    iam_requests,
    is_allowed,
    role_of_function,
)
from tests.conftest import REPO

ACCOUNT = Account("123456789012", "us-east-1")


def policy(*statements: dict[str, Any]) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": list(statements)}


def allow(action: Any, resource: Any, **condition: Any) -> dict[str, Any]:
    statement: dict[str, Any] = {"Effect": "Allow", "Action": action, "Resource": resource}
    if condition:
        statement["Condition"] = condition
    return statement


def test_nothing_is_allowed_without_a_statement() -> None:
    assert not is_allowed([], IamRequest("s3:GetObject", "arn:aws:s3:::b/k"))


def test_actions_match_case_insensitively_with_wildcards() -> None:
    policies = [policy(allow("S3:Get*", "*"))]
    assert is_allowed(policies, IamRequest("s3:GetObject", "arn:aws:s3:::b/k"))
    assert not is_allowed(policies, IamRequest("s3:PutObject", "arn:aws:s3:::b/k"))


def test_resources_match_case_sensitively_and_star_crosses_slashes() -> None:
    policies = [policy(allow("s3:GetObject", "arn:aws:s3:::b/*/summary.json"))]
    assert is_allowed(policies, IamRequest("s3:GetObject", "arn:aws:s3:::b/a/b/c/summary.json"))
    assert not is_allowed(policies, IamRequest("s3:GetObject", "arn:aws:s3:::b/a/Summary.json"))
    assert not is_allowed(policies, IamRequest("s3:GetObject", "arn:aws:s3:::b/summary.json"))


def test_question_mark_is_one_character_and_brackets_are_literal() -> None:
    policies = [policy(allow("s3:GetObject", "arn:aws:s3:::b/[x]?"))]
    assert is_allowed(policies, IamRequest("s3:GetObject", "arn:aws:s3:::b/[x]1"))
    assert not is_allowed(policies, IamRequest("s3:GetObject", "arn:aws:s3:::b/x1"))


def test_an_explicit_deny_wins_over_any_allow() -> None:
    deny = {"Effect": "Deny", "Action": "s3:*", "Resource": "arn:aws:s3:::b/secret/*"}
    policies = [policy(allow("s3:*", "*")), policy(deny)]
    assert not is_allowed(policies, IamRequest("s3:GetObject", "arn:aws:s3:::b/secret/k"))
    assert is_allowed(policies, IamRequest("s3:GetObject", "arn:aws:s3:::b/public/k"))


def test_not_action_and_not_resource() -> None:
    statement = {"Effect": "Allow", "NotAction": "s3:Delete*", "NotResource": "arn:aws:s3:::x/*"}
    policies = [policy(statement)]
    assert is_allowed(policies, IamRequest("s3:GetObject", "arn:aws:s3:::b/k"))
    assert not is_allowed(policies, IamRequest("s3:DeleteObject", "arn:aws:s3:::b/k"))
    assert not is_allowed(policies, IamRequest("s3:GetObject", "arn:aws:s3:::x/k"))


def test_conditions_must_all_hold_and_a_missing_key_matches_nothing() -> None:
    policies = [
        policy(
            allow(
                "transcribe:StartTranscriptionJob",
                "*",
                StringEquals={"transcribe:OutputBucketName": "out"},
                StringLike={"transcribe:OutputKey": "_transcribe/*"},
            )
        )
    ]
    start = "transcribe:StartTranscriptionJob"
    good = {"transcribe:OutputBucketName": "out", "transcribe:OutputKey": "_transcribe/j.json"}
    assert is_allowed(policies, IamRequest(start, "*", good))
    wrong_key = {**good, "transcribe:OutputKey": "elsewhere/j.json"}
    assert not is_allowed(policies, IamRequest(start, "*", wrong_key))
    assert not is_allowed(policies, IamRequest(start, "*", {"transcribe:OutputKey": "_t/x"}))


def test_a_condition_that_fails_makes_the_statement_not_apply_not_a_deny() -> None:
    # moto's evaluator gets this wrong: it turns a failed condition into an explicit deny.
    conditional = allow("s3:GetObject", "*", StringEquals={"aws:SourceVpc": "vpc-1"})
    policies = [policy(conditional, allow("s3:GetObject", "arn:aws:s3:::b/*"))]
    assert is_allowed(policies, IamRequest("s3:GetObject", "arn:aws:s3:::b/k"))


def test_negated_operators_and_if_exists_on_a_missing_key() -> None:
    key = "transcribe:OutputEncryptionKMSKeyId"
    not_equals = [policy(allow("a:B", "*", StringNotEquals={key: "k1"}))]
    if_exists = [policy(allow("a:B", "*", StringEqualsIfExists={key: "k1"}))]
    assert is_allowed(not_equals, IamRequest("a:B", "*"))
    assert not is_allowed(not_equals, IamRequest("a:B", "*", {key: "k1"}))
    assert is_allowed(if_exists, IamRequest("a:B", "*"))
    assert not is_allowed(if_exists, IamRequest("a:B", "*", {key: "k2"}))


def test_null_condition_tells_absent_from_present_keys() -> None:
    policies = [policy(allow("a:B", "*", Null={"s3:prefix": "true"}))]
    assert is_allowed(policies, IamRequest("a:B", "*"))
    assert not is_allowed(policies, IamRequest("a:B", "*", {"s3:prefix": ""}))


def test_grammar_it_does_not_know_is_refused_not_guessed() -> None:
    unknown_operator = [policy(allow("a:B", "*", DateGreaterThan={"aws:CurrentTime": "x"}))]
    with pytest.raises(PolicyNotUnderstood):
        is_allowed(unknown_operator, IamRequest("a:B", "*", {"aws:CurrentTime": "y"}))
    with pytest.raises(PolicyNotUnderstood):
        is_allowed([policy({**allow("a:B", "*"), "Principal": "*"})], IamRequest("a:B", "*"))


@pytest.mark.parametrize(
    ("service", "operation", "params", "expected"),
    [
        ("s3", "HeadObject", {"Bucket": "b", "Key": "k/x.mp4"}, ("s3:GetObject", "b/k/x.mp4")),
        (
            "s3",
            "GetObject",
            {"Bucket": "b", "Key": "k", "VersionId": "v1"},
            ("s3:GetObjectVersion", "b/k"),
        ),
        ("s3", "PutObject", {"Bucket": "b", "Key": "k"}, ("s3:PutObject", "b/k")),
        ("s3", "ListObjectsV2", {"Bucket": "b", "Prefix": "p/"}, ("s3:ListBucket", "b")),
        (
            "transcribe",
            "GetTranscriptionJob",
            {"TranscriptionJobName": "stack.job"},
            (
                "transcribe:GetTranscriptionJob",
                "arn:aws:transcribe:us-east-1:123456789012:transcription-job/stack.job",
            ),
        ),
        ("transcribe", "ListTranscriptionJobs", {}, ("transcribe:ListTranscriptionJobs", "*")),
    ],
)
def test_each_call_becomes_the_request_aws_authorises(
    service: str, operation: str, params: dict[str, Any], expected: tuple[str, str]
) -> None:
    (request,) = iam_requests(service, operation, params, ACCOUNT)
    action, resource = expected
    assert request.action == action
    assert request.resource in (resource, f"arn:aws:s3:::{resource}")


def test_start_transcription_job_carries_its_condition_keys() -> None:
    requests = iam_requests(
        "transcribe",
        "StartTranscriptionJob",
        {
            "OutputBucketName": "out",
            "OutputKey": "_transcribe/j.json",
            "JobExecutionSettings": {"DataAccessRoleArn": "arn:aws:iam::1:role/r"},
        },
        ACCOUNT,
    )
    assert [(r.action, r.resource) for r in requests] == [
        ("transcribe:StartTranscriptionJob", "*"),
        ("iam:PassRole", "arn:aws:iam::1:role/r"),
    ]
    assert requests[0].context == {
        "transcribe:OutputBucketName": "out",
        "transcribe:OutputKey": "_transcribe/j.json",
    }


def test_passing_the_role_names_the_service_it_is_passed_to() -> None:
    requests = iam_requests(
        "transcribe",
        "StartTranscriptionJob",
        {"JobExecutionSettings": {"DataAccessRoleArn": "arn:aws:iam::1:role/r"}},
        ACCOUNT,
    )
    pass_role = requests[1]
    assert pass_role.context == {"iam:PassedToService": "transcribe.amazonaws.com"}
    to_transcribe = policy(
        allow(
            "iam:PassRole",
            "arn:aws:iam::1:role/r",
            StringEquals={"iam:PassedToService": "transcribe.amazonaws.com"},
        )
    )
    to_lambda = policy(
        allow(
            "iam:PassRole",
            "arn:aws:iam::1:role/r",
            StringEquals={"iam:PassedToService": "lambda.amazonaws.com"},
        )
    )
    assert is_allowed([to_transcribe], pass_role)
    assert not is_allowed([to_lambda], pass_role)


QUEUE_URL = "https://sqs.us-east-1.amazonaws.com/123456789012/stack-UploadQueue"
QUEUE_ARN = "arn:aws:sqs:us-east-1:123456789012:stack-UploadQueue"


@pytest.mark.parametrize(
    ("operation", "action"),
    [
        ("SendMessage", "sqs:SendMessage"),
        ("SendMessageBatch", "sqs:SendMessage"),  # batch calls are authorised per action
        ("ReceiveMessage", "sqs:ReceiveMessage"),
        ("DeleteMessage", "sqs:DeleteMessage"),
        ("DeleteMessageBatch", "sqs:DeleteMessage"),
        ("ChangeMessageVisibility", "sqs:ChangeMessageVisibility"),
        ("ChangeMessageVisibilityBatch", "sqs:ChangeMessageVisibility"),
        ("GetQueueAttributes", "sqs:GetQueueAttributes"),
    ],
)
def test_sqs_calls_are_authorised_on_the_queue_arn_of_the_url(operation: str, action: str) -> None:
    (request,) = iam_requests("sqs", operation, {"QueueUrl": QUEUE_URL}, ACCOUNT)

    assert (request.action, request.resource, dict(request.context)) == (action, QUEUE_ARN, {})


TABLES = Account("123456789012", "us-east-1", partition_keys={"stack-InFlight": "source_key"})
TABLE_ARN = "arn:aws:dynamodb:us-east-1:123456789012:table/stack-InFlight"
ITEM = {"source_key": {"S": "uploads/a b.mp4"}, "job_name": {"S": "stack.a-b.0123"}}


@pytest.mark.parametrize(
    ("operation", "field"),
    [("PutItem", "Item"), ("GetItem", "Key"), ("DeleteItem", "Key"), ("UpdateItem", "Key")],
)
def test_an_item_call_carries_its_partition_key_as_dynamodb_leading_keys(
    operation: str, field: str
) -> None:
    params = {"TableName": "stack-InFlight", field: ITEM}

    (request,) = iam_requests("dynamodb", operation, params, TABLES)

    assert (request.action, request.resource) == (f"dynamodb:{operation}", TABLE_ARN)
    assert request.context == {"dynamodb:LeadingKeys": "uploads/a b.mp4"}


@pytest.mark.parametrize("operation", ["Scan", "Query"])
def test_scan_and_query_have_no_leading_key(operation: str) -> None:
    (request,) = iam_requests("dynamodb", operation, {"TableName": "stack-InFlight"}, TABLES)

    assert (request.action, request.resource, dict(request.context)) == (
        f"dynamodb:{operation}",
        TABLE_ARN,
        {},
    )


def test_an_item_call_on_a_table_of_unknown_key_is_refused_not_guessed() -> None:
    with pytest.raises(PolicyNotUnderstood, match="partition key of table other"):
        iam_requests("dynamodb", "PutItem", {"TableName": "other", "Item": ITEM}, TABLES)


def test_the_accounts_partition_keys_come_from_the_templates_tables() -> None:
    account = account_of(default_template(REPO))

    assert (account.account_id, account.region) == ("123456789012", "us-east-1")
    assert dict(account.partition_keys) == {"transcription-pipeline-InFlightTable": "source_key"}


LEADING = "dynamodb:LeadingKeys"


def test_for_all_values_holds_when_every_value_is_allowed() -> None:
    only_checkpoint = [
        policy(allow("dynamodb:*", TABLE_ARN, **{"ForAllValues:StringEquals": {LEADING: ["#c"]}}))
    ]
    assert is_allowed(only_checkpoint, IamRequest("dynamodb:GetItem", TABLE_ARN, {LEADING: "#c"}))
    assert not is_allowed(
        only_checkpoint, IamRequest("dynamodb:GetItem", TABLE_ARN, {LEADING: "uploads/x"})
    )


def test_for_all_values_holds_when_the_key_is_absent_for_any_value_does_not() -> None:
    """IAM User Guide, "Multivalued context keys": ForAllValues returns true when the
    request has no such key (an empty set is a subset of anything); ForAnyValue false."""
    scan = IamRequest("dynamodb:Scan", TABLE_ARN)  # a Scan has no dynamodb:LeadingKeys
    for_all = [
        policy(allow("dynamodb:*", TABLE_ARN, **{"ForAllValues:StringEquals": {LEADING: ["#c"]}}))
    ]
    for_any = [
        policy(allow("dynamodb:*", TABLE_ARN, **{"ForAnyValue:StringEquals": {LEADING: ["#c"]}}))
    ]
    assert is_allowed(for_all, scan)
    assert not is_allowed(for_any, scan)


def test_for_any_value_with_wildcards() -> None:
    uploads = [
        policy(allow("dynamodb:*", TABLE_ARN, **{"ForAnyValue:StringLike": {LEADING: "up*/*"}}))
    ]
    assert is_allowed(uploads, IamRequest("dynamodb:PutItem", TABLE_ARN, {LEADING: "uploads/x"}))
    assert not is_allowed(uploads, IamRequest("dynamodb:PutItem", TABLE_ARN, {LEADING: "x/y"}))


@pytest.mark.parametrize(
    "operator", ["ForAllValues:StringNotEquals", "ForAnyValue:StringEqualsIfExists"]
)
def test_set_operators_it_does_not_implement_are_refused(operator: str) -> None:
    policies = [policy(allow("dynamodb:*", "*", **{operator: {LEADING: ["#c"]}}))]
    with pytest.raises(PolicyNotUnderstood, match="set operator"):
        is_allowed(policies, IamRequest("dynamodb:GetItem", TABLE_ARN, {LEADING: "#c"}))


def test_the_reconcile_role_may_write_its_checkpoint_item_only() -> None:
    """What the template's KeepItsPlaceBetweenRuns statement grants, through the mapping."""
    template = default_template(REPO)
    account = account_of(template)
    role = role_of_function(template, "ReconcileFunction")
    table = "transcription-pipeline-InFlightTable"

    def put(source_key: str) -> IamRequest:
        item = {"source_key": {"S": source_key}, "job_name": {"S": "#checkpoint"}}
        (request,) = iam_requests(
            "dynamodb", "PutItem", {"TableName": table, "Item": item}, account
        )
        return request

    assert is_allowed(role.policies, put("#reconcile"))
    assert not is_allowed(role.policies, put("uploads/talk.mp4"))
    (scan,) = iam_requests("dynamodb", "Scan", {"TableName": table}, account)
    assert is_allowed(role.policies, scan)


def test_a_call_without_a_mapping_is_refused_loudly() -> None:
    with pytest.raises(PolicyNotUnderstood, match="no IAM mapping for sqs:PurgeQueue"):
        iam_requests("sqs", "PurgeQueue", {"QueueUrl": QUEUE_URL}, ACCOUNT)


def test_the_enforcer_answers_a_missing_key_with_403_unless_the_role_may_list() -> None:
    read = policy(allow("s3:GetObject", "arn:aws:s3:::b/*"))
    listing = policy(allow("s3:ListBucket", "arn:aws:s3:::b"))
    enforcer = RoleEnforcer(ACCOUNT, lambda _bucket, _key, _version: False)

    class Model:
        name = "HeadObject"

        class service_model:  # noqa: N801 - botocore's attribute name
            service_name = "s3"

    params = {"Bucket": "b", "Key": "missing.mp4"}
    with enforcer.acting_as(Role("reader", (read,))), pytest.raises(ClientError) as raised:
        enforcer._check(params, Model())
    assert raised.value.response["Error"]["Code"] == "403"
    assert enforcer.denials == []  # allowed to ask; the answer is what S3 says
    with enforcer.acting_as(Role("lister", (read, listing))):
        enforcer._check(params, Model())  # moto's own 404 follows
    enforcer._check({"Bucket": "b", "Key": "x"}, Model())  # no role: the user, unchecked
    assert enforcer.checked == 2
