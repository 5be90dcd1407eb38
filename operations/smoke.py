"""Smoke test of a running pipeline: upload a known clip, wait, check the outputs, clean up.

Against a deployed stack (AWS credentials needed) the bucket names, the dead-letter queues
and the job name prefix come from the stack's CloudFormation outputs. With
``--endpoint-url`` (the local cloud of ``make local``, which has no CloudFormation) the
same output values are resolved from ``template.yaml`` for that stack name, exactly as the
local cloud names its resources. After that both take one path:

1. upload the clip (``samples/sample-talk.mp4`` by default) as
   ``smoke-tests/<UTC time>/smoke-<random>-<file name>`` to the input bucket (the random
   part ends up in the job name, so ListTranscriptionJobs finds this run's job);
2. wait, with a progress line, for the upload's final record in the output bucket: the six
   outputs or ``error.json``;
3. check the content: ``summary.json`` names the upload and has words, a duration and a
   language; ``transcript.txt`` holds at least half of the words the clip says (the text
   beside the clip, ``samples/sample-talk.txt``); both subtitle files parse with at least
   one cue; ``transcript.json`` has a transcript;
4. always (also on failure or Ctrl-C) remove what the run created: the upload, its
   outputs, Transcribe's raw output under ``_transcribe/`` and the finished Transcribe job
   — the job too, because reconciliation would otherwise write the outputs of a finished
   job without a record again.

On ``error.json`` it prints the reason the pipeline gave; on a timeout, which outputs
exist, the Transcribe job's status and FailureReason, and the dead-letter queues with their
approximate message counts.

Usage: ``python -m operations.smoke --stack-name NAME [--region R] [--endpoint-url URL]
[--timeout SECONDS] [--file PATH]``. Exit code 0: every check passed and everything was
removed; 1: a check failed, the pipeline answered with ``error.json``, the wait timed out
or something could not be removed; 2: the stack, an output, a bucket, the credentials or
the file is missing (nothing was uploaded).
"""

from __future__ import annotations

import argparse
import json
import posixpath
import re
import secrets
import shutil
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError, EndpointConnectionError

REPO = Path(__file__).resolve().parent.parent
LAYER = REPO / "layers" / "transcription_pipeline"
if str(LAYER) not in sys.path:
    # The pipeline's own naming (output folders, job names), as the functions use it.
    sys.path.append(str(LAYER))

from local_pipeline.template import LOCAL_REGION  # noqa: E402 - yaml only, no moto
from local_pipeline.wer import normalise_words  # noqa: E402 - pure text helper
from transcription_pipeline.naming import (  # noqa: E402
    ERROR_RECORD,
    RECORD_FILES,
    SUBTITLES_SRT,
    SUBTITLES_VTT,
    SUMMARY_JSON,
    SUMMARY_MARKDOWN,
    TRANSCRIPT_JSON,
    TRANSCRIPT_TEXT,
    S3Location,
    output_folder,
    raw_output_key,
)

SAMPLE = REPO / "samples" / "sample-talk.mp4"
TEMPLATE = REPO / "template.yaml"
KEY_PREFIX = "smoke-tests/"
# RAW_OUTPUT_PREFIX in template.yaml: a function setting, not a stack output.
RAW_OUTPUT_PREFIX = "_transcribe/"
DEFAULT_TIMEOUT = 600.0  # a 15 s clip takes Transcribe about a minute; queues can be slower
POLL_SECONDS_AWS = 3.0
POLL_SECONDS_LOCAL = 0.25
PLAIN_PROGRESS_EVERY = 30.0  # seconds between unchanged progress lines when not on a TTY
MIN_EXPECTED_WORDS_SHARE = 0.5
MIN_EXPECTED_WORD_LENGTH = 4  # "this", "video": not "a", "is", "the"

REQUIRED_OUTPUTS = ("InputBucketName", "OutputBucketName", "JobNamePrefix")
DEAD_LETTER_OUTPUTS = (
    "StartTranscriptionDeadLetterQueueUrl",
    "ProcessTranscriptDeadLetterQueueUrl",
    "JobEventsDeadLetterQueueUrl",
)
FUNCTION_OUTPUTS = ("StartTranscriptionFunctionArn", "ProcessTranscriptFunctionArn")
FINISHED = ("COMPLETED", "FAILED")
_UNSAFE_IN_JOB_NAME = re.compile(r"[^0-9a-zA-Z_-]+")

