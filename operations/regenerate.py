"""make regenerate: render every output again from the stored transcripts, or transcribe anew.

    python -m operations.regenerate --stack-name NAME [--prefix P] [--retranscribe]
        [--dry-run] [--restart] [--rate N] [--endpoint-url URL] [--region R]

It lists the final records in the output bucket under PREFIX (one listing: the records say
which uploads have an answer) and, for each upload with outputs (summary.json), sends a
``Regenerate Requested`` event (source ``RequestSource`` of the stack outputs), ten to a
PutEvents call. The process function then re-renders the outputs from ``<key>/transcript.json``
with the current code and options and writes only what changed (its log and the metrics
OutputsRegenerated, OutputsUnchanged and RegeneratesNotDone tell the outcome per upload).
An error.json has no transcript to render: it is counted, not sent.

``--retranscribe`` starts a new Transcribe job for every upload with a record (error.json
included) instead: the object is copied onto itself (CopyObject, its metadata and
Content-Type kept). That gives it a new Last-Modified time, or a new version in a
versioned bucket, so a new revision: S3 announces it as an upload and the normal path
starts a job with a new name (Transcribe refuses a job name it has seen, so the same
revision cannot be transcribed twice). It costs a PUT per object and, in a versioned
bucket, a version that ExpireReplacedVersions removes after 30 days.

Progress goes to stderr; a state file (``.regenerate/<stack>.<aws|local>.json``) holds the
last key whose request EventBridge accepted, so an interrupted run (Ctrl-C, a lost
connection) goes on from there; ``--restart`` starts over. Sending twice is harmless:
a regenerate that changes nothing writes nothing. Exit code 0 when every request was
accepted, 1 when some were not (they are in the report and retried by the next run),
2 when the run could not start.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from local_pipeline.template import LOCAL_REGION
from operations.backfill import LOCAL_ACCESS_KEY, TEMPLATE, template_outputs
from operations.smoke import SetupError, cloudformation_outputs

REQUIRED_OUTPUTS = ("InputBucketName", "OutputBucketName", "RequestSource")
REGENERATE_REQUESTED = "Regenerate Requested"  # events.REGENERATE_REQUESTED in the layer
SUMMARY_JSON, ERROR_RECORD = "summary.json", "error.json"
RESERVED_PREFIXES = ("_transcribe/", "_inventory/")  # the pipeline's own, never uploads
# naming.output_folder: a key too long for its outputs gets a cut folder ending like this;
# its summary.json names the key.
_SHORTENED_FOLDER = re.compile(r"~[0-9a-f]{16}$")
ENTRIES_PER_CALL = 10  # PutEvents takes at most 10 entries
STATE_DIR = Path(".regenerate")
STATE_VERSION = 1
DEFAULT_RATE = 50.0  # requests a second: each is a process invocation
PROGRESS_EVERY = 2.0
SHOWN = 20
EXIT_OK, EXIT_INCOMPLETE, EXIT_SETUP = 0, 1, 2


@dataclass(frozen=True)
class StackOutputs:
    stack_name: str
    input_bucket: str
    output_bucket: str
    request_source: str
    where: str  # "aws" or "local", for the state file's name


@dataclass(frozen=True)
class Options:
    prefix: str = ""
    retranscribe: bool = False
    dry_run: bool = False
    restart: bool = False
    rate: float = DEFAULT_RATE
    state_path: Path | None = None


@dataclass
class State:
    """What a run did so far; saved after every batch."""

    prefix: str
    retranscribe: bool
    after: str = ""  # the last record key whose upload was handled
    counts: Counter[str] = field(default_factory=Counter)
    failed: list[str] = field(default_factory=list)  # source keys to send again
    complete: bool = False

    def to_json(self) -> dict[str, Any]:
        return {
            "version": STATE_VERSION,
            "prefix": self.prefix,
            "retranscribe": self.retranscribe,
            "after": self.after,
            "counts": dict(self.counts),
            "failed": self.failed,
            "complete": self.complete,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> State:
        if data.get("version") != STATE_VERSION:
            raise ValueError(f"state version {data.get('version')}")
        return cls(
            prefix=str(data["prefix"]),
            retranscribe=bool(data["retranscribe"]),
            after=str(data["after"]),
            counts=Counter({str(k): int(v) for k, v in data["counts"].items()}),
            failed=[str(key) for key in data["failed"]],
            complete=bool(data["complete"]),
        )


def load_state(path: Path, options: Options) -> State:
    """The saved run for these options, or a fresh one (restart, finished, other options)."""
    fresh = State(options.prefix, options.retranscribe)
    if options.restart or options.dry_run or not path.is_file():
        return fresh
    try:
        saved = State.from_json(json.loads(path.read_text(encoding="utf-8")))
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as error:
        raise SetupError(
            f"the state file {path} cannot be read ({error}): pass --restart"
        ) from None
    if saved.complete or (saved.prefix, saved.retranscribe) != (fresh.prefix, fresh.retranscribe):
        return fresh
    return saved


def save_state(path: Path, state: State) -> None:
    """Atomically: an interrupted write leaves the previous state."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(path.name + ".tmp")
    temporary.write_text(json.dumps(state.to_json(), indent=1) + "\n", encoding="utf-8")
    os.replace(temporary, path)


