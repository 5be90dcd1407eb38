"""Simulated time and the services behind the adapters: S3, SQS, DynamoDB, Transcribe.

Time is a float (seconds since ``T0``). The ``Simulation`` pops timed actions off a heap.
A Lambda invocation runs its use case at once, but on a ``Call``: every request adds its
latency to the call's own clock, so a request made late in an invocation is stamped late
(rate windows, visibility delays, job start times) and the invocation's duration is the
sum of what it did. Services never move backwards: Transcribe's state is advanced to the
latest time any caller has shown it, so a caller a few seconds behind may see jobs a few
seconds early. Job durations are minutes, invocations seconds.
"""

from __future__ import annotations

import bisect
import heapq
import math
import random
from collections import Counter, defaultdict, deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from bench.volumes.parameters import (
    LATENCY,
    MAX_ATTEMPTS,
    RETRY_QUOTA,
    THROTTLING_RETRY_COST,
    Quotas,
)

T0 = datetime(2026, 3, 2, tzinfo=UTC)


def moment(t: float) -> datetime:
    return T0 + timedelta(seconds=t)


class Simulation:
    """A heap of timed actions and the clock they set."""

    def __init__(self) -> None:
        self.now = 0.0
        self.events = 0
        self._heap: list[tuple[float, int, Callable[[], None]]] = []
        self._seq = 0

    def at(self, t: float, action: Callable[[], None]) -> None:
        self._seq += 1
        heapq.heappush(self._heap, (t if t > self.now else self.now, self._seq, action))

    def run(self, done: Callable[[], bool], limit: float) -> None:
        heap = self._heap
        while heap and not done():
            t, _, action = heap[0]
            if t > limit:
                self.now = limit
                return
            heapq.heappop(heap)
            self.now = t
            self.events += 1
            action()


class RetryQuota:
    """botocore's per-client retry quota (standard mode)."""

    def __init__(self) -> None:
        self.tokens = RETRY_QUOTA

    def acquire(self) -> bool:
        if self.tokens < THROTTLING_RETRY_COST:
            return False
        self.tokens -= THROTTLING_RETRY_COST
        return True

    def release(self, after_retry: bool) -> None:
        self.tokens = min(RETRY_QUOTA, self.tokens + (THROTTLING_RETRY_COST if after_retry else 1))


class Call:
    """The timeline of one caller: a Lambda invocation, or the backfill on a laptop."""

    __slots__ = ("latency", "quota", "t")

    def __init__(
        self, t: float, quota: RetryQuota | None = None, latency: dict[str, float] | None = None
    ) -> None:
        self.t = t
        self.quota = quota or RetryQuota()
        self.latency = latency or LATENCY


class Meter:
    """Requests by API, and the other billed quantities."""

    def __init__(self) -> None:
        self.requests: Counter[str] = Counter()
        # DynamoDB capacity units, log bytes, GB-seconds...
        self.units: defaultdict[str, float] = defaultdict(float)
        self.refused: Counter[str] = Counter()  # attempts answered with an error, by error
        self.counting = True  # off while the scenario's starting state is written

    def count(self, api: str, n: int = 1) -> None:
        if self.counting:
            self.requests[api] += n

    def add(self, unit: str, amount: float) -> None:
        if self.counting:
            self.units[unit] += amount


class World:
    """What every adapter and service model shares: the clock, the meter, the caller."""

    def __init__(self, seed: int) -> None:
        self.sim = Simulation()
        self.meter = Meter()
        self.call = Call(0.0)
        self.backoff_rng = random.Random(seed * 7919 + 1)

    def request(self, api: str, extra_seconds: float = 0.0) -> None:
        """One request by the current caller: counted, and its latency spent."""
        self.meter.count(api)
        call = self.call
        call.t += call.latency.get(api, 0.010) + extra_seconds

    def with_retries(self, api: str, attempt: Callable[[float], str | None]) -> str | None:
        """A request under botocore's standard retry mode; the error code that was left."""
        call = self.call
        error: str | None = None
        for number in range(1, MAX_ATTEMPTS + 1):
            self.request(api)
            error = attempt(call.t)
            if error is None:
                call.quota.release(after_retry=number > 1)
                return None
            if self.meter.counting:
                self.meter.refused[f"{api}: {error}"] += 1
            if number == MAX_ATTEMPTS or not call.quota.acquire():
                return error
            call.t += self.backoff_rng.random() * min(2.0 ** (number - 1), 20.0)
        return error


