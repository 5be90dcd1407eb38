"""Static checks as tests, so one command runs everything CI runs.

SAM CLI and cfn-lint live in .venv-sam (they pin their own boto3); ruff and mypy in .venv.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO

pytestmark = pytest.mark.static

SAM_BIN = REPO / ".venv-sam" / "bin"
DEV_BIN = Path(sys.executable).parent


def run(command: list[str | Path], **env: str) -> subprocess.CompletedProcess[str]:
    executable = Path(command[0])
    if not executable.exists() and shutil.which(str(executable)) is None:
        pytest.fail(f"{executable} is missing: run `make test`, which installs it")
    return subprocess.run(
        [str(part) for part in command],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "SAM_CLI_TELEMETRY": "0", "AWS_DEFAULT_REGION": "us-east-1", **env},
        check=False,
    )


def test_sam_validate_lint() -> None:
    result = run([SAM_BIN / "sam", "validate", "--lint"])
    assert result.returncode == 0, result.stdout + result.stderr
    assert "is a valid SAM Template" in result.stdout + result.stderr


def translate(source: Path, target: Path) -> None:
    result = run([SAM_BIN / "python", "scripts/translate_template.py", source, target])
    assert result.returncode == 0, result.stdout + result.stderr


def test_cfn_lint_on_the_translated_template(tmp_path: Path) -> None:
    translated = tmp_path / "translated.json"
    translate(REPO / "template.yaml", translated)

    result = run([SAM_BIN / "cfn-lint", translated])

    assert result.returncode == 0, result.stdout + result.stderr


def test_translated_lint_catches_the_bucket_notification_cycle(tmp_path: Path) -> None:
    """The check above can fail: a policy that refers to the bucket resource is a cycle."""
    template = (REPO / "template.yaml").read_text()
    named_arn = (
        'Resource: !Sub "arn:${AWS::Partition}:s3:::'
        '${AWS::StackName}-input-${AWS::AccountId}-${AWS::Region}/*"'
    )
    assert named_arn in template
    cyclic = tmp_path / "cyclic.yaml"
    cyclic.write_text(template.replace(named_arn, 'Resource: !Sub "${InputBucket.Arn}/*"'))
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
    for function in ("StartTranscriptionFunction", "ProcessTranscriptFunction"):
        files = sorted(p.name for p in (build_dir / function).iterdir())
        assert files == ["app.py", "requirements.txt"]
    # The compiled wheel in the layer is for Lambda's arm64, not for this machine.
    assert any("aarch64" in p.name for p in layer.glob("wrapt-*.dist-info/WHEEL")) or (
        "aarch64" in (next(layer.glob("wrapt-*.dist-info")) / "WHEEL").read_text()
    )
