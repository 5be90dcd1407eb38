from __future__ import annotations

import gc

import pytest

from transcription_pipeline.performance import without_cyclic_gc


def test_collector_is_paused_inside_and_restored_after() -> None:
    seen = []

    @without_cyclic_gc
    def work(value: int) -> int:
        seen.append(gc.isenabled())
        return value * 2

    assert gc.isenabled()
    assert work(21) == 42
    assert seen == [False]
    assert gc.isenabled()


def test_collector_is_restored_when_the_work_raises() -> None:
    @without_cyclic_gc
    def fails() -> None:
        raise ValueError("boom")

    with pytest.raises(ValueError, match="boom"):
        fails()
    assert gc.isenabled()


def test_a_collector_that_was_off_stays_off() -> None:
    gc.disable()
    try:
        without_cyclic_gc(lambda: None)()
        assert not gc.isenabled()
    finally:
        gc.enable()
