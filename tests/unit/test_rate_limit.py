"""RateLimit: reconciliation's pace for ListTranscriptionJobs, against a fake clock."""

from __future__ import annotations

import itertools

import pytest

from transcription_pipeline.reconcile import LIST_REQUESTS_PER_SECOND, RateLimit

# ListTranscriptionJobs: 5 requests a second per account (Service Quotas), shared with
# the process function and the console.
TRANSCRIBE_LIST_QUOTA = 5.0


class FakeClock:
    def __init__(self) -> None:
        self.now = 500.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        assert seconds > 0
        self.slept.append(seconds)
        self.now += seconds


def most_in_one_second(times: list[float]) -> int:
    return max(sum(1 for t in times if start <= t < start + 1.0) for start in times)


def test_back_to_back_requests_are_spread_to_the_rate() -> None:
    clock = FakeClock()
    limit = RateLimit(4, clock=clock, sleep=clock.sleep)
    sent = []

    for _ in range(20):
        limit()
        sent.append(clock())

    assert sent[0] == 500.0  # the first request waits for nothing
    assert most_in_one_second(sent) <= 4
    assert all(b - a == pytest.approx(0.25) for a, b in itertools.pairwise(sent))
    assert sent[-1] - sent[0] == pytest.approx(19 * 0.25)  # and no slower than that


def test_a_slow_caller_is_not_made_to_wait() -> None:
    clock = FakeClock()
    limit = RateLimit(4, clock=clock, sleep=clock.sleep)

    for _ in range(5):
        limit()
        clock.now += 1.0  # each page takes a second to handle

    assert clock.slept == []


def test_a_pause_is_not_saved_up_for_a_burst_afterwards() -> None:
    clock = FakeClock()
    limit = RateLimit(4, clock=clock, sleep=clock.sleep)
    limit()
    clock.now += 60  # a minute without requests
    sent = []

    for _ in range(12):
        limit()
        sent.append(clock())

    assert most_in_one_second(sent) <= 4


def test_reconciliation_leaves_room_under_transcribe_s_quota() -> None:
    assert 0 < LIST_REQUESTS_PER_SECOND < TRANSCRIBE_LIST_QUOTA
