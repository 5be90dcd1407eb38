"""In-memory adapters: the real adapter classes with every public method answered from the
simulated services, each request counted and its latency spent on the caller's clock.

They subclass ObjectStore, TranscribeJobs, InFlightJobs and UploadQueue and never call
their ``__init__`` (which would create a boto3 client), so the use cases (``start``,
``process``, ``reconcile``) run unchanged against them. Errors are raised as the real
adapters raise them: botocore's ClientError where the real one lets it through.
"""

from __future__ import annotations

import math
import posixpath
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from datetime import datetime
from typing import Any

from botocore.exceptions import ClientError

from bench.volumes.parameters import S3_BYTES_PER_SECOND
from bench.volumes.world import (
    Job,
    S3Service,
    SqsQueue,
    StoredObject,
    TranscribeService,
    World,
    moment,
)
from transcription_pipeline.announcements import Announcement
from transcription_pipeline.aws import (
    JOB_STATUSES,
    Announcer,
    CapacityExceeded,
    InFlightJob,
    InFlightJobs,
    ListedObject,
    ObjectGone,
    ObjectHead,
    ObjectStore,
    OutgoingMessage,
    RangeRead,
    TranscribeJobs,
    TranscriptionJob,
    UploadQueue,
)
from transcription_pipeline.naming import ERROR_RECORD, SUMMARY_JSON, S3Location

_CAPACITY_CODES = ("ThrottlingException", "LimitExceededException")
LIST_PAGE = 1_000  # ListObjectsV2 keys a page
SCAN_PAGE_BYTES = 1024**2  # DynamoDB Scan: 1 MB a page


def client_error(code: str, operation: str) -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": code}}, operation)


class SimObjectStore(ObjectStore):
    def __init__(self, world: World, s3: S3Service) -> None:  # no boto3 client
        self.world = world
        self.s3 = s3
        self.bytes_read = 0
        # Set by the scenario: a final record was written (source key, metadata, time).
        self.on_final_record: Callable[[str, Mapping[str, str], float], None] = (
            lambda _key, _metadata, _t: None
        )

    def _object(self, location: S3Location) -> StoredObject | None:
        bucket = self.s3.buckets.get(location.bucket)
        return None if bucket is None else bucket.get(location.key)

    def read_range(
        self,
        location: S3Location,
        offset: int,
        length: int,
        *,
        version_id: str | None = None,
        etag: str | None = None,
    ) -> RangeRead:
        stored = self._object(location)
        end = 0 if stored is None else min(offset + length, stored.size)
        self.world.request("S3 GetObject", max(end - offset, 0) / S3_BYTES_PER_SECOND)
        if stored is None or (etag and stored.etag != etag.strip('"')):
            raise ObjectGone(location.uri)  # NoSuchKey / PreconditionFailed
        head = stored.head_bytes if stored.head_bytes is not None else (stored.body or b"")
        data = head[offset:end]
        if len(data) < end - offset:
            data += bytes(end - offset - len(data))
        self.bytes_read += len(data)
        return RangeRead(data, stored.last_modified, dict(stored.metadata))

    def read_all(self, location: S3Location) -> bytes:
        stored = self._object(location)
        size = stored.size if stored is not None else 0
        self.world.request("S3 GetObject", size / S3_BYTES_PER_SECOND)
        if stored is None:
            raise ObjectGone(location.uri)
        return stored.body or b""

    def peek(self, location: S3Location) -> StoredObject | None:
        """The object as it is, without a request (for the simulation's own checks)."""
        return self._object(location)

    def peek_head(self, location: S3Location) -> ObjectHead | None:
        """What ``head`` would answer now, without a request."""
        stored = self._object(location)
        if stored is None:
            return None
        return ObjectHead(
            etag=stored.etag,
            version_id=None,
            last_modified=stored.last_modified,
            metadata=stored.metadata,
            size=stored.size,
        )

    def head(self, location: S3Location) -> ObjectHead | None:
        self.world.request("S3 HeadObject")
        stored = self._object(location)
        if stored is None:
            return None
        return ObjectHead(
            etag=stored.etag,
            version_id=None,
            last_modified=stored.last_modified,
            metadata=stored.metadata,
            size=stored.size,
        )

    def list_objects(
        self, bucket: str, prefix: str = "", start_after: str = ""
    ) -> Iterator[ListedObject]:
        objects = self.s3.buckets.get(bucket, {})
        keys = sorted(k for k in objects if k.startswith(prefix) and k > start_after)
        self.world.request("S3 ListObjectsV2")
        for index, key in enumerate(keys):
            if index and index % LIST_PAGE == 0:
                self.world.request("S3 ListObjectsV2")
            stored = objects[key]
            yield ListedObject(key, stored.size, stored.etag, stored.last_modified)

    def put(
        self, location: S3Location, body: bytes, metadata: Mapping[str, str] | None = None
    ) -> None:
        self.world.request("S3 PutObject", len(body) / S3_BYTES_PER_SECOND)
        name = posixpath.basename(location.key)
        keep = name in (SUMMARY_JSON, ERROR_RECORD)
        self.s3.bucket(location.bucket)[location.key] = StoredObject(
            etag=self.s3.next_etag(),
            last_modified=moment(math.floor(self.world.call.t)),
            size=len(body),
            metadata=dict(metadata or {}),
            body=body if keep else None,
        )
        if keep:
            self.on_final_record(posixpath.dirname(location.key), metadata or {}, self.world.call.t)

    def delete(self, bucket: str, keys: Iterable[str]) -> None:
        keys = list(keys)
        if not keys:
            return
        self.world.request("S3 DeleteObjects")
        objects = self.s3.buckets.get(bucket, {})
        for key in keys:
            objects.pop(key, None)