# -- what the output bucket says ----------------------------------------------------------
@dataclass(frozen=True)
class Record:
    record_key: str  # <folder>/summary.json or <folder>/error.json
    source_key: str
    published: bool  # summary.json: outputs to render; error.json: none


def final_records(s3: Any, bucket: str, prefix: str, after: str) -> Iterator[Record]:
    """Every final record under ``prefix`` in key order, after ``after``."""
    paginator = s3.get_paginator("list_objects_v2")
    request: dict[str, Any] = {"Bucket": bucket, "Prefix": prefix}
    if after:
        request["StartAfter"] = after
    for page in paginator.paginate(**request):
        for item in page.get("Contents", []):
            key = str(item["Key"])
            folder, _, name = key.rpartition("/")
            if name not in (SUMMARY_JSON, ERROR_RECORD) or not folder:
                continue
            if key.startswith(RESERVED_PREFIXES):
                continue
            source_key = folder
            if _SHORTENED_FOLDER.search(folder):
                body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
                source_key = str(json.loads(body)["source"]["key"])
            yield Record(key, source_key, name == SUMMARY_JSON)


# -- sending ------------------------------------------------------------------------------
class Pace:
    """At most ``rate`` requests a second (so a large run does not take every Lambda
    instance of the account at once)."""

    def __init__(self, rate: float, clock: Callable[[], float] = time.monotonic) -> None:
        self._interval = 1.0 / rate if rate > 0 else 0.0
        self._clock = clock
        self._next = clock()

    def wait(self, requests: int) -> None:
        now = self._clock()
        if self._next > now:
            time.sleep(self._next - now)
        self._next = max(self._next, now) + requests * self._interval


def request_regenerates(events: Any, source: str, keys: Sequence[str]) -> list[str]:
    """One PutEvents call for up to 10 keys; the keys EventBridge did not take."""
    entries = [
        {
            "Source": source,
            "DetailType": REGENERATE_REQUESTED,
            "Detail": json.dumps({"key": key, "version": 1}, sort_keys=True),
        }
        for key in keys
    ]
    answer = events.put_events(Entries=entries)
    return [key for key, entry in zip(keys, answer["Entries"], strict=True) if "ErrorCode" in entry]


def retranscribe(s3: Any, bucket: str, key: str) -> str:
    """Copy the upload onto itself (a new revision, so a new job); the outcome."""
    try:
        head = s3.head_object(Bucket=bucket, Key=key)
    except ClientError as error:
        if str(error.response.get("Error", {}).get("Code")) in ("404", "NoSuchKey", "NotFound"):
            return "source_missing"
        raise
    request: dict[str, Any] = {
        "Bucket": bucket,
        "Key": key,
        "CopySource": {"Bucket": bucket, "Key": key},
        # Copying an object onto itself is allowed when its metadata is replaced; the same
        # metadata (options may be in it) and Content-Type are given again.
        "MetadataDirective": "REPLACE",
        "Metadata": head.get("Metadata", {}),
    }
    for name in ("ContentType", "ContentEncoding", "ContentLanguage", "ContentDisposition"):
        if head.get(name):
            request[name] = head[name]
    s3.copy_object(**request)
    return "retranscribed"


@dataclass
class Progress:
    stream: TextIO
    every: float = PROGRESS_EVERY
    _last: float = 0.0

    def show(self, state: State, *, force: bool = False) -> None:
        now = time.monotonic()
        if force or now - self._last >= self.every:
            self._last = now
            counts = ", ".join(f"{k} {v:,}" for k, v in sorted(state.counts.items()))
            print(f"regenerate: {counts or 'nothing yet'}", file=self.stream, flush=True)


def run_regenerate(
    s3: Any,
    events: Any,
    outputs: StackOutputs,
    options: Options,
    *,
    out: TextIO,
    err: TextIO,
) -> int:
    path = options.state_path or STATE_DIR / f"{outputs.stack_name}.{outputs.where}.json"
    state = load_state(path, options)
    if state.after or state.failed:
        print(f"Resuming after {state.after or 'the start'} ({path})", file=out, flush=True)
    progress = Progress(err)
    pace = Pace(options.rate)
    retry, state.failed = state.failed, []
    pending: list[tuple[str, str]] = [("", key) for key in retry]  # (record key, source key)

    def flush() -> None:
        while pending:
            chunk = pending[:ENTRIES_PER_CALL]
            del pending[:ENTRIES_PER_CALL]
            keys = [source for _, source in chunk]
            if options.dry_run:
                state.counts["would_request"] += len(keys)
            else:
                pace.wait(len(keys))
                refused = request_regenerates(events, outputs.request_source, keys)
                state.counts["requested"] += len(keys) - len(refused)
                state.counts["not_accepted"] += len(refused)
                state.failed += refused
            state.after = max(state.after, *(record for record, _ in chunk))
            if not options.dry_run:
                save_state(path, state)
            progress.show(state)

    try:
        for record in final_records(s3, outputs.output_bucket, options.prefix, state.after):
            if options.retranscribe:
                if options.dry_run:
                    state.counts["would_retranscribe"] += 1
                else:
                    pace.wait(1)
                    state.counts[retranscribe(s3, outputs.input_bucket, record.source_key)] += 1
                    state.after = record.record_key
                    save_state(path, state)
                progress.show(state)
            elif not record.published:
                state.counts["error_record"] += 1  # no transcript: nothing to render
            else:
                pending.append((record.record_key, record.source_key))
                if len(pending) >= ENTRIES_PER_CALL:
                    flush()
        flush()
    except KeyboardInterrupt:
        if not options.dry_run:
            save_state(path, state)
        progress.show(state, force=True)
        print(f"Interrupted: run it again to go on ({path}).", file=err)
        return EXIT_INCOMPLETE
    state.complete = not state.failed
    if not options.dry_run:
        save_state(path, state)
    report(state, outputs, options, out)
    return EXIT_OK if not state.failed else EXIT_INCOMPLETE


