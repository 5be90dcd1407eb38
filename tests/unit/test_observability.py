from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests.conftest import REPO

IMPORT_HANDLER = (
    "import sys, app; "
    "print(sorted({m.split('.')[0] for m in sys.modules if m.startswith('aws_xray_sdk')}))"
)


@pytest.mark.parametrize(("detailed", "loaded"), [("false", "[]"), ("true", "['aws_xray_sdk']")])
def test_the_x_ray_sdk_loads_only_with_detailed_tracing(detailed: str, loaded: str) -> None:
    """Importing a handler must not pay for the X-Ray SDK unless DetailedTracing is on."""
    environment = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(
            [
                str(REPO / "functions" / "process_transcript"),
                str(REPO / "layers" / "transcription_pipeline"),
            ]
        ),
        "DETAILED_TRACING": detailed,
        "POWERTOOLS_TRACE_DISABLED": "true",  # no X-Ray daemon here
        "AWS_DEFAULT_REGION": "us-east-1",
    }

    result = subprocess.run(
        [sys.executable, "-c", IMPORT_HANDLER],
        env=environment,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )

    assert result.stdout.strip() == loaded
