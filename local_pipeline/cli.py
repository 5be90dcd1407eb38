"""``python -m local_pipeline demo [FILE]`` and ``python -m local_pipeline up``.

demo: start the local cloud and the local Transcribe engine, upload one file, wait for
the pipeline, save and show the outputs, stop. up: keep everything running until Ctrl-C
so files can be copied in with ``aws --endpoint-url ... s3 cp``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import shutil
import signal
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from types import FrameType
from typing import Any, TextIO

from local_pipeline.cloud import LocalCloud, default_template
from local_pipeline.engine import LocalTranscribeEngine
from local_pipeline.speech import SpeechModelError, SpeechRecogniser
from local_pipeline.template import Template

REPO = Path(__file__).resolve().parent.parent
SAMPLE = REPO / "samples" / "sample-talk.mp4"


class DemoError(Exception):
    """An expected failure: printed as a message, not a traceback."""


class Progress:
    """Timestamped lines: which stage, how long so far."""

    def __init__(self, stream: TextIO = sys.stdout) -> None:
        self._started = time.monotonic()
        self._stream = stream
        self._lock = threading.Lock()

    @property
    def elapsed(self) -> float:
        return time.monotonic() - self._started

    def __call__(self, message: str) -> None:
        with self._lock:
            print(f"[{self.elapsed:6.1f}s] {message}", file=self._stream, flush=True)


@contextlib.contextmanager
def running_pipeline(
    template: Template, recogniser: SpeechRecogniser, progress: Progress, **cloud_options: Any
) -> Iterator[LocalCloud]:
    """The local cloud and the local Transcribe engine, both stopped on the way out."""
    progress(
        f"starting the local cloud from template.yaml "
        f"({len(template.functions())} functions, "
        f"{len(template.resources_of_type('AWS::S3::Bucket'))} buckets)"
    )
    with LocalCloud(template, on_activity=progress, **cloud_options) as cloud:
        progress(f"moto listening on {cloud.endpoint_url}; loading the speech model")
        recogniser.load()
        with LocalTranscribeEngine(cloud, recogniser, on_activity=progress):
            yield cloud


def demo(arguments: argparse.Namespace) -> int:
    media = Path(arguments.file) if arguments.file else SAMPLE
    if not media.is_file():
        raise DemoError(f"{media} is not a file")
    progress = Progress()
    template = default_template(REPO)
    output_dir = Path(arguments.output) / media.name
    shutil.rmtree(output_dir, ignore_errors=True)  # results of an earlier run of this file
    output_dir.mkdir(parents=True)
    log_path = output_dir / "functions.log"
    recogniser = SpeechRecogniser(arguments.model)
    key = f"uploads/{media.name}"
    with (
        log_path.open("w", encoding="utf-8") as function_log,
        running_pipeline(template, recogniser, progress, function_log=function_log) as cloud,
    ):
        input_bucket = cloud.bucket_name("InputBucket")
        output_bucket = cloud.bucket_name("OutputBucket")
        size_kb = media.stat().st_size / 1024
        progress(f"uploading {media} ({size_kb:.0f} KB) to s3://{input_bucket}/{key}")
        cloud.client("s3").upload_file(str(media), input_bucket, key)
        files = cloud.wait_for_final_record(key, arguments.timeout)
        if files is None:
            done = ", ".join(i.function for i in cloud.invocations) or "no function ran"
            raise DemoError(f"no result for {key} after {arguments.timeout:.0f} s ({done})")
        saved = []
        for name, body in files.items():
            (output_dir / name).write_bytes(body)
            saved.append(output_dir / name)
    return _report(saved, output_bucket, key, output_dir, log_path, progress)


def _report(
    saved: list[Path],
    bucket: str,
    key: str,
    output_dir: Path,
    log_path: Path,
    progress: Progress,
) -> int:
    print()
    print(f"Outputs in s3://{bucket}/{key}/ (local cloud), saved to {output_dir}/:")
    for path in saved:
        print(f"  {path.name:16} {path.stat().st_size:>8} bytes  {path}")
    print(f"  function logs: {log_path}")
    print()
    error_record = output_dir / "error.json"
    if error_record.exists():
        record = json.loads(error_record.read_text(encoding="utf-8"))
        print(f"The pipeline could not transcribe {key}:")
        print(f"  {record.get('reason')}")
        if record.get("detected"):
            print(f"  (detected: {record['detected']})")
        print(f"\nFinished in {progress.elapsed:.1f} s.")
        return 1
    print((output_dir / "summary.md").read_text(encoding="utf-8"))
    print(f"Finished in {progress.elapsed:.1f} s.")
    return 0


def up(arguments: argparse.Namespace) -> int:
    progress = Progress()
    template = default_template(REPO)
    recogniser = SpeechRecogniser(arguments.model)
    stop = threading.Event()

    def on_signal(_signal: int, _frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    log_path = Path(arguments.output) / "functions.log"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with (
        log_path.open("a", encoding="utf-8") as function_log,
        running_pipeline(
            template,
            recogniser,
            progress,
            host=arguments.host,
            port=arguments.port,
            function_log=function_log,
        ) as cloud,
    ):
        endpoint = cloud.endpoint_url
        input_bucket = cloud.bucket_name("InputBucket")
        output_bucket = cloud.bucket_name("OutputBucket")
        print(
            f"\nLocal pipeline running at {endpoint} (function logs: {log_path}).\n"
            f"Credentials: any, e.g. AWS_ACCESS_KEY_ID=testing "
            f"AWS_SECRET_ACCESS_KEY=testing AWS_DEFAULT_REGION=us-east-1\n"
            f"  aws --endpoint-url {endpoint} s3 cp my.mp4 s3://{input_bucket}/uploads/\n"
            f"  aws --endpoint-url {endpoint} s3 ls --recursive s3://{output_bucket}/\n"
            f"Ctrl-C stops it.\n",
            flush=True,
        )
        while not stop.wait(0.5):
            pass
        progress("stopping")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m local_pipeline", description="Run template.yaml offline."
    )
    commands = parser.add_subparsers(dest="command", required=True)
    model_help = "Whisper model: tiny.en (default, shipped offline) or a local model directory"

    demo_parser = commands.add_parser("demo", help="transcribe one file end to end and stop")
    demo_parser.add_argument("file", nargs="?", help=f"media file (default: {SAMPLE.name})")
    demo_parser.add_argument("--model", default=None, help=model_help)
    demo_parser.add_argument("--timeout", type=float, default=900.0, help="seconds to wait")
    demo_parser.add_argument("--output", default="demo-output", help="where outputs are saved")
    demo_parser.set_defaults(run=demo)

    up_parser = commands.add_parser("up", help="keep the local pipeline running until Ctrl-C")
    up_parser.add_argument("--host", default="127.0.0.1")
    up_parser.add_argument("--port", type=int, default=5000)
    up_parser.add_argument("--model", default=None, help=model_help)
    up_parser.add_argument("--output", default="demo-output", help="where function logs go")
    up_parser.set_defaults(run=up)

    arguments = parser.parse_args(argv)
    try:
        result: Any = arguments.run(arguments)
    except (DemoError, SpeechModelError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    return int(result)
