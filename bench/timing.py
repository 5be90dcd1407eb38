"""CPU-time measurement shared by the benchmarks."""

from __future__ import annotations

import math
import time
from collections.abc import Callable


def best_cpu_seconds(run: Callable[[], object], rounds: int) -> float:
    """CPU time of the fastest of ``rounds`` runs (the machine is shared: the fastest run
    is the one least disturbed by other processes)."""
    best = math.inf
    for _ in range(rounds):
        started = time.process_time()
        run()
        best = min(best, time.process_time() - started)
    return best
