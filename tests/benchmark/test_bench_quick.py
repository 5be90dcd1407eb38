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
from typing import Any

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
    assert_volumes(report)


def assert_volumes(report: dict[str, Any]) -> None:
    """The volume simulation at its small sizes (bench/volumes, QUICK_SCENARIOS): every
    file answered, none dead-lettered or lost, never faster than the quotas allow; its
    figures in the table with their goals. Invariants only, never the timing."""
    scenarios = ("burst", "backfill", "burst + backfill")
    reports = {r["scenario"]: r for r in report["volumes"]}
    assert set(reports) == set(scenarios)
    for name, r in reports.items():
        assert r["answered"] + r["dead_lettered"] + r["lost"] == r["files"], name
        assert r["lost"] == 0, name
        assert r["dead_lettered"] == 0, name
        assert r["answered"] == r["files"], name
        assert r["wall_hours"] >= r["bound_hours"] > 0, name
        assert r["requests_per_file"] > 0, name
        assert r["requests"]["Transcribe StartTranscriptionJob"] > 0, name
        assert 0 < r["cost"]["overhead_percent"] < 100, name
    assert reports["backfill"]["answered_before"] == 600
    assert reports["burst + backfill"]["files"] == 4000
    figures = {f["measure"]: f for f in report["figures"]}
    for name in scenarios:
        assert figures[f"volumes, {name}: files lost"]["value"] == 0
        assert figures[f"volumes, {name}: files lost"]["budget"] == 0
        assert figures[f"volumes, {name}: files dead-lettered"]["value"] == 0
        assert figures[f"volumes, {name}: wall time / quota bound"]["value"] >= 1
        assert figures[f"volumes, {name}: wall time / quota bound"]["budget"] == 1.1
        assert figures[f"volumes, {name}: pipeline cost / Transcribe"]["budget"] == 0.5
        assert math.isfinite(figures[f"volumes, {name}: AWS requests per file"]["value"])
    assert figures["volumes: simulation run time"]["value"] > 0