_CLIENT_CONFIG = Config(retries={"mode": "standard", "max_attempts": 5})
LOCAL_ACCESS_KEY = "testing"


class SetupError(Exception):
    """The stack, an output, a bucket, the credentials or the file is missing (exit 2)."""


# -- the stack's outputs ---------------------------------------------------------------------


@dataclass(frozen=True)
class StackOutputs:
    """What the smoke test needs from the stack, wherever the values came from."""

    stack_name: str
    input_bucket: str
    output_bucket: str
    job_name_prefix: str
    # stack output name without "Url" -> queue URL (from AWS) or name (from template.yaml)
    dead_letter_queues: dict[str, str] = field(default_factory=dict)
    # logical function name -> function name, for the logs hint
    functions: dict[str, str] = field(default_factory=dict)
    source: str = ""  # where the values came from, for the first line
    local: bool = False
    aws_cli_options: str = ""  # for the commands it suggests: " --endpoint-url URL" locally


def _error_code(error: Exception) -> str:
    if isinstance(error, ClientError):
        return str(error.response.get("Error", {}).get("Code") or "ClientError")
    return type(error).__name__


def cloudformation_outputs(cloudformation: Any, stack_name: str) -> dict[str, str]:
    """The stack's Outputs from DescribeStacks, as name -> value."""
    try:
        stacks = cloudformation.describe_stacks(StackName=stack_name)["Stacks"]
    except ClientError as error:
        message = str(error.response.get("Error", {}).get("Message", ""))
        region = cloudformation.meta.region_name
        if "does not exist" in message:
            raise SetupError(
                f"stack {stack_name!r} does not exist in {region}: check the name "
                "(samconfig.toml: stack_name) and the Region (--region or AWS_REGION), "
                "or deploy it first (see Deploy in README.md)"
            ) from None
        raise SetupError(
            f"cannot read stack {stack_name!r} in {region}: {_error_code(error)}: {message}"
        ) from None
    if not stacks:
        raise SetupError(f"stack {stack_name!r} does not exist")
    return {output["OutputKey"]: output["OutputValue"] for output in stacks[0].get("Outputs", [])}


def template_outputs(template_path: Path, stack_name: str) -> dict[str, str]:
    """The Outputs of ``template.yaml`` resolved as the local cloud resolves its resources."""
    from local_pipeline.template import Template, TemplateError

    try:
        template = Template(template_path, stack_name=stack_name)
        resolved = template.resolve(template.document.get("Outputs", {}))
    except (OSError, TemplateError) as error:
        raise SetupError(f"cannot resolve the outputs of {template_path}: {error}") from None
    return {name: str(spec["Value"]) for name, spec in resolved.items() if "Value" in spec}


def stack_outputs_from(
    values: dict[str, str], *, stack_name: str, source: str, endpoint_url: str | None = None
) -> StackOutputs:
    missing = [name for name in REQUIRED_OUTPUTS if not values.get(name)]
    if missing:
        raise SetupError(
            f"{source} has no output {', '.join(missing)}: deploy the current template.yaml"
        )
    return StackOutputs(
        stack_name=stack_name,
        input_bucket=values["InputBucketName"],
        output_bucket=values["OutputBucketName"],
        job_name_prefix=values["JobNamePrefix"],
        dead_letter_queues={
            name.removesuffix("Url"): values[name] for name in DEAD_LETTER_OUTPUTS if name in values
        },
        functions={
            name.removesuffix("Arn"): values[name].rsplit(":", 1)[-1]
            for name in FUNCTION_OUTPUTS
            if name in values
        },
        source=source,
        local=endpoint_url is not None,
        aws_cli_options=f" --endpoint-url {endpoint_url}" if endpoint_url else "",
    )


# -- checking the content: pure ------------------------------------------------------------


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str


_SRT_TIMING = re.compile(r"^\d{2}:\d{2}:\d{2},\d{3} --> \d{2}:\d{2}:\d{2},\d{3}$")
_VTT_TIMING = re.compile(
    r"^(?:\d{2,}:)?\d{2}:\d{2}\.\d{3} --> (?:\d{2,}:)?\d{2}:\d{2}\.\d{3}( .*)?$"
)


def _blocks(text: str) -> list[list[str]]:
    text = text.replace("\r\n", "\n").strip()
    return [block.split("\n") for block in re.split(r"\n[ \t]*\n", text) if block.strip()]


