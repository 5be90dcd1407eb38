"""retry_delay: how long a message the start function could not handle waits on the queue.

Doubling from a minute to an hour, then hourly; a jitter fixed per message (50-100 %)
spreads a burst's retries. The queue's redrive policy (template.yaml) turns these delays
into the time an upload may wait for capacity: tests/static/test_template.py checks that.
"""

from __future__ import annotations

import itertools

import pytest

from transcription_pipeline.start import FIRST_RETRY_SECONDS, LAST_RETRY_SECONDS, retry_delay

IDS = [f"{index:08x}-5d2e-4c3b-8000-000000000000" for index in range(2000)]
SQS_MAX_VISIBILITY = 12 * 3600  # ChangeMessageVisibility refuses more


def jitter(message_id: str) -> float:
    """The message's share of the full delay, read off its hourly retries."""
    return retry_delay(100, message_id) / LAST_RETRY_SECONDS


def test_the_delay_doubles_from_a_minute_up_to_an_hour() -> None:
    full = [min(FIRST_RETRY_SECONDS * 2**n, LAST_RETRY_SECONDS) for n in range(11)]
    assert full[:7] == [60, 120, 240, 480, 960, 1920, 3600]
    for message_id in IDS[:200]:
        delays = [retry_delay(count, message_id) for count in range(1, 12)]
        for delay, whole in zip(delays, full, strict=True):
            assert whole / 2 - 1 <= delay <= whole, message_id
        for shorter, longer in itertools.pairwise(delays[:6]):
            assert abs(longer - 2 * shorter) <= 2, message_id  # doubling, to the second
        assert delays == sorted(delays)
        assert delays[6:] == [delays[6]] * 5  # then hourly (with the message's jitter)


def test_the_delay_stays_hourly_however_often_a_message_comes_back() -> None:
    message_id = IDS[0]
    hourly = retry_delay(20, message_id)

    assert [retry_delay(count, message_id) for count in (50, 100, 1000, 10**9)] == [hourly] * 4
    assert hourly <= LAST_RETRY_SECONDS <= SQS_MAX_VISIBILITY


@pytest.mark.parametrize("count", [0, -1, -(10**9)])
def test_an_odd_receive_count_gets_the_first_delay(count: int) -> None:
    assert retry_delay(count, IDS[0]) == retry_delay(1, IDS[0])


def test_the_jitter_is_between_half_and_the_whole_delay() -> None:
    shares = [jitter(message_id) for message_id in IDS]

    assert all(0.5 <= share <= 1.0 for share in shares)
    assert min(shares) < 0.52  # the whole range is used...
    assert max(shares) > 0.98
    # ...evenly enough that a burst does not come back at once: no tenth holds a third.
    tenths = [sum(1 for s in shares if 0.5 + i / 20 <= s < 0.5 + (i + 1) / 20) for i in range(10)]
    assert max(tenths) < len(shares) / 3


def test_the_jitter_is_fixed_per_message() -> None:
    """A replay of the same messages waits the same: the delay depends on nothing else."""
    assert [retry_delay(3, m) for m in IDS[:100]] == [retry_delay(3, m) for m in IDS[:100]]
    assert len({retry_delay(3, m) for m in IDS[:100]}) > 20


def test_every_delay_is_one_sqs_accepts() -> None:
    for message_id in IDS[:200]:
        for count in range(1, 30):
            assert 1 <= retry_delay(count, message_id) <= SQS_MAX_VISIBILITY
