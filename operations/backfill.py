"""Send the objects already in the input bucket through the same path as new uploads.

``make backfill STACK=name [PREFIX=...] [SINCE=...] [DRY_RUN=1] [WAIT=1] [ENDPOINT=...]``

What it does, on the laptop (nothing is transcribed here):

1. finds the objects: from the newest S3 Inventory manifest of the input bucket when the
   stack has one (stack output ``InventoryLocation``, template parameter
   ``InputInventory=true``: ``_inventory/<input bucket>/backfill/<YYYY-MM-DDTHH-MMZ>/
   manifest.json`` in the output bucket, gzip CSV files in ``fileSchema`` order, keys
   URL-encoded), else from a listing of the input bucket (ListObjectsV2; ListObjectVersions
   when the bucket is versioned, since a message must carry the versionId S3's own event
   would). ``PREFIX`` and ``SINCE`` (Last-Modified on or after an ISO date or time, UTC
   unless it says otherwise) narrow that; folder markers, Transcribe's check files
   (``start.should_skip``) and keys under ``_transcribe/`` are never sent. An inventory
   is up to a day old, which is harmless: what was uploaded since went through S3's own
   events, and an object deleted or replaced since is found gone by the start function
   (its reads are pinned to the listed eTag or versionId);
2. pre-filters cheaply: one listing of the output bucket under the same prefix gives every
   final record (``summary.json``, ``error.json``) with its Last-Modified: 1,000 output
   keys per request (about 140 answered objects with their six outputs each) instead of a
   HEAD per object. An object whose final record is newer than the
   object is counted as answered (an ``error.json`` as previously failed, with its URI)
   and not sent;
3. queues everything else on ``UploadQueue`` (stack output ``UploadQueueUrl``) as the S3
   ObjectCreated notification S3 itself would have sent (``events.s3_notification``), with
   the message attribute ``origin=backfill``, ten per SendMessageBatch, a few batches at
   a time.

The fan-out then runs in AWS: the SQS event source hands the messages to the start
function (at most ``StartMaximumConcurrency`` instances), which checks the exact revision
(an object whose current revision has its final record is ``answered``, no job), sniffs
the bytes and starts the job, as for any upload; quotas and throttling send a message back
to the queue with a growing delay, never to the dead-letter queue within minutes. That is
why there is no Step Functions Distributed Map or S3 Batch Operations job here: both would
need a second way into the start logic (their own event shape, IAM role and failure
report) and a new service in the stack, whereas the queue is the path every upload already
takes, with its idempotence (deterministic job names, the answered check) and its
throttling (the event source's MaximumConcurrency, SQS retries), and the pipeline's own
metrics and alarms watch it.

Resumable and idempotent: a state file (``.backfill/<stack>.<region or "local">.json``,
printed) holds where the listing got to (the last key, or the inventory file and row)
after every batch the queue accepted, the counts so far and the objects SQS refused. A
rerun with the same PREFIX and SINCE sends the refused objects again and continues after
that point; ``--restart`` (RESTART=1) starts over. Sending an object twice is harmless
either way: the start function is idempotent.

Progress goes to stderr about every second: objects listed, queued, skipped, send
failures, the rate and, with an inventory (its size is known), how far and the time left;
one line rewritten in place on a terminal, a plain line every few seconds otherwise (also
when ``CI`` is set). The report (stdout) gives the counts by outcome, where each failure's
record is, and how to follow the rest. ``--dry-run`` lists and pre-filters but sends
nothing (and leaves the state file alone). ``--wait`` then polls the output bucket until
every object sent has its final record (or ``--timeout``) and reports answers and failures.

Messages wait in the queue at most 14 days (its retention): split very large backlogs with
PREFIX. The pre-filter keeps one entry per answered object in memory (about 200 bytes).

Exit code 0: everything that had to be sent was sent (and, with ``--wait``, answered);
1: some messages could not be sent (they are in the state file; run again), the run was
interrupted, or ``--wait`` timed out; 2: the stack, an output, a bucket, the queue or the
credentials are missing, or the arguments (or the state file) do not fit.

Needs: cloudformation:DescribeStacks; s3:ListBucket (and s3:ListBucketVersions,
s3:GetBucketVersioning) on the input bucket; s3:ListBucket on the output bucket and
s3:GetObject on its ``_inventory/`` (and ``*/error.json`` with ``--wait``);
sqs:SendMessage and sqs:GetQueueAttributes on the upload queue.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import gzip
import io
import json
import os
import re
import shutil
import sys
import time
from collections import deque
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import asdict, dataclass, field, fields
from datetime import UTC, datetime
from datetime import time as day_time
from pathlib import Path
from typing import Any, Protocol, TextIO
from urllib.parse import unquote_plus, urlsplit

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError, EndpointConnectionError

REPO = Path(__file__).resolve().parent.parent
LAYER = REPO / "layers" / "transcription_pipeline"
if str(LAYER) not in sys.path:
    # The pipeline's own message shape and naming, exactly as the functions use them.
    sys.path.append(str(LAYER))

from local_pipeline.template import LOCAL_REGION  # noqa: E402 - yaml only, no moto
from operations.smoke import SetupError, cloudformation_outputs  # noqa: E402
from transcription_pipeline.aws.sqs import (  # noqa: E402
    SEND_BATCH_SIZE,
    OutgoingMessage,
    UploadQueue,
)
from transcription_pipeline.events import Origin, Upload, s3_notification  # noqa: E402
from transcription_pipeline.naming import (  # noqa: E402
    ERROR_RECORD,
    SUMMARY_JSON,
    output_folder,
)
from transcription_pipeline.start import should_skip  # noqa: E402

TEMPLATE = REPO / "template.yaml"
REQUIRED_OUTPUTS = ("InputBucketName", "OutputBucketName", "UploadQueueUrl")
OPTIONAL_OUTPUTS = ("InventoryLocation", "StartTranscriptionDeadLetterQueueUrl")
INVENTORY_ID = "backfill"  # the Id of the input bucket's InventoryConfiguration
RAW_OUTPUT_PREFIX = "_transcribe/"  # RAW_OUTPUT_PREFIX in template.yaml: never an upload
FINAL_RECORDS = (SUMMARY_JSON, ERROR_RECORD)
QUEUE_RETENTION_DAYS = 14  # UploadQueue MessageRetentionPeriod

STATE_VERSION = 1
STATE_DIR = Path(".backfill")
SHOWN = 20  # URIs and keys listed in the report, per kind
COMMIT_EVERY = 1000  # skipped objects in a row after which the resume point moves anyway
SAVE_EVERY = 1.0  # seconds between writes of the state file
ABORT_AFTER = 3  # whole batches refused in a row (after botocore's retries): stop sending
DEFAULT_SENDERS = 4
DEFAULT_TIMEOUT = 1800.0
POLL_SECONDS_AWS = 10.0
POLL_SECONDS_LOCAL = 0.5
LIVE_EVERY = 0.5  # seconds between rewrites of the progress line on a terminal
PLAIN_EVERY = 5.0  # seconds between progress lines otherwise
LOCAL_ACCESS_KEY = "testing"

EXIT_OK, EXIT_INCOMPLETE, EXIT_SETUP = 0, 1, 2

_STAMP = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}-\d{2}Z$")
_INVENTORY_FIELDS = ("Key", "Size", "LastModifiedDate", "ETag")

Clock = Callable[[], float]


def _error_code(error: Exception) -> str:
    if isinstance(error, ClientError):
        return str(error.response.get("Error", {}).get("Code") or "ClientError")
    return type(error).__name__


def _client_config(pool: int = 10) -> Config:
    return Config(retries={"mode": "standard", "max_attempts": 5}, max_pool_connections=pool)


# -- the stack ---------------------------------------------------------------------------


@dataclass(frozen=True)
class StackOutputs:
    stack_name: str
    input_bucket: str
    output_bucket: str
    queue_url: str
    inventory_location: str | None = None  # s3://bucket/prefix/
    dead_letter_queue_url: str | None = None
    source: str = ""  # where the values came from, for the first line
    local: bool = False
    aws_cli_options: str = ""  # " --endpoint-url URL" locally


def template_outputs(template_path: Path, stack_name: str) -> dict[str, str]:
    """template.yaml's Outputs as the local cloud resolves its resources; an output whose
    Condition is false (InventoryLocation without InputInventory=true) is left out, as
    CloudFormation leaves it out."""
    from local_pipeline.template import Template, TemplateError

    try:
        template = Template(template_path, stack_name=stack_name)
        values: dict[str, str] = {}
        for name, spec in template.document.get("Outputs", {}).items():
            condition = spec.get("Condition")
            if condition and not template.resolve({"Condition": condition}):
                continue
            values[name] = str(template.resolve(spec["Value"]))
    except (OSError, TemplateError, KeyError) as error:
        raise SetupError(f"cannot resolve the outputs of {template_path}: {error}") from None
    return values


def stack_outputs_from(
    values: Mapping[str, str], *, stack_name: str, source: str, endpoint_url: str | None = None
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
        queue_url=values["UploadQueueUrl"],
        inventory_location=values.get("InventoryLocation") or None,
        dead_letter_queue_url=values.get("StartTranscriptionDeadLetterQueueUrl") or None,
        source=source,
        local=endpoint_url is not None,
        aws_cli_options=f" --endpoint-url {endpoint_url}" if endpoint_url else "",
    )


@dataclass
class Clients:
    s3: Any
    sqs: Any


# -- what is sent ------------------------------------------------------------------------


@dataclass(frozen=True)
class SourceObject:
    """One object of the input bucket, as a listing or an inventory row describes it."""

    key: str
    size: int
    etag: str  # without quotes, as S3 events carry it
    last_modified: datetime
    version_id: str | None = None

    def upload(self, bucket: str) -> Upload:
        return Upload(
            bucket=bucket,
            key=self.key,
            size=self.size,
            etag=self.etag,
            version_id=self.version_id,
            event_time=_iso(self.last_modified),
            origin=Origin.BACKFILL,
        )

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "key": self.key,
            "size": self.size,
            "etag": self.etag,
            "last_modified": _iso(self.last_modified),
        }
        if self.version_id:
            data["version_id"] = self.version_id
        return data

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> SourceObject:
        return cls(
            key=str(data["key"]),
            size=int(data["size"]),
            etag=str(data["etag"]),
            last_modified=parse_time(str(data["last_modified"])),
            version_id=data.get("version_id") or None,
        )


def _iso(moment: datetime) -> str:
    """``2024-05-01T12:00:00.000Z``: how S3 writes times in events and inventories."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + (
        f"{moment.microsecond // 1000:03d}Z"
    )


