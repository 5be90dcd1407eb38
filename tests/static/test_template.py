"""template.yaml and the code agree: variables, prefixes, permissions, bucket safety."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from local_pipeline.iam import role_of_function
from local_pipeline.template import Template
from tests.conftest import REPO
from transcription_pipeline.config import load_settings
from transcription_pipeline.naming import ERROR_RECORD, OUTPUT_FILES

STACK = "transcription-pipeline"


@pytest.fixture(scope="module")
def template() -> Template:
    return Template(REPO / "template.yaml", stack_name=STACK)


def statements(template: Template, logical_id: str) -> list[dict[str, Any]]:
    """The role's statements as the IAM-checked tests enforce them (conditions resolved)."""
    return [
        s for policy in role_of_function(template, logical_id).policies for s in policy["Statement"]
    ]


def allowed(template: Template, logical_id: str, action: str) -> list[str]:
    resources: list[str] = []
    for statement in statements(template, logical_id):
        actions = (
            statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        )
        if statement["Effect"] == "Allow" and action in actions:
            found = statement["Resource"]
            resources.extend(found if isinstance(found, list) else [found])
    return resources


def matches(pattern: str, arn: str) -> bool:
    return re.fullmatch(re.escape(pattern).replace(r"\*", ".*"), arn) is not None


@pytest.mark.parametrize("function", ["StartTranscriptionFunction", "ProcessTranscriptFunction"])
def test_each_function_environment_is_a_valid_configuration(
    template: Template, function: str
) -> None:
    environment = template.function(function).environment

    settings = load_settings(environment)

    assert settings.output_bucket == template.physical_name("OutputBucket")
    assert environment["POWERTOOLS_SERVICE_NAME"]
    assert environment["POWERTOOLS_METRICS_NAMESPACE"]
    assert environment["AWS_ENDPOINT_URL"] == ""  # declared so sam local can override it


def test_event_rule_filters_on_this_stack_s_job_prefix(template: Template) -> None:
    spec = template.function("ProcessTranscriptFunction")
    (event,) = spec.events.values()
    pattern = event["Properties"]["Pattern"]

    assert event["Type"] == "EventBridgeRule"
    assert pattern["source"] == ["aws.transcribe"]
    assert pattern["detail-type"] == ["Transcribe Job State Change"]
    assert sorted(pattern["detail"]["TranscriptionJobStatus"]) == ["COMPLETED", "FAILED"]
    assert pattern["detail"]["TranscriptionJobName"] == [
        {"prefix": spec.environment["JOB_NAME_PREFIX"]}
    ]


def test_start_function_listens_to_every_object_created(template: Template) -> None:
    (event,) = template.function("StartTranscriptionFunction").events.values()
    assert event["Type"] == "S3"
    assert event["Properties"]["Events"] == "s3:ObjectCreated:*"


def test_raw_output_prefix_expires(template: Template) -> None:
    raw_prefix = template.function("ProcessTranscriptFunction").environment["RAW_OUTPUT_PREFIX"]
    rules = template.resolve(template.resources["OutputBucket"]["Properties"])[
        "LifecycleConfiguration"
    ]["Rules"]
    expiring = [rule for rule in rules if rule.get("Prefix") == raw_prefix]
    assert expiring
    assert int(expiring[0]["ExpirationInDays"]) >= 1


@pytest.mark.parametrize("bucket", ["InputBucket", "OutputBucket"])
def test_buckets_are_private_encrypted_and_tls_only(template: Template, bucket: str) -> None:
    properties = template.resolve(template.resources[bucket]["Properties"])
    block = properties["PublicAccessBlockConfiguration"]
    assert all(block[flag] is True for flag in block)
    assert len(block) == 4
    (rule,) = properties["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    assert rule["ServerSideEncryptionByDefault"]["SSEAlgorithm"] in ("AES256", "aws:kms")
    policies = [
        res
        for res in template.resources.values()
        if res["Type"] == "AWS::S3::BucketPolicy" and res["Properties"]["Bucket"] == {"Ref": bucket}
    ]
    (policy,) = policies
    (deny,) = policy["Properties"]["PolicyDocument"]["Statement"]
    assert deny["Effect"] == "Deny"
    assert deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}


def test_process_function_may_write_exactly_the_outputs(template: Template) -> None:
    bucket = template.physical_name("OutputBucket")
    writable = allowed(template, "ProcessTranscriptFunction", "s3:PutObject")

    for name in (*OUTPUT_FILES, ERROR_RECORD):
        assert any(
            matches(p, f"arn:aws:s3:::{bucket}/uploads/My Talk.mp4/{name}") for p in writable
        )
    assert not any(matches(p, f"arn:aws:s3:::{bucket}/uploads/other.bin") for p in writable)
    assert not any(matches(p, f"arn:aws:s3:::{bucket}/_transcribe/job.json") for p in writable)