def report(state: State, outputs: StackOutputs, options: Options, out: TextIO) -> None:
    what = "retranscribe" if options.retranscribe else "regenerate"
    where = f"s3://{outputs.output_bucket}/{options.prefix}"
    print(f"Report ({what} of {where}{', dry run' if options.dry_run else ''}):", file=out)
    for outcome, count in sorted(state.counts.items()):
        print(f"  {outcome}: {count:,}", file=out)
    if not state.counts:
        print("  no final records under that prefix", file=out)
    if state.failed:
        print(
            f"  not accepted by EventBridge (sent again on the next run): {len(state.failed)}",
            file=out,
        )
        for key in state.failed[:SHOWN]:
            print(f"    {key}", file=out)
    if state.counts.get("requested"):
        print(
            "  The process function renders each one (log 'regenerate handled'; metrics "
            "OutputsRegenerated, OutputsUnchanged, RegeneratesNotDone).",
            file=out,
        )
    out.flush()


# -- the command --------------------------------------------------------------------------
def connect(arguments: argparse.Namespace) -> tuple[Any, Any, StackOutputs]:
    endpoint = arguments.endpoint_url
    if endpoint:
        session = boto3.session.Session(
            aws_access_key_id=LOCAL_ACCESS_KEY,
            aws_secret_access_key=LOCAL_ACCESS_KEY,
            region_name=LOCAL_REGION,
        )
        values = template_outputs(TEMPLATE, arguments.stack_name)
    else:
        session = boto3.session.Session(region_name=arguments.region)
        if session.region_name is None:
            raise SetupError("no AWS Region: pass --region or set AWS_REGION")
        cloudformation = session.client("cloudformation")
        values = cloudformation_outputs(cloudformation, arguments.stack_name)
    missing = [name for name in REQUIRED_OUTPUTS if not values.get(name)]
    if missing:
        raise SetupError(f"the stack has no output {', '.join(missing)}: deploy template.yaml")
    config = Config(retries={"mode": "standard", "max_attempts": 5})
    extra: dict[str, Any] = {"config": config}
    if endpoint:
        extra["endpoint_url"] = endpoint
    outputs = StackOutputs(
        stack_name=arguments.stack_name,
        input_bucket=values["InputBucketName"],
        output_bucket=values["OutputBucketName"],
        request_source=values["RequestSource"],
        where="local" if endpoint else "aws",
    )
    return session.client("s3", **extra), session.client("events", **extra), outputs


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m operations.regenerate", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--stack-name", required=True)
    parser.add_argument("--prefix", default="", help="only uploads whose key starts with this")
    parser.add_argument(
        "--retranscribe", action="store_true", help="a new Transcribe job for each upload"
    )
    parser.add_argument("--dry-run", action="store_true", help="count, send nothing")
    parser.add_argument("--restart", action="store_true", help="ignore the saved state")
    parser.add_argument("--rate", type=float, default=DEFAULT_RATE, help="requests a second")
    parser.add_argument("--state-file", type=Path, default=None)
    parser.add_argument("--endpoint-url", default=None, help="the local cloud (make local)")
    parser.add_argument("--region", default=None)
    return parser


def main(
    argv: Sequence[str] | None = None, *, stdout: TextIO | None = None, stderr: TextIO | None = None
) -> int:
    out, err = stdout or sys.stdout, stderr or sys.stderr
    arguments = _parser().parse_args(argv)
    options = Options(
        prefix=arguments.prefix,
        retranscribe=arguments.retranscribe,
        dry_run=arguments.dry_run,
        restart=arguments.restart,
        rate=arguments.rate,
        state_path=arguments.state_file,
    )
    try:
        s3, events, outputs = connect(arguments)
        return run_regenerate(s3, events, outputs, options, out=out, err=err)
    except (SetupError, BotoCoreError) as error:
        print(f"error: {error}", file=err)
        return EXIT_SETUP
    except ClientError as error:
        print(f"error: {error.response.get('Error', {}).get('Code')}: {error}", file=err)
        return EXIT_SETUP


if __name__ == "__main__":
    sys.exit(main())