class SimTranscribeJobs(TranscribeJobs):
    def __init__(
        self,
        world: World,
        service: TranscribeService,
        job_seconds: Callable[[str], tuple[float, float]],
    ) -> None:  # no boto3 client
        self.world = world
        self.service = service
        self.job_seconds = job_seconds  # media URI -> (job duration, media length)

    def start(self, request: Mapping[str, Any]) -> bool:
        duration, media_seconds = self.job_seconds(str(request["Media"]["MediaFileUri"]))
        error = self.world.with_retries(
            "Transcribe StartTranscriptionJob",
            lambda t: self.service.start(dict(request), t, duration, media_seconds),
        )
        if error is None:
            return True
        if error == "ConflictException":
            return False
        if error in _CAPACITY_CODES:
            raise CapacityExceeded(error)
        raise client_error(error, "StartTranscriptionJob")

    def statuses_since(
        self,
        name_prefix: str,
        since: datetime,
        *,
        before_each_request: Callable[[], None] = lambda: None,
    ) -> dict[str, str]:
        """What the real method returns, with as many requests as its paging makes.

        Per status, Transcribe lists newest first, 100 a page; the real method stops after
        the first page entirely older than ``since``: with ``m`` jobs of that status since
        then, it asks for ceil(m / 100) + 1 pages, or all there are if fewer.
        """
        service = self.service
        service.advance(self.world.call.t)
        since_t = (since - moment(0)).total_seconds()
        order = service.created_order
        newer = order[_first_at_or_after(order, since_t) :]
        statuses: dict[str, str] = {}
        recent: dict[str, int] = dict.fromkeys(JOB_STATUSES, 0)
        for _, name in newer:
            job = service.jobs[name]
            if name.startswith(name_prefix):
                recent[job.status] += 1
        for status in JOB_STATUSES:
            available = max(1, math.ceil(service.by_status[status] / 100))
            pages = min(math.ceil(recent[status] / 100) + 1, available)
            for _ in range(pages):
                before_each_request()
                error = self.world.with_retries(
                    "Transcribe ListTranscriptionJobs",
                    lambda t: None if service.list_window.admit(t) else "ThrottlingException",
                )
                if error is not None:
                    raise client_error(error, "ListTranscriptionJobs")
        for _, name in newer:  # the later status wins, as in the real listing order
            if name.startswith(name_prefix):
                statuses[name] = service.jobs[name].status
        return statuses

    def get(self, name: str) -> TranscriptionJob | None:
        service = self.service
        error = self.world.with_retries(
            "Transcribe GetTranscriptionJob",
            lambda t: None if service.get_window.admit(t) else "ThrottlingException",
        )
        if error is not None:
            raise client_error(error, "GetTranscriptionJob")
        service.advance(self.world.call.t)
        job = service.jobs.get(name)
        if job is None:
            return None  # BadRequestException: the job couldn't be found
        return transcription_job(job)


