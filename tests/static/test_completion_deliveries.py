"""The optional deliveries of completion events: off by default, least privilege when on,
and the same source the functions put their events under."""

from __future__ import annotations

from local_pipeline.template import Template
from tests.conftest import REPO

STACK = "transcription-pipeline"
CONNECTION = "arn:aws:events:us-east-1:123456789012:connection/pipeline-hook/abc"
ON = {
    "NotificationEmail": "team@example.org",
    "WebhookUrl": "https://hooks.example.org/transcripts",
    "WebhookConnectionArn": CONNECTION,
}
DELIVERY_RESOURCES = {
    "CompletionTopic",
    "CompletionTopicPolicy",
    "CompletionEmailSubscription",
    "CompletionEmailRule",
    "WebhookApiDestination",
    "WebhookRole",
    "WebhookRule",
    "WebhookDeadLetterQueue",
    "WebhookDeadLetterQueuePolicy",
    "WebhookDeadLettersAlarm",
}


def deployed(**parameters: str) -> Template:
    return Template(REPO / "template.yaml", stack_name=STACK, parameter_overrides=parameters)


def present(template: Template) -> set[str]:
    return {
        logical_id
        for logical_id, resource in template.resources.items()
        if "Condition" not in resource or template.condition(resource["Condition"])
    }


def test_no_delivery_resources_by_default_and_all_when_asked() -> None:
    assert present(deployed()) & DELIVERY_RESOURCES == set()
    assert present(deployed(**ON)) >= DELIVERY_RESOURCES
    # A URL without a connection would call the webhook without authorization: nothing.
    assert present(deployed(WebhookUrl=ON["WebhookUrl"])) & DELIVERY_RESOURCES == set()


def test_rules_match_the_source_the_functions_emit_under() -> None:
    template = deployed(**ON)
    source = template.function("ProcessTranscriptFunction").environment["EVENT_SOURCE"]
    assert source == f"transcription-pipeline.{STACK}"
    for rule in ("CompletionEmailRule", "WebhookRule"):
        pattern = template.resolve(template.resources[rule]["Properties"]["EventPattern"])
        assert pattern == {"source": [source]}


def test_the_webhook_role_may_only_call_its_destination_and_retries_end_in_a_queue() -> None:
    template = deployed(**ON)
    role = template.resolve(template.resources["WebhookRole"]["Properties"])
    (trust,) = role["AssumeRolePolicyDocument"]["Statement"]
    assert trust["Principal"] == {"Service": "events.amazonaws.com"}
    (policy,) = role["Policies"]
    (statement,) = policy["PolicyDocument"]["Statement"]
    assert statement["Action"] == "events:InvokeApiDestination"
    assert statement["Resource"] == template.resolve(
        {"Fn::GetAtt": ["WebhookApiDestination", "Arn"]}
    )
    (target,) = template.resolve(template.resources["WebhookRule"]["Properties"])["Targets"]
    assert target["DeadLetterConfig"]["Arn"].endswith("WebhookDeadLetterQueue")
    assert target["RetryPolicy"]["MaximumEventAgeInSeconds"] == 86400
    destination = template.resolve(template.resources["WebhookApiDestination"]["Properties"])
    assert destination["ConnectionArn"] == CONNECTION  # the secret stays in the connection
    assert destination["InvocationEndpoint"].startswith("https://")


def test_only_eventbridge_on_the_email_rule_may_publish_to_the_topic() -> None:
    template = deployed(**ON)
    policy = template.resolve(template.resources["CompletionTopicPolicy"]["Properties"])
    (statement,) = policy["PolicyDocument"]["Statement"]
    assert statement["Principal"] == {"Service": "events.amazonaws.com"}
    assert statement["Condition"]["ArnEquals"]["aws:SourceArn"].endswith(
        f"rule/{STACK}-completion-email"
    )
    rule = template.resolve(template.resources["CompletionEmailRule"]["Properties"])
    assert rule["Name"] == f"{STACK}-completion-email"


def test_only_the_stacks_own_source_may_be_put_on_the_bus() -> None:
    template = deployed()
    for function in (
        "StartTranscriptionFunction",
        "ProcessTranscriptFunction",
        "ReconcileFunction",
    ):
        statements = [
            s
            for policy in template.resolve(template.resources[function]["Properties"]["Policies"])
            if policy
            for s in policy["Statement"]
            if s["Action"] == "events:PutEvents"
        ]
        completion = [s for s in statements if s["Sid"] == "AnnounceFinalRecords"]
        requests = [s for s in statements if s["Sid"] == "RequestRegenerates"]
        assert len(completion) == 1
        assert len(completion) + len(requests) == len(statements)
        assert all(s["Resource"].endswith(":event-bus/default") for s in statements)
        assert completion[0]["Condition"] == {
            "StringEquals": {"events:source": f"transcription-pipeline.{STACK}"}
        }
        # Only the start function asks for regenerates (a sidecar changed the names),
        # with the requests source and that one detail-type.
        assert len(requests) == (function == "StartTranscriptionFunction")
        for statement in requests:
            assert statement["Condition"] == {
                "StringEquals": {
                    "events:source": f"transcription-pipeline.{STACK}.requests",
                    "events:detail-type": "Regenerate Requested",
                }
            }
