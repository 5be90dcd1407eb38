"""``python -m local_pipeline demo [FILE]`` and ``python -m local_pipeline up``.

demo: start the local cloud and the local Transcribe engine, upload one file, wait for
the pipeline, save and show the outputs, stop. up: keep everything running until Ctrl-C
so files can be copied in with ``aws --endpoint-url ... s3 cp``.

demo can give the file options as `aws s3 cp --metadata` would (S3 user metadata the start
function reads): ``--language``, ``--speakers``, ``--speaker-names``, ``--title`` and any
``--metadata NAME=VALUE``. They are not checked here: an invalid one comes back as the
pipeline's own error.json, printed, with the exit code of a refused file (1). Either
command takes template parameters (``--parameter OptionProfiles={...}``) as `sam deploy
--parameter-overrides` would. Both print the stack's completion events as they arrive.

demo waits as long as the pipeline makes progress (a function runs, the engine
recognises): a 4-hour recording takes as long as it takes. It gives up only when nothing
has happened for ``--timeout`` seconds (``make demo TIMEOUT=...``).

Ctrl-C (or SIGTERM) stops either command within STOP_SECONDS, also while a recording is
being recognised; a second Ctrl-C quits at once.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import shutil
import signal
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import Any, TextIO

from botocore.exceptions import ParamValidationError

from local_pipeline.cloud import LocalCloud, default_template
from local_pipeline.engine import LocalTranscribeEngine, ProgressReport
from local_pipeline.invoke import add_layers_to_path
from local_pipeline.speech import SpeechModelError, SpeechRecogniser
from local_pipeline.template import Template, TemplateError, parameter_refusals

REPO = Path(__file__).resolve().parent.parent
SAMPLE = REPO / "samples" / "sample-talk.mp4"
# demo gives up after this many seconds in which nothing happened (--timeout, TIMEOUT=).
STALL_SECONDS = 120.0
# How often demo looks for the outputs (and at the clock).
POLL_SECONDS = 0.5
# Without a terminal, a recognition in progress is reported at most this often.
PLAIN_PROGRESS_SECONDS = 15.0
# Ctrl-C ends the process within this, whatever is running.
STOP_SECONDS = 2.0
# How long a stop waits for the engine, which stops between two batches (about a second
# apart); a batch still running then ends with the process (see __main__).
ENGINE_STOP_SECONDS = 0.75
EXIT_INTERRUPTED = 130  # as a shell reports a process ended by SIGINT
EXIT_NOT_TRANSCRIBED = 1  # the pipeline answered with error.json (a refused file, bad options)
# After the final record, how long demo waits for its completion event (emitted after it).
EVENT_SECONDS = 5.0
# demo's option flags -> the S3 user metadata names the pipeline reads (options.py).
METADATA_FLAGS = {
    "language": "language",
    "speakers": "speakers",
    "speaker_names": "speaker-names",
    "title": "title",
}


class DemoError(Exception):
    """An expected failure: printed as a message, not a traceback."""


class Progress:
    """Timestamped lines: which stage, how long so far.

    A report of a recognition in progress (engine.ProgressReport) rewrites a single line
    on a terminal; elsewhere it becomes a plain line, at most one per
    PLAIN_PROGRESS_SECONDS.
    """

    def __init__(self, stream: TextIO = sys.stdout, *, terminal: bool | None = None) -> None:
        self._started = time.monotonic()
        self._stream = stream
        self._terminal = stream.isatty() if terminal is None else terminal
        self._lock = threading.Lock()
        self._showing = False  # a progress line is on the terminal, without a newline
        self._last_plain_report = -math.inf
        self.last_message = ""
        self.last_message_at = self._started

    @property
    def elapsed(self) -> float:
        return time.monotonic() - self._started

    def __call__(self, message: str) -> None:
        with self._lock:
            now = time.monotonic()
            self.last_message, self.last_message_at = str(message), now
            line = f"[{self.elapsed:6.1f}s] {message}"
            if isinstance(message, ProgressReport):
                if self._terminal:
                    width = max(shutil.get_terminal_size().columns - 1, 20)
                    if len(line) > width:  # the figures matter more than the job's name
                        line = f"[{self.elapsed:6.1f}s] recognising: {message.figures}"
                    self._stream.write("\r\x1b[K" + line[:width])
                    self._stream.flush()
                    self._showing = True
                    return
                if now - self._last_plain_report < PLAIN_PROGRESS_SECONDS:
                    return
                self._last_plain_report = now
            self._end_progress_line()
            print(line, file=self._stream, flush=True)

    def finish(self) -> None:
        """End a progress line left on the terminal, before printing anything else."""
        with self._lock:
            self._end_progress_line()

    def _end_progress_line(self) -> None:
        if self._showing:
            self._stream.write("\r\x1b[K")
            self._stream.flush()
            self._showing = False


@dataclass
class Running:
    cloud: LocalCloud
    engine: LocalTranscribeEngine


@contextlib.contextmanager
def running_pipeline(
    template: Template, recogniser: SpeechRecogniser, progress: Progress, **cloud_options: Any
) -> Iterator[Running]:
    """The local cloud and the local Transcribe engine, both stopped on the way out."""
    counts = {
        "functions": len(template.functions()),
        "buckets": len(template.resources_of_type("AWS::S3::Bucket")),
        "queues": len(template.resources_of_type("AWS::SQS::Queue")),
        "tables": len(template.resources_of_type("AWS::DynamoDB::Table")),
    }
    shown = ", ".join(
        f"{n} {kind.removesuffix('s') if n == 1 else kind}" for kind, n in counts.items()
    )
    progress(f"starting the local cloud from template.yaml ({shown})")
    with LocalCloud(template, on_activity=progress, **cloud_options) as cloud:
        progress(f"moto listening on {cloud.endpoint_url}; loading the speech model")
        recogniser.load()
        with LocalTranscribeEngine(
            cloud, recogniser, on_activity=progress, stop_timeout=ENGINE_STOP_SECONDS
        ) as engine:
            yield Running(cloud, engine)


def wait_for_outputs(
    running: Running, key: str, stall_seconds: float, progress: Progress
) -> dict[str, bytes]:
    """The final record of ``key`` (see LocalCloud.wait_for_final_record), waiting as long
    as something happens: DemoError once nothing has for ``stall_seconds`` (0: no limit)."""
    while True:
        files = running.cloud.wait_for_final_record(key, POLL_SECONDS)
        if files is not None:
            return files
        quiet = time.monotonic() - max(progress.last_message_at, running.engine.last_activity)
        if stall_seconds > 0 and quiet > stall_seconds:
            # The last look, in case the outputs came in the meantime.
            files = running.cloud.wait_for_final_record(key, POLL_SECONDS)
            if files is not None:
                return files
            done = ", ".join(i.function for i in running.cloud.invocations) or "no function ran"
            raise DemoError(
                f"no progress for {stall_seconds:.0f} s and no result for {key} "
                f"(functions run: {done}; last: {progress.last_message}). "
                f"TIMEOUT=<seconds> (--timeout) waits longer, 0 without limit."
            )


def _save_transcripts(running: Running, output_dir: Path) -> list[Path]:
    """What the engine transcribed, saved beside the outputs: finished work is not lost."""
    saved = []
    s3 = running.cloud.client("s3")
    for job, (bucket, key) in running.engine.transcripts.items():
        path = output_dir / f"{job}.transcribe.json"
        with contextlib.suppress(Exception):
            path.write_bytes(s3.get_object(Bucket=bucket, Key=key)["Body"].read())
            saved.append(path)
    return saved


def _pairs(items: Sequence[str] | None, flag: str) -> dict[str, str]:
    pairs: dict[str, str] = {}
    for item in items or ():
        name, equals, value = item.partition("=")
        if not equals or not name.strip():
            raise DemoError(f"{flag} {item!r}: give NAME=VALUE")
        pairs[name.strip()] = value
    return pairs


def upload_metadata(arguments: argparse.Namespace) -> dict[str, str]:
    """The S3 user metadata demo puts on the upload: ``--metadata NAME=VALUE`` and the
    option flags, unchecked (the pipeline checks them). S3 lower-cases metadata names."""
    metadata = {
        name.lower(): value for name, value in _pairs(arguments.metadata, "--metadata").items()
    }
    for attribute, name in METADATA_FLAGS.items():
        value = getattr(arguments, attribute, None)
        if value is not None:
            metadata[name] = str(value)
    return metadata


def load_template(parameters: Sequence[str] | None) -> Template:
    """template.yaml with ``--parameter NAME=VALUE`` overrides; refused as CloudFormation
    would refuse them, and an OptionProfiles the functions would refuse at start-up (in
    AWS every invocation would then fail) is refused here, with the functions' message."""
    overrides = _pairs(parameters, "--parameter")
    try:
        template = default_template(REPO, parameter_overrides=overrides)
    except TemplateError as error:
        raise DemoError(f"template parameters: {error}") from None
    refusals = parameter_refusals(template.document, overrides)
    if refusals:
        raise DemoError("template parameters refused: " + "; ".join(refusals))
    if overrides.get("OptionProfiles", "").strip():
        for spec in template.functions():
            add_layers_to_path(spec)
        from transcription_pipeline.options import OptionError, parse_profiles

        try:
            parse_profiles(overrides["OptionProfiles"])
        except OptionError as error:
            raise DemoError(f"the functions would refuse OptionProfiles: {error}") from None
    return template