def srt_cues(text: str) -> int:
    """The number of cues of an SRT document; ValueError names the first malformed one."""
    blocks = _blocks(text)
    for number, lines in enumerate(blocks, start=1):
        if len(lines) < 3 or not lines[0].strip().isdigit() or not _SRT_TIMING.match(lines[1]):
            raise ValueError(f"cue {number} is not 'index, start --> end, text': {lines[:2]}")
    return len(blocks)


def vtt_cues(text: str) -> int:
    """The number of cues of a WebVTT document; ValueError names the first malformed one."""
    blocks = _blocks(text)
    if not blocks or not blocks[0][0].startswith("WEBVTT"):
        raise ValueError("does not start with WEBVTT")
    cues = 0
    for lines in blocks[1:]:
        if lines[0].startswith(("NOTE", "STYLE", "REGION")):
            continue
        timing = 1 if len(lines) > 1 and "-->" not in lines[0] else 0  # optional identifier
        if not _VTT_TIMING.match(lines[timing]) or len(lines) < timing + 2:
            raise ValueError(f"cue {cues + 1} is not 'start --> end, text': {lines[:2]}")
        cues += 1
    return cues


def expected_words(expected_text: str) -> list[str]:
    """The distinct words of what the clip says, without the short ones."""
    seen: dict[str, None] = {}
    for word in normalise_words(expected_text):
        if len(word) >= MIN_EXPECTED_WORD_LENGTH:
            seen.setdefault(word)
    return list(seen)


def check_outputs(
    files: dict[str, bytes], *, source: S3Location, expected_text: str | None
) -> list[Check]:
    """Every content check on the six outputs (all present, see ``wait_for_record``)."""
    checks: list[Check] = []

    def check(name: str, test: Callable[[bytes], tuple[bool, str]]) -> None:
        try:
            ok, detail = test(files[name])
        except (ValueError, KeyError, TypeError, AttributeError, IndexError) as error:
            ok, detail = False, f"{type(error).__name__}: {error}"
        checks.append(Check(name, ok, detail))

    def transcript_json(body: bytes) -> tuple[bool, str]:
        text = json.loads(body)["results"]["transcripts"][0]["transcript"]
        words = len(str(text).split())
        return words > 0, f"{words} words in results.transcripts"

    def transcript_text(body: bytes) -> tuple[bool, str]:
        text = body.decode("utf-8")
        if expected_text is None:
            return bool(text.strip()), f"{len(text.split())} words (no expected text to compare)"
        wanted = expected_words(expected_text)
        present = set(normalise_words(text))
        found = [word for word in wanted if word in present]
        ok = len(found) >= MIN_EXPECTED_WORDS_SHARE * len(wanted)
        detail = f"{len(found)} of {len(wanted)} expected words"
        if not ok:
            missing = ", ".join(word for word in wanted if word not in present)
            detail += f"; missing: {missing}; the text begins {text[:160]!r}"
        return ok, detail

    def subtitles(parse: Callable[[str], int]) -> Callable[[bytes], tuple[bool, str]]:
        def test(body: bytes) -> tuple[bool, str]:
            cues = parse(body.decode("utf-8"))
            return cues > 0, f"{cues} cue(s)"

        return test

    def summary_json(body: bytes) -> tuple[bool, str]:
        summary = json.loads(body)
        problems = []
        if summary.get("source") != {"bucket": source.bucket, "key": source.key}:
            problems.append(f"source is {summary.get('source')}, not {source.uri}")
        words = summary.get("word_count")
        if not isinstance(words, int) or words <= 0:
            problems.append(f"word_count is {words!r}")
        duration = summary.get("duration_seconds")
        if not isinstance(duration, int | float) or duration <= 0:
            problems.append(f"duration_seconds is {duration!r}")
        language = summary.get("language_code")
        if not isinstance(language, str) or not language:
            problems.append(f"language_code is {language!r}")
        if problems:
            return False, "; ".join(problems)
        return True, f"{words} words, {duration} s, {language}"

    def summary_markdown(body: bytes) -> tuple[bool, str]:
        text = body.decode("utf-8")
        return text.startswith("# "), f"{len(text.splitlines())} lines"

    check(TRANSCRIPT_JSON, transcript_json)
    check(TRANSCRIPT_TEXT, transcript_text)
    check(SUBTITLES_SRT, subtitles(srt_cues))
    check(SUBTITLES_VTT, subtitles(vtt_cues))
    check(SUMMARY_JSON, summary_json)
    check(SUMMARY_MARKDOWN, summary_markdown)
    return checks


# -- the run -----------------------------------------------------------------------------


