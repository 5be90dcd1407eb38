"""Lambda as the pipeline uses it: the SQS event source, asynchronous invocation, a schedule.

Each invocation runs the real use case on a ``Call`` whose clock starts at the
invocation's start (after a cold start's INIT when no warm execution environment is
free) and is moved on by every request; the function's own work is added from the
stated per-invocation model (parameters.py). Billed duration is rounded up to the
millisecond; an invocation past its timeout is cut there (what it did stays done, its
messages are not deleted).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

from bench.volumes.parameters import (
    COLD_START_SECONDS,
    KEEP_WARM_SECONDS,
    SQS_LONG_POLL_SECONDS,
    X_RAY_SAMPLED_SHARE,
    FunctionSpec,
)
from bench.volumes.world import Call, Message, RetryQuota, SqsQueue, World


@dataclass
class Container:
    free_at: float
    quota: RetryQuota = field(default_factory=RetryQuota)  # botocore's, per client


@dataclass
class FunctionStats:
    invocations: int = 0
    traced: float = 0.0  # X-Ray traces under the default rule (below)
    cold_starts: int = 0
    timeouts: int = 0
    errors: int = 0
    gb_seconds: float = 0.0
    longest: float = 0.0


class FunctionModel:
    """Execution environments (kept warm for a while) and what the invocations cost."""

    def __init__(self, world: World, spec: FunctionSpec) -> None:
        self.world = world
        self.spec = spec
        self.stats = FunctionStats()
        self._idle: list[Container] = []
        self._second = -1  # X-Ray's default sampling: 1 a second, then 5 % of the rest
        self._in_second = 0

    def begin(self, t: float) -> tuple[Container, Call, float]:
        """An environment for an invocation at ``t``: (environment, its call, start)."""
        # Environments idle too long are gone; the most recently used free one is reused.
        self._idle = [c for c in self._idle if t - c.free_at <= KEEP_WARM_SECONDS]
        warm: Container | None = None
        for candidate in self._idle:
            if candidate.free_at <= t and (warm is None or candidate.free_at > warm.free_at):
                warm = candidate
        if warm is not None:
            container = warm
            self._idle.remove(container)
            init = 0.0
        else:
            container = Container(t)
            init = COLD_START_SECONDS
            self.stats.cold_starts += 1
        call = Call(t + init, container.quota)
        self.world.call = call
        return container, call, t

    def end(self, container: Container, call: Call, started: float, log_bytes: int) -> float:
        """Bill the invocation; the time it ended (cut at the timeout)."""
        call.t += self.spec.overhead
        duration = call.t - started
        if duration > self.spec.timeout:
            self.stats.timeouts += 1
            duration = self.spec.timeout
        ended = started + duration
        meter = self.world.meter
        meter.count(f"Lambda Invoke {self.spec.name}")
        billed = math.ceil(duration * 1000) / 1000
        meter.add("Lambda GB-seconds", billed * self.spec.memory_gb)
        meter.add("CloudWatch Logs bytes", self.spec.log_bytes + log_bytes)
        second = math.floor(started)
        if second != self._second:
            self._second, self._in_second = second, 0
        self._in_second += 1
        traced = 1.0 if self._in_second == 1 else X_RAY_SAMPLED_SHARE
        meter.add("X-Ray traces", traced)
        self.stats.traced += traced
        self.stats.invocations += 1
        self.stats.gb_seconds += billed * self.spec.memory_gb
        self.stats.longest = max(self.stats.longest, duration)
        container.free_at = ended
        self._idle.append(container)
        return ended


@dataclass
class _Poller:
    idle_since: float | None = None  # long-polling an empty queue since then


# What one batch did: the receipt handles to delete, and the log bytes it wrote.
BatchHandler = Callable[[list[Message], Call], tuple[list[str], int]]


class SqsEventSource:
    """Lambda's SQS pollers with MaximumConcurrency: a poller receives up to ``batch``
    visible messages, invokes the function, deletes what it did not report as failed, and
    polls again. An idle poller long-polls (20 s a request, counted) until a message is
    visible; its poll returns as soon as one is."""

    def __init__(
        self,
        world: World,
        queue: SqsQueue,
        function: FunctionModel,
        handler: BatchHandler,
        concurrency: int,
        batch: int,
    ) -> None:
        self.world = world
        self.queue = queue
        self.function = function
        self.handler = handler
        self.batch = batch
        self.idle = [_Poller() for _ in range(concurrency)]
        self.concurrency = concurrency
        self._dispatch_at = math.inf  # when idle pollers next look
        self._token = 0
        queue.on_visible = self._visible_at

    @property
    def busy(self) -> bool:
        return len(self.idle) < self.concurrency

    def _visible_at(self, t: float) -> None:
        """A message becomes visible at ``t``: an idle poller receives it then."""
        if self.idle and t < self._dispatch_at:
            self._dispatch_at = t
            self._token += 1
            token = self._token
            self.world.sim.at(t, lambda: self._dispatch(token))

    def _dispatch(self, token: int) -> None:
        if token != self._token:
            return
        self._dispatch_at = math.inf
        now = self.world.sim.now
        while self.idle and self._poll(self.idle[-1], now):
            self.idle.pop()
        self._next()

    def _next(self) -> None:
        upcoming = self.queue.next_visible()
        if upcoming is not None:
            self._visible_at(max(upcoming, self.world.sim.now))

    def _poll(self, poller: _Poller, now: float) -> bool:
        """One receive; True when it got messages (the poller is then busy)."""
        world = self.world
        upcoming = self.queue.next_visible()
        messages = (
            self.queue.receive(now, self.batch) if upcoming is not None and upcoming <= now else []
        )
        if not messages:
            if poller.idle_since is None:
                poller.idle_since = now  # a long poll begins; counted when it ends
            return False
        self._close_idle(poller, now)
        world.meter.count("SQS ReceiveMessage")
        container, call, started = self.function.begin(now)
        to_delete, log_bytes = self.handler(messages, call)
        ended = self.function.end(container, call, started, log_bytes)
        if call.t > ended:  # timed out: nothing is deleted
            to_delete = []
        world.sim.at(ended, lambda: self._done(poller, to_delete))
        return True

    def _done(self, poller: _Poller, to_delete: list[str]) -> None:
        if to_delete:
            self.world.meter.count("SQS DeleteMessageBatch")
            for receipt in to_delete:
                self.queue.delete(receipt)
        if not self._poll(poller, self.world.sim.now):
            self.idle.append(poller)
            self._next()

    def _close_idle(self, poller: _Poller, now: float, *, last_one_empty: bool = False) -> None:
        """The long polls that ran out empty while the poller waited (the one that
        returned messages is counted with them)."""
        if poller.idle_since is not None:
            polls = math.floor((now - poller.idle_since) / SQS_LONG_POLL_SECONDS)
            self.world.meter.count("SQS ReceiveMessage", polls + int(last_one_empty))
            poller.idle_since = None

    def stop(self, now: float) -> None:
        """The scenario is over: count the idle pollers' empty receives up to ``now``."""
        for poller in self.idle:
            self._close_idle(poller, now, last_one_empty=True)