# The demo's summary step with Amazon Bedrock: the one call that may leave this machine.
BEDROCK_DEMO_REGION = "us-east-1"
# SUMMARY_MODEL=standin: the local Bedrock stand-in answers (no model, no network).
STANDIN_MODEL = "standin"


def summary_model_step(
    model: str | None, stack: contextlib.ExitStack, progress: Progress
) -> tuple[list[str], dict[str, str]]:
    """Template parameters and function environment for ``--summary-model``.

    A real model id is called in BEDROCK_DEMO_REGION with the user's own credentials (read
    before the local cloud replaces them with moto's); every other call stays local.
    """
    if not model:
        return [], {}
    if model == STANDIN_MODEL:
        from local_pipeline.standins import serving
        from local_pipeline.standins.bedrock import STANDIN_MODEL_ID, BedrockStandIn

        stand_in = stack.enter_context(serving(BedrockStandIn()))
        progress(
            f"summary step: the local Bedrock stand-in at {stand_in.url} (model "
            f"{STANDIN_MODEL_ID}; a deterministic stand-in, not a language model)"
        )
        return [f"SummaryModelId={STANDIN_MODEL_ID}"], {
            "AWS_ENDPOINT_URL_BEDROCK_RUNTIME": stand_in.url
        }
    import boto3

    credentials = boto3.Session().get_credentials()
    if credentials is None:
        raise DemoError(
            "SUMMARY_MODEL calls Amazon Bedrock with your own AWS credentials, and none were "
            "found: run `aws configure` or set AWS_PROFILE (SUMMARY_MODEL=standin needs none)."
        )
    frozen = credentials.get_frozen_credentials()
    environment: dict[str, str] = {
        "AWS_ACCESS_KEY_ID": str(frozen.access_key),
        "AWS_SECRET_ACCESS_KEY": str(frozen.secret_key),
        "AWS_ENDPOINT_URL_BEDROCK_RUNTIME": (
            f"https://bedrock-runtime.{BEDROCK_DEMO_REGION}.amazonaws.com"
        ),
    }
    if frozen.token:
        environment["AWS_SESSION_TOKEN"] = frozen.token
    progress(
        f"summary step: Amazon Bedrock model {model} in {BEDROCK_DEMO_REGION} with your AWS "
        "credentials (billed to your account); everything else stays on this machine"
    )
    return [f"SummaryModelId={model}"], environment