class Progress:
    """Timestamped lines; the waiting line is rewritten in place on a terminal."""

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream
        self._started = time.monotonic()
        self._tty = stream.isatty()
        self._open = False  # an in-place line is on the screen
        self._last_state = ""
        self._last_printed = 0.0

    @property
    def elapsed(self) -> float:
        return time.monotonic() - self._started

    def _stamp(self, text: str) -> str:
        return f"[{self.elapsed:6.1f}s] {text}"

    def __call__(self, text: str) -> None:
        self.close()
        print(self._stamp(text), file=self._stream, flush=True)

    def waiting(self, state: str, clock: str = "") -> None:
        """Rewritten on a terminal; otherwise printed when ``state`` changes, or every 30 s
        (``clock``, e.g. the time left, is shown but is no change)."""
        if self._tty:
            # One screen line, or \r cannot take it back.
            width = shutil.get_terminal_size().columns - 1
            self._stream.write("\r\x1b[K" + self._stamp(state + clock)[:width])
            self._stream.flush()
            self._open = True
        elif state != self._last_state or self.elapsed - self._last_printed >= (
            PLAIN_PROGRESS_EVERY
        ):
            print(self._stamp(state + clock), file=self._stream, flush=True)
            self._last_printed = self.elapsed
        self._last_state = state

    def close(self) -> None:
        if self._open:
            self._stream.write("\n")
            self._open = False


@dataclass
class Upload:
    location: S3Location
    version_id: str | None
    job_marker: str  # the start of this upload's job name: "<prefix>smoke-<token>-"

    @property
    def folder(self) -> str:
        return output_folder(self.location.key) + "/"


@dataclass
class Job:
    name: str
    status: str
    failure_reason: str | None = None


@dataclass
class Clients:
    s3: Any
    transcribe: Any
    sqs: Any


def smoke_key(media_name: str, token: str, now: datetime | None = None) -> str:
    """``smoke-tests/<UTC time>/smoke-<token>-<stem><ext>``.

    The job name is ``<prefix><file name stem>.<hash>``: with the random token in the stem
    (first, so that no shortening cuts it) the job is found by ListTranscriptionJobs
    JobNameContains ``<prefix>smoke-<token>-`` without knowing the hash.
    """
    stem, extension = posixpath.splitext(media_name)
    readable = _UNSAFE_IN_JOB_NAME.sub("-", stem).strip("-._")[:60] or "media"
    now = now or datetime.now(UTC)
    return f"{KEY_PREFIX}{now:%Y%m%dT%H%M%SZ}/smoke-{token}-{readable}{extension}"


def upload_media(clients: Clients, outputs: StackOutputs, media: Path) -> Upload:
    token = secrets.token_hex(4)
    location = S3Location(outputs.input_bucket, smoke_key(media.name, token))
    with media.open("rb") as body:
        answer = clients.s3.put_object(Bucket=location.bucket, Key=location.key, Body=body)
    return Upload(
        location=location,
        version_id=answer.get("VersionId"),
        job_marker=f"{outputs.job_name_prefix}smoke-{token}-",
    )


def get_job(transcribe: Any, name: str) -> Job | None:
    try:
        job = transcribe.get_transcription_job(TranscriptionJobName=name)["TranscriptionJob"]
    except ClientError as error:
        if _error_code(error) in ("BadRequestException", "NotFoundException"):
            return None  # Transcribe's answer for a job name it does not know
        raise
    return Job(name, str(job.get("TranscriptionJobStatus")), job.get("FailureReason"))


def find_job(transcribe: Any, upload: Upload) -> Job | None:
    """The upload's Transcribe job (ListTranscriptionJobs, JobNameContains its marker)."""
    summaries = [
        summary
        for summary in transcribe.list_transcription_jobs(
            JobNameContains=upload.job_marker, MaxResults=100
        ).get("TranscriptionJobSummaries", [])
        if str(summary.get("TranscriptionJobName", "")).startswith(upload.job_marker)
    ]
    if not summaries:
        return None
    newest = max(summaries, key=lambda summary: str(summary.get("CreationTime", "")))
    return get_job(transcribe, str(newest["TranscriptionJobName"]))  # with its FailureReason


def list_folder(s3: Any, bucket: str, folder: str) -> list[str]:
    keys: list[str] = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=folder):
        keys += [str(item["Key"]) for item in page.get("Contents", [])]
    return keys


@dataclass
class WaitResult:
    files: dict[str, bytes] | None  # the final record, or None on timeout
    present: list[str]  # output names there when the wait ended
    job: Job | None


