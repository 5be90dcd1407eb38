"""template.yaml and the code agree: variables, prefixes, permissions, bucket safety."""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any

import pytest

from local_pipeline.iam import role_of_function
from local_pipeline.template import Template
from tests.conftest import REPO
from transcription_pipeline.config import load_settings
from transcription_pipeline.naming import ERROR_RECORD, OUTPUT_FILES
from transcription_pipeline.start import IN_FLIGHT_DAYS, retry_delay

STACK = "transcription-pipeline"
DAY = 24 * 3600
# Message ids enough to meet the whole range of retry_delay's jitter (50-100 %).
MESSAGE_IDS = [f"{index:08x}-0000-4000-8000-000000000000" for index in range(4096)]


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


@pytest.mark.parametrize(
    "function", ["StartTranscriptionFunction", "ProcessTranscriptFunction", "ReconcileFunction"]
)
def test_each_function_environment_is_a_valid_configuration(
    template: Template, function: str
) -> None:
    environment = template.function(function).environment

    settings = load_settings(environment)

    assert settings.output_bucket == template.physical_name("OutputBucket")
    # What build_dependencies needs, naming this stack's queue, table and role.
    assert settings.upload_queue_url == template.resolve({"Ref": "UploadQueue"})
    assert settings.in_flight_table == template.physical_name("InFlightTable")
    assert settings.data_access_role_arn == template.resolve(
        {"Fn::GetAtt": ["TranscribeDataAccessRole", "Arn"]}
    )
    assert environment["POWERTOOLS_SERVICE_NAME"]
    assert environment["POWERTOOLS_METRICS_NAMESPACE"]
    assert environment["AWS_ENDPOINT_URL"] == ""  # declared so sam local can override it


def test_event_rule_filters_on_this_stack_s_job_prefix(template: Template) -> None:
    spec = template.function("ProcessTranscriptFunction")
    event = spec.events["JobFinished"]
    pattern = event["Properties"]["Pattern"]

    assert event["Type"] == "EventBridgeRule"
    assert pattern["source"] == ["aws.transcribe"]
    assert pattern["detail-type"] == ["Transcribe Job State Change"]
    assert sorted(pattern["detail"]["TranscriptionJobStatus"]) == ["COMPLETED", "FAILED"]
    assert pattern["detail"]["TranscriptionJobName"] == [
        {"prefix": spec.environment["JOB_NAME_PREFIX"]}
    ]


def test_every_object_created_reaches_the_upload_queue(template: Template) -> None:
    bucket = template.resources["InputBucket"]
    configuration = template.resolve(bucket["Properties"]["NotificationConfiguration"])

    assert configuration == {
        "QueueConfigurations": [
            {
                "Event": "s3:ObjectCreated:*",
                "Queue": template.resolve({"Fn::GetAtt": ["UploadQueue", "Arn"]}),
            }
        ]
    }
    # S3 checks it may send to the queue when the notification is set up.
    assert bucket["DependsOn"] == "UploadQueuePolicy"


