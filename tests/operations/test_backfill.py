"""The backfill command (python -m operations.backfill, make backfill), under moto.

A CloudFormation stack with template.yaml's own Outputs over just the resources they name
(buckets, the upload queue, its dead-letter queue), then:

- the listing path: what is sent (S3's own notification shape, origin=backfill), what is
  skipped and why (answered, previously failed with the record's URI, not uploads), PREFIX;
- the inventory path: the newest manifest, its gzip CSV files in fileSchema order, keys
  URL-encoded, SINCE, an answer older than the object, the fallback to a listing;
- a versioned bucket: the versionId S3's event would carry;
- resuming: an interrupted run continues where the queue last accepted a batch, and the
  two runs send each object exactly once; objects SQS refused are sent again;
- a dry run, the progress line (terminal and CI), --wait, and the exit codes.
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import io
import json
import re
import threading
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote_plus

import boto3
import pytest
from moto import mock_aws

from local_pipeline.template import load_template
from operations import backfill
from operations.backfill import (
    Clients,
    Counts,
    Options,
    SourceObject,
    StackOutputs,
    Ticker,
    main,
    parse_since,
    progress_text,
    run_backfill,
    stack_outputs_from,
    template_outputs,
    wait_for_answers,
)
from operations.smoke import cloudformation_outputs
from tests.conftest import REPO
from transcription_pipeline.events import Origin, parse_queued_message, parse_upload

STACK = "backfill-stack"
INPUT = f"{STACK}-input-123456789012-us-east-1"
OUTPUT = f"{STACK}-output-123456789012-us-east-1"
EXIT_OK, EXIT_INCOMPLETE, EXIT_SETUP = 0, 1, 2
SCHEMA = "Bucket, Key, Size, LastModifiedDate, ETag"


@dataclass
class Run:
    code: int
    out: str
    err: str


def stack_template(*, inventory: bool = False, queue: bool = True) -> str:
    """template.yaml's own Outputs over just the resources they name (moto cannot run SAM)."""
    template = load_template(REPO / "template.yaml")
    resources: dict[str, Any] = {}
    for logical_id in ("InputBucket", "OutputBucket"):
        name = template["Resources"][logical_id]["Properties"]["BucketName"]
        resources[logical_id] = {"Type": "AWS::S3::Bucket", "Properties": {"BucketName": name}}
    names = ["InputBucketName", "OutputBucketName", "StartTranscriptionDeadLetterQueueUrl"]
    resources["StartTranscriptionDeadLetterQueue"] = {"Type": "AWS::SQS::Queue"}
    if queue:
        resources["UploadQueue"] = {"Type": "AWS::SQS::Queue"}
        names.append("UploadQueueUrl")
    outputs = {name: dict(template["Outputs"][name]) for name in names}
    if inventory:  # as deployed with InputInventory=true (moto evaluates no Conditions)
        outputs["InventoryLocation"] = {"Value": template["Outputs"]["InventoryLocation"]["Value"]}
    return json.dumps({"Resources": resources, "Outputs": outputs})