def parse_time(text: str) -> datetime:
    """An ISO date or time; UTC unless it says otherwise. ValueError when it is neither."""
    text = text.strip()
    if not text:
        raise ValueError("empty")
    value = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def parse_since(text: str) -> datetime:
    """SINCE: ``2024-05-01`` (midnight UTC) or a time (``2024-05-01T12:00``, ``...+02:00``)."""
    try:
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text.strip()):
            day = datetime.fromisoformat(text.strip()).date()
            return datetime.combine(day, day_time(), tzinfo=UTC)
        return parse_time(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not an ISO date or time (e.g. 2024-05-01 or 2024-05-01T12:00Z)"
        ) from None


# -- where the objects come from -----------------------------------------------------------

Position = dict[str, Any]  # where a rerun resumes: {"after": key} or {"file": i, "row": n}


class Source(Protocol):
    kind: str  # "listing", "versions" or "inventory"
    description: str

    def objects(self) -> Iterator[tuple[SourceObject, Position]]: ...

    def fraction(self) -> float | None:
        """How much of the source has been read (0..1), when its size is known."""

    def identity(self) -> dict[str, Any]:
        """What a rerun must find again to resume (the kind, the manifest)."""


class ListingSource:
    """ListObjectsV2 of the input bucket in key order, after the resume point."""

    kind = "listing"

    def __init__(self, s3: Any, bucket: str, prefix: str, after: str | None) -> None:
        self._s3, self._bucket, self._prefix, self._after = s3, bucket, prefix, after
        self.description = f"a listing of s3://{bucket}/{prefix}"

    def objects(self) -> Iterator[tuple[SourceObject, Position]]:
        request: dict[str, Any] = {"Bucket": self._bucket, "Prefix": self._prefix}
        if self._after:
            request["StartAfter"] = self._after
        for page in self._s3.get_paginator("list_objects_v2").paginate(**request):
            for item in page.get("Contents", []):
                key = str(item["Key"])
                listed = SourceObject(
                    key=key,
                    size=int(item.get("Size", 0)),
                    etag=str(item.get("ETag", "")).strip('"'),
                    last_modified=item["LastModified"],
                )
                yield listed, {"after": key}

    def fraction(self) -> float | None:
        return None

    def identity(self) -> dict[str, Any]:
        return {"kind": self.kind}


class VersionListingSource(ListingSource):
    """ListObjectVersions, the current version of each key: in a versioned bucket S3's own
    event names the versionId, and the start function reads (and names the job) by it."""

    kind = "versions"

    def __init__(self, s3: Any, bucket: str, prefix: str, after: str | None) -> None:
        super().__init__(s3, bucket, prefix, after)
        self.description = f"a listing of the current versions in s3://{bucket}/{prefix}"

    def objects(self) -> Iterator[tuple[SourceObject, Position]]:
        request: dict[str, Any] = {"Bucket": self._bucket, "Prefix": self._prefix}
        if self._after:
            request["KeyMarker"] = self._after
        for page in self._s3.get_paginator("list_object_versions").paginate(**request):
            for item in page.get("Versions", []):
                if not item.get("IsLatest"):
                    continue
                key = str(item["Key"])
                version = str(item.get("VersionId") or "")
                listed = SourceObject(
                    key=key,
                    size=int(item.get("Size", 0)),
                    etag=str(item.get("ETag", "")).strip('"'),
                    last_modified=item["LastModified"],
                    version_id=version if version and version != "null" else None,
                )
                yield listed, {"after": key}