def test_the_start_function_reads_the_upload_queue_in_partial_batches(
    template: Template,
) -> None:
    spec = template.function("StartTranscriptionFunction")
    (event,) = spec.events.values()
    properties = event["Properties"]

    assert event["Type"] == "SQS"
    assert properties["Queue"] == template.resolve({"Fn::GetAtt": ["UploadQueue", "Arn"]})
    # The function answers which messages to retry; without this Lambda would retry the
    # whole batch, and ignore the answer.
    assert properties["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert 1 <= int(properties["BatchSize"]) <= 10
    assert "MaximumBatchingWindowInSeconds" not in properties  # at most 10: none needed
    assert properties["ScalingConfig"] == {
        "MaximumConcurrency": template.parameters["StartMaximumConcurrency"]
    }
    # Lambda's advice for SQS event sources: a visibility timeout of six times the timeout.
    queue = template.resolve(template.resources["UploadQueue"]["Properties"])
    timeout = int(template.resources["StartTranscriptionFunction"]["Properties"]["Timeout"])
    assert int(queue["VisibilityTimeout"]) >= 6 * timeout


def test_the_start_function_is_invoked_by_its_queue_only(template: Template) -> None:
    """No asynchronous invocation settings left from the S3 trigger: the event source
    mapping invokes synchronously, and the queue, not Lambda, keeps what failed."""
    properties = template.resources["StartTranscriptionFunction"]["Properties"]

    assert "EventInvokeConfig" not in properties
    assert "ReservedConcurrentExecutions" not in properties


def retry_horizon(max_receive_count: int, message_id: str) -> int:
    """Seconds from a message's first failure to the dead-letter queue: after each of its
    maxReceiveCount receives it waits retry_delay(receive count) on the queue."""
    return sum(retry_delay(count, message_id) for count in range(1, max_receive_count + 1))


def test_a_quota_never_dead_letters_an_upload_within_two_days(template: Template) -> None:
    """A message that keeps meeting a quota goes to the dead-letter queue only after
    maxReceiveCount tries: with retry_delay's growing delays that is days, for every
    message (the jitter can halve its delays), and the queue keeps it that long."""
    queue = template.resolve(template.resources["UploadQueue"]["Properties"])
    redrive = queue["RedrivePolicy"]
    max_receives = int(redrive["maxReceiveCount"])
    horizons = [retry_horizon(max_receives, message_id) for message_id in MESSAGE_IDS]

    assert max_receives >= 100
    assert redrive["deadLetterTargetArn"] == template.resolve(
        {"Fn::GetAtt": ["StartTranscriptionDeadLetterQueue", "Arn"]}
    )
    assert min(horizons) >= 2 * DAY, (
        f"a message can be dead-lettered after {min(horizons) / 3600:.1f} h of quota"
    )
    # Retention counts from the first send: the queue must outlast the longest horizon,
    # and the dead-letter queue the queue (a dead letter keeps its first send time).
    retention = int(queue["MessageRetentionPeriod"])
    assert retention >= max(horizons)
    dead_letters = template.resources["StartTranscriptionDeadLetterQueue"]["Properties"]
    assert int(dead_letters["MessageRetentionPeriod"]) >= retention
    # An item in flight outlives the queue's retention (IN_FLIGHT_DAYS, start.py).
    assert retention < IN_FLIGHT_DAYS * DAY


def test_only_the_input_bucket_may_send_to_the_upload_queue(template: Template) -> None:
    policy = template.resolve(template.resources["UploadQueuePolicy"]["Properties"])
    (statement,) = policy["PolicyDocument"]["Statement"]
    input_bucket_arn = f"arn:aws:s3:::{template.physical_name('InputBucket')}"

    assert policy["Queues"] == [template.resolve({"Ref": "UploadQueue"})]
    assert statement["Effect"] == "Allow"
    assert statement["Principal"] == {"Service": "s3.amazonaws.com"}
    assert statement["Action"] == "sqs:SendMessage"
    assert statement["Resource"] == template.resolve({"Fn::GetAtt": ["UploadQueue", "Arn"]})
    assert statement["Condition"] == {
        "StringEquals": {"aws:SourceAccount": template.account_id},
        "ArnLike": {"aws:SourceArn": input_bucket_arn},
    }


def test_the_upload_queue_is_encrypted_at_rest(template: Template) -> None:
    for queue in template.resources_of_type("AWS::SQS::Queue"):
        properties = template.resources[queue]["Properties"]
        assert properties.get("SqsManagedSseEnabled") is True or "KmsMasterKeyId" in properties


@pytest.mark.parametrize("customer_key", ["false", "true"])
def test_the_in_flight_table_is_what_the_code_reads_and_writes(customer_key: str) -> None:
    from transcription_pipeline.aws.dynamodb import _CHECKPOINT_KEY

    stack = Template(
        REPO / "template.yaml",
        stack_name=STACK,
        parameter_overrides={"CustomerManagedKey": customer_key},
    )
    table = stack.resolve(stack.resources["InFlightTable"]["Properties"])

    assert table["KeySchema"] == [
        {"AttributeName": "source_key", "KeyType": "HASH"},
        {"AttributeName": "job_name", "KeyType": "RANGE"},
    ]
    assert set(_CHECKPOINT_KEY) == {"source_key", "job_name"}
    assert table["TimeToLiveSpecification"] == {"AttributeName": "expires_at", "Enabled": True}
    assert table["BillingMode"] == "PAY_PER_REQUEST"  # a burst is not throttled by capacity
    if customer_key == "true":
        assert table["SSESpecification"] == {
            "SSEEnabled": True,
            "SSEType": "KMS",
            "KMSMasterKeyId": stack.resolve({"Fn::GetAtt": ["EncryptionKey", "Arn"]}),
        }


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
    statements = template.resolve(policy["Properties"]["PolicyDocument"]["Statement"])
    (deny,) = [s for s in statements if s["Effect"] == "Deny"]
    assert deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    # The only other grant: S3 Inventory of this stack's input bucket, into _inventory/.
    allows = [s for s in statements if s["Effect"] == "Allow"]
    assert allows == [] or (bucket == "OutputBucket" and len(allows) == 1)
    for grant in allows:
        assert grant["Principal"] == {"Service": "s3.amazonaws.com"}
        assert grant["Action"] == "s3:PutObject"
        assert grant["Resource"] == f"arn:aws:s3:::{template.physical_name(bucket)}/_inventory/*"
        assert grant["Condition"] == {
            "StringEquals": {"aws:SourceAccount": template.account_id},
            "ArnLike": {"aws:SourceArn": f"arn:aws:s3:::{template.physical_name('InputBucket')}"},
        }


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
    """events/ must describe this stack: its input bucket, its upload queue and its
    job-name prefix."""
    put = json.loads((REPO / "events" / "s3-put.json").read_text())
    queued = json.loads((REPO / "events" / "sqs-upload.json").read_text())
    completed = json.loads((REPO / "events" / "transcribe-completed.json").read_text())

    assert put["Records"][0]["s3"]["bucket"]["name"] == template.physical_name("InputBucket")
    assert "+" in put["Records"][0]["s3"]["object"]["key"]  # a space, encoded as S3 does
    (message,) = queued["Records"]
    assert json.loads(message["body"]) == put  # the sample upload, as S3 queues it
    message_ids = set()
    for queued_file, s3_file in (
        ("sqs-upload.json", "s3-put.json"),
        ("sqs-upload-unsupported.json", "s3-put-unsupported.json"),
    ):
        (message,) = json.loads((REPO / "events" / queued_file).read_text())["Records"]
        assert message["body"] == json.dumps(
            json.loads((REPO / "events" / s3_file).read_text()), separators=(",", ":")
        )
        assert message["md5OfBody"] == hashlib.md5(message["body"].encode()).hexdigest()
        assert message["eventSource"] == "aws:sqs"
        upload_queue = template.resolve({"Fn::GetAtt": ["UploadQueue", "Arn"]})
        assert message["eventSourceARN"] == upload_queue
        assert message["attributes"]["ApproximateReceiveCount"] == "1"
        message_ids.add(message["messageId"])
    assert len(message_ids) == 2
    prefix = template.function("ProcessTranscriptFunction").environment["JOB_NAME_PREFIX"]
    assert completed["detail"]["TranscriptionJobName"].startswith(prefix)


@pytest.mark.parametrize(
    ("function", "queue"), [("ProcessTranscriptFunction", "ProcessTranscriptDeadLetterQueue")]
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
    """Both rules of the process function (job finished, regenerate requested): EventBridge
    retries for a day, then the event lands in the dead-letter queue, whose policy lets
    exactly these two rules send to it."""
    events = template.function("ProcessTranscriptFunction").events
    assert set(events) == {"JobFinished", "RegenerateRequested"}
    policy = template.resolve(template.resources["JobEventsDeadLetterQueuePolicy"]["Properties"])
    (statement,) = policy["PolicyDocument"]["Statement"]
    raw = template.resources["ProcessTranscriptFunction"]["Properties"]["Events"]
    rule_arns = []
    for name, event in events.items():
        properties = event["Properties"]
        rule_arns.append(
            f"arn:aws:events:{template.region}:{template.account_id}:rule/{properties['RuleName']}"
        )
        assert properties["RetryPolicy"] == {
            "MaximumRetryAttempts": 185,
            "MaximumEventAgeInSeconds": 86400,
        }
        assert raw[name]["Properties"]["DeadLetterConfig"] == {
            "Arn": {"Fn::GetAtt": ["JobEventsDeadLetterQueue", "Arn"]}
        }
    assert statement["Principal"] == {"Service": "events.amazonaws.com"}
    assert statement["Condition"]["ArnEquals"]["aws:SourceArn"] == rule_arns  # only our rules


def test_regenerate_requests_come_from_this_stack_only(template: Template) -> None:
    """Requests have their own source, so the completion e-mail and webhook rules (which
    match the completion source) never forward them."""
    pattern = template.function("ProcessTranscriptFunction").events["RegenerateRequested"][
        "Properties"
    ]["Pattern"]
    completion_source = template.function("ProcessTranscriptFunction").environment["EVENT_SOURCE"]
    assert pattern == {
        "source": [f"{completion_source}.requests"],
        "detail-type": ["Regenerate Requested"],
    }


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


def test_start_maximum_concurrency_is_a_parameter() -> None:
    def maximum(value: str | None) -> Any:
        overrides = {} if value is None else {"StartMaximumConcurrency": value}
        stack = Template(REPO / "template.yaml", stack_name=STACK, parameter_overrides=overrides)
        (event,) = stack.function("StartTranscriptionFunction").events.values()
        return event["Properties"]["ScalingConfig"]["MaximumConcurrency"]

    assert maximum("20") == "20"
    assert maximum(None) == "5"  # about 25 StartTranscriptionJob a second, Transcribe's rate
    parameter = Template(REPO / "template.yaml", stack_name=STACK).document["Parameters"][
        "StartMaximumConcurrency"
    ]
    # Lambda accepts 2 to 1000 for an SQS event source's MaximumConcurrency.
    assert (parameter["MinValue"], parameter["MaxValue"]) == (2, 1000)


def test_the_default_deploy_reserves_no_concurrency(template: Template) -> None:
    """Lambda keeps 10 executions of an account unreserved; new accounts have 10 in all.
    MaximumConcurrency caps the start function without a reservation."""
    parameters = template.document["Parameters"]
    assert "StartConcurrency" not in parameters
    assert "ReconcileLookbackHours" not in parameters
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
    dead_letter_queues = {
        queue
        for queue in template.resources_of_type("AWS::SQS::Queue")
        if queue != "UploadQueue"  # where uploads wait: a burst fills it, and pages nobody
    }
    redrive = template.resources["UploadQueue"]["Properties"]["RedrivePolicy"]
    assert redrive["deadLetterTargetArn"]["Fn::GetAtt"][0] in dead_letter_queues

    assert watched_queues == dead_letter_queues
    depth = ("ApproximateNumberOfMessagesVisible", "ApproximateNumberOfMessagesNotVisible")
    assert not [
        a
        for a in alarms.values()
        if a["Namespace"] == "AWS/SQS"
        and a["Dimensions"][0]["Value"] == {"Fn::GetAtt": ["UploadQueue", "QueueName"]}
        and a["MetricName"] in depth
    ]
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
    # Uploads retried after an error (not a quota): the start handler's metric, alarmed.
    (retries,) = [a for a in alarms.values() if a.get("MetricName") == "UploadsRetriedAfterErrors"]
    assert retries["Dimensions"] == alarm["Dimensions"]
    start_handler = (REPO / "functions" / "start_transcription" / "app.py").read_text()
    assert 'name="UploadsRetriedAfterErrors"' in start_handler
    assert not [a for a in alarms.values() if a.get("MetricName") == "UploadsWaitingForCapacity"]


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


def _grants(template: Template, function: str) -> set[tuple[str, str]]:
    """(action, resource) pairs of a function's role as the template resolves it."""
    grants = set()
    for policy in role_of_function(template, function).policies:
        for statement in policy["Statement"]:
            actions = statement["Action"]
            resources = statement["Resource"]
            for action in actions if isinstance(actions, list) else [actions]:
                for resource in resources if isinstance(resources, list) else [resources]:
                    grants.add((action, resource))
    return grants


def test_deleting_what_names_an_upload_is_granted_only_with_delete_follows_source(
    template: Template,
) -> None:
    following = Template(
        REPO / "template.yaml",
        stack_name=STACK,
        parameter_overrides={"DeleteFollowsSource": "true"},
    )
    output = f"arn:aws:s3:::{template.physical_name('OutputBucket')}"
    input_ = f"arn:aws:s3:::{template.physical_name('InputBucket')}"
    jobs = f"arn:aws:transcribe:{template.region}:{template.account_id}:transcription-job/{STACK}.*"
    table = template.resolve({"Fn::GetAtt": ["InFlightTable", "Arn"]})
    added = {
        "StartTranscriptionFunction": {
            ("s3:DeleteObject", f"{output}/*/error.json"),
            ("s3:DeleteObject", f"{output}/_transcribe/{STACK}.*"),
            ("s3:DeleteObject", f"{output}/_transcribe/redacted-{STACK}.*"),
            ("s3:DeleteObject", f"{input_}/*.options.json"),
            ("transcribe:ListTranscriptionJobs", "*"),
            ("transcribe:GetTranscriptionJob", jobs),
            ("transcribe:DeleteTranscriptionJob", jobs),
            ("dynamodb:Query", table),
            ("dynamodb:DeleteItem", table),
        },
        # A job that ends after its upload was deleted: process_job (also in reconciliation).
        **{
            function: {
                ("s3:DeleteObject", f"{output}/_transcribe/{STACK}.*"),
                ("s3:DeleteObject", f"{output}/_transcribe/redacted-{STACK}.*"),
                ("transcribe:DeleteTranscriptionJob", jobs),
            }
            for function in ("ProcessTranscriptFunction", "ReconcileFunction")
        },
    }
    for function, grants in added.items():
        assert _grants(following, function) - _grants(template, function) == grants, function
        assert not any(
            a == "transcribe:DeleteTranscriptionJob" for a, _ in _grants(template, function)
        )
    assert (
        following.function("StartTranscriptionFunction").environment["DELETE_FOLLOWS_SOURCE"]
        == "true"
    )


def test_the_process_function_reads_the_outputs_it_regenerates(template: Template) -> None:
    output = f"arn:aws:s3:::{template.physical_name('OutputBucket')}"
    reads = {r for a, r in _grants(template, "ProcessTranscriptFunction") if a == "s3:GetObject"}
    for name in (*OUTPUT_FILES, ERROR_RECORD):
        assert f"{output}/*/{name}" in reads