class Stack:
    """The deployed stack under moto, and what a test does with it."""

    def __init__(self, tmp_path: Path, *, inventory: bool = False) -> None:
        boto3.client("cloudformation").create_stack(
            StackName=STACK, TemplateBody=stack_template(inventory=inventory)
        )
        self.s3 = boto3.client("s3")
        self.sqs = boto3.client("sqs")
        self.queue_url = next(
            url for url in self.sqs.list_queues()["QueueUrls"] if "UploadQueue" in url
        )
        self.state = tmp_path / "state.json"

    def run(self, *argv: str, state: bool = True) -> Run:
        out, err = io.StringIO(), io.StringIO()
        arguments = ["--stack-name", STACK, "--region", "us-east-1", *argv]
        if state:
            arguments += ["--state-file", str(self.state)]
        code = main(arguments, stdout=out, stderr=err, environ={})
        return Run(code, out.getvalue(), err.getvalue())

    def put(self, key: str, body: bytes = b"media") -> None:
        self.s3.put_object(Bucket=INPUT, Key=key, Body=body)

    def answer(self, key: str, name: str = "summary.json") -> None:
        self.s3.put_object(Bucket=OUTPUT, Key=f"{key}/{name}", Body=b"{}")

    def messages(self) -> list[dict[str, Any]]:
        """Everything on the upload queue (taken off it)."""
        found: list[dict[str, Any]] = []
        while True:
            batch = self.sqs.receive_message(
                QueueUrl=self.queue_url,
                MaxNumberOfMessages=10,
                VisibilityTimeout=600,
                MessageAttributeNames=["All"],
            ).get("Messages", [])
            if not batch:
                return found
            found += [dict(message) for message in batch]

    def sent_keys(self) -> list[str]:
        return [
            parse_upload(json.loads(message["Body"])["Records"][0]).key
            for message in self.messages()
        ]


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[Stack]:
    with mock_aws():
        yield Stack(tmp_path)


@pytest.fixture
def inventory_stack(tmp_path: Path) -> Iterator[Stack]:
    with mock_aws():
        yield Stack(tmp_path, inventory=True)


def gzip_csv(rows: Sequence[Sequence[str]]) -> bytes:
    text = io.StringIO()
    csv.writer(text, quoting=csv.QUOTE_ALL, lineterminator="\n").writerows(rows)
    return gzip.compress(text.getvalue().encode("utf-8"))


def write_inventory(
    s3: Any,
    stamp: str,
    files: Sequence[Sequence[Sequence[str]]],
    *,
    schema: str = SCHEMA,
    file_format: str = "CSV",
) -> str:
    """An inventory as S3 writes one: data files under data/, manifest.json and its
    checksum under the timestamp folder (S3 User Guide, "Locating your inventory list")."""
    folder = f"_inventory/{INPUT}/backfill"
    listed = []
    for rows in files:
        body = gzip_csv(rows)
        key = f"{folder}/data/{uuid.uuid4()}.csv.gz"
        s3.put_object(Bucket=OUTPUT, Key=key, Body=body)
        listed.append({"key": key, "size": len(body), "MD5checksum": hashlib.md5(body).hexdigest()})
    manifest = json.dumps(
        {
            "sourceBucket": INPUT,
            "destinationBucket": f"arn:aws:s3:::{OUTPUT}",
            "version": "2016-11-30",
            "creationTimestamp": "1714521600000",
            "fileFormat": file_format,
            "fileSchema": schema,
            "files": listed,
        }
    ).encode()
    s3.put_object(Bucket=OUTPUT, Key=f"{folder}/{stamp}/manifest.json", Body=manifest)
    s3.put_object(
        Bucket=OUTPUT,
        Key=f"{folder}/{stamp}/manifest.checksum",
        Body=hashlib.md5(manifest).hexdigest().encode(),
    )
    return f"s3://{OUTPUT}/{folder}/{stamp}/manifest.json"


def counted(report: str) -> dict[str, int]:
    """The report's counts by outcome: "  label   1,234   (why)" lines."""
    found = {}
    for line in report.splitlines():
        match = re.match(r"^  ([a-z][^\d]*?)\s{2,}(\d[\d,]*)(\s|$)", line)
        if match:
            found[match.group(1)] = int(match.group(2).replace(",", ""))
    return found


def row(
    key: str, when: str = "2024-05-01T10:00:00.000Z", *, encode_slash: bool = True
) -> list[str]:
    encoded = quote_plus(key) if encode_slash else quote_plus(key, safe="/")
    return [INPUT, encoded, "1234", when, "0123456789abcdef0123456789abcdef"]


# -- the listing path ------------------------------------------------------------------------


