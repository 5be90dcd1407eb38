"""`make demo` and `make local` with long recordings: progress, waiting, Ctrl-C, TIMEOUT=.

The Ctrl-C tests run the real command (python -m local_pipeline) on a 4-minute recording
and interrupt it while Whisper is recognising; the rest needs no speech model.
"""

from __future__ import annotations

import io
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
import pytest

from local_pipeline import cli
from local_pipeline.cli import DemoError, Progress, wait_for_outputs
from local_pipeline.engine import ProgressReport, clock
from local_pipeline.speech import RecognitionProgress
from tests.conftest import REPO

STOP_BUDGET = 2.5  # seconds from Ctrl-C to the end of the process (2 s, and a margin)


# -- progress --------------------------------------------------------------------------


def test_a_progress_report_says_where_how_fast_and_how_long() -> None:
    report = ProgressReport("job-1", RecognitionProgress(750.0, 4800.0), elapsed=30.0)

    assert report == (
        "Transcribe (local): recognising job-1: 12:30 of 1:20:00 (16%), "
        "25.0x real time, about 2:42 left"
    )
    assert (report.position, report.total, report.speed) == (750.0, 4800.0, 25.0)
    assert report.remaining == pytest.approx(162.0)


def test_a_progress_report_without_a_stated_duration() -> None:
    report = ProgressReport("job-1", RecognitionProgress(95.0, None), elapsed=5.0)

    assert report.endswith("recognising job-1: 1:35 so far, 19.0x real time")
    assert report.remaining is None


def test_clock() -> None:
    assert [clock(s) for s in (0, 59.6, 61, 3600, 4 * 3600 + 62)] == [
        "0:00",
        "1:00",
        "1:01",
        "1:00:00",
        "4:01:02",
    ]


def report(position: float) -> ProgressReport:
    return ProgressReport("job", RecognitionProgress(position, 240.0), elapsed=10.0)


def test_on_a_terminal_progress_rewrites_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "200")
    out = io.StringIO()
    progress = Progress(out, terminal=True)

    progress("recognising job")
    progress(report(30.0))
    progress(report(60.0))
    progress("job COMPLETED")

    lines = out.getvalue().split("\n")
    assert lines[0].endswith("recognising job")
    # Both reports on one line, each rewriting it; the next message clears it first.
    assert lines[1].count("\r\x1b[K") == 3
    assert "0:30 of 4:00" in lines[1]
    second = lines[1].split("\r\x1b[K")[2]
    assert second.endswith("1:00 of 4:00 (25%), 6.0x real time, about 0:30 left")
    assert lines[1].endswith("job COMPLETED")
    assert lines[2] == ""


def test_a_narrow_terminal_shows_the_figures(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "80")
    out = io.StringIO()
    name = "transcription-pipeline.a-rather-long-file-name.0123456789abcdef"

    Progress(out, terminal=True)(ProgressReport(name, RecognitionProgress(60.0, 240.0), 10.0))

    line = out.getvalue().removeprefix("\r\x1b[K")
    assert len(line) < 80
    assert line.endswith("] recognising: 1:00 of 4:00 (25%), 6.0x real time, about 0:30 left")