@dataclass(frozen=True)
class InventoryManifest:
    key: str  # of manifest.json, in the output bucket
    bucket: str  # where the data files are (the manifest's destinationBucket)
    schema: tuple[str, ...]
    files: tuple[tuple[str, int], ...]  # (key, compressed size)
    created: datetime | None

    @property
    def uri(self) -> str:
        return f"s3://{self.bucket}/{self.key}"


class InventoryUnusable(Exception):
    """The manifest is there but cannot be read as a CSV inventory with the fields needed."""


def parse_manifest(
    body: bytes, *, key: str, default_bucket: str, input_bucket: str
) -> InventoryManifest:
    try:
        document = json.loads(body)
    except ValueError as error:
        raise InventoryUnusable(f"{key} is not JSON: {error}") from None
    if not isinstance(document, dict):
        raise InventoryUnusable(f"{key} is not a JSON object")
    file_format = str(document.get("fileFormat", ""))
    if file_format.upper() != "CSV":
        raise InventoryUnusable(f"the inventory is {file_format or 'of no format'}, not CSV")
    source_bucket = document.get("sourceBucket")
    if source_bucket and source_bucket != input_bucket:
        raise InventoryUnusable(f"{key} is the inventory of {source_bucket}, not {input_bucket}")
    schema = tuple(name.strip() for name in str(document.get("fileSchema", "")).split(","))
    missing = [name for name in _INVENTORY_FIELDS if name not in schema]
    if missing:
        raise InventoryUnusable(f"the inventory has no {', '.join(missing)} field")
    files = document.get("files")
    if not isinstance(files, list):
        raise InventoryUnusable(f"{key} lists no files")
    destination = str(document.get("destinationBucket") or "")
    bucket = destination.rsplit(":", 1)[-1] if destination else default_bucket
    created = None
    with contextlib.suppress(TypeError, ValueError, OverflowError):
        created = datetime.fromtimestamp(int(document["creationTimestamp"]) / 1000, UTC)
    return InventoryManifest(
        key=key,
        bucket=bucket or default_bucket,
        schema=schema,
        files=tuple((str(item["key"]), int(item.get("size") or 0)) for item in files),
        created=created,
    )


def _location(uri: str) -> tuple[str, str]:
    parts = urlsplit(uri)
    if parts.scheme != "s3" or not parts.netloc:
        raise SetupError(f"InventoryLocation {uri!r} is not an s3:// URI")
    return parts.netloc, parts.path.lstrip("/")


def find_manifest(s3: Any, location: str, input_bucket: str) -> InventoryManifest | None:
    """The newest manifest.json of the input bucket's ``backfill`` inventory, if any."""
    bucket, prefix = _location(location)
    if prefix and not prefix.endswith("/"):
        prefix += "/"
    folder = f"{prefix}{input_bucket}/{INVENTORY_ID}/"
    stamps: list[str] = []
    pages = s3.get_paginator("list_objects_v2").paginate(
        Bucket=bucket, Prefix=folder, Delimiter="/"
    )
    for page in pages:
        for common in page.get("CommonPrefixes", []):
            stamp = str(common["Prefix"])[len(folder) :].rstrip("/")
            if _STAMP.match(stamp):
                stamps.append(stamp)
    for stamp in sorted(stamps, reverse=True):
        key = f"{folder}{stamp}/manifest.json"
        body = _get_if_there(s3, bucket, key)
        if body is not None:
            return parse_manifest(body, key=key, default_bucket=bucket, input_bucket=input_bucket)
    return None


def _get_if_there(s3: Any, bucket: str, key: str) -> bytes | None:
    try:
        body: bytes = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    except ClientError as error:
        if _error_code(error) in ("NoSuchKey", "404", "NotFound"):
            return None
        raise
    return body


class _CountingReader(io.RawIOBase):
    """A readable stream that counts the (compressed) bytes read through it."""

    def __init__(self, body: Any) -> None:
        self._body = body
        self.count = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        data = self._body.read(len(buffer))
        buffer[: len(data)] = data
        self.count += len(data)
        return len(data)


class InventorySource:
    """The rows of an inventory's gzip CSV files, in the manifest's order."""

    kind = "inventory"

    def __init__(
        self, s3: Any, manifest: InventoryManifest, prefix: str, position: Position | None
    ) -> None:
        self._s3, self._manifest, self._prefix = s3, manifest, prefix
        start = position or {}
        self._start_file = int(start.get("file", 0))
        self._start_row = int(start.get("row", 0))
        created = f" of {manifest.created:%Y-%m-%d %H:%M} UTC" if manifest.created else ""
        self.description = f"the S3 Inventory {manifest.uri}{created}"
        self._total = sum(size for _, size in manifest.files) or len(manifest.files)
        self._done = 0  # compressed bytes (or files) of the files finished
        self._current: _CountingReader | None = None

    def fraction(self) -> float | None:
        if not self._manifest.files:
            return 1.0
        sized = any(size for _, size in self._manifest.files)
        reading = self._current.count if self._current is not None and sized else 0
        return min((self._done + reading) / self._total, 1.0) if self._total else None

    def identity(self) -> dict[str, Any]:
        return {"kind": self.kind, "manifest": self._manifest.key}

    def objects(self) -> Iterator[tuple[SourceObject, Position]]:
        schema = self._manifest.schema
        sized = any(size for _, size in self._manifest.files)
        for index, (key, size) in enumerate(self._manifest.files):
            if index < self._start_file:
                self._done += size if sized else 1
                continue
            skip = self._start_row if index == self._start_file else 0
            body = self._s3.get_object(Bucket=self._manifest.bucket, Key=key)["Body"]
            self._current = _CountingReader(body)
            with (
                gzip.GzipFile(fileobj=io.BufferedReader(self._current)) as unzipped,
                io.TextIOWrapper(unzipped, encoding="utf-8", newline="") as text,
            ):
                for row_number, row in enumerate(csv.reader(text), start=1):
                    if row_number <= skip:
                        continue
                    listed = self._row(dict(zip(schema, row, strict=False)))
                    if listed is not None:
                        yield listed, {"file": index, "row": row_number}
                    else:
                        yield _NOT_AN_OBJECT, {"file": index, "row": row_number}
            self._current = None
            self._done += size if sized else 1

    def _row(self, row: Mapping[str, str]) -> SourceObject | None:
        try:
            return self._parse_row(row)
        except (KeyError, ValueError) as error:
            raise InventoryUnusable(
                f"a row of the inventory is malformed ({error}): {row}"
            ) from None

    def _parse_row(self, row: Mapping[str, str]) -> SourceObject | None:
        if row.get("IsDeleteMarker", "false").lower() == "true":
            return None
        if row.get("IsLatest", "true").lower() != "true":
            return None  # an inventory of all versions: only the current one is an upload
        key = unquote_plus(row["Key"])  # CSV inventories URL-encode keys, space as "+"
        if not key.startswith(self._prefix):
            return None
        version = row.get("VersionId") or ""
        return SourceObject(
            key=key,
            size=int(row.get("Size") or 0),
            etag=row.get("ETag", "").strip('"'),
            last_modified=parse_time(row["LastModifiedDate"]),
            version_id=version if version and version != "null" else None,
        )


# An inventory row that names no current object of the prefix: moves the resume point only.
_NOT_AN_OBJECT = SourceObject(
    key="", size=0, etag="", last_modified=datetime.min.replace(tzinfo=UTC)
)


