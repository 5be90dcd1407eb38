"""Static checks as tests, so one command runs everything CI runs.

SAM CLI and cfn-lint live in .venv-sam (they pin their own boto3); ruff and mypy in .venv.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import REPO
from tests.static.conftest import DEV_BIN, SAM_BIN, run, translate

pytestmark = pytest.mark.static


def test_sam_validate_lint() -> None:
    result = run([SAM_BIN / "sam", "validate", "--lint"])
    assert result.returncode == 0, result.stdout + result.stderr
    assert "is a valid SAM Template" in result.stdout + result.stderr


def test_cfn_lint_on_the_translated_template(tmp_path: Path) -> None:
    translated = tmp_path / "translated.json"
    translate(REPO / "template.yaml", translated)

    result = run([SAM_BIN / "cfn-lint", translated])

    assert result.returncode == 0, result.stdout + result.stderr


def test_translated_lint_catches_the_bucket_notification_cycle(tmp_path: Path) -> None:
    """The check above can fail: the input bucket waits for the upload queue's policy (S3
    checks it may send when the notification is set up), so that policy naming the bucket
    by !GetAtt instead of by its spelled-out name would be a cycle."""
    template = (REPO / "template.yaml").read_text()
    start = template.index("\n  UploadQueuePolicy:\n")
    end = template.index("\n  InFlightTable:\n", start)
    named_arn = (
        'aws:SourceArn: !Sub "arn:${AWS::Partition}:s3:::'
        '${AWS::StackName}-input-${AWS::AccountId}-${AWS::Region}"'
    )
    assert named_arn in template[start:end]
    cyclic = tmp_path / "cyclic.yaml"
    cyclic.write_text(
        template[:start]
        + template[start:end].replace(named_arn, "aws:SourceArn: !GetAtt InputBucket.Arn")
        + template[end:]
    )
    translated = tmp_path / "cyclic.json"
    translate(cyclic, translated)

    result = run([SAM_BIN / "cfn-lint", translated])

    assert result.returncode != 0
    assert "E3004" in result.stdout


def test_ruff() -> None:
    check = run([DEV_BIN / "ruff", "check", "."])
    fmt = run([DEV_BIN / "ruff", "format", "--check", "."])
    assert check.returncode == 0, check.stdout
    assert fmt.returncode == 0, fmt.stdout


def test_mypy() -> None:
    result = run([DEV_BIN / "mypy", "."])
    assert result.returncode == 0, result.stdout


def test_sam_build_makes_thin_functions_and_a_lean_layer(tmp_path: Path) -> None:
    build_dir = tmp_path / "build"
    result = run([SAM_BIN / "sam", "build", "--build-dir", build_dir])
    assert result.returncode == 0, result.stdout + result.stderr

    layer = build_dir / "TranscriptionPipelineLayer" / "python"
    assert (layer / "transcription_pipeline" / "process.py").is_file()
    assert (layer / "aws_lambda_powertools").is_dir()
    assert not (layer / "botocore").exists()  # the runtime has it; a copy is 30 MB
    assert not (layer / "boto3").exists()
    # Bytecode for the python3.11 runtime: /opt is read-only, so Lambda cannot cache it.
    package = layer / "transcription_pipeline"
    modules = {p.stem for p in package.glob("*.py")}
    compiled = {p.name.split(".")[0] for p in (package / "__pycache__").glob("*.cpython-311.pyc")}
    assert modules <= compiled
    assert any((layer / "aws_lambda_powertools" / "__pycache__").glob("*.cpython-311.pyc"))
    for function in ("StartTranscriptionFunction", "ProcessTranscriptFunction"):
        files = sorted(p.name for p in (build_dir / function).iterdir())
        assert files == ["app.py", "requirements.txt"]
    # The compiled wheel in the layer is for Lambda's arm64, not for this machine.
    assert any("aarch64" in p.name for p in layer.glob("wrapt-*.dist-info/WHEEL")) or (
        "aarch64" in (next(layer.glob("wrapt-*.dist-info")) / "WHEEL").read_text()
    )


# Every "*" in an IAM or resource policy of the deployed stack, with the reason it is there.
# Keys: (resource logical id, action). A wildcard not listed here fails the test below.
ALLOWED_WILDCARD_RESOURCES = {
    ("StartTranscriptionFunctionRole", "transcribe:StartTranscriptionJob"): (
        "no resource types for this action (Service Authorization Reference); it is pinned "
        "to the output bucket and the raw-output prefix by condition keys"
    ),
    ("ReconcileFunctionRole", "transcribe:ListTranscriptionJobs"): (
        "no resource types for this action (Service Authorization Reference)"
    ),
    ("StartTranscriptionFunctionRole", "transcribe:ListTranscriptionJobs"): (
        "no resource types for this action (Service Authorization Reference); only with "
        "DeleteFollowsSource, to find the jobs of a deleted upload"
    ),
    **{
        ("EncryptionKey", action): "a key policy's Resource '*' is the key itself: CloudWatch "
        "alarms may publish to the alarm topic encrypted with it"
        for action in ("kms:Decrypt", "kms:GenerateDataKey*")
    },
    ("EncryptionKey", "kms:GenerateDataKey"): (
        "a key policy's Resource '*' is the key itself: S3 Inventory (this account's only) "
        "encrypts its reports of the input bucket with it"
    ),
    ("ProcessTranscriptFunctionRole", "translate:TranslateText"): (
        "TranslateText has no resource type (only custom terminologies are resources)"
    ),
    ("ReconcileFunctionRole", "translate:TranslateText"): (
        "TranslateText has no resource type (only custom terminologies are resources)"
    ),
    ("EncryptionKey", "kms:*"): (
        "a key policy's Resource '*' is the key itself; the account root delegates to IAM"
    ),
}
ALLOWED_MANAGED_POLICIES = {
    "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole": "logs, added by SAM",
    "arn:aws:iam::aws:policy/AWSXrayWriteOnlyAccess": "X-Ray has no resource-level permissions",
    "arn:aws:iam::aws:policy/service-role/AWSLambdaSQSQueueExecutionRole": (
        "added by SAM for the SQS event: Lambda's poller receives and deletes the upload "
        "queue's messages (tests/static/test_iam_roles.py: never the code)"
    ),
}


def policy_statements(resource: dict[str, Any]) -> list[dict[str, Any]]:
    properties = resource.get("Properties", {})
    documents = []
    for policy in properties.get("Policies", []):
        # A conditional policy is {"Fn::If": [condition, policy, {"Ref": "AWS::NoValue"}]}.
        branches = policy["Fn::If"][1:] if "Fn::If" in policy else [policy]
        documents += [b["PolicyDocument"] for b in branches if "PolicyDocument" in b]
    for key in ("PolicyDocument", "KeyPolicy"):
        if key in properties:
            documents.append(properties[key])
    statements: list[dict[str, Any]] = []
    for document in documents:
        found = document.get("Statement", [])
        statements.extend(found if isinstance(found, list) else [found])
    return statements


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def test_every_iam_wildcard_is_listed_with_its_reason(tmp_path: Path) -> None:
    translated = tmp_path / "translated.json"
    translate(REPO / "template.yaml", translated)
    resources: dict[str, dict[str, Any]] = json.loads(translated.read_text())["Resources"]

    unexplained: list[tuple[str, ...]] = []
    seen = set()
    for logical_id, resource in resources.items():
        for arn in resource.get("Properties", {}).get("ManagedPolicyArns", []):
            arn_text = json.dumps(arn)
            if not any(allowed in arn_text for allowed in ALLOWED_MANAGED_POLICIES):
                unexplained.append((logical_id, "managed policy", arn_text))
        for statement in policy_statements(resource):
            for action in as_list(statement.get("Action", [])):
                if action == "*":
                    unexplained.append((logical_id, "Action '*'", str(statement.get("Sid"))))
                if "*" in as_list(statement.get("Resource", [])):
                    if (logical_id, action) in ALLOWED_WILDCARD_RESOURCES:
                        seen.add((logical_id, action))
                    else:
                        unexplained.append((logical_id, str(action), str(statement.get("Sid"))))

    assert unexplained == []
    assert seen == set(ALLOWED_WILDCARD_RESOURCES)  # the list holds nothing stale


CHECKOV = REPO / ".venv-checkov" / "bin" / "checkov"


def checkov_failures(*templates: Path) -> tuple[list[str], dict[str, Any]]:
    arguments: list[str | Path] = [CHECKOV, "--skip-download", "--framework", "cloudformation"]
    for template in templates:
        arguments += ["-f", template]
    result = run([*arguments, "-o", "json"])
    reports = json.loads(result.stdout)
    reports = reports if isinstance(reports, list) else [reports]
    failed = [
        f"{check['check_id']} {check['resource']}"
        for report in reports
        for check in report["results"]["failed_checks"]
    ]
    skipped = {
        f"{check['check_id']} {check['resource']}": check.get("check_result", {})
        for report in reports
        for check in report["results"]["skipped_checks"]
    }
    return failed, skipped


def test_checkov_passes_and_every_suppression_says_why(tmp_path: Path) -> None:
    translated = tmp_path / "translated.json"
    translate(REPO / "template.yaml", translated)

    failed, skipped = checkov_failures(REPO / "template.yaml", translated)

    assert failed == []
    assert skipped  # the suppressions below are really read
    for check, result in skipped.items():
        assert len(str(result.get("suppress_comment", "")).split()) >= 8, check


def test_checkov_would_fail_without_its_justified_suppressions(tmp_path: Path) -> None:
    template = (REPO / "template.yaml").read_text()
    unsuppressed = tmp_path / "template.yaml"
    unsuppressed.write_text(template.replace("          - id: CKV_AWS_27\n", "          - id: X\n"))

    failed, _ = checkov_failures(unsuppressed)

    assert "CKV_AWS_27 AWS::SQS::Queue.JobEventsDeadLetterQueue" in failed
