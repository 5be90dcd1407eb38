"""python -m bench.volumes [--quick] [--scenario NAME] [--workers N] [--output FILE]"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.volumes", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="the small scenarios")
    parser.add_argument("--scenario", action="append", help="only this one (repeatable)")
    parser.add_argument("--workers", type=int, default=min(2, os.cpu_count() or 1))
    parser.add_argument("--output", help="write the reports as JSON here")
    parser.add_argument("--verbose", action="store_true", help="progress on stderr")
    arguments = parser.parse_args(argv)
    from bench.volumes import QUICK_SCENARIOS, SCENARIOS, run_all, stack

    scenarios = [
        s
        for s in (QUICK_SCENARIOS if arguments.quick else SCENARIOS)
        if not arguments.scenario or s.name in arguments.scenario
    ]
    started = time.monotonic()
    quotas, environment = stack(arguments.quick)
    reports = run_all(scenarios, quotas, environment, arguments.workers, arguments.verbose)
    elapsed = time.monotonic() - started
    for report in reports:
        print(
            f"{report.scenario}: {report.files:,} files, answered {report.answered:,} "
            f"({report.answered_before:,} before), dead-lettered {report.dead_lettered:,}, "
            f"lost {report.lost:,}; wall {report.wall_seconds / 3600:.2f} h = "
            f"{report.wall_ratio:.3f}x the bound {report.bound_seconds / 3600:.2f} h "
            f"({report.wall_ratio_queued:.3f}x {report.bound_queued_seconds / 3600:.2f} h at "
            f"90 %); {report.requests_per_file:.1f} requests a file; "
            f"${report.cost.per_audio_hour:.5f} an audio hour = "
            f"{report.cost.overhead_percent:.4f} % of Transcribe; "
            f"{report.cpu_seconds:.0f} s CPU"
        )
    print(f"{elapsed:.0f} s in all")
    if arguments.output:
        Path(arguments.output).write_text(
            json.dumps([r.as_dict() for r in reports], indent=2) + "\n", encoding="utf-8"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