def test_start_function_may_write_only_raw_output_and_error_records(template: Template) -> None:
    bucket = template.physical_name("OutputBucket")
    writable = allowed(template, "StartTranscriptionFunction", "s3:PutObject")

    assert any(matches(p, f"arn:aws:s3:::{bucket}/_transcribe/job.json") for p in writable)
    assert any(matches(p, f"arn:aws:s3:::{bucket}/a/b.mp3/error.json") for p in writable)
    assert not any(matches(p, f"arn:aws:s3:::{bucket}/a/b.mp3/summary.json") for p in writable)


def test_sam_local_env_file_only_sets_declared_variables(template: Template) -> None:
    """`sam local invoke --env-vars` silently ignores variables the template does not declare."""
    overrides = json.loads((REPO / "events" / "local-env.json").read_text())
    functions = {spec.logical_id: spec for spec in template.functions()}

    assert set(overrides) <= {"Parameters", *functions}
    for target, variables in overrides.items():
        specs = functions.values() if target == "Parameters" else [functions[target]]
        for spec in specs:
            assert set(variables) <= set(spec.environment), (target, spec.logical_id)
        assert variables["AWS_ENDPOINT_URL"].startswith("http://")


def test_sample_events_match_the_template(template: Template) -> None:
    """events/ must describe this stack: its input bucket and its job-name prefix."""
    put = json.loads((REPO / "events" / "s3-put.json").read_text())
    completed = json.loads((REPO / "events" / "transcribe-completed.json").read_text())

    assert put["Records"][0]["s3"]["bucket"]["name"] == template.physical_name("InputBucket")
    assert "+" in put["Records"][0]["s3"]["object"]["key"]  # a space, encoded as S3 does
    prefix = template.function("ProcessTranscriptFunction").environment["JOB_NAME_PREFIX"]
    assert completed["detail"]["TranscriptionJobName"].startswith(prefix)


@pytest.mark.parametrize(
    ("function", "queue"),
    [
        ("StartTranscriptionFunction", "StartTranscriptionDeadLetterQueue"),
        ("ProcessTranscriptFunction", "ProcessTranscriptDeadLetterQueue"),
    ],
)
def test_asynchronous_failures_end_in_a_dead_letter_queue(
    template: Template, function: str, queue: str
) -> None:
    config = template.resources[function]["Properties"]["EventInvokeConfig"]

    assert config["MaximumRetryAttempts"] == 2
    assert config["MaximumEventAgeInSeconds"] == 6 * 3600
    assert config["DestinationConfig"]["OnFailure"] == {
        "Type": "SQS",
        "Destination": {"Fn::GetAtt": [queue, "Arn"]},
    }
    assert template.resources[queue]["Properties"]["MessageRetentionPeriod"] == 14 * 24 * 3600


def test_undeliverable_job_events_end_in_a_dead_letter_queue(template: Template) -> None:
    (event,) = template.function("ProcessTranscriptFunction").events.values()
    properties = event["Properties"]
    rule_arn = (
        f"arn:aws:events:{template.region}:{template.account_id}:rule/{properties['RuleName']}"
    )
    policy = template.resolve(template.resources["JobEventsDeadLetterQueuePolicy"]["Properties"])
    (statement,) = policy["PolicyDocument"]["Statement"]

    assert properties["RetryPolicy"] == {
        "MaximumRetryAttempts": 185,
        "MaximumEventAgeInSeconds": 86400,
    }
    raw = template.resources["ProcessTranscriptFunction"]["Properties"]["Events"]
    (raw_event,) = raw.values()
    assert raw_event["Properties"]["DeadLetterConfig"] == {
        "Arn": {"Fn::GetAtt": ["JobEventsDeadLetterQueue", "Arn"]}
    }
    assert statement["Principal"] == {"Service": "events.amazonaws.com"}
    assert statement["Condition"]["ArnEquals"]["aws:SourceArn"] == rule_arn  # only our rule


def test_reconciliation_runs_on_the_configured_schedule(template: Template) -> None:
    faster = Template(
        REPO / "template.yaml",
        stack_name=STACK,
        parameter_overrides={"ReconcileIntervalMinutes": "5"},
    )
    (event,) = faster.function("ReconcileFunction").events.values()
    assert event["Type"] == "Schedule"
    assert event["Properties"]["Schedule"] == "rate(5 minutes)"
    assert template.function("ReconcileFunction").environment["RECONCILE_MIN_AGE_MINUTES"] == "60"


def test_start_concurrency_cap_is_a_parameter() -> None:
    def reserved(value: str) -> Any:
        capped = Template(
            REPO / "template.yaml",
            stack_name=STACK,
            parameter_overrides={"StartConcurrency": value},
        )
        properties = capped.resolve(capped.resources["StartTranscriptionFunction"]["Properties"])
        return properties.get("ReservedConcurrentExecutions")

    assert reserved("10") == "10"
    assert reserved("0") is None  # no cap: deployable in low-limit accounts


def test_the_default_deploy_reserves_no_concurrency(template: Template) -> None:
    """Lambda keeps 10 executions of an account unreserved; new accounts have 10 in all."""
    assert template.document["Parameters"]["StartConcurrency"]["Default"] == 0
    for spec in template.functions():
        properties = template.resolve(template.resources[spec.logical_id]["Properties"])
        assert properties.get("ReservedConcurrentExecutions") is None, spec.logical_id


