"""Replay what the stack's dead-letter queues hold, once the cause of the failures is fixed.

Three queues collect what failed for good:

- ``StartTranscriptionDeadLetterQueue`` is the upload queue's own dead-letter queue (its
  RedrivePolicy, maxReceiveCount 100): the messages are the upload queue's, unchanged —
  an S3 event notification as the body, and for what backfill or reconciliation sent, an
  ``origin`` message attribute. They are moved back to the upload queue (stack output
  ``UploadQueueUrl``) with the same body and message attributes: SendMessage, then
  DeleteMessage once SQS took the copy. (SQS's own StartMessageMoveTask does the same
  for a whole queue, but cannot pick messages, report them or run against moto, which
  does not implement it.) A moved message starts with a receive count of zero, so it
  gets all its tries again. Lambda invocation records left from before the upload queue
  (the start function was invoked asynchronously then) are moved as the S3 event they
  carry.
- ``ProcessTranscriptDeadLetterQueue`` is the on-failure destination of the process
  function's asynchronous invocations. Each message body is Lambda's invocation record:
  ``requestContext.functionArn`` (qualified, e.g. ``...:function:name:$LATEST``),
  ``requestContext.condition`` (``RetriesExhausted`` or ``EventAgeExceeded``) and
  ``requestPayload``, the original event.
- ``JobEventsDeadLetterQueue`` is the EventBridge rule's dead-letter queue: the body is the
  Transcribe event itself; the reason is in the message attributes (``ERROR_CODE``, ...).

The last two are replayed as an asynchronous invocation (``InvocationType=Event``) of the
function each was meant for, with exactly the original event, and deleted only once
Lambda accepted it (202). A replay that fails again ends in the same queue again.

Replaying is safe because both functions are idempotent. The start function names each job
after the bucket, key and eTag/versionId of the upload (deterministic job names), so a
replayed upload whose job did start gets ``ConflictException`` from Transcribe, treated as
already started; an upload overwritten since reads nothing (its reads are pinned to the old
eTag/versionId). The process function asks Transcribe for the job and rewrites the same
outputs with the same bytes, and publishes nothing when the key holds newer content.
Messages this command does not recognise are never replayed: they stay in the queue and
are reported.

Usage: ``python -m operations.redrive --stack-name NAME [--region R]
[--queue start|process|events|all] [--dry-run] [--max-messages N]``. Exit code 0: every
message was replayed (or would be, with ``--dry-run``); 1: some failed or were not
recognised (they are still in the queue); 2: the stack or one of its outputs is missing.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field
from typing import Any, TextIO

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

# --queue choice -> the stack output holding that queue's URL.
QUEUE_OUTPUTS: dict[str, str] = {
    "start": "StartTranscriptionDeadLetterQueueUrl",
    "process": "ProcessTranscriptDeadLetterQueueUrl",
    "events": "JobEventsDeadLetterQueueUrl",
}
# The only function replayed to: the start function reads the upload queue, not events.
PROCESS_FUNCTION_OUTPUT = "ProcessTranscriptFunctionArn"
UPLOAD_QUEUE_OUTPUT = "UploadQueueUrl"  # where the start queue's messages go back to

TRANSCRIBE_SOURCE = "aws.transcribe"
TRANSCRIBE_DETAIL_TYPE = "Transcribe Job State Change"

SOURCE_LAMBDA_DESTINATION = "lambda-destination"
SOURCE_EVENTBRIDGE_DLQ = "eventbridge-dlq"

RECEIVE_BATCH = 10  # the most SQS returns at once
DEFAULT_WAIT_SECONDS = 2  # short long-poll: an empty answer then really means "empty"
# Long enough that a message being replayed does not reappear during this run.
DEFAULT_VISIBILITY_TIMEOUT = 120

_LAMBDA_CONFIG = Config(retries={"mode": "standard", "max_attempts": 5})


class UnknownMessage(Exception):
    """A dead-letter message this command cannot replay; it stays in the queue."""


class SetupError(Exception):
    """The stack, an output or the credentials are missing: nothing was touched."""


@dataclass(frozen=True)
class Replay:
    """Which function gets which payload, and where the message came from."""

    function_arn: str
    payload: dict[str, Any]
    source: str  # SOURCE_LAMBDA_DESTINATION or SOURCE_EVENTBRIDGE_DLQ
    # What the event is about (S3 keys, job names, the failure condition); never contents.
    summary: str = ""

    @property
    def function_name(self) -> str:
        return self.function_arn.rsplit(":", 1)[-1]


@dataclass
class RedriveReport:
    queue_url: str
    dry_run: bool = False
    replayed: int = 0  # invoked, or moved back to the upload queue
    would_replay: int = 0  # dry run only
    skipped_unknown: int = 0
    failed: int = 0
    lines: list[str] = field(default_factory=list)
    moves: bool = False  # the messages are moved to a queue, not replayed to a function

    @property
    def ok(self) -> bool:
        return self.failed == 0 and self.skipped_unknown == 0

    def summary(self, name: str) -> str:
        if self.dry_run:
            action = "move to the upload queue" if self.moves else "replay"
            done = "sent" if self.moves else "invoked"
            return (
                f"{name}: {self.would_replay} to {action}, {self.skipped_unknown} unknown (kept)"
                f" [dry run: nothing {done} or deleted]"
            )
        action = "moved to the upload queue" if self.moves else "replayed"
        return (
            f"{name}: {self.replayed} {action}, {self.failed} failed,"
            f" {self.skipped_unknown} unknown (kept)"
        )


# -- planning: pure --------------------------------------------------------------------------


def unqualified_function_arn(arn: str) -> str:
    """``arn:aws:lambda:r:a:function:name[:$LATEST|:3|:alias]`` -> without the qualifier."""
    parts = arn.split(":")
    if (
        len(parts) not in (7, 8)
        or parts[0] != "arn"
        or parts[2] != "lambda"
        or parts[5] != "function"
        or not parts[6]
    ):
        raise UnknownMessage("requestContext.functionArn is not a Lambda function ARN")
    return ":".join(parts[:7])


def plan_redrive(message_body: str, *, process_function_arn: str) -> Replay:
    """Decide what to replay for one dead-letter message, or raise ``UnknownMessage``."""
    try:
        message = json.loads(message_body)
    except ValueError:
        raise UnknownMessage(f"body is not JSON ({len(message_body)} characters)") from None
    if not isinstance(message, dict):
        raise UnknownMessage(f"body is JSON but not an object ({type(message).__name__})")
    if "requestContext" in message and "requestPayload" in message:
        return _plan_invocation_record(message)
    if "detail-type" in message and "source" in message:
        return _plan_eventbridge_event(message, process_function_arn)
    raise UnknownMessage("neither a Lambda invocation record nor an EventBridge event")


def _plan_invocation_record(record: dict[str, Any]) -> Replay:
    context = record["requestContext"]
    payload = record["requestPayload"]
    if not isinstance(context, dict) or not isinstance(context.get("functionArn"), str):
        raise UnknownMessage("invocation record without requestContext.functionArn")
    condition = context.get("condition")
    if condition == "Success":
        raise UnknownMessage("an on-success invocation record: nothing failed")
    if not isinstance(payload, dict):
        raise UnknownMessage("invocation record whose requestPayload is not a JSON object")
    attempts = context.get("approximateInvokeCount")
    response = record.get("responsePayload")
    error_type = response.get("errorType") if isinstance(response, dict) else None
    why = f"{condition or 'failed'} after {attempts} attempt(s)"
    if isinstance(error_type, str):
        why += f", {error_type}"
    return Replay(
        function_arn=unqualified_function_arn(context["functionArn"]),
        payload=payload,
        source=SOURCE_LAMBDA_DESTINATION,
        summary=f"{describe_event(payload)}; {why}",
    )


def _plan_eventbridge_event(event: dict[str, Any], process_function_arn: str) -> Replay:
    if event.get("source") != TRANSCRIBE_SOURCE or event.get("detail-type") != (
        TRANSCRIBE_DETAIL_TYPE
    ):
        raise UnknownMessage("an EventBridge event that is not a Transcribe job state change")
    if not isinstance(event.get("detail"), dict):
        raise UnknownMessage("a Transcribe event without detail")
    return Replay(
        function_arn=process_function_arn,
        payload=event,
        source=SOURCE_EVENTBRIDGE_DLQ,
        summary=describe_event(event),
    )


@dataclass(frozen=True)
class Move:
    """An upload message to put back on the upload queue."""

    body: str
    summary: str


def plan_move(message_body: str) -> Move:
    """Decide what goes back to the upload queue for one message of the start function's
    dead-letter queue, or raise ``UnknownMessage``: the body as it is when it is an S3
    event notification; the S3 event of a Lambda invocation record of old."""
    try:
        message = json.loads(message_body)
    except ValueError:
        raise UnknownMessage(f"body is not JSON ({len(message_body)} characters)") from None
    if not isinstance(message, dict):
        raise UnknownMessage(f"body is JSON but not an object ({type(message).__name__})")
    if "requestContext" in message and "requestPayload" in message:
        replay = _plan_invocation_record(message)
        if not _is_s3_event(replay.payload):
            raise UnknownMessage("an invocation record whose payload is not an S3 event")
        body = json.dumps(replay.payload, separators=(",", ":"))
        return Move(body, f"{replay.summary}; from an invocation record")
    if not _is_s3_event(message):
        raise UnknownMessage("not an S3 event notification")
    return Move(message_body, describe_event(message))


def _is_s3_event(event: dict[str, Any]) -> bool:
    records = event.get("Records")
    return (
        isinstance(records, list)
        and bool(records)
        and all(isinstance(r, dict) and isinstance(r.get("s3"), dict) for r in records)
    )


def describe_event(event: dict[str, Any]) -> str:
    """Name what an event is about — S3 locations or the job — without its contents."""
    records = event.get("Records")
    if isinstance(records, list):
        places = []
        for record in records:
            s3 = record.get("s3") if isinstance(record, dict) else None
            bucket = s3.get("bucket", {}).get("name") if isinstance(s3, dict) else None
            key = s3.get("object", {}).get("key") if isinstance(s3, dict) else None
            places.append(f"s3://{bucket}/{key}" if bucket and key else "malformed record")
        if not places:
            return "S3 event without records"
        shown = ", ".join(places[:3])
        return shown if len(places) <= 3 else f"{shown} and {len(places) - 3} more"
    detail = event.get("detail")
    if isinstance(detail, dict) and "TranscriptionJobName" in detail:
        return f"job {detail.get('TranscriptionJobName')} {detail.get('TranscriptionJobStatus')}"
    if "Event" in event and "Records" not in event:
        return f"S3 {event.get('Event')}"  # s3:TestEvent
    return "event of another shape"


# -- redriving: SQS and Lambda ---------------------------------------------------------------


def _error_code(error: Exception) -> str:
    if isinstance(error, ClientError):
        return str(error.response.get("Error", {}).get("Code") or "ClientError")
    return type(error).__name__


def redrive_queue(
    sqs: Any,
    lambda_client: Any,
    queue_url: str,
    *,
    process_function_arn: str,
    dry_run: bool = False,
    max_messages: int | None = None,
    allowed_function_arns: Collection[str] | None = None,
    wait_seconds: int = DEFAULT_WAIT_SECONDS,
    visibility_timeout: int = DEFAULT_VISIBILITY_TIMEOUT,
    echo: Callable[[str], None] | None = None,
) -> RedriveReport:
    """Replay every message of one dead-letter queue (at most ``max_messages``).

    A message is deleted only after Lambda accepted its replay (202). One whose invoke
    fails stays and becomes visible again after ``visibility_timeout``; unknown messages
    (and, in a dry run, every message) are made visible again at the end of the run.
    ``allowed_function_arns``, when given, are the only functions an invocation record may
    send its payload to; a record for any other function is kept as unknown.
    """
    report = RedriveReport(queue_url=queue_url, dry_run=dry_run)
    allowed = None if allowed_function_arns is None else set(allowed_function_arns)
    seen: set[str] = set()
    to_release: list[str] = []  # receipt handles to make visible again at the end

    def note(line: str) -> None:
        report.lines.append(line)
        if echo is not None:
            echo(line)

    try:
        while max_messages is None or len(seen) < max_messages:
            batch = (
                RECEIVE_BATCH
                if max_messages is None
                else min(RECEIVE_BATCH, max_messages - len(seen))
            )
            answer = sqs.receive_message(
                QueueUrl=queue_url,
                MaxNumberOfMessages=batch,
                WaitTimeSeconds=wait_seconds,
                VisibilityTimeout=visibility_timeout,
                MessageAttributeNames=["All"],
            )
            messages = answer.get("Messages", [])
            if not messages:
                break
            for message in messages:
                message_id = message["MessageId"]
                handle = message["ReceiptHandle"]
                if message_id in seen:
                    # Back after its visibility timeout within this (long) run: done already.
                    if dry_run:
                        to_release.append(handle)
                    continue
                seen.add(message_id)
                try:
                    replay = plan_redrive(
                        message["Body"], process_function_arn=process_function_arn
                    )
                    if allowed is not None and replay.function_arn not in allowed:
                        raise UnknownMessage(
                            f"invocation record of {replay.function_name}, "
                            "not a function of this stack"
                        )
                except UnknownMessage as unknown:
                    report.skipped_unknown += 1
                    to_release.append(handle)
                    note(f"{message_id}: kept, not recognised: {unknown}")
                    continue
                summary = replay.summary + _eventbridge_reason(message)
                if dry_run:
                    report.would_replay += 1
                    to_release.append(handle)
                    note(f"{message_id}: would replay to {replay.function_name} ({summary})")
                    continue
                _replay_one(
                    sqs, lambda_client, queue_url, message_id, handle, replay, summary, report, note
                )
    finally:
        _release(sqs, queue_url, to_release)
    return report


def _eventbridge_reason(message: dict[str, Any]) -> str:
    code = message.get("MessageAttributes", {}).get("ERROR_CODE", {}).get("StringValue")
    return f"; EventBridge {code}" if code else ""


def _replay_one(
    sqs: Any,
    lambda_client: Any,
    queue_url: str,
    message_id: str,
    handle: str,
    replay: Replay,
    summary: str,
    report: RedriveReport,
    note: Callable[[str], None],
) -> None:
    try:
        answer = lambda_client.invoke(
            FunctionName=replay.function_arn,
            InvocationType="Event",
            Payload=json.dumps(replay.payload, separators=(",", ":")).encode(),
        )
    except (ClientError, BotoCoreError) as error:
        report.failed += 1
        note(
            f"{message_id}: kept, invoking {replay.function_name} failed "
            f"({_error_code(error)}); visible again after the visibility timeout"
        )
        return
    status = answer.get("StatusCode")
    if status != 202:
        report.failed += 1
        note(f"{message_id}: kept, {replay.function_name} answered {status}, not 202")
        return
    try:
        sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=handle)
    except (ClientError, BotoCoreError) as error:
        report.failed += 1
        note(
            f"{message_id}: replayed to {replay.function_name}, but not deleted "
            f"({_error_code(error)}); the next run replays it again, which is harmless"
        )
        return
    report.replayed += 1
    note(f"{message_id}: replayed to {replay.function_name} ({summary})")


def move_queue(
    sqs: Any,
    queue_url: str,
    target_url: str,
    *,
    dry_run: bool = False,
    max_messages: int | None = None,
    wait_seconds: int = DEFAULT_WAIT_SECONDS,
    visibility_timeout: int = DEFAULT_VISIBILITY_TIMEOUT,
    echo: Callable[[str], None] | None = None,
) -> RedriveReport:
    """Move every upload message of the start function's dead-letter queue back to the
    upload queue, body and message attributes as they are (at most ``max_messages``).

    A message is deleted only after SQS took its copy; one whose send fails stays and
    becomes visible again after ``visibility_timeout``. Unknown messages (and, in a dry
    run, every message) are made visible again at the end of the run.
    """
    report = RedriveReport(queue_url=queue_url, dry_run=dry_run, moves=True)
    seen: set[str] = set()
    to_release: list[str] = []

    def note(line: str) -> None:
        report.lines.append(line)
        if echo is not None:
            echo(line)

    try:
        while max_messages is None or len(seen) < max_messages:
            batch = (
                RECEIVE_BATCH
                if max_messages is None
                else min(RECEIVE_BATCH, max_messages - len(seen))
            )
            messages = sqs.receive_message(
                QueueUrl=queue_url,
                MaxNumberOfMessages=batch,
                WaitTimeSeconds=wait_seconds,
                VisibilityTimeout=visibility_timeout,
                MessageAttributeNames=["All"],
            ).get("Messages", [])
            if not messages:
                break
            for message in messages:
                message_id = message["MessageId"]
                handle = message["ReceiptHandle"]
                if message_id in seen:
                    if dry_run:
                        to_release.append(handle)
                    continue
                seen.add(message_id)
                try:
                    move = plan_move(message["Body"])
                except UnknownMessage as unknown:
                    report.skipped_unknown += 1
                    to_release.append(handle)
                    note(f"{message_id}: kept, not recognised: {unknown}")
                    continue
                summary = move.summary + _origin(message)
                if dry_run:
                    report.would_replay += 1
                    to_release.append(handle)
                    note(f"{message_id}: would move to the upload queue ({summary})")
                    continue
                _move_one(sqs, queue_url, target_url, message, move, summary, report, note)
    finally:
        _release(sqs, queue_url, to_release)
    return report


def _origin(message: dict[str, Any]) -> str:
    origin = message.get("MessageAttributes", {}).get("origin", {}).get("StringValue")
    return f"; origin {origin}" if origin else ""


def _message_attributes(message: dict[str, Any]) -> dict[str, Any]:
    """The message attributes of a received message, as SendMessage takes them."""
    kept = ("DataType", "StringValue", "BinaryValue")
    return {
        name: {key: value[key] for key in kept if key in value}
        for name, value in message.get("MessageAttributes", {}).items()
    }


def _move_one(
    sqs: Any,
    queue_url: str,
    target_url: str,
    message: dict[str, Any],
    move: Move,
    summary: str,
    report: RedriveReport,
    note: Callable[[str], None],
) -> None:
    message_id = message["MessageId"]
    try:
        sqs.send_message(
            QueueUrl=target_url,
            MessageBody=move.body,
            MessageAttributes=_message_attributes(message),
        )
    except (ClientError, BotoCoreError) as error:
        report.failed += 1
        note(
            f"{message_id}: kept, sending it to the upload queue failed "
            f"({_error_code(error)}); visible again after the visibility timeout"
        )
        return
    try:
        sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
    except (ClientError, BotoCoreError) as error:
        report.failed += 1
        note(
            f"{message_id}: moved to the upload queue, but not deleted "
            f"({_error_code(error)}); the next run moves it again, which is harmless"
        )
        return
    report.replayed += 1
    note(f"{message_id}: moved to the upload queue ({summary})")


def _release(sqs: Any, queue_url: str, handles: list[str]) -> None:
    """Make messages visible again at once (dry run, unknown messages)."""
    for start in range(0, len(handles), RECEIVE_BATCH):
        entries = [
            {"Id": str(index), "ReceiptHandle": handle, "VisibilityTimeout": 0}
            for index, handle in enumerate(handles[start : start + RECEIVE_BATCH])
        ]
        # Failed entries (a handle superseded by a later receive) just wait out their timeout.
        sqs.change_message_visibility_batch(QueueUrl=queue_url, Entries=entries)


# -- command line ----------------------------------------------------------------------------


def stack_outputs(cloudformation: Any, stack_name: str) -> dict[str, str]:
    try:
        stacks = cloudformation.describe_stacks(StackName=stack_name)["Stacks"]
    except ClientError as error:
        message = str(error.response.get("Error", {}).get("Message", ""))
        if "does not exist" in message:
            region = cloudformation.meta.region_name
            raise SetupError(f"stack {stack_name!r} does not exist in {region}") from None
        raise SetupError(
            f"cannot read stack {stack_name!r}: {_error_code(error)}: {message}"
        ) from None
    except BotoCoreError as error:
        raise SetupError(f"cannot read stack {stack_name!r}: {error}") from None
    if not stacks:
        raise SetupError(f"stack {stack_name!r} does not exist")
    return {output["OutputKey"]: output["OutputValue"] for output in stacks[0].get("Outputs", [])}


def _require(outputs: dict[str, str], key: str, stack_name: str) -> str:
    if key not in outputs:
        raise SetupError(
            f"stack {stack_name!r} has no output {key}: deploy the current template.yaml"
        )
    return outputs[key]


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m operations.redrive",
        description="Replay the dead-letter queues of a deployed transcription pipeline stack.",
    )
    parser.add_argument("--stack-name", required=True)
    parser.add_argument("--region", help="default: the AWS configuration's Region")
    parser.add_argument("--queue", choices=[*QUEUE_OUTPUTS, "all"], default="all")
    parser.add_argument(
        "--dry-run", action="store_true", help="show what would be replayed; change nothing"
    )
    parser.add_argument("--max-messages", type=_positive, help="at most N messages per queue")
    parser.add_argument(
        "--wait-seconds",
        type=int,
        choices=range(21),
        default=DEFAULT_WAIT_SECONDS,
        metavar="0-20",
        help=f"long-poll of each receive (default {DEFAULT_WAIT_SECONDS})",
    )
    return parser


def _printer(stream: TextIO, *, prefix: str) -> Callable[[str], None]:
    def echo(line: str) -> None:
        print(prefix + line, file=stream, flush=True)

    return echo


def main(
    argv: Sequence[str] | None = None, *, stdout: TextIO | None = None, stderr: TextIO | None = None
) -> int:
    out = stdout or sys.stdout
    err = stderr or sys.stderr
    arguments = _parser().parse_args(argv)
    chosen = list(QUEUE_OUTPUTS) if arguments.queue == "all" else [arguments.queue]
    stack = arguments.stack_name
    try:
        cloudformation = boto3.client("cloudformation", region_name=arguments.region)
        outputs = stack_outputs(cloudformation, stack)
        replays = [choice for choice in chosen if choice != "start"]
        process_arn = _require(outputs, PROCESS_FUNCTION_OUTPUT, stack) if replays else ""
        upload_queue = _require(outputs, UPLOAD_QUEUE_OUTPUT, stack) if "start" in chosen else ""
        queues = {
            choice: (
                QUEUE_OUTPUTS[choice].removesuffix("Url"),
                _require(outputs, QUEUE_OUTPUTS[choice], stack),
            )
            for choice in chosen
        }
        region = cloudformation.meta.region_name
        sqs = boto3.client("sqs", region_name=region)
        lambda_client = boto3.client("lambda", region_name=region, config=_LAMBDA_CONFIG)
    except (SetupError, BotoCoreError) as error:
        print(f"error: {error}", file=err)
        return 2

    all_ok = True
    for choice, (name, url) in queues.items():
        options: dict[str, Any] = {
            "dry_run": arguments.dry_run,
            "max_messages": arguments.max_messages,
            "wait_seconds": arguments.wait_seconds,
            "echo": _printer(out, prefix=f"  {name} "),
        }
        try:
            if choice == "start":
                report = move_queue(sqs, url, upload_queue, **options)
            else:
                report = redrive_queue(
                    sqs,
                    lambda_client,
                    url,
                    process_function_arn=process_arn,
                    allowed_function_arns={process_arn},
                    **options,
                )
        except (ClientError, BotoCoreError) as error:
            all_ok = False
            print(f"{name}: error: {_error_code(error)}: {error}", file=out)
            continue
        all_ok = all_ok and report.ok
        print(report.summary(name), file=out)
    return 0 if all_ok else 1


if __name__ == "__main__":
    sys.exit(main())