def transcription_job(job: Job) -> TranscriptionJob:
    finished = job.status in ("COMPLETED", "FAILED")
    return TranscriptionJob(
        name=job.name,
        status=job.status,
        media_uri=job.media_uri,
        transcript_uri=(
            f"https://s3.us-east-1.amazonaws.com/{job.output_bucket}/{job.output_key}"
            if job.status == "COMPLETED"
            else None
        ),
        redacted_transcript_uri=None,
        redacts_pii=False,
        failure_reason=None,
        language_code="en-US",
        language_score=None,
        completed_at=moment(job.ended) if finished and job.ended is not None else None,
    )


def _first_at_or_after(order: Sequence[tuple[float, str]], t: float) -> int:
    low, high = 0, len(order)
    while low < high:
        middle = (low + high) // 2
        if order[middle][0] < t:
            low = middle + 1
        else:
            high = middle
    return low


def _item_bytes(job: InFlightJob) -> int:
    """DynamoDB's item size: attribute names and values (numbers ~ 8 bytes each)."""
    return 60 + len(job.source_key) + len(job.job_name) + len(job.revision)


class SimInFlightJobs(InFlightJobs):
    """The in-flight table, on demand: 1 WRU a write (items < 1 KB), Scan pages of 1 MB at
    0.5 RRU per 4 KB (eventually consistent), the checkpoint read strongly consistent."""

    def __init__(self, world: World, table_name: str) -> None:  # no boto3 client
        self.world = world
        self.table_name = table_name
        self.items: dict[tuple[str, str], InFlightJob] = {}
        self.position = ""
        self.peak = 0

    def add(self, job: InFlightJob, expires_at: datetime) -> None:
        self.world.request("DynamoDB PutItem")
        self.world.meter.add("DynamoDB WRU", 1)
        self.items[(job.source_key, job.job_name)] = job
        self.peak = max(self.peak, len(self.items))

    def remove(self, source_key: str, job_name: str) -> None:
        self.world.request("DynamoDB DeleteItem")
        self.world.meter.add("DynamoDB WRU", 1)
        self.items.pop((source_key, job_name), None)

    def all(self) -> Iterator[InFlightJob]:
        items = list(self.items.values())
        size = sum(_item_bytes(item) for item in items) + 100  # and the checkpoint item
        pages = max(1, math.ceil(size / SCAN_PAGE_BYTES))
        for _ in range(pages):
            self.world.request("DynamoDB Scan")
        self.world.meter.add("DynamoDB RRU", math.ceil(size / 4096) * 0.5)
        yield from items

    def checkpoint(self) -> str:
        self.world.request("DynamoDB GetItem")
        self.world.meter.add("DynamoDB RRU", 1)
        return self.position

    def save_checkpoint(self, position: str) -> None:
        self.world.request("DynamoDB PutItem")
        self.world.meter.add("DynamoDB WRU", 1)
        self.position = position


class SimUploadQueue(UploadQueue):
    def __init__(self, world: World, queue: SqsQueue, queue_url: str) -> None:  # no client
        self.world = world
        self.queue = queue
        self.queue_url = queue_url

    def retry_later(self, receipt_handle: str, delay_seconds: int) -> None:
        self.world.request("SQS ChangeMessageVisibility")
        if not self.queue.change_visibility(receipt_handle, self.world.call.t, delay_seconds):
            raise client_error("ReceiptHandleIsInvalid", "ChangeMessageVisibility")

    def send(self, messages: Sequence[OutgoingMessage]) -> dict[str, str]:
        if len(messages) > 10:
            raise ValueError("at most 10 messages per batch")
        if not messages:
            return {}
        self.world.request("SQS SendMessageBatch")
        for message in messages:
            self.queue.send(message.body, message.origin, self.world.call.t)
        return {}


class SimAnnouncer(Announcer):
    """The completion events the pipeline puts on the default bus (PutEvents, one each)."""

    def __init__(self, world: World, source: str) -> None:  # no boto3 client
        self.world = world
        self.source = source
        self.emitted: dict[str, int] = {}

    def emit(self, announcement: Announcement) -> None:
        self.world.request("EventBridge PutEvents")
        kind = str(announcement.detail_type)
        self.emitted[kind] = self.emitted.get(kind, 0) + 1