# -- the pre-filter ----------------------------------------------------------------------


@dataclass(frozen=True)
class FinalRecord:
    name: str  # summary.json or error.json
    last_modified: datetime


def list_final_records(
    s3: Any, bucket: str, prefix: str, on_page: Callable[[int], None] | None = None
) -> dict[str, FinalRecord]:
    """Output folder -> its newest final record, from one listing of the output bucket."""
    records: dict[str, FinalRecord] = {}
    seen = 0
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        for item in page.get("Contents", []):
            seen += 1
            key = str(item["Key"])
            folder, _, name = key.rpartition("/")
            if name not in FINAL_RECORDS or not folder:
                continue
            record = FinalRecord(name, item["LastModified"])
            known = records.get(folder)
            if known is None or record.last_modified > known.last_modified:
                records[folder] = record
        if on_page is not None:
            on_page(seen)
    return records


def answer_of(records: Mapping[str, FinalRecord], listed: SourceObject) -> FinalRecord | None:
    """The object's final record when it is newer than the object (written for it)."""
    record = records.get(output_folder(listed.key))
    if record is not None and record.last_modified >= listed.last_modified:
        return record
    return None


# -- state -------------------------------------------------------------------------------


@dataclass
class Counts:
    listed: int = 0
    queued: int = 0  # sent (or, in a dry run, would be sent)
    answered: int = 0  # summary.json newer than the object
    previously_failed: int = 0  # error.json newer than the object
    not_uploads: int = 0  # folder markers, Transcribe's files, keys under _transcribe/
    before_since: int = 0

    @property
    def skipped(self) -> int:
        return self.answered + self.previously_failed + self.not_uploads + self.before_since

    def add(self, other: Counts) -> None:
        for item in fields(self):
            setattr(self, item.name, getattr(self, item.name) + getattr(other, item.name))


@dataclass
class Failure:
    listed: SourceObject
    reason: str


@dataclass
class BackfillState:
    """What a rerun needs to resume, and the counts so far (written after every batch)."""

    stack: str
    where: str
    input_bucket: str
    prefix: str
    since: str | None
    source: dict[str, Any] = field(default_factory=dict)
    position: Position | None = None
    last_key: str | None = None
    counts: Counts = field(default_factory=Counts)
    failed_records: list[str] = field(default_factory=list)  # error.json URIs, first SHOWN
    failures: list[Failure] = field(default_factory=list)  # refused by SQS: sent again
    complete: bool = False
    started: str = ""
    updated: str = ""

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["version"] = STATE_VERSION
        data["failures"] = [
            {"object": failure.listed.to_json(), "reason": failure.reason}
            for failure in self.failures
        ]
        return data

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> BackfillState:
        if data.get("version") != STATE_VERSION:
            raise ValueError(f"state version {data.get('version')!r}, not {STATE_VERSION}")
        return cls(
            stack=str(data["stack"]),
            where=str(data["where"]),
            input_bucket=str(data["input_bucket"]),
            prefix=str(data["prefix"]),
            since=data.get("since"),
            source=dict(data.get("source") or {}),
            position=data.get("position"),
            last_key=data.get("last_key"),
            counts=Counts(**data.get("counts", {})),
            failed_records=list(data.get("failed_records", [])),
            failures=[
                Failure(SourceObject.from_json(item["object"]), str(item["reason"]))
                for item in data.get("failures", [])
            ],
            complete=bool(data.get("complete")),
            started=str(data.get("started", "")),
            updated=str(data.get("updated", "")),
        )


def default_state_path(stack_name: str, where: str) -> Path:
    return STATE_DIR / f"{stack_name}.{where}.json"


def load_state(path: Path) -> BackfillState | None:
    if not path.is_file():
        return None
    try:
        return BackfillState.from_json(json.loads(path.read_text(encoding="utf-8")))
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise SetupError(
            f"the state file {path} cannot be read ({error}): pass --restart to start over"
        ) from None


def save_state(path: Path, state: BackfillState) -> None:
    """Atomically: a Ctrl-C while writing leaves the previous state, never half of one."""
    state.updated = datetime.now(UTC).isoformat(timespec="seconds")
    path.parent.mkdir(parents=True, exist_ok=True)
    ignore = path.parent / ".gitignore"
    if path.parent.name == STATE_DIR.name and not ignore.exists():
        ignore.write_text("# make backfill's resume points\n*\n", encoding="utf-8")
    temporary = path.with_name(path.name + ".tmp")
    temporary.write_text(json.dumps(state.to_json(), indent=1) + "\n", encoding="utf-8")
    os.replace(temporary, path)


# -- progress ------------------------------------------------------------------------------


def clock_text(seconds: float) -> str:
    minutes, secs = divmod(max(round(seconds), 0), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02}:{secs:02}" if hours else f"{minutes}:{secs:02}"


def progress_text(
    counts: Counts,
    *,
    send_failures: int,
    rate: float | None,
    eta: float | None,
    estimated_total: int | None,
    dry_run: bool,
) -> str:
    """The most telling first: an 80-column terminal cuts the end off."""
    listed = f"listed {counts.listed:,}"
    if estimated_total is not None and estimated_total >= counts.listed:
        listed += f" of ~{estimated_total:,}"
    pace = [f"{rate:,.0f}/s" if rate >= 10 else f"{rate:.1f}/s"] if rate is not None else []
    if eta is not None:
        pace.append(f"ETA {clock_text(eta)}")
    if pace:
        listed += f" ({', '.join(pace)})"
    parts = [
        listed,
        f"{'would queue' if dry_run else 'queued'} {counts.queued:,}",
        f"skipped {counts.skipped:,}",
    ]
    if not dry_run:
        parts.append(f"send failures {send_failures:,}")
    return " | ".join(parts)


def live_terminal(stream: TextIO, environ: Mapping[str, str]) -> bool:
    """One line rewritten in place: on a terminal, unless CI says it is a log."""
    ci = environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty()) and not ci and environ.get("TERM") != "dumb"


class Ticker:
    """Progress on stderr: rewritten in place on a terminal, plain lines otherwise."""

    def __init__(
        self,
        stream: TextIO,
        *,
        live: bool,
        clock: Clock = time.monotonic,
        every: float | None = None,
    ) -> None:
        self._stream = stream
        self._live = live
        self._clock = clock
        self._every = every if every is not None else (LIVE_EVERY if live else PLAIN_EVERY)
        self._last = -float("inf")
        self._open = False

    def due(self) -> bool:
        """Whether an update now would be shown (so a caller can skip building it)."""
        return self._clock() - self._last >= self._every

    def update(self, text: str, *, force: bool = False) -> None:
        now = self._clock()
        if not force and now - self._last < self._every:
            return
        self._last = now
        if self._live:
            width = max(shutil.get_terminal_size().columns - 1, 20)
            self._stream.write("\r\x1b[K" + text[:width])
            self._open = True
        else:
            self._stream.write(text + "\n")
        self._stream.flush()

    def line(self, text: str) -> None:
        """A line of its own (a phase starts or ends)."""
        self.close()
        self._stream.write(text + "\n")
        self._stream.flush()

    def close(self) -> None:
        if self._open:
            self._stream.write("\n")
            self._stream.flush()
            self._open = False