def wait_for_record(
    clients: Clients,
    outputs: StackOutputs,
    upload: Upload,
    *,
    timeout: float,
    poll_seconds: float,
    progress: Progress,
) -> WaitResult:
    """Poll the upload's output folder (and its job) until error.json or all six outputs."""
    deadline = time.monotonic() + timeout
    job: Job | None = None
    job_unreadable: str | None = None  # the error code once the job could not be read
    names: list[str] = []
    while True:
        keys = list_folder(clients.s3, outputs.output_bucket, upload.folder)
        names = sorted(key.removeprefix(upload.folder) for key in keys)
        if ERROR_RECORD in names or set(RECORD_FILES) <= set(names):
            wanted = [ERROR_RECORD] if ERROR_RECORD in names else list(RECORD_FILES)
            files = {
                name: clients.s3.get_object(Bucket=outputs.output_bucket, Key=upload.folder + name)[
                    "Body"
                ].read()
                for name in wanted
            }
            progress.close()
            return WaitResult(files, names, job)
        if job_unreadable is None:
            try:
                if job is None:
                    job = find_job(clients.transcribe, upload)
                elif job.status not in FINISHED:
                    job = get_job(clients.transcribe, job.name) or job
            except ClientError as error:  # e.g. no transcribe:ListTranscriptionJobs: go on
                job_unreadable = _error_code(error)
        if job_unreadable is not None:
            job_state = f"Transcribe job not readable ({job_unreadable})"
        else:
            job_state = f"Transcribe job {job.status}" if job else "no Transcribe job yet"
        there = f" ({', '.join(names)})" if names else ""
        left = max(0.0, deadline - time.monotonic())
        progress.waiting(
            f"waiting: {job_state}; {len(names)} of {len(RECORD_FILES)} outputs{there}",
            f"; {left:.0f} s left",
        )
        if time.monotonic() >= deadline:
            progress.close()
            return WaitResult(None, names, job)
        time.sleep(min(poll_seconds, max(left, 0.0)))


def error_record_lines(record: dict[str, Any], outputs: StackOutputs, upload: Upload) -> list[str]:
    """What error.json says (its reason is in the headline) and what to do about it."""
    lines = [
        f"{name}: {record[name]}"
        for name in ("status", "stage", "detected", "transcribe_failure_reason", "job_name")
        if record.get(name) not in (None, "")
    ]
    lines.append(f"error.json was s3://{outputs.output_bucket}/{upload.folder}{ERROR_RECORD}")
    if record.get("status") == "REJECTED":
        lines.append(
            "what to do: the start function refused the upload before any Transcribe job. "
            "For the sample clip that means the deployed code does not accept it: redeploy "
            "(make build, sam deploy) and run the smoke test again."
        )
    else:
        lines.append(
            "what to do: Amazon Transcribe failed the job; transcribe_failure_reason is the "
            "job's FailureReason. Check that the stack's LanguageCode is available in this "
            "Region and that the clip is intact."
        )
    return lines


def dead_letter_lines(clients: Clients, outputs: StackOutputs) -> list[str]:
    if outputs.local:
        return [
            "dead-letter queues: the local cloud has none; a function that fails 3 times is "
            "reported by `make local` and logged in its functions.log (demo-output/)"
        ]
    if not outputs.dead_letter_queues:
        return ["dead-letter queues: not in the stack outputs (deploy the current template)"]
    lines = ["dead-letter queues (approximate messages, of any upload):"]
    for name, url in outputs.dead_letter_queues.items():
        try:
            attributes = clients.sqs.get_queue_attributes(
                QueueUrl=url,
                AttributeNames=[
                    "ApproximateNumberOfMessages",
                    "ApproximateNumberOfMessagesNotVisible",
                ],
            )["Attributes"]
            count = int(attributes.get("ApproximateNumberOfMessages", 0)) + int(
                attributes.get("ApproximateNumberOfMessagesNotVisible", 0)
            )
            lines.append(f"  {name}: {count}  {url}")
        except (ClientError, BotoCoreError) as error:
            lines.append(f"  {name}: count not readable ({_error_code(error)})  {url}")
    lines.append(
        f"  a message there is an event that failed for good: "
        f"make redrive STACK={outputs.stack_name} once the cause is fixed"
    )
    return lines


def logs_lines(outputs: StackOutputs) -> list[str]:
    if outputs.local:
        return []
    return [
        f"logs: aws logs tail /aws/lambda/{name} --since 1h" for name in outputs.functions.values()
    ]


