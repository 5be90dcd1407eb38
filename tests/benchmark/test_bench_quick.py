"""CI runs the benchmark at its smallest size, so that `make bench` keeps working.

It checks that every measure is produced with a number and that budgets are attached;
whether a figure meets its budget is the benchmark's report, not a test assertion.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

from tests.conftest import REPO


def test_quick_benchmark_reports_every_measure(tmp_path: Path) -> None:
    output = tmp_path / "results.json"

    result = subprocess.run(
        [sys.executable, "-m", "bench.run", "--quick", "--output", str(output)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )

    assert result.returncode == 0, result.stdout + result.stderr
    report = json.loads(output.read_text())
    figures = {figure["measure"]: figure for figure in report["figures"]}
    expected = [
        "bytes read to validate a 1 MB wav",
        "bytes read to validate a 1 MB mp4",
        "process a 1 min transcript: time",
        "process a 1 min transcript: peak memory",
        "import boto3 (reference, CPU time)",
        "cold start: import StartTranscriptionFunction",
        "cold start: import ProcessTranscriptFunction",
        "layer TranscriptionPipelineLayer (unzipped)",
        "function code StartTranscriptionFunction",
        "offline demo: total",
    ]
    for measure in expected:
        assert measure in figures, measure
        assert math.isfinite(figures[measure]["value"])
        assert figures[measure]["value"] > 0
    assert figures["bytes read to validate a 1 MB wav"]["budget"] == 64
    assert report["machine"]["cores"]
    assert "| measure | figure | budget |" in result.stdout