# -- sending -----------------------------------------------------------------------------


@dataclass
class Chunk:
    """Up to ten objects to send, and what was listed since the previous chunk."""

    to_send: list[SourceObject]
    delta: Counts
    position: Position | None
    last_key: str | None
    failed_records: list[str]
    future: Future[dict[int, str]] | None = None
    retry: bool = False  # objects of an earlier run that SQS refused
    committed: bool = False  # counted into the state (once, even if Ctrl-C hits after)


class Sender:
    """SendMessageBatch on a few threads; each batch's refusals by index (0..9)."""

    def __init__(self, queue: UploadQueue, bucket: str, workers: int, dry_run: bool) -> None:
        self._queue, self._bucket, self._dry_run = queue, bucket, dry_run
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="backfill-send")

    def submit(self, batch: Sequence[SourceObject]) -> Future[dict[int, str]]:
        if self._dry_run or not batch:
            done: Future[dict[int, str]] = Future()
            done.set_result({})
            return done
        return self._pool.submit(self._send, list(batch))

    def _send(self, batch: list[SourceObject]) -> dict[int, str]:
        messages = [
            OutgoingMessage(str(index), s3_notification(item.upload(self._bucket)), Origin.BACKFILL)
            for index, item in enumerate(batch)
        ]
        try:
            refused = self._queue.send(messages)
        except (ClientError, BotoCoreError) as error:
            reason = f"{_error_code(error)}: {error}"
            return dict.fromkeys(range(len(batch)), reason)
        return {int(entry): reason for entry, reason in refused.items()}

    def close(self) -> None:
        self._pool.shutdown(wait=True)


@dataclass
class Options:
    prefix: str = ""
    since: datetime | None = None
    dry_run: bool = False
    restart: bool = False
    wait: bool = False
    timeout: float = DEFAULT_TIMEOUT
    poll_seconds: float = POLL_SECONDS_AWS
    source: str = "auto"  # auto, inventory or listing
    state_path: Path | None = None
    senders: int = DEFAULT_SENDERS


@dataclass
class RunResult:
    state: BackfillState
    source: str
    resumed_after: str | None
    retried: int  # objects of the state's failures sent again
    sent_now: dict[str, SourceObject]  # key -> object, sent by this run (for --wait)
    would_queue: list[str]  # dry run: the first keys
    interrupted: bool = False
    stopped: str | None = None  # why sending stopped early
    seconds: float = 0.0


SEND = "send"


def classify(listed: SourceObject, options: Options, records: Mapping[str, FinalRecord]) -> str:
    """What becomes of one listed object: SEND, or the Counts field it is skipped as."""
    if should_skip(listed.key) or listed.key.startswith(RAW_OUTPUT_PREFIX):
        return "not_uploads"
    if options.since is not None and listed.last_modified < options.since:
        return "before_since"
    record = answer_of(records, listed)
    if record is None:
        return SEND
    return "previously_failed" if record.name == ERROR_RECORD else "answered"


def run_backfill(
    clients: Clients,
    outputs: StackOutputs,
    options: Options,
    *,
    out: TextIO,
    err: TextIO,
    environ: Mapping[str, str] | None = None,
    clock: Clock = time.monotonic,
) -> int:
    """List, pre-filter and send; report; with ``wait``, wait for the answers. Exit code."""
    environ = os.environ if environ is None else environ
    ticker = Ticker(err, live=live_terminal(err, environ), clock=clock)
    where = "local" if outputs.local else _region(clients)
    if options.state_path is None:
        options.state_path = default_state_path(outputs.stack_name, where)
    state_path = options.state_path
    state, resumed_after = _starting_state(state_path, outputs, options, where, out)
    source = _choose_source(clients, outputs, options, state, ticker)
    print(f"source: {source.description}", file=out, flush=True)
    if state.started == "":
        state.started = datetime.now(UTC).isoformat(timespec="seconds")
    state.source = source.identity()

    ticker.line(f"reading the final records in s3://{outputs.output_bucket}/{options.prefix}")
    records = list_final_records(
        clients.s3,
        outputs.output_bucket,
        options.prefix,
        on_page=lambda seen: ticker.update(f"final records: {seen:,} output objects read"),
    )
    ticker.line(f"{len(records):,} final record(s) found; listing and sending")

    result = _send_all(clients, outputs, options, state, source, records, ticker, clock)
    result.resumed_after = resumed_after
    if not options.dry_run:
        state.complete = not result.interrupted and result.stopped is None
        state.complete = state.complete and not state.failures
        save_state(state_path, state)
    ticker.close()

    for line in report_lines(result, outputs, options, state_path):
        print(line, file=out)
    code = EXIT_OK
    if state.failures or result.interrupted or result.stopped:
        code = EXIT_INCOMPLETE
    if options.wait and not options.dry_run and not result.interrupted:
        waited = wait_for_answers(
            clients.s3,
            outputs.output_bucket,
            options.prefix,
            result.sent_now,
            timeout=options.timeout,
            poll_seconds=options.poll_seconds,
            ticker=ticker,
            clock=clock,
        )
        ticker.close()
        for line in wait_report_lines(clients.s3, outputs, waited, options):
            print(line, file=out)
        if waited.waiting:
            code = EXIT_INCOMPLETE
    out.flush()
    return code


def _region(clients: Clients) -> str:
    return str(clients.s3.meta.region_name or "default")


def _starting_state(
    path: Path, outputs: StackOutputs, options: Options, where: str, out: TextIO
) -> tuple[BackfillState, str | None]:
    since = _iso(options.since) if options.since else None
    fresh = BackfillState(
        stack=outputs.stack_name,
        where=where,
        input_bucket=outputs.input_bucket,
        prefix=options.prefix,
        since=since,
    )
    shown = _shown(path)
    if options.restart:
        print(f"state: {shown} (--restart: starting over)", file=out)
        return fresh, None
    saved = load_state(path)
    if options.dry_run:
        shown += " (not written by a dry run)"
    if saved is None:
        print(f"state: {shown} (new)", file=out)
        return fresh, None
    if saved.input_bucket != outputs.input_bucket:
        raise SetupError(
            f"the state file {shown} is of bucket {saved.input_bucket}, not "
            f"{outputs.input_bucket}: pass --restart (RESTART=1) to start over"
        )
    if saved.complete:
        print(f"state: {shown} (the previous run finished: starting a new pass)", file=out)
        return fresh, None
    if (saved.prefix, saved.since) != (options.prefix, since):
        raise SetupError(
            f"{shown} holds an unfinished backfill of PREFIX={saved.prefix!r} "
            f"SINCE={saved.since or ''!r}: run it again with those to resume it, or pass "
            "--restart (RESTART=1) to start this one over"
        )
    after = saved.last_key
    resumed = f"resuming after {after!r}" if after else "resuming from the start"
    if saved.failures:
        resumed += f", first sending the {len(saved.failures)} refused earlier"
    print(f"state: {shown} ({resumed}; counts include the earlier run)", file=out)
    return saved, after