def test_sends_what_has_no_answer_as_s3_would_and_skips_the_rest(stack: Stack) -> None:
    for key in ("talks/one.mp3", "talks/two words.mp4", "talks/answered.wav", "talks/bad.txt"):
        stack.put(key)
    stack.put("talks/")  # a folder marker
    stack.put("talks/.write_access_check_file.temp")
    stack.put("_transcribe/job.json")
    stack.answer("talks/answered.wav")
    stack.answer("talks/bad.txt", "error.json")

    run = stack.run()

    assert run.code == EXIT_OK, run.err
    messages = stack.messages()
    assert len(messages) == 2
    uploads = {}
    for message in messages:
        # Read exactly as the start function reads an SQS record.
        record = {
            "messageId": message["MessageId"],
            "receiptHandle": message["ReceiptHandle"],
            "body": message["Body"],
            "attributes": {"ApproximateReceiveCount": "1"},
            "messageAttributes": {
                name: {"stringValue": value["StringValue"], "dataType": value["DataType"]}
                for name, value in message["MessageAttributes"].items()
            },
        }
        queued = parse_queued_message(record)
        assert queued.origin == Origin.BACKFILL
        upload = parse_upload(queued.notification["Records"][0])
        uploads[upload.key] = upload
    assert set(uploads) == {"talks/one.mp3", "talks/two words.mp4"}
    head = stack.s3.head_object(Bucket=INPUT, Key="talks/two words.mp4")
    spaced = uploads["talks/two words.mp4"]
    assert (spaced.bucket, spaced.size, spaced.version_id) == (INPUT, 5, None)
    assert spaced.etag == head["ETag"].strip('"')
    assert '"key":"talks/two+words.mp4"' in next(m["Body"] for m in messages if "two" in m["Body"])
    out = run.out
    assert counted(out) == {
        "listed": 7,
        "queued (origin=backfill)": 2,
        "skipped: answered": 1,
        "skipped: previously failed": 1,
        "skipped: not uploads": 3,
        "not sent (queue refused)": 0,
    }
    assert f"s3://{OUTPUT}/talks/bad.txt/error.json" in out
    assert f"from a listing of s3://{INPUT}/" in out
    assert "make redrive STACK=backfill-stack QUEUE=start" in out
    assert stack.queue_url in out  # how to watch the queue
    state = json.loads(stack.state.read_text())
    assert state["complete"] is True
    assert state["last_key"] == "talks/two words.mp4"


def test_prefix_narrows_both_listings(stack: Stack) -> None:
    stack.put("a/one.mp3")
    stack.put("b/two.mp3")
    stack.put("b/three.mp3")
    stack.answer("b/three.mp3")

    run = stack.run("--prefix", "b/")

    assert run.code == EXIT_OK, run.err
    assert stack.sent_keys() == ["b/two.mp3"]
    assert counted(run.out)["listed"] == 2
    assert f"s3://{INPUT}/b/ ->" in run.out


def test_previously_failed_records_are_listed_twenty_and_counted(stack: Stack) -> None:
    for number in range(25):
        stack.put(f"f/{number:02}.txt")
        stack.answer(f"f/{number:02}.txt", "error.json")

    run = stack.run()

    assert run.code == EXIT_OK
    assert run.out.count("/error.json") == 20
    assert "... and 5 more" in run.out
    assert "delete its error.json" in run.out


def test_a_dry_run_sends_nothing_and_keeps_no_state(stack: Stack) -> None:
    stack.put("x/one.mp3")
    stack.put("x/two.mp3")
    stack.answer("x/two.mp3")

    run = stack.run("--dry-run")

    assert run.code == EXIT_OK
    assert stack.messages() == []
    assert not stack.state.exists()
    assert "BACKFILL DRY RUN" in run.out
    assert counted(run.out)["would queue (origin=backfill)"] == 1
    assert "      x/one.mp3" in run.out
    assert "nothing was sent" in run.out


