"""Shared helpers of the static checks: running the tools of .venv-sam and .venv."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO

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


def translate(source: Path, target: Path) -> None:
    """SAM's translation of ``source`` (plain CloudFormation JSON) into ``target``."""
    result = run([SAM_BIN / "python", "scripts/translate_template.py", source, target])
    assert result.returncode == 0, result.stdout + result.stderr