def _choose_source(
    clients: Clients, outputs: StackOutputs, options: Options, state: BackfillState, ticker: Ticker
) -> Source:
    s3, bucket, prefix = clients.s3, outputs.input_bucket, options.prefix
    resuming = state.source.get("kind")
    versioned = _versioned(s3, bucket)
    listing: Source = (
        VersionListingSource(s3, bucket, prefix, state.last_key)
        if versioned
        else ListingSource(s3, bucket, prefix, state.last_key)
    )
    if resuming == "inventory":
        manifest_key = str(state.source.get("manifest"))
        if not outputs.inventory_location:
            raise SetupError("the run to resume read an inventory the stack no longer has")
        location_bucket, _ = _location(outputs.inventory_location)
        body = _get_if_there(s3, location_bucket, manifest_key)
        if body is None:
            raise SetupError(
                f"the inventory manifest the run started from (s3://{location_bucket}/"
                f"{manifest_key}) is gone: pass --restart (RESTART=1) to start over"
            )
        resumed = parse_manifest(
            body, key=manifest_key, default_bucket=location_bucket, input_bucket=bucket
        )
        return InventorySource(s3, resumed, prefix, state.position)
    if resuming in ("listing", "versions") or options.source == "listing":
        return listing
    if not outputs.inventory_location:
        if options.source == "inventory":
            raise SetupError(
                f"{outputs.source} has no InventoryLocation output: deploy it with "
                "InputInventory=true (the first inventory arrives within 48 hours)"
            )
        return listing
    try:
        manifest = find_manifest(s3, outputs.inventory_location, bucket)
    except InventoryUnusable as error:
        if options.source == "inventory":
            raise SetupError(f"the inventory cannot be used: {error}") from None
        ticker.line(f"the inventory cannot be used ({error}); listing the bucket instead")
        return listing
    if manifest is None:
        if options.source == "inventory":
            raise SetupError(
                f"no inventory manifest under {outputs.inventory_location}{bucket}/"
                f"{INVENTORY_ID}/ yet (the first arrives within 48 hours of turning it on)"
            )
        ticker.line("no inventory manifest yet; listing the bucket instead")
        return listing
    if versioned and "VersionId" not in manifest.schema:
        ticker.line(
            "the bucket is versioned but the inventory has no VersionId: listing the "
            "current versions instead"
        )
        return listing
    return InventorySource(s3, manifest, prefix, None)


def _versioned(s3: Any, bucket: str) -> bool:
    try:
        status = s3.get_bucket_versioning(Bucket=bucket).get("Status")
    except ClientError:
        return False  # no s3:GetBucketVersioning: as the template's default, unversioned
    return status in ("Enabled", "Suspended")


def _send_all(
    clients: Clients,
    outputs: StackOutputs,
    options: Options,
    state: BackfillState,
    source: Source,
    records: Mapping[str, FinalRecord],
    ticker: Ticker,
    clock: Clock,
) -> RunResult:
    queue = UploadQueue(outputs.queue_url, client=clients.sqs)
    sender = Sender(queue, outputs.input_bucket, options.senders, options.dry_run)
    result = RunResult(
        state=state,
        source=source.description,
        resumed_after=None,
        retried=0,
        sent_now={},
        would_queue=[],
    )
    live = Counts()  # shown: committed plus what was listed and is still on its way
    live.add(state.counts)
    pending: deque[Chunk] = deque()
    max_pending = 2 * options.senders
    started = clock()
    fraction_start = source.fraction() or 0.0
    listed_start = state.counts.listed
    last_saved = clock()
    refused_in_a_row = 0
    state_path = options.state_path

    def show(force: bool = False) -> None:
        if not force and not ticker.due():
            return
        elapsed = clock() - started
        listed_now = live.listed - listed_start
        rate = listed_now / elapsed if elapsed > 0.5 else None
        eta = total = None
        fraction = source.fraction()
        if fraction is not None and fraction > fraction_start and elapsed > 0.5:
            speed = (fraction - fraction_start) / elapsed
            eta = (1.0 - fraction) / speed
            total = listed_start + round(
                listed_now / (fraction - fraction_start) * (1 - fraction_start)
            )
        ticker.update(
            progress_text(
                live,
                send_failures=len(state.failures),
                rate=rate,
                eta=eta,
                estimated_total=total,
                dry_run=options.dry_run,
            ),
            force=force,
        )

    def commit(chunk: Chunk) -> None:
        nonlocal last_saved
        if not chunk.committed:
            apply(chunk, chunk.future.result() if chunk.future is not None else {})
            chunk.committed = True
        if not options.dry_run and state_path is not None and clock() - last_saved >= SAVE_EVERY:
            save_state(state_path, state)
            last_saved = clock()

    def apply(chunk: Chunk, refused: dict[int, str]) -> None:
        nonlocal refused_in_a_row
        state.counts.add(chunk.delta)
        for index, item in enumerate(chunk.to_send):
            reason = refused.get(index)
            if reason is None:
                state.counts.queued += 1
                live.queued += 1
                if options.dry_run:
                    if len(result.would_queue) < SHOWN:
                        result.would_queue.append(item.key)
                elif options.wait:
                    result.sent_now[item.key] = item
            else:
                state.failures.append(Failure(item, reason))
        if chunk.retry and not options.dry_run:
            result.retried += len(chunk.to_send)
        whole_batch_refused = bool(chunk.to_send) and len(refused) == len(chunk.to_send)
        refused_in_a_row = refused_in_a_row + 1 if whole_batch_refused else 0
        if refused_in_a_row >= ABORT_AFTER:
            result.stopped = (
                f"the queue refused {ABORT_AFTER} whole batches in a row "
                f"(last: {next(iter(refused.values()))})"
            )
        room = SHOWN - len(state.failed_records)
        state.failed_records.extend(chunk.failed_records[: max(room, 0)])
        if chunk.position is not None:
            state.position = chunk.position
        if chunk.last_key is not None:
            state.last_key = chunk.last_key

    def settle(block: bool) -> None:
        """Commit the finished chunks in order (an unfinished one holds back the rest, so
        the resume point never passes an object whose batch SQS has not answered)."""
        while pending and (
            block
            or len(pending) >= max_pending
            or pending[0].future is None
            or pending[0].future.done()
        ):
            commit(pending[0])
            pending.popleft()

    def enqueue(chunk: Chunk) -> None:
        chunk.future = sender.submit(chunk.to_send)
        pending.append(chunk)
        settle(block=False)
        show()

    # Objects SQS refused in an earlier run go first; they are taken out of the state and
    # put back only if refused again.
    earlier, state.failures = state.failures, []
    try:
        while earlier:
            again, earlier = earlier[:SEND_BATCH_SIZE], earlier[SEND_BATCH_SIZE:]
            enqueue(Chunk([item.listed for item in again], Counts(), None, None, [], retry=True))

        batch: list[SourceObject] = []
        delta = Counts()
        failed_records: list[str] = []
        position: Position | None = None
        last_key: str | None = None
        for listed, position in source.objects():
            if result.stopped:
                break
            if listed is not _NOT_AN_OBJECT:
                last_key = listed.key
                delta.listed += 1
                live.listed += 1
                outcome = classify(listed, options, records)
                if outcome == SEND:
                    batch.append(listed)
                else:
                    setattr(delta, outcome, getattr(delta, outcome) + 1)
                    setattr(live, outcome, getattr(live, outcome) + 1)
                    if outcome == "previously_failed":
                        failed_records.append(
                            f"s3://{outputs.output_bucket}/{output_folder(listed.key)}/"
                            f"{ERROR_RECORD}"
                        )
            if len(batch) == SEND_BATCH_SIZE or delta.listed >= COMMIT_EVERY:
                enqueue(Chunk(batch, delta, position, last_key, failed_records))
                batch, delta, failed_records = [], Counts(), []
            else:
                show()
        if not result.stopped and (batch or delta.listed or position is not None):
            enqueue(Chunk(batch, delta, position, last_key, failed_records))
        settle(block=True)
    except KeyboardInterrupt:
        result.interrupted = True
        ticker.close()
        with contextlib.suppress(KeyboardInterrupt):
            settle(block=True)  # what was handed to SQS: its answers, for the resume point
    finally:
        # Refused objects of the earlier run that were not even tried stay for the next one.
        state.failures = [*earlier, *state.failures]
        sender.close()
    show(force=True)
    ticker.close()
    result.seconds = clock() - started
    return result