def timeout_lines(
    clients: Clients, outputs: StackOutputs, upload: Upload, result: WaitResult
) -> list[str]:
    there = ", ".join(result.present) if result.present else "none"
    lines = [f"outputs there: {there} (in s3://{outputs.output_bucket}/{upload.folder})"]
    try:
        job = find_job(clients.transcribe, upload)
    except (ClientError, BotoCoreError) as error:
        job = None
        lines.append(f"Transcribe job: not readable ({_error_code(error)})")
    else:
        if job is None:
            lines.append(
                f"Transcribe job: none named {upload.job_marker}*: the start function did "
                "not start one — see StartTranscriptionDeadLetterQueue and its logs"
            )
        else:
            reason = f", FailureReason: {job.failure_reason}" if job.failure_reason else ""
            lines.append(f"Transcribe job {job.name}: {job.status}{reason}")
            if job.status in FINISHED:
                lines.append(
                    "the job finished but the outputs did not appear: the process function "
                    "failed or its event was lost — see ProcessTranscriptDeadLetterQueue and "
                    "JobEventsDeadLetterQueue"
                )
            else:
                lines.append(
                    "the job is still running: Transcribe may be busy; try a longer --timeout"
                )
    lines += dead_letter_lines(clients, outputs)
    lines += logs_lines(outputs)
    return lines


def clean_up(
    clients: Clients, outputs: StackOutputs, upload: Upload, job_name: str | None
) -> tuple[list[str], list[str]]:
    """Remove everything the run created; (what was removed, what could not be)."""
    removed: list[str] = []
    left: list[str] = []
    s3 = clients.s3

    def attempt(what: str, action: Callable[[], object]) -> bool:
        try:
            action()
        except (ClientError, BotoCoreError) as error:
            left.append(f"{what} ({_error_code(error)})")
            return False
        return True

    extra = {"VersionId": upload.version_id} if upload.version_id else {}
    if attempt(
        upload.location.uri,
        lambda: s3.delete_object(Bucket=upload.location.bucket, Key=upload.location.key, **extra),
    ):
        removed.append(f"the upload {upload.location.uri}")

    # The job first: a finished job without a record would be processed again by
    # reconciliation and write the outputs again.
    job: Job | None = None
    try:
        job = (
            get_job(clients.transcribe, job_name)
            if job_name
            else find_job(clients.transcribe, upload)
        )
    except (ClientError, BotoCoreError) as error:
        left.append(f"the Transcribe job, not readable ({_error_code(error)})")
    if job is not None:
        if job.status in FINISHED:
            name = job.name
            if attempt(
                f"the Transcribe job {name}",
                lambda: clients.transcribe.delete_transcription_job(TranscriptionJobName=name),
            ):
                removed.append(f"the Transcribe job {name}")
        else:
            left.append(
                f"the Transcribe job {job.name}, still {job.status}: when it finishes its "
                f"outputs land in s3://{outputs.output_bucket}/{upload.folder}; then run "
                f"aws{outputs.aws_cli_options} s3 rm --recursive "
                f"s3://{outputs.output_bucket}/{upload.folder} and "
                f"aws{outputs.aws_cli_options} transcribe delete-transcription-job "
                f"--transcription-job-name {job.name}"
            )
        raw_key = raw_output_key(RAW_OUTPUT_PREFIX, job.name)
        raw_there: list[str] = []
        if (
            attempt(
                f"s3://{outputs.output_bucket}/{raw_key}",
                lambda: raw_there.extend(list_folder(s3, outputs.output_bucket, raw_key)),
            )
            and raw_key in raw_there
            and attempt(
                f"s3://{outputs.output_bucket}/{raw_key}",
                lambda: s3.delete_object(Bucket=outputs.output_bucket, Key=raw_key),
            )
        ):
            removed.append(f"Transcribe's raw output {raw_key}")

    folder_uri = f"s3://{outputs.output_bucket}/{upload.folder}"
    try:
        keys = list_folder(s3, outputs.output_bucket, upload.folder)
        for start in range(0, len(keys), 1000):
            answer = s3.delete_objects(
                Bucket=outputs.output_bucket,
                Delete={"Objects": [{"Key": key} for key in keys[start : start + 1000]]},
            )
            for failed in answer.get("Errors", []):
                left.append(
                    f"s3://{outputs.output_bucket}/{failed.get('Key')} ({failed.get('Code')})"
                )
        if keys:
            removed.append(f"{len(keys)} output(s) in {folder_uri}")
        still = list_folder(s3, outputs.output_bucket, upload.folder)
        if still and not any(folder_uri in line for line in left):
            left.append(f"{len(still)} object(s) written again in {folder_uri} meanwhile")
    except (ClientError, BotoCoreError) as error:
        left.append(f"the outputs in {folder_uri} ({_error_code(error)})")
    return removed, left