class RateWindow:
    """At most ``limit`` accepted requests in each whole second of simulated time."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._counts: dict[int, int] = {}

    def admit(self, t: float) -> bool:
        second = math.floor(t)
        used = self._counts.get(second, 0)
        if used >= self.limit:
            return False
        self._counts[second] = used + 1
        if len(self._counts) > 4096:
            oldest = second - 600
            self._counts = {s: n for s, n in self._counts.items() if s >= oldest}
        return True


# -- S3 -----------------------------------------------------------------------------------------
@dataclass(slots=True)
class StoredObject:
    etag: str
    last_modified: datetime  # S3 keeps it to the second
    size: int
    metadata: dict[str, str]
    body: bytes | None = None  # None: not kept (only its size matters)
    head_bytes: bytes | None = None  # media: real bytes at the start, zeros after them


class S3Service:
    def __init__(self) -> None:
        self.buckets: dict[str, dict[str, StoredObject]] = {}
        self._etags = 0

    def bucket(self, name: str) -> dict[str, StoredObject]:
        return self.buckets.setdefault(name, {})

    def next_etag(self) -> str:
        self._etags += 1
        return f"{self._etags:032x}"


# -- SQS ----------------------------------------------------------------------------------------
@dataclass(slots=True)
class Message:
    message_id: str
    body: str
    origin: str | None
    sent_at: float
    visible_at: float
    receive_count: int = 0
    receipt: str = ""
    version: int = 0

    def record(self, queue_arn: str) -> dict[str, object]:
        """The message as the SQS event source hands it to the function."""
        record: dict[str, object] = {
            "messageId": self.message_id,
            "receiptHandle": self.receipt,
            "body": self.body,
            "attributes": {
                "ApproximateReceiveCount": str(self.receive_count),
                "SentTimestamp": str(int(self.sent_at * 1000)),
            },
            "messageAttributes": {},
            "eventSource": "aws:sqs",
            "eventSourceARN": queue_arn,
            "awsRegion": "us-east-1",
        }
        if self.origin is not None:
            record["messageAttributes"] = {
                "origin": {"stringValue": self.origin, "dataType": "String"}
            }
        return record


class SqsQueue:
    """A standard queue: visibility timeout, receive counts, redrive to a DLQ, retention."""

    def __init__(self, quotas: Quotas) -> None:
        self.visibility_timeout = quotas.visibility_timeout
        self.max_receive_count = quotas.max_receive_count
        self.retention = quotas.retention_seconds
        self.messages: dict[str, Message] = {}
        self.dead_letters: list[Message] = []
        self.expired: list[Message] = []
        self.receives = 0
        self.max_seen_receive_count = 0
        self._heap: list[tuple[float, int, int, str]] = []  # visible_at, seq, version, id
        self._seq = 0
        self._ids = 0
        self.on_visible: Callable[[float], None] = lambda _t: None

    def _push(self, message: Message) -> None:
        self._seq += 1
        heapq.heappush(
            self._heap, (message.visible_at, self._seq, message.version, message.message_id)
        )

    def send(self, body: str, origin: str | None, t: float) -> Message:
        self._ids += 1
        message = Message(f"m{self._ids:09d}", body, origin, sent_at=t, visible_at=t)
        self.messages[message.message_id] = message
        self._push(message)
        self.on_visible(t)
        return message

    def _live_top(self) -> tuple[float, int, int, str] | None:
        heap = self._heap
        while heap:
            top = heap[0]
            message = self.messages.get(top[3])
            if message is not None and message.version == top[2]:
                return top
            heapq.heappop(heap)
        return None

    def next_visible(self) -> float | None:
        top = self._live_top()
        return top[0] if top is not None else None

    def receive(self, t: float, limit: int) -> list[Message]:
        received: list[Message] = []
        while len(received) < limit:
            top = self._live_top()
            if top is None or top[0] > t:
                break
            heapq.heappop(self._heap)
            message = self.messages[top[3]]
            if t - message.sent_at > self.retention:
                del self.messages[message.message_id]
                self.expired.append(message)
                continue
            if message.receive_count >= self.max_receive_count:
                del self.messages[message.message_id]  # redrive policy: to the DLQ
                self.dead_letters.append(message)
                continue
            message.receive_count += 1
            self.max_seen_receive_count = max(self.max_seen_receive_count, message.receive_count)
            message.version += 1
            message.receipt = f"{message.message_id}#{message.receive_count}"
            message.visible_at = t + self.visibility_timeout
            self._push(message)
            received.append(message)
        self.receives += len(received)
        return received

    def change_visibility(self, receipt: str, t: float, seconds: float) -> bool:
        message_id = receipt.partition("#")[0]
        message = self.messages.get(message_id)
        if message is None or message.receipt != receipt:
            return False
        message.version += 1
        message.visible_at = t + seconds
        self._push(message)
        self.on_visible(message.visible_at)
        return True

    def delete(self, receipt: str) -> None:
        message = self.messages.get(receipt.partition("#")[0])
        if message is not None and message.receipt == receipt:
            del self.messages[message.message_id]


# -- Transcribe ---------------------------------------------------------------------------------
@dataclass(slots=True)
class Job:
    name: str
    media_uri: str
    output_bucket: str
    output_key: str
    created: float
    duration: float
    media_seconds: float
    status: str = "QUEUED"
    started: float | None = None
    ended: float | None = None


@dataclass
class TranscribeStats:
    started_at_once: int = 0
    queued: int = 0
    refused_queue_full: int = 0
    throttled: int = 0
    peak_queue: int = 0
    peak_running: int = 0
    busy_seconds: float = 0.0  # job-seconds run


class TranscribeService:
    """Batch jobs: a concurrency quota, a FIFO queue behind it, request-rate windows."""

    def __init__(self, quotas: Quotas, sim: Simulation) -> None:
        self.quotas = quotas
        self.sim = sim
        self.jobs: dict[str, Job] = {}
        self.running: list[tuple[float, int, str]] = []  # a heap of (end, seq, name)
        self.queue: deque[str] = deque()
        self.created_order: list[tuple[float, str]] = []
        self.by_status: Counter[str] = Counter()
        self.stats = TranscribeStats()
        self.clock = 0.0
        self._seq = 0
        self.start_window = RateWindow(quotas.start_per_second)
        self.get_window = RateWindow(quotas.get_per_second)
        self.list_window = RateWindow(quotas.list_per_second)
        self.queue_limit = math.floor(quotas.concurrent_jobs * quotas.queued_share)
        # Set by the scenario: the job's transcript is written (at its end, in time order),
        # and EventBridge hears of it (at its end, in the simulation's order).
        self.on_finish: Callable[[Job], None] = lambda _job: None
        self.announce: Callable[[Job], None] = lambda _job: None

    @property
    def idle(self) -> bool:
        return not self.running and not self.queue

    def _set_status(self, job: Job, status: str) -> None:
        self.by_status[job.status] -= 1
        self.by_status[status] += 1
        job.status = status

    def _run(self, job: Job, t: float) -> None:
        self._set_status(job, "IN_PROGRESS")
        job.started = t
        job.ended = t + job.duration
        self._seq += 1
        heapq.heappush(self.running, (job.ended, self._seq, job.name))
        self.stats.peak_running = max(self.stats.peak_running, len(self.running))
        name = job.name
        self.sim.at(job.ended, lambda: self._announce(name))

    def advance(self, t: float) -> None:
        """Finish the jobs that end by ``t`` and let queued jobs in, in time order."""
        running = self.running
        while running and running[0][0] <= t:
            end, _, name = heapq.heappop(running)
            job = self.jobs[name]
            self._set_status(job, "COMPLETED")
            self.stats.busy_seconds += job.duration
            self.on_finish(job)
            while self.queue and len(running) < self.queue_limit:
                self._run(self.jobs[self.queue.popleft()], end)
        self.clock = max(self.clock, t)

    def _announce(self, name: str) -> None:
        """EventBridge's turn comes at the job's end; the state changed in ``advance``."""
        job = self.jobs[name]
        assert job.ended is not None
        self.advance(job.ended)
        self.announce(job)

    def start(
        self, request: dict[str, object], t: float, duration: float, media_seconds: float
    ) -> str | None:
        """StartTranscriptionJob at ``t``: None, or the error code Transcribe answers."""
        self.advance(t)
        if not self.start_window.admit(t):
            self.stats.throttled += 1
            return "ThrottlingException"
        name = str(request["TranscriptionJobName"])
        if name in self.jobs:
            return "ConflictException"
        execution = request.get("JobExecutionSettings")
        deferrable = isinstance(execution, dict) and bool(execution.get("AllowDeferredExecution"))
        media = request["Media"]
        assert isinstance(media, dict)
        runs_now = len(self.running) < self.quotas.concurrent_jobs and (
            not self.queue or not (deferrable and self.quotas.deferred_requests_queue_behind)
        )
        if not runs_now and not (deferrable and len(self.queue) < self.quotas.queued_jobs):
            self.stats.refused_queue_full += 1
            return "LimitExceededException"
        job = Job(
            name=name,
            media_uri=str(media["MediaFileUri"]),
            output_bucket=str(request["OutputBucketName"]),
            output_key=str(request["OutputKey"]),
            created=t,
            duration=duration,
            media_seconds=media_seconds,
        )
        self.jobs[name] = job
        self.by_status["QUEUED"] += 1
        self._insert_created(t, name)
        if runs_now:
            self.stats.started_at_once += 1
            self._run(job, max(t, self.clock))
        else:
            self.stats.queued += 1
            self.queue.append(name)
            self.stats.peak_queue = max(self.stats.peak_queue, len(self.queue))
        return None

    def _insert_created(self, t: float, name: str) -> None:
        order = self.created_order
        if not order or order[-1][0] <= t:
            order.append((t, name))
        else:  # a caller a little behind another
            order.insert(bisect.bisect_right(order, (t, name)), (t, name))