def test_alarms_watch_dead_letters_errors_and_failed_jobs(template: Template) -> None:
    alarms = {
        lid: template.resources[lid]["Properties"]
        for lid in template.resources_of_type("AWS::CloudWatch::Alarm")
    }
    watched_queues = {
        a["Dimensions"][0]["Value"]["Fn::GetAtt"][0]
        for a in alarms.values()
        if a["Namespace"] == "AWS/SQS"
    }
    watched_functions = {
        a["Dimensions"][0]["Value"]["Ref"]
        for a in alarms.values()
        if a["Namespace"] == "AWS/Lambda" and a["MetricName"] == "Errors"
    }
    environment = template.function("ProcessTranscriptFunction").environment
    failed_jobs = [a for a in alarms.values() if a.get("MetricName") == "JobsFailed"]

    assert watched_queues == set(template.resources_of_type("AWS::SQS::Queue"))
    assert watched_functions == {spec.logical_id for spec in template.functions()}
    (alarm,) = failed_jobs
    # The metric the process handler emits, in the namespace and service it emits it under.
    assert alarm["Namespace"] == environment["POWERTOOLS_METRICS_NAMESPACE"]
    assert alarm["Dimensions"] == [
        {"Name": "service", "Value": environment["POWERTOOLS_SERVICE_NAME"]}
    ]
    handler = (REPO / "functions" / "process_transcript" / "app.py").read_text()
    assert '"JobsFailed"' in handler
    assert all(a["AlarmActions"] == [{"Ref": "AlarmTopic"}] for a in alarms.values())
    # Items reconciliation skipped: the metric its handler emits, alarmed like failed jobs.
    (skipped,) = [a for a in alarms.values() if a.get("MetricName") == "ReconcileItemsFailed"]
    assert skipped["Dimensions"] == alarm["Dimensions"]
    assert '"ReconcileItemsFailed"' in (REPO / "functions" / "reconcile" / "app.py").read_text()


def test_alarm_email_is_optional(template: Template) -> None:
    with_email = Template(
        REPO / "template.yaml", stack_name=STACK, parameter_overrides={"AlarmEmail": "ops@x.org"}
    )
    condition = template.resources["AlarmEmailSubscription"]["Condition"]
    assert template.resolve({"Condition": condition}) is False
    assert with_email.resolve({"Condition": condition}) is True


@pytest.mark.parametrize("customer_key", ["false", "true"])
def test_cloudwatch_can_publish_to_the_alarm_topic(customer_key: str) -> None:
    """CloudWatch alarm actions cannot use a topic under the AWS managed key alias/aws/sns."""
    stack = Template(
        REPO / "template.yaml",
        stack_name=STACK,
        parameter_overrides={"CustomerManagedKey": customer_key},
    )
    topic = stack.resolve(stack.resources["AlarmTopic"]["Properties"])

    assert "alias/aws/sns" not in json.dumps(topic)
    if customer_key == "false":
        assert topic.get("KmsMasterKeyId") is None  # no key: alarm names and numbers only
        return
    assert topic["KmsMasterKeyId"] == stack.resolve({"Fn::GetAtt": ["EncryptionKey", "Arn"]})
    key_policy = stack.resolve(stack.resources["EncryptionKey"]["Properties"]["KeyPolicy"])
    (grant,) = [
        s
        for s in key_policy["Statement"]
        if s["Principal"] == {"Service": "cloudwatch.amazonaws.com"} and s["Effect"] == "Allow"
    ]
    assert sorted(grant["Action"]) == ["kms:Decrypt", "kms:GenerateDataKey*"]
    assert grant["Condition"] == {"StringEquals": {"aws:SourceAccount": stack.account_id}}


def test_customer_managed_key_is_wired_through() -> None:
    keyed = Template(
        REPO / "template.yaml", stack_name=STACK, parameter_overrides={"CustomerManagedKey": "true"}
    )
    key_arn = keyed.resolve({"Fn::GetAtt": ["EncryptionKey", "Arn"]})

    for bucket in ("InputBucket", "OutputBucket"):
        (rule,) = keyed.resolve(keyed.resources[bucket]["Properties"])["BucketEncryption"][
            "ServerSideEncryptionConfiguration"
        ]
        assert rule["ServerSideEncryptionByDefault"] == {
            "SSEAlgorithm": "aws:kms",
            "KMSMasterKeyID": key_arn,
        }
    for spec in keyed.functions():
        assert spec.environment["OUTPUT_KMS_KEY_ARN"] == key_arn
        kms = allowed(keyed, spec.logical_id, "kms:GenerateDataKey")
        assert kms == [key_arn], spec.logical_id
    assert keyed.resources["EncryptionKey"]["Properties"]["EnableKeyRotation"] is True


def test_sse_s3_by_default(template: Template) -> None:
    for spec in template.functions():
        assert spec.environment["OUTPUT_KMS_KEY_ARN"] == ""
        assert allowed(template, spec.logical_id, "kms:GenerateDataKey") == []