def test_the_default_state_file_is_ignored_by_git(
    stack: Stack, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    stack.put("one.mp3")

    run = stack.run(state=False)

    assert run.code == EXIT_OK
    path = tmp_path / ".backfill" / f"{STACK}.us-east-1.json"
    assert json.loads(path.read_text())["counts"]["queued"] == 1
    assert (tmp_path / ".backfill" / ".gitignore").read_text().splitlines()[-1] == "*"
    assert f".backfill/{STACK}.us-east-1.json" in run.out


# -- the inventory path ----------------------------------------------------------------------


def test_the_newest_inventory_is_read_in_schema_order(inventory_stack: Stack) -> None:
    stack = inventory_stack
    write_inventory(stack.s3, "2024-04-30T00-00Z", [[row("old/only-in-old.mp3")]])
    schema = "Bucket, Key, Size, LastModifiedDate, ETag, StorageClass"
    rows_one = [[*row("in/a b+c.mp3"), "STANDARD"], [*row("in/folder/"), "STANDARD"]]
    rows_two = [
        [*row("in/two.mp3", encode_slash=False), "STANDARD"],
        [*row("elsewhere/x.mp3"), "STANDARD"],
    ]
    uri = write_inventory(stack.s3, "2024-05-01T00-00Z", [rows_one, rows_two], schema=schema)

    run = stack.run("--prefix", "in/")

    assert run.code == EXIT_OK, run.err
    messages = stack.messages()
    uploads = [parse_upload(json.loads(m["Body"])["Records"][0]) for m in messages]
    assert sorted(upload.key for upload in uploads) == ["in/a b+c.mp3", "in/two.mp3"]
    first = next(upload for upload in uploads if upload.key == "in/a b+c.mp3")
    assert first.size == 1234
    assert first.etag == "0123456789abcdef0123456789abcdef"
    assert first.event_time == "2024-05-01T10:00:00.000Z"
    assert f"from the S3 Inventory {uri} of 2024-05-01 00:00 UTC" in run.out
    assert counted(run.out)["listed"] == 3  # elsewhere/ is not counted
    assert counted(run.out)["skipped: not uploads"] == 1


def test_since_and_an_answer_older_than_the_object(inventory_stack: Stack) -> None:
    stack = inventory_stack
    stack.answer("new/replaced.mp3")  # written now: older than the object of 2099
    stack.answer("new/answered.mp3")  # newer than the object of 2024
    write_inventory(
        stack.s3,
        "2024-05-01T00-00Z",
        [
            [
                row("new/too-old.mp3", "2024-01-31T23:59:59.000Z"),
                row("new/answered.mp3", "2024-03-01T00:00:00.000Z"),
                row("new/replaced.mp3", "2099-01-01T00:00:00.000Z"),
                row("new/fresh.mp3", "2024-02-01T00:00:00.000Z"),
            ]
        ],
    )

    run = stack.run("--since", "2024-02-01")

    assert run.code == EXIT_OK, run.err
    assert sorted(stack.sent_keys()) == ["new/fresh.mp3", "new/replaced.mp3"]
    assert counted(run.out)["skipped: before SINCE"] == 1
    assert counted(run.out)["skipped: answered"] == 1
    assert "SINCE 2024-02-01T00:00:00.000Z" in run.out


def test_without_a_manifest_the_bucket_is_listed(inventory_stack: Stack) -> None:
    inventory_stack.put("one.mp3")

    run = inventory_stack.run()

    assert run.code == EXIT_OK
    assert inventory_stack.sent_keys() == ["one.mp3"]
    assert "no inventory manifest yet; listing the bucket instead" in run.err

    forced = inventory_stack.run("--source", "inventory", "--restart")
    assert forced.code == EXIT_SETUP
    assert "no inventory manifest under" in forced.err


def test_an_inventory_without_the_fields_needed_falls_back_to_a_listing(
    inventory_stack: Stack,
) -> None:
    inventory_stack.put("one.mp3")
    write_inventory(
        inventory_stack.s3, "2024-05-01T00-00Z", [[[INPUT, "one.mp3"]]], schema="Bucket, Key"
    )

    run = inventory_stack.run()

    assert run.code == EXIT_OK
    assert "the inventory has no Size, LastModifiedDate, ETag field" in run.err
    assert inventory_stack.sent_keys() == ["one.mp3"]


def test_a_stack_without_inventory_cannot_be_forced_to_use_one(stack: Stack) -> None:
    run = stack.run("--source", "inventory")

    assert run.code == EXIT_SETUP
    assert "has no InventoryLocation output" in run.err
    assert "InputInventory=true" in run.err


def test_a_versioned_bucket_sends_the_current_version_id(stack: Stack) -> None:
    stack.s3.put_bucket_versioning(Bucket=INPUT, VersioningConfiguration={"Status": "Enabled"})
    stack.put("v/talk.mp3", b"first")
    current = stack.s3.put_object(Bucket=INPUT, Key="v/talk.mp3", Body=b"second")

    run = stack.run()

    assert run.code == EXIT_OK, run.err
    messages = stack.messages()
    assert len(messages) == 1
    upload = parse_upload(json.loads(messages[0]["Body"])["Records"][0])
    assert upload.version_id == current["VersionId"]
    assert upload.size == len(b"second")
    assert "current versions" in run.out


# -- resuming --------------------------------------------------------------------------------


def test_an_interrupted_run_resumes_and_each_object_is_sent_once(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    keys = [f"r/{number:03}.mp3" for number in range(57)]
    for key in keys:
        stack.put(key)
    stack.answer("r/005.mp3")
    listing = backfill.ListingSource.objects

    def interrupted(self: backfill.ListingSource) -> Iterator[Any]:
        for number, item in enumerate(listing(self)):
            if number == 33:
                raise KeyboardInterrupt
            yield item

    monkeypatch.setattr(backfill.ListingSource, "objects", interrupted)
    first = stack.run()
    monkeypatch.setattr(backfill.ListingSource, "objects", listing)

    assert first.code == EXIT_INCOMPLETE
    assert "BACKFILL INTERRUPTED" in first.out
    assert "run the same command again to resume" in first.out
    state = json.loads(stack.state.read_text())
    assert state["complete"] is False
    # 33 listed: three full batches (31 listed, one answered) were sent, two were not.
    assert state["last_key"] == "r/030.mp3"
    sent_first = stack.sent_keys()
    assert len(sent_first) == 30

    second = stack.run()

    assert second.code == EXIT_OK, second.err
    assert "resuming after 'r/030.mp3'" in second.out
    sent_second = stack.sent_keys()
    assert sorted(sent_first + sent_second) == [key for key in keys if key != "r/005.mp3"]
    assert counted(second.out)["listed"] == 57  # both runs
    assert counted(second.out)["queued (origin=backfill)"] == 56

    third = stack.run()  # finished: a new pass, where everything is in the queue already
    assert "the previous run finished: starting a new pass" in third.out


def test_an_interrupted_inventory_run_resumes_at_its_file_and_row(
    inventory_stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    stack = inventory_stack
    files = [[row(f"i/{part}-{number:02}.mp3") for number in range(15)] for part in "ab"]
    write_inventory(stack.s3, "2024-05-01T00-00Z", files)
    rows = backfill.InventorySource.objects

    def interrupted(self: backfill.InventorySource) -> Iterator[Any]:
        for number, item in enumerate(rows(self)):
            if number == 24:
                raise KeyboardInterrupt
            yield item

    monkeypatch.setattr(backfill.InventorySource, "objects", interrupted)
    first = stack.run()
    monkeypatch.setattr(backfill.InventorySource, "objects", rows)

    assert first.code == EXIT_INCOMPLETE
    state = json.loads(stack.state.read_text())
    assert state["source"]["kind"] == "inventory"
    assert state["position"] == {"file": 1, "row": 5}  # two batches of ten sent
    sent_first = stack.sent_keys()

    second = stack.run()

    assert second.code == EXIT_OK, second.err
    everything = sorted(sent_first + stack.sent_keys())
    assert everything == sorted(
        f"i/{part}-{number:02}.mp3" for part in "ab" for number in range(15)
    )
    assert counted(second.out)["listed"] == 30


def test_an_unfinished_run_of_another_prefix_is_not_resumed_by_accident(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    stack.put("p/one.mp3")
    stack.state.write_text(
        json.dumps(
            {
                "version": 1,
                "stack": STACK,
                "where": "us-east-1",
                "input_bucket": INPUT,
                "prefix": "q/",
                "since": None,
                "last_key": "q/x.mp3",
                "counts": {"listed": 3},
                "complete": False,
            }
        )
    )

    run = stack.run("--prefix", "p/")

    assert run.code == EXIT_SETUP
    assert "unfinished backfill of PREFIX='q/'" in run.err
    assert "--restart" in run.err
    assert stack.messages() == []
    assert stack.run("--prefix", "p/", "--restart").code == EXIT_OK
    assert stack.sent_keys() == ["p/one.mp3"]


class RefusingSQS:
    """The upload queue's client, refusing the entries whose key contains ``refuse``."""

    def __init__(self, real: Any, refuse: str = "", error: Exception | None = None) -> None:
        self._real, self._refuse, self._error = real, refuse, error
        self.calls = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self._real, name)

    def send_message_batch(self, **request: Any) -> Any:
        self.calls += 1
        if self._error is not None:
            raise self._error
        entries = request["Entries"]
        refused = [
            entry for entry in entries if self._refuse and self._refuse in entry["MessageBody"]
        ]
        kept = [entry for entry in entries if entry not in refused]
        answer = self._real.send_message_batch(**{**request, "Entries": kept}) if kept else {}
        failed = [
            {
                "Id": entry["Id"],
                "Code": "KmsThrottled",
                "SenderFault": False,
                "Message": "slow down",
            }
            for entry in refused
        ]
        return {"Successful": answer.get("Successful", []), "Failed": failed}


def test_refused_messages_are_reported_kept_and_sent_by_the_next_run(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    for key in ("s/ok-1.mp3", "s/refuse-me.mp3", "s/ok-2.mp3"):
        stack.put(key)
    connect = backfill.connect

    def refusing(arguments: Any) -> tuple[Clients, StackOutputs]:
        clients, outputs = connect(arguments)
        return Clients(clients.s3, RefusingSQS(clients.sqs, "refuse-me")), outputs

    monkeypatch.setattr(backfill, "connect", refusing)
    first = stack.run()
    monkeypatch.setattr(backfill, "connect", connect)

    assert first.code == EXIT_INCOMPLETE
    assert "BACKFILL INCOMPLETE" in first.out
    assert counted(first.out)["not sent (queue refused)"] == 1
    assert "s/refuse-me.mp3: KmsThrottled: slow down" in first.out
    assert sorted(stack.sent_keys()) == ["s/ok-1.mp3", "s/ok-2.mp3"]
    state = json.loads(stack.state.read_text())
    assert [item["object"]["key"] for item in state["failures"]] == ["s/refuse-me.mp3"]

    second = stack.run()

    assert second.code == EXIT_OK
    assert "first sending the 1 refused earlier" in second.out
    assert "(1 refused earlier, sent again)" in second.out
    assert stack.sent_keys() == ["s/refuse-me.mp3"]
    assert json.loads(stack.state.read_text())["failures"] == []


def test_sending_stops_when_the_queue_refuses_every_batch(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    from botocore.exceptions import ClientError

    for number in range(100):
        stack.put(f"d/{number:03}.mp3")
    denied = ClientError(
        {"Error": {"Code": "AccessDenied", "Message": "no sqs:SendMessage"}}, "SendMessageBatch"
    )
    connect = backfill.connect
    sqs: list[RefusingSQS] = []

    def denying(arguments: Any) -> tuple[Clients, StackOutputs]:
        clients, outputs = connect(arguments)
        sqs.append(RefusingSQS(clients.sqs, error=denied))
        return Clients(clients.s3, sqs[0]), outputs

    monkeypatch.setattr(backfill, "connect", denying)
    run = stack.run("--senders", "1")

    assert run.code == EXIT_INCOMPLETE
    assert "BACKFILL STOPPED" in run.out
    assert "the queue refused 3 whole batches in a row (last: AccessDenied" in run.out
    assert sqs[0].calls < 10  # it did not go on through all 100
    state = json.loads(stack.state.read_text())
    assert len(state["failures"]) == 10 * sqs[0].calls


# -- progress --------------------------------------------------------------------------------


class FakeTerminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def ticking(step: float = 1.0) -> Callable[[], float]:
    now = [0.0]

    def clock() -> float:
        now[0] += step
        return now[0]

    return clock


def test_progress_is_one_line_on_a_terminal_with_rate_and_eta_from_the_inventory(
    inventory_stack: Stack, tmp_path: Path
) -> None:
    stack = inventory_stack
    write_inventory(
        stack.s3,
        "2024-05-01T00-00Z",
        [[row(f"t/{number}.mp3")] for number in range(4)],
    )
    values = cloudformation_outputs(boto3.client("cloudformation"), STACK)
    outputs = stack_outputs_from(values, stack_name=STACK, source="the stack")
    terminal = FakeTerminal()

    code = run_backfill(
        Clients(stack.s3, stack.sqs),
        outputs,
        Options(state_path=tmp_path / "s.json"),
        out=io.StringIO(),
        err=terminal,
        environ={"TERM": "xterm"},
        clock=ticking(),
    )

    assert code == EXIT_OK
    progress = terminal.getvalue()
    assert "\r\x1b[K" in progress
    updates = [part for part in progress.split("\r\x1b[K") if part.startswith("listed")]
    assert all(len(update) < 80 for update in updates)  # one line of the terminal
    assert any(re.match(r"listed \d of ~4 \([\d.]+/s, ETA 0:0\d\) \| queued", u) for u in updates)
    assert updates[-1].startswith("listed 4 of ~4")
    assert updates[-1].rstrip("\n").endswith("| queued 4 | skipped 0 | send failures 0")


def test_progress_is_plain_lines_in_ci() -> None:
    stream = FakeTerminal()
    ticker = Ticker(stream, live=backfill.live_terminal(stream, {"CI": "true"}), clock=ticking(10))

    ticker.update("one")
    ticker.update("two")

    assert stream.getvalue() == "one\ntwo\n"


def test_progress_text_says_everything_at_once() -> None:
    counts = Counts(listed=1500, queued=1000, answered=400, previously_failed=50, not_uploads=50)

    text = progress_text(
        counts, send_failures=2, rate=812.4, eta=95, estimated_total=3000, dry_run=False
    )

    assert text == (
        "listed 1,500 of ~3,000 (812/s, ETA 1:35) | queued 1,000 | skipped 500 | send failures 2"
    )


# -- waiting for the answers -----------------------------------------------------------------


def fake_pipeline(stack: Stack, stop: threading.Event) -> None:
    """What the start and process functions do, in short: every message gets its answer."""
    while not stop.is_set():
        for message in stack.sqs.receive_message(
            QueueUrl=stack.queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=0
        ).get("Messages", []):
            key = parse_upload(json.loads(message["Body"])["Records"][0]).key
            if key.endswith(".txt"):
                record = {"status": "REJECTED", "reason": "The file is text, not media."}
                stack.s3.put_object(
                    Bucket=OUTPUT, Key=f"{key}/error.json", Body=json.dumps(record).encode()
                )
            else:
                stack.answer(key)
            stack.sqs.delete_message(
                QueueUrl=stack.queue_url, ReceiptHandle=message["ReceiptHandle"]
            )
        stop.wait(0.02)


def test_wait_reports_answers_and_where_the_failures_are(stack: Stack) -> None:
    for key in ("w/one.mp3", "w/two.mp3", "w/notes.txt"):
        stack.put(key)
    stop = threading.Event()
    worker = threading.Thread(target=fake_pipeline, args=(stack, stop))
    worker.start()
    try:
        run = stack.run("--wait", "--poll-seconds", "0.05", "--timeout", "20")
    finally:
        stop.set()
        worker.join()

    assert run.code == EXIT_OK, run.out + run.err
    assert "ALL ANSWERED" in run.out
    assert counted(run.out)["answered (summary.json)"] == 2
    assert counted(run.out)["answered with error.json"] == 1
    assert (
        f"s3://{OUTPUT}/w/notes.txt/error.json  REJECTED: The file is text, not media." in run.out
    )


def test_wait_times_out_with_exit_1_naming_what_is_missing(stack: Stack) -> None:
    stack.put("w/never.mp3")

    run = stack.run("--wait", "--poll-seconds", "0.05", "--timeout", "0.2")

    assert run.code == EXIT_INCOMPLETE
    assert "TIMED OUT" in run.out
    assert f"s3://{INPUT}/w/never.mp3" in run.out


def test_wait_counts_only_records_newer_than_the_object(stack: Stack) -> None:
    listed = SourceObject("k.mp3", 1, "e", datetime.now(UTC) + timedelta(days=1))
    stack.answer("k.mp3")  # an older answer, of an earlier upload
    slept: list[float] = []

    waited = wait_for_answers(
        stack.s3,
        OUTPUT,
        "",
        {"k.mp3": listed},
        timeout=3,
        poll_seconds=1,
        ticker=Ticker(io.StringIO(), live=False),
        clock=ticking(0.5),
        sleep=slept.append,
    )

    assert waited.waiting == ["k.mp3"]
    assert slept


# -- the stack and the arguments -------------------------------------------------------------


def test_a_missing_stack_exits_2(tmp_path: Path) -> None:
    with mock_aws():
        out, err = io.StringIO(), io.StringIO()
        code = main(["--stack-name", "nope", "--region", "us-east-1"], stdout=out, stderr=err)

    assert code == EXIT_SETUP
    assert "stack 'nope' does not exist in us-east-1" in err.getvalue()


def test_a_stack_without_the_upload_queue_exits_2(tmp_path: Path) -> None:
    with mock_aws():
        boto3.client("cloudformation").create_stack(
            StackName=STACK, TemplateBody=stack_template(queue=False)
        )
        out, err = io.StringIO(), io.StringIO()
        code = main(["--stack-name", STACK, "--region", "us-east-1"], stdout=out, stderr=err)

    assert code == EXIT_SETUP
    assert "has no output UploadQueueUrl: deploy the current template.yaml" in err.getvalue()


def test_a_bad_since_is_refused_by_argparse(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["--stack-name", STACK, "--since", "last tuesday"])

    assert exit_.value.code == EXIT_SETUP
    assert "is not an ISO date or time" in capsys.readouterr().err


def test_since_takes_a_date_as_midnight_utc_and_a_time_with_its_zone() -> None:
    assert parse_since("2024-05-01") == datetime(2024, 5, 1, tzinfo=UTC)
    assert parse_since("2024-05-01T12:00+02:00") == datetime(2024, 5, 1, 10, tzinfo=UTC)
    assert parse_since("2024-05-01T12:00Z") == datetime(2024, 5, 1, 12, tzinfo=UTC)


def test_local_outputs_leave_out_the_inventory_when_it_is_off() -> None:
    values = template_outputs(REPO / "template.yaml", "transcription-pipeline")

    assert "InventoryLocation" not in values
    assert values["UploadQueueUrl"].endswith("/transcription-pipeline-UploadQueue")
    outputs = stack_outputs_from(values, stack_name="transcription-pipeline", source="local")
    assert outputs.input_bucket == "transcription-pipeline-input-123456789012-us-east-1"