# -- the report ----------------------------------------------------------------------------


def _shown(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def report_lines(
    result: RunResult, outputs: StackOutputs, options: Options, state_path: Path
) -> list[str]:
    state, counts = result.state, result.state.counts
    dry = options.dry_run
    title = "BACKFILL DRY RUN" if dry else "BACKFILL"
    if result.interrupted:
        title += " INTERRUPTED"
    elif result.stopped:
        title += " STOPPED"
    elif state.failures:
        title += " INCOMPLETE"
    lines = [
        "",
        f"{title} of {outputs.source} in {result.seconds:.1f} s, from {result.source}"
        + (f" (resumed after {result.resumed_after!r})" if result.resumed_after else ""),
    ]
    if result.stopped:
        lines.append(f"  stopped: {result.stopped}")
    if since := options.since:
        lines.append(f"  SINCE {_iso(since)}: objects last modified before it are skipped")
    width = 30
    sent_label = "would queue (origin=backfill)" if dry else "queued (origin=backfill)"
    lines += [
        f"  {'listed':<{width}} {counts.listed:>9,}",
        f"  {sent_label:<{width}} {counts.queued:>9,}"
        + (f"   ({result.retried:,} refused earlier, sent again)" if result.retried else ""),
        f"  {'skipped: answered':<{width}} {counts.answered:>9,}"
        "   (summary.json newer than the object)",
        f"  {'skipped: previously failed':<{width}} {counts.previously_failed:>9,}"
        "   (error.json newer than the object; not sent again)",
    ]
    lines += [f"      {uri}" for uri in state.failed_records[:SHOWN]]
    if counts.previously_failed > len(state.failed_records[:SHOWN]):
        lines.append(f"      ... and {counts.previously_failed - len(state.failed_records):,} more")
    lines.append(
        f"  {'skipped: not uploads':<{width}} {counts.not_uploads:>9,}"
        "   (folder markers, Transcribe's check files, _transcribe/)"
    )
    if options.since is not None:
        lines.append(f"  {'skipped: before SINCE':<{width}} {counts.before_since:>9,}")
    if not dry:
        lines.append(
            f"  {'not sent (queue refused)':<{width}} {len(state.failures):>9,}"
            + ("   (kept in the state file; run again to send them)" if state.failures else "")
        )
        for failure in state.failures[:SHOWN]:
            lines.append(f"      {failure.listed.key}: {failure.reason}")
        if len(state.failures) > SHOWN:
            lines.append(f"      ... and {len(state.failures) - SHOWN:,} more")
    if dry:
        if result.would_queue:
            lines.append("  would queue, first of them:")
            lines += [f"      {key}" for key in result.would_queue]
        lines.append("  nothing was sent and the state file was left as it was")
        return lines
    lines += _next_steps(result, outputs, options, state_path)
    return lines


def _next_steps(
    result: RunResult, outputs: StackOutputs, options: Options, state_path: Path
) -> list[str]:
    cli = f"aws{outputs.aws_cli_options}"
    lines = ["", "next:"]
    if result.state.counts.queued:
        lines.append(
            f"  answers appear as s3://{outputs.output_bucket}/<input key>/summary.json (and "
            "the other outputs), or error.json saying why not"
        )
        lines.append(
            f"  the queue drains at the start function's pace: {cli} sqs get-queue-attributes "
            f"--queue-url {outputs.queue_url} --attribute-names ApproximateNumberOfMessages "
            "ApproximateNumberOfMessagesNotVisible"
        )
        lines.append(
            f"  messages wait there at most {QUEUE_RETENTION_DAYS} days; the start function "
            "retries quotas with growing delays"
        )
    if outputs.dead_letter_queue_url and not outputs.local:
        lines.append(
            f"  what fails for days lands in {outputs.dead_letter_queue_url}: "
            f"make redrive STACK={outputs.stack_name} QUEUE=start once the cause is fixed"
        )
    if result.state.counts.previously_failed:
        lines.append(
            "  to try a previously failed object again, fix or upload it again (a new upload "
            "is a new revision), or delete its error.json and run make backfill again"
        )
    if result.interrupted or result.stopped or result.state.failures:
        lines.append(
            f"  run the same command again to resume (state: {_shown(state_path)}); "
            "RESTART=1 starts over"
        )
    else:
        lines.append(f"  state: {_shown(state_path)} (done; a rerun starts a new pass)")
    return lines


# -- waiting for the answers -----------------------------------------------------------------


@dataclass
class WaitResult:
    answered: list[str]
    failed: list[str]
    waiting: list[str]
    seconds: float


def wait_for_answers(
    s3: Any,
    output_bucket: str,
    prefix: str,
    sent: Mapping[str, SourceObject],
    *,
    timeout: float,
    poll_seconds: float,
    ticker: Ticker,
    clock: Clock = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> WaitResult:
    """Poll the output bucket until every object sent has a final record newer than it."""
    started = clock()
    deadline = started + timeout
    answered: list[str] = []
    failed: list[str] = []
    waiting = dict(sent)
    while True:
        if waiting:
            records = list_final_records(s3, output_bucket, prefix)
            for key, listed in list(waiting.items()):
                record = answer_of(records, listed)
                if record is not None:
                    (failed if record.name == ERROR_RECORD else answered).append(key)
                    del waiting[key]
        left = deadline - clock()
        ticker.update(
            f"waiting for answers: {len(answered):,} answered, {len(failed):,} with error.json, "
            f"{len(waiting):,} to go; {max(left, 0):.0f} s left",
            force=not waiting,
        )
        if not waiting or left <= 0:
            ticker.close()
            return WaitResult(sorted(answered), sorted(failed), sorted(waiting), clock() - started)
        sleep(min(poll_seconds, max(left, 0.0)))


def _error_summary(s3: Any, bucket: str, key: str) -> str:
    try:
        record = json.loads(s3.get_object(Bucket=bucket, Key=key)["Body"].read())
    except (ClientError, BotoCoreError, ValueError) as error:
        return f"(not readable: {_error_code(error)})"
    if not isinstance(record, dict):
        return "(not a JSON object)"
    reason = " ".join(str(record.get("reason", "")).split())
    reason = reason if len(reason) <= 160 else reason[:157] + "..."
    return f"{record.get('status', '?')}: {reason}"


def wait_report_lines(
    s3: Any, outputs: StackOutputs, waited: WaitResult, options: Options
) -> list[str]:
    total = len(waited.answered) + len(waited.failed) + len(waited.waiting)
    headline = "ALL ANSWERED" if not waited.waiting else "TIMED OUT"
    lines = [
        "",
        f"{headline} after {waited.seconds:.1f} s waiting for the {total:,} object(s) sent:",
        f"  answered (summary.json)          {len(waited.answered):>9,}",
        f"  answered with error.json         {len(waited.failed):>9,}",
    ]
    for key in waited.failed[:SHOWN]:
        record_key = f"{output_folder(key)}/{ERROR_RECORD}"
        summary = _error_summary(s3, outputs.output_bucket, record_key)
        lines.append(f"      s3://{outputs.output_bucket}/{record_key}  {summary}")
    if len(waited.failed) > SHOWN:
        lines.append(f"      ... and {len(waited.failed) - SHOWN:,} more")
    lines.append(f"  no final record yet              {len(waited.waiting):>9,}")
    for key in waited.waiting[:SHOWN]:
        lines.append(f"      s3://{outputs.input_bucket}/{key}")
    if len(waited.waiting) > SHOWN:
        lines.append(f"      ... and {len(waited.waiting) - SHOWN:,} more")
    if waited.waiting:
        lines.append(
            f"  they may still come: the queue drains at its own pace (--timeout "
            f"{options.timeout:.0f} s was reached); an object deleted since it was listed "
            "never gets one"
        )
    return lines


# -- command line --------------------------------------------------------------------------


def _positive(text: str) -> float:
    value = float(text)
    if value <= 0:
        raise argparse.ArgumentTypeError("must be more than 0")
    return value


def _senders(text: str) -> int:
    value = int(text)
    if not 1 <= value <= 32:
        raise argparse.ArgumentTypeError("must be 1 to 32")
    return value


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m operations.backfill",
        description="Send the input bucket's existing objects through the upload queue.",
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
    parser.add_argument("--prefix", default="", help="only keys starting with this")
    parser.add_argument(
        "--since",
        type=parse_since,
        help="only objects last modified on or after this ISO date or time (UTC by default)",
    )
    parser.add_argument("--dry-run", action="store_true", help="list and pre-filter; send nothing")
    parser.add_argument(
        "--restart", action="store_true", help="ignore the state file of an unfinished run"
    )
    parser.add_argument(
        "--wait",
        action="store_true",
        help="after sending, wait for the final record of every object sent",
    )
    parser.add_argument(
        "--timeout",
        type=_positive,
        default=DEFAULT_TIMEOUT,
        help=f"seconds --wait waits (default {DEFAULT_TIMEOUT:.0f})",
    )
    parser.add_argument(
        "--poll-seconds",
        type=_positive,
        help=f"--wait polls every (default {POLL_SECONDS_AWS:g}; local cloud "
        f"{POLL_SECONDS_LOCAL:g})",
    )
    parser.add_argument(
        "--source",
        choices=("auto", "inventory", "listing"),
        default="auto",
        help="auto (default): the newest inventory when the stack has one, else a listing",
    )
    parser.add_argument(
        "--state-file",
        type=Path,
        help=f"default {STATE_DIR}/<stack>.<region or local>.json",
    )
    parser.add_argument(
        "--senders",
        type=_senders,
        default=DEFAULT_SENDERS,
        help=f"batches sent at once (default {DEFAULT_SENDERS})",
    )
    return parser


def connect(arguments: argparse.Namespace) -> tuple[Clients, StackOutputs]:
    """Clients and the stack outputs, from CloudFormation or (local cloud) template.yaml."""
    endpoint = arguments.endpoint_url
    if endpoint:
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
                "no AWS credentials: configure them (aws configure, AWS_PROFILE, aws sso "
                "login), or backfill the local cloud with --endpoint-url"
            )
        cloudformation = session.client("cloudformation", config=_client_config())
        values = cloudformation_outputs(cloudformation, arguments.stack_name)
        source = f"stack {arguments.stack_name!r} in {session.region_name}"
    outputs = stack_outputs_from(
        values, stack_name=arguments.stack_name, source=source, endpoint_url=endpoint or None
    )
    options: dict[str, Any] = {"config": _client_config(arguments.senders + 4)}
    if endpoint:
        options["endpoint_url"] = endpoint
    clients = Clients(s3=session.client("s3", **options), sqs=session.client("sqs", **options))
    check_reachable(clients, outputs, endpoint)
    return clients, outputs


def check_reachable(clients: Clients, outputs: StackOutputs, endpoint: str | None) -> None:
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
            raise SetupError(
                f"the {label} bucket {bucket} of {outputs.source} is not reachable ({what})"
            ) from None
    try:
        clients.sqs.get_queue_attributes(
            QueueUrl=outputs.queue_url, AttributeNames=["ApproximateNumberOfMessages"]
        )
    except (ClientError, BotoCoreError) as error:
        raise SetupError(
            f"the upload queue {outputs.queue_url} of {outputs.source} is not reachable "
            f"({_error_code(error)}): deploy the current template.yaml (the credentials "
            "need sqs:GetQueueAttributes and sqs:SendMessage on it)"
        ) from None


def main(
    argv: Sequence[str] | None = None,
    *,
    stdout: TextIO | None = None,
    stderr: TextIO | None = None,
    environ: Mapping[str, str] | None = None,
) -> int:
    out = stdout or sys.stdout
    err = stderr or sys.stderr
    arguments = _parser().parse_args(argv)
    poll = arguments.poll_seconds or (
        POLL_SECONDS_LOCAL if arguments.endpoint_url else POLL_SECONDS_AWS
    )
    options = Options(
        prefix=arguments.prefix,
        since=arguments.since,
        dry_run=arguments.dry_run,
        restart=arguments.restart,
        wait=arguments.wait,
        timeout=arguments.timeout,
        poll_seconds=poll,
        source=arguments.source,
        state_path=arguments.state_file,
        senders=arguments.senders,
    )
    try:
        clients, outputs = connect(arguments)
        print(
            f"Backfill of {outputs.source}: s3://{outputs.input_bucket}/{options.prefix} -> "
            f"{outputs.queue_url} (origin=backfill)" + (" [dry run]" if options.dry_run else ""),
            file=out,
            flush=True,
        )
        return run_backfill(clients, outputs, options, out=out, err=err, environ=environ)
    except (SetupError, BotoCoreError) as error:
        print(f"error: {error}", file=err)
        return EXIT_SETUP
    except InventoryUnusable as error:
        print(
            f"error: the inventory cannot be read: {error}; --source listing lists the "
            "bucket instead",
            file=err,
        )
        return EXIT_SETUP
    except ClientError as error:
        print(f"error: {_error_code(error)}: {error}", file=err)
        return EXIT_SETUP


if __name__ == "__main__":
    sys.exit(main())