def demo(arguments: argparse.Namespace) -> int:
    media = Path(arguments.file) if arguments.file else SAMPLE
    if not media.is_file():
        raise DemoError(f"{media} is not a file")
    metadata = upload_metadata(arguments)
    progress = Progress()
    with contextlib.ExitStack() as summary_stack:
        parameters, environment = summary_model_step(
            arguments.summary_model, summary_stack, progress
        )
        template = load_template([*(arguments.parameter or ()), *parameters])
        result = _demo(arguments, media, metadata, template, progress, environment)
    if arguments.summary_model == STANDIN_MODEL:
        print(
            "Note: the model-written sections above (Summary, Key points, Action items, "
            "Chapters) came from the local Bedrock stand-in, which only echoes sentences of "
            "the transcript: they show the format, not what a model writes."
        )
    return result


def _demo(
    arguments: argparse.Namespace,
    media: Path,
    metadata: dict[str, str],
    template: Template,
    progress: Progress,
    function_environment: dict[str, str],
) -> int:
    output_dir = Path(arguments.output) / media.name
    shutil.rmtree(output_dir, ignore_errors=True)  # results of an earlier run of this file
    output_dir.mkdir(parents=True)
    log_path = output_dir / "functions.log"
    recogniser = SpeechRecogniser(arguments.model)
    key = f"uploads/{media.name}"
    with (
        log_path.open("w", encoding="utf-8") as function_log,
        running_pipeline(
            template,
            recogniser,
            progress,
            function_log=function_log,
            function_overrides=function_environment,
        ) as running,
    ):
        cloud = running.cloud
        input_bucket = cloud.bucket_name("InputBucket")
        output_bucket = cloud.bucket_name("OutputBucket")
        size = media.stat().st_size
        shown = f"{size / 1024:.0f} KB" if size < 10 * 1024**2 else f"{size / 1024**2:.0f} MB"
        given = ", ".join(f"{name}={value!r}" for name, value in metadata.items())
        progress(
            f"uploading {media} ({shown}) to s3://{input_bucket}/{key}"
            + (f" with S3 metadata {given}" if metadata else "")
        )
        try:
            try:
                cloud.client("s3").upload_file(
                    str(media), input_bucket, key, ExtraArgs={"Metadata": metadata}
                )
            except ParamValidationError as error:  # what `aws s3 cp --metadata` says too
                raise DemoError(
                    f"{' '.join(str(error).split())} Give such options in a sidecar "
                    f"{key}.options.json instead (README, Per-file options)."
                ) from None
            files = wait_for_outputs(running, key, arguments.timeout, progress)
            if cloud.wait_for_completion_event(key, EVENT_SECONDS) is None:
                progress(f"no completion event about {key} within {EVENT_SECONDS:.0f} s")
        except KeyboardInterrupt:
            progress("stopping (Ctrl-C again quits at once)")
            raise
        except DemoError as error:
            kept = _save_transcripts(running, output_dir)
            if kept:
                raise DemoError(f"{error} Transcripts saved: {', '.join(map(str, kept))}") from None
            raise
        saved = save_outputs(files, output_dir)
    return _report(saved, output_bucket, key, output_dir, log_path, progress)