def _json_object(body: bytes) -> dict[str, Any]:
    """A record's fields, or a reason in their place when it is not a JSON object."""
    try:
        document = json.loads(body)
    except ValueError as error:
        return {"reason": f"(the record is not JSON: {error})"}
    return document if isinstance(document, dict) else {"reason": "(the record is not an object)"}


def _shown(path: Path) -> str:
    """``path`` relative to the working directory when it is inside it."""
    try:
        return str(path.resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def run_smoke(
    clients: Clients,
    outputs: StackOutputs,
    media: Path,
    *,
    timeout: float,
    poll_seconds: float,
    out: TextIO,
) -> int:
    """Upload, wait, check, clean up; 0 when every check passed and nothing is left."""
    progress = Progress(out)
    expected_path = media.with_suffix(".txt")
    expected_text = expected_path.read_text(encoding="utf-8") if expected_path.is_file() else None
    try:
        upload = upload_media(clients, outputs, media)
    except (ClientError, BotoCoreError) as error:
        raise SetupError(
            f"cannot upload to s3://{outputs.input_bucket}/: {_error_code(error)}: {error} "
            "(the credentials need s3:PutObject on the input bucket)"
        ) from None

    size_kb = media.stat().st_size / 1024
    progress(f"uploaded {_shown(media)} ({size_kb:.0f} KB) as {upload.location.uri}")
    failures: list[str] = []
    details: list[str] = []
    job_name: str | None = None
    try:
        result = wait_for_record(
            clients,
            outputs,
            upload,
            timeout=timeout,
            poll_seconds=poll_seconds,
            progress=progress,
        )
        if result.files is None:
            failures.append(f"timed out after {timeout:.0f} s without a final record")
            details = timeout_lines(clients, outputs, upload, result)
        elif ERROR_RECORD in result.files:
            record = _json_object(result.files[ERROR_RECORD])
            job_name = str(record.get("job_name") or "") or None
            failures.append(f"the pipeline answered with error.json: {record.get('reason')}")
            details = error_record_lines(record, outputs, upload)
        else:
            job_name = str(_json_object(result.files[SUMMARY_JSON]).get("job_name") or "") or None
            progress(f"all {len(RECORD_FILES)} outputs are there; checking their content")
            for check in check_outputs(
                result.files, source=upload.location, expected_text=expected_text
            ):
                print(f"  {'ok  ' if check.ok else 'FAIL'} {check.name}: {check.detail}", file=out)
                if not check.ok:
                    failures.append(f"{check.name}: {check.detail}")
    except (ClientError, BotoCoreError) as error:
        progress.close()
        failures.append(f"reading the outputs failed: {_error_code(error)}: {error}")
    except KeyboardInterrupt:
        progress.close()
        failures.append("interrupted")
    finally:
        progress.close()
        removed, left = clean_up(clients, outputs, upload, job_name)
        progress("removed what the smoke test created:" if removed else "removed nothing")
        for line in removed:
            print(f"  - {line}", file=out)
        if left:
            failures.append("some of what the smoke test created is still there")
            details += ["not removed: " + line for line in left]

    if failures:
        print(f"\nSMOKE TEST FAILED for {outputs.source}:", file=out)
        for failure in failures:
            print(f"  {failure}", file=out)
        for line in details:
            print(f"  {line}", file=out)
        return 1
    print(f"\nSMOKE TEST PASSED for {outputs.source} in {progress.elapsed:.1f} s.", file=out)
    return 0


# -- command line ------------------------------------------------------------------------


def _positive(text: str) -> float:
    value = float(text)
    if value <= 0:
        raise argparse.ArgumentTypeError("must be more than 0")
    return value


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m operations.smoke",
        description="Upload a known clip to a running pipeline, check its outputs, clean up.",
    )
    parser.add_argument("--stack-name", required=True)
    parser.add_argument(
        "--region", help="default: the AWS configuration's Region (not used with --endpoint-url)"
    )
    parser.add_argument(
        "--endpoint-url",
        help="the local cloud (make local), e.g. http://127.0.0.1:5000; outputs then come "
        "from template.yaml instead of CloudFormation",
    )
    parser.add_argument(
        "--timeout",
        type=_positive,
        default=DEFAULT_TIMEOUT,
        help=f"seconds to wait for the outputs (default {DEFAULT_TIMEOUT:.0f})",
    )
    parser.add_argument(
        "--file",
        type=Path,
        default=SAMPLE,
        help="media to upload (default samples/sample-talk.mp4); its words are checked "
        "when a .txt of the same name is beside it",
    )
    parser.add_argument(
        "--poll-seconds",
        type=_positive,
        help=f"default {POLL_SECONDS_AWS:g} (AWS), {POLL_SECONDS_LOCAL:g} (local cloud)",
    )
    return parser