def test_without_a_terminal_progress_is_a_plain_line_now_and_then(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    out = io.StringIO()
    progress = Progress(out, terminal=False)

    progress(report(30.0))
    progress(report(60.0))  # too soon after the last one
    monkeypatch.setattr(cli, "PLAIN_PROGRESS_SECONDS", 0.0)
    progress(report(90.0))

    lines = out.getvalue().splitlines()
    assert len(lines) == 2
    assert "0:30 of 4:00" in lines[0]
    assert "1:30 of 4:00" in lines[1]
    assert "\x1b" not in out.getvalue()


# -- waiting for the outputs -----------------------------------------------------------


@dataclass
class FakeCloud:
    """Outputs appear after ``polls`` looks; each look takes 10 ms."""

    polls: int
    on_poll: Any = None
    looks: int = 0
    invocations: list[Any] = field(default_factory=list)

    def wait_for_final_record(self, key: str, timeout: float) -> dict[str, bytes] | None:
        time.sleep(0.01)
        self.looks += 1
        if self.on_poll is not None:
            self.on_poll()
        return {"summary.md": b"done"} if self.looks >= self.polls else None


@dataclass
class FakeEngine:
    last_activity: float = field(default_factory=time.monotonic)


def test_the_wait_follows_the_engine_however_long_it_takes() -> None:
    engine = FakeEngine()

    def recognising() -> None:
        engine.last_activity = time.monotonic()

    cloud = FakeCloud(polls=60, on_poll=recognising)  # 0.6 s, twice the stall limit
    running: Any = cli.Running(cloud, engine)  # type: ignore[arg-type]

    files = wait_for_outputs(running, "uploads/long.mp4", 0.3, Progress(io.StringIO()))

    assert files == {"summary.md": b"done"}


def test_a_stall_is_an_error_that_says_how_to_wait_longer() -> None:
    cloud = FakeCloud(polls=10**6)
    running: Any = cli.Running(cloud, FakeEngine())  # type: ignore[arg-type]
    progress = Progress(io.StringIO())
    progress("StartTranscriptionFunction: started=1")

    began = time.monotonic()
    with pytest.raises(DemoError, match=r"no progress for 0 s .*TIMEOUT=<seconds>") as error:
        wait_for_outputs(running, "uploads/stuck.mp4", 0.3, progress)

    assert 0.3 <= time.monotonic() - began < 2.0
    assert "last: StartTranscriptionFunction: started=1" in str(error.value)


def test_no_limit_with_timeout_zero() -> None:
    cloud = FakeCloud(polls=50)  # nothing happens for 0.5 s, then the outputs
    running: Any = cli.Running(cloud, FakeEngine(last_activity=0.0))  # type: ignore[arg-type]

    assert wait_for_outputs(running, "k", 0, Progress(io.StringIO())) is not None


def test_make_passes_timeout_to_the_demo() -> None:
    if shutil.which("make") is None:
        pytest.skip("make is not installed")

    def dry_run(*variables: str) -> str:
        out = subprocess.run(
            ["make", "-n", "demo", *variables], cwd=REPO, capture_output=True, text=True
        )
        assert out.returncode == 0, out.stderr
        return " ".join(out.stdout.replace("\\\n", " ").split())

    assert '-m local_pipeline demo "x.mp4" --timeout "600"' in dry_run("TIMEOUT=600", "FILE=x.mp4")
    assert "--timeout" not in dry_run()


# -- one upload, one start ---------------------------------------------------------------


def test_a_multipart_upload_reaches_the_start_function_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """boto3 uploads a file of 8 MB or more in parts; S3 then sends one event,
    s3:ObjectCreated:CompleteMultipartUpload (moto alone also sends s3:ObjectCreated:Put)."""
    from local_pipeline import cloud as cloud_module
    from local_pipeline.cloud import LocalCloud, default_template
    from local_pipeline.invoke import Handler, load_handler
    from local_pipeline.template import FunctionSpec

    big = tmp_path / "big.mp4"
    big.write_bytes((REPO / "samples" / "sample-talk.mp4").read_bytes() * 130)  # 9 MB
    received: list[dict[str, Any]] = []  # the S3 records that reached the start function

    def recording(spec: FunctionSpec) -> Handler:
        handler = load_handler(spec)

        def handle(event: dict[str, Any], context: Any) -> Any:
            if spec.logical_id == "StartTranscriptionFunction":
                for message in event["Records"]:
                    received.extend(json.loads(message["body"]).get("Records", []))
            return handler(event, context)

        return handle

    monkeypatch.setattr(cloud_module, "load_handler", recording)
    with LocalCloud(default_template(REPO)) as cloud:
        cloud.client("s3").upload_file(str(big), cloud.bucket_name("InputBucket"), "up/big.mp4")
        deadline = time.monotonic() + 30
        while not received and time.monotonic() < deadline:
            time.sleep(0.1)
        time.sleep(1.5)  # time for a second event to arrive, if there were one
        jobs = cloud.client("transcribe").list_transcription_jobs()["TranscriptionJobSummaries"]

    assert [(r["eventName"], r["s3"]["object"]["key"]) for r in received] == [
        ("ObjectCreated:CompleteMultipartUpload", "up/big.mp4")
    ]
    assert [job["TranscriptionJobName"].split(".")[1] for job in jobs] == ["big"]


# -- Ctrl-C while a long recording is recognised ---------------------------------------


@dataclass
class Command:
    process: subprocess.Popen[str]
    output: list[str]

    def read_until(self, pattern: str, timeout: float = 120) -> re.Match[str]:
        deadline = time.monotonic() + timeout
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.output.append(line)
            found = re.search(pattern, line)
            if found:
                return found
            assert time.monotonic() < deadline, "".join(self.output)
        raise AssertionError(f"no {pattern!r} in:\n" + "".join(self.output))

    def interrupt(self) -> float:
        """Ctrl-C; seconds until the process has ended."""
        began = time.monotonic()
        self.process.send_signal(signal.SIGINT)
        rest, _ = self.process.communicate(timeout=30)
        ended = time.monotonic()
        self.output.append(rest)
        return ended - began

    @property
    def text(self) -> str:
        return "".join(self.output)


@pytest.fixture
def command(tmp_path: Path) -> Iterator[Any]:
    """Start ``python -m local_pipeline ...`` with its own TMPDIR; kill it if left running."""
    started_commands: list[Command] = []
    temporary = tmp_path / "tmp"
    temporary.mkdir()

    def start(*argv: str) -> Command:
        process = subprocess.Popen(
            [sys.executable, "-u", "-m", "local_pipeline", *argv],
            cwd=REPO,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env={**os.environ, "TMPDIR": str(temporary)},
        )
        started_commands.append(Command(process, []))
        return started_commands[-1]

    yield start
    for running in started_commands:
        if running.process.poll() is None:
            running.process.kill()
            running.process.wait()
    # The engine's downloads are gone, however it stopped.
    assert not list(temporary.glob("local-transcribe-*"))


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def assert_port_closed(port: int) -> None:
    with socket.socket() as probe:
        probe.settimeout(1)
        assert probe.connect_ex(("127.0.0.1", port)) != 0


def test_ctrl_c_stops_the_demo_within_two_seconds_while_recognising(
    command: Any, four_minutes: Path, tmp_path: Path
) -> None:
    demo = command("demo", str(four_minutes), "--output", str(tmp_path / "out"))
    port = int(demo.read_until(r"moto listening on http://127\.0\.0\.1:(\d+)").group(1))
    demo.read_until(r"Transcribe \(local\): recognising \S+$")
    # Progress while recognising (no terminal here: a plain line).
    demo.read_until(r"recognising \S+: \d:\d\d of 4:07 \(\d+%\), [\d.]+x real time")

    seconds = demo.interrupt()

    assert seconds < STOP_BUDGET, demo.text
    assert demo.process.returncode == cli.EXIT_INTERRUPTED
    assert "interrupted" in demo.text
    assert "Traceback" not in demo.text
    assert "COMPLETED" not in demo.text  # it was stopped, not finished
    assert_port_closed(port)


def test_ctrl_c_stops_make_local_within_two_seconds_while_recognising(
    command: Any, four_minutes: Path, tmp_path: Path
) -> None:
    port = free_port()
    local = command("up", "--port", str(port), "--output", str(tmp_path))
    local.read_until("Ctrl-C stops it")
    s3 = boto3.client(
        "s3",
        endpoint_url=f"http://127.0.0.1:{port}",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        region_name="us-east-1",
    )
    s3.upload_file(
        str(four_minutes), "transcription-pipeline-input-123456789012-us-east-1", "in/4min.mp4"
    )
    local.read_until(r"Transcribe \(local\): recognising \S+$")
    time.sleep(1.0)  # into the recognition

    seconds = local.interrupt()

    assert seconds < STOP_BUDGET, local.text
    assert local.process.returncode == 0  # Ctrl-C is how `make local` is meant to end
    assert "stopping" in local.text
    assert "Traceback" not in local.text
    assert_port_closed(port)