def save_outputs(files: dict[str, bytes], output_dir: Path) -> list[Path]:
    """Write a record's files into ``output_dir`` (which exists)."""
    saved = []
    for name, body in files.items():
        (output_dir / name).write_bytes(body)
        saved.append(output_dir / name)
    return saved


def print_outputs(saved: list[Path], bucket: str, key: str, output_dir: Path) -> None:
    """Where the outputs are: the page to open first, then every file with its size."""
    page = output_dir / "transcript.html"
    if page.exists():
        print(f"Open {page} in a browser: summary, chapters, search, and the recording.")
    print(f"Outputs in s3://{bucket}/{key}/ (local cloud), saved to {output_dir}/:")
    for path in saved:
        print(f"  {path.name:16} {path.stat().st_size:>8} bytes  {path}")


def _report(
    saved: list[Path],
    bucket: str,
    key: str,
    output_dir: Path,
    log_path: Path,
    progress: Progress,
) -> int:
    print()
    print_outputs(saved, bucket, key, output_dir)
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
        return EXIT_NOT_TRANSCRIBED
    print((output_dir / "summary.md").read_text(encoding="utf-8"))
    print(f"Finished in {progress.elapsed:.1f} s.")
    return 0


def up(arguments: argparse.Namespace) -> int:
    template = load_template(arguments.parameter)
    progress = Progress()
    recogniser = SpeechRecogniser(arguments.model)
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
        ) as running,
    ):
        cloud = running.cloud
        endpoint = cloud.endpoint_url
        input_bucket = cloud.bucket_name("InputBucket")
        output_bucket = cloud.bucket_name("OutputBucket")
        print(
            f"\nLocal pipeline running at {endpoint} (function logs: {log_path}).\n"
            f"Credentials: any, e.g. AWS_ACCESS_KEY_ID=testing "
            f"AWS_SECRET_ACCESS_KEY=testing AWS_DEFAULT_REGION=us-east-1\n"
            f"  make upload FILE=my.mp4 ENDPOINT={endpoint}   (saves the outputs to "
            f"demo-output/my.mp4/)\n"
            f"  or any S3 client: aws --endpoint-url {endpoint} s3 cp my.mp4 "
            f"s3://{input_bucket}/uploads/ (outputs in s3://{output_bucket}/)\n"
            f"Options for one file: S3 metadata (s3 cp ... --metadata language=en-GB,speakers=2)"
            f" or a sidecar uploads/my.mp4.options.json uploaded before the file.\n"
            f"Completion events (EventBridge, source {' '.join(cloud.event_sources())}) "
            f"are printed here.\n"
            f"Ctrl-C stops it.\n",
            flush=True,
        )
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            progress("stopping (Ctrl-C again quits at once)")
    return 0