def connect(arguments: argparse.Namespace) -> tuple[Clients, StackOutputs]:
    """Clients and the stack outputs, from CloudFormation or (local cloud) template.yaml."""
    endpoint = arguments.endpoint_url
    if endpoint:
        # The local cloud's Region (its bucket names end with it); any credentials work
        # there, and real ones are never sent to it.
        session = boto3.session.Session(
            aws_access_key_id=LOCAL_ACCESS_KEY,
            aws_secret_access_key=LOCAL_ACCESS_KEY,
            region_name=LOCAL_REGION,
        )
        values = template_outputs(TEMPLATE, arguments.stack_name)
        source = f"stack {arguments.stack_name!r} of the local cloud at {endpoint}"
    else:
        session = boto3.session.Session(region_name=arguments.region)
        if session.region_name is None:
            raise SetupError("no AWS Region: pass --region or set AWS_REGION")
        if session.get_credentials() is None:
            raise SetupError(
                "no AWS credentials: configure them (aws configure, AWS_PROFILE, "
                "aws sso login), or test the local cloud with --endpoint-url"
            )
        cloudformation = session.client("cloudformation", config=_CLIENT_CONFIG)
        values = cloudformation_outputs(cloudformation, arguments.stack_name)
        source = f"stack {arguments.stack_name!r} in {session.region_name}"
    outputs = stack_outputs_from(
        values, stack_name=arguments.stack_name, source=source, endpoint_url=endpoint or None
    )
    options: dict[str, Any] = {"config": _CLIENT_CONFIG}
    if endpoint:
        options["endpoint_url"] = endpoint
    clients = Clients(
        s3=session.client("s3", **options),
        transcribe=session.client("transcribe", **options),
        sqs=session.client("sqs", **options),
    )
    for label, bucket in (("input", outputs.input_bucket), ("output", outputs.output_bucket)):
        try:
            clients.s3.head_bucket(Bucket=bucket)
        except EndpointConnectionError:
            raise SetupError(
                f"nothing answers at {endpoint}: start the local cloud with `make local` "
                "(and pass its address, e.g. ENDPOINT=http://127.0.0.1:5000)"
            ) from None
        except (ClientError, BotoCoreError) as error:
            code = _error_code(error)
            what = {"404": "no such bucket", "403": "access denied"}.get(code, code)
            hint = (
                f"the local cloud runs the stack of its template (transcription-pipeline); "
                f"is {arguments.stack_name!r} the right name?"
                if endpoint
                else "the credentials need s3:ListBucket on it"
            )
            raise SetupError(
                f"the {label} bucket {bucket} of {source} is not reachable ({what}): {hint}"
            ) from None
    return clients, outputs


def main(
    argv: Sequence[str] | None = None, *, stdout: TextIO | None = None, stderr: TextIO | None = None
) -> int:
    out = stdout or sys.stdout
    err = stderr or sys.stderr
    arguments = _parser().parse_args(argv)
    media: Path = arguments.file
    if not media.is_file():
        print(f"error: {media} is not a file: pass a media file with --file", file=err)
        return 2
    poll = arguments.poll_seconds or (
        POLL_SECONDS_LOCAL if arguments.endpoint_url else POLL_SECONDS_AWS
    )
    try:
        clients, outputs = connect(arguments)
        print(
            f"Smoke test of {outputs.source}: input s3://{outputs.input_bucket}/, "
            f"output s3://{outputs.output_bucket}/",
            file=out,
            flush=True,
        )
        return run_smoke(
            clients, outputs, media, timeout=arguments.timeout, poll_seconds=poll, out=out
        )
    except (SetupError, BotoCoreError) as error:
        print(f"error: {error}", file=err)
        return 2


if __name__ == "__main__":
    sys.exit(main())