def upload(arguments: argparse.Namespace) -> int:
    """Upload a file to a running `make local` and save its outputs (no AWS CLI needed)."""
    import boto3

    from local_pipeline.cloud import LOCAL_ENVIRONMENT, wait_for_final_record

    media = Path(arguments.file)
    if not media.is_file():
        raise DemoError(f"{media} is not a file")
    template = load_template(arguments.parameter)
    for spec in template.functions():
        add_layers_to_path(spec)  # the pipeline's own naming finds the output folder
    s3 = boto3.client(
        "s3",
        endpoint_url=arguments.endpoint,
        region_name=LOCAL_ENVIRONMENT["AWS_DEFAULT_REGION"],
        aws_access_key_id=LOCAL_ENVIRONMENT["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=LOCAL_ENVIRONMENT["AWS_SECRET_ACCESS_KEY"],
    )
    input_bucket = template.physical_name("InputBucket")
    output_bucket = template.physical_name("OutputBucket")
    key = arguments.key or f"uploads/{media.name}"
    progress = Progress()
    progress(f"uploading {media} to s3://{input_bucket}/{key} at {arguments.endpoint}")
    try:
        s3.upload_file(str(media), input_bucket, key)
    except Exception as error:  # noqa: BLE001 - said in plain words, exit code 2
        raise DemoError(
            f"could not upload to {arguments.endpoint} ({type(error).__name__}): is "
            "`make local` running there? (make upload ENDPOINT=http://host:port)"
        ) from None
    progress(f"waiting for the outputs of {key} (Ctrl-C stops waiting)")
    files = wait_for_final_record(s3, output_bucket, key, arguments.timeout)
    if files is None:
        raise DemoError(
            f"no outputs for {key} after {arguments.timeout:.0f} s; they will still appear "
            f"in s3://{output_bucket}/{key}/ (make upload TIMEOUT=<seconds> waits longer)"
        )
    output_dir = Path(arguments.output) / media.name
    shutil.rmtree(output_dir, ignore_errors=True)
    output_dir.mkdir(parents=True)
    print()
    print_outputs(save_outputs(files, output_dir), output_bucket, key, output_dir)
    return EXIT_NOT_TRANSCRIBED if "error.json" in files else 0


@contextlib.contextmanager
def stopping_on_signals(exit_code: int) -> Iterator[None]:
    """SIGINT (Ctrl-C) or SIGTERM raises KeyboardInterrupt in the main thread, so that
    everything unwinds and stops; should that take longer than STOP_SECONDS, or on a
    second signal, the process exits at once with ``exit_code``."""
    signalled = threading.Event()

    def exit_now() -> None:
        with contextlib.suppress(Exception):
            sys.stdout.flush()
            sys.stderr.flush()
        os._exit(exit_code)

    def on_signal(_signal: int, _frame: FrameType | None) -> None:
        if signalled.is_set():
            exit_now()
        signalled.set()
        deadline = threading.Timer(STOP_SECONDS - 0.25, exit_now)
        deadline.daemon = True
        deadline.name = "local-stop-deadline"
        deadline.start()
        raise KeyboardInterrupt

    handled = (signal.SIGINT, signal.SIGTERM)
    previous = {number: signal.signal(number, on_signal) for number in handled}
    try:
        yield
    finally:
        if not signalled.is_set():  # after a signal, a second one must still quit at once
            for number, handler in previous.items():
                signal.signal(number, handler)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m local_pipeline", description="Run template.yaml offline."
    )
    commands = parser.add_subparsers(dest="command", required=True)
    model_help = "Whisper model: tiny.en (default, shipped offline) or a local model directory"

    demo_parser = commands.add_parser("demo", help="transcribe one file end to end and stop")
    demo_parser.add_argument("file", nargs="?", help=f"media file (default: {SAMPLE.name})")
    demo_parser.add_argument("--model", default=None, help=model_help)
    demo_parser.add_argument(
        "--timeout",
        type=float,
        default=STALL_SECONDS,
        help=f"give up after this many seconds without progress (default {STALL_SECONDS:.0f}; "
        "0: never); a long recording that is being recognised is progress",
    )
    demo_parser.add_argument("--output", default="demo-output", help="where outputs are saved")
    demo_parser.add_argument(
        "--summary-model",
        default=None,
        help="also write the Bedrock summary: a model or inference-profile id, called in "
        f"{BEDROCK_DEMO_REGION} with your AWS credentials, or '{STANDIN_MODEL}' for the "
        "local stand-in",
    )
    options = demo_parser.add_argument_group(
        "options of the file",
        "S3 user metadata on the upload, as `aws s3 cp --metadata` puts it; the pipeline "
        "checks them (an invalid one: error.json, exit code 1)",
    )
    options.add_argument("--language", help="metadata language: en-US, es-US, ... or auto")
    options.add_argument("--speakers", help="metadata speakers: at most this many, 2 to 30")
    options.add_argument(
        "--speaker-names", help="metadata speaker-names: in order of first appearance (Ana,Ben)"
    )
    options.add_argument("--title", help="metadata title: the outputs' title")
    options.add_argument(
        "--metadata",
        action="append",
        metavar="NAME=VALUE",
        help="any other S3 metadata, e.g. channels=true (repeatable)",
    )
    demo_parser.set_defaults(run=demo, interrupted=EXIT_INTERRUPTED)

    up_parser = commands.add_parser("up", help="keep the local pipeline running until Ctrl-C")
    up_parser.add_argument("--host", default="127.0.0.1")
    up_parser.add_argument("--port", type=int, default=5000)
    up_parser.add_argument("--model", default=None, help=model_help)
    up_parser.add_argument("--output", default="demo-output", help="where function logs go")
    upload_parser = commands.add_parser(
        "upload", help="upload a file to a running `make local` and save its outputs"
    )
    upload_parser.add_argument("file", help="media file")
    upload_parser.add_argument("--endpoint", default="http://127.0.0.1:5000")
    upload_parser.add_argument("--key", help="the S3 key (default: uploads/<file name>)")
    upload_parser.add_argument("--output", default="demo-output", help="where outputs are saved")
    upload_parser.add_argument(
        "--timeout", type=float, default=900.0, help="seconds to wait for the outputs"
    )
    upload_parser.set_defaults(run=upload, interrupted=EXIT_INTERRUPTED)
    for subparser in (demo_parser, up_parser, upload_parser):
        subparser.add_argument(
            "--parameter",
            action="append",
            metavar="NAME=VALUE",
            help="a template parameter, as sam deploy --parameter-overrides takes it, e.g. "
            'OptionProfiles=\'{"interviews/": {"speakers": 2}}\' (repeatable)',
        )
    # Ctrl-C is how `up` is meant to end: a success.
    up_parser.set_defaults(run=up, interrupted=0)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    arguments = build_parser().parse_args(argv)
    try:
        with stopping_on_signals(arguments.interrupted):
            result: Any = arguments.run(arguments)
    except (DemoError, SpeechModelError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        if arguments.interrupted:
            print("interrupted", file=sys.stderr)
        return int(arguments.interrupted)
    return int(result)


def engine_still_running() -> bool:
    """A stopped recognition can still be inside its last batch (native code that cannot be
    interrupted) when everything else has stopped."""
    return any(t.name == "local-transcribe" and t.is_alive() for t in threading.enumerate())
