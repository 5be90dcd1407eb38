"""Volumes: the pipeline under a burst and a backfill, in simulated time, against the quotas.

    python -m bench.volumes [--quick] [--scenario NAME] [--workers N] [--verbose]
                            [--output FILE]

make bench runs the issue's three scenarios (about 30 CPU minutes on this machine, two
processes; ``python -m bench.run --volumes quick`` runs the small ones, in seconds).

A discrete-event simulation (a heap of timed actions, a simulated clock, seeded random
numbers: the same run gives the same figures) in which the pipeline's real use cases run
unchanged against in-memory adapters (subclasses of the real ones, adapters.py):
``start_queued_uploads`` for every batch the SQS event source hands over,
``process_job`` for every completion event delivered, ``reconcile`` every 15 minutes
with the simulated time as ``now``. Every AWS request they make is counted by API and
priced (prices.py, parameters.PRICES).

What is modelled
----------------
- S3: objects with real first bytes (tests/media tone.mp3, tone.mp4, tone.wav, then
  zeros), so the real sniffing accepts them; ranged GETs, HEAD, PUT, DeleteObjects,
  ListObjectsV2 (1,000 keys a page); S3 -> SQS notifications 1 s after an upload.
- Transcribe: ``concurrent_jobs`` (250) running; with AllowDeferredExecution up to
  ``queued_jobs`` (10,000) wait, FIFO, and are let in only while fewer than 90 % of the
  quota (225) run; a request that may wait joins the back of a non-empty queue (the
  conservative reading; ``Quotas.deferred_requests_queue_behind``); beyond the queue
  LimitExceededException; StartTranscriptionJob 25/s, GetTranscriptionJob 30/s,
  ListTranscriptionJobs 5/s, each in whole-second windows, ThrottlingException above;
  a job runs 0.1-0.5x its media length (uniform); ConflictException for a known name;
  ListTranscriptionJobs pages of 100, newest first. Transcribe writes its access-check
  file and the transcript (two PUTs, billed to the bucket owner).
- botocore's standard retry mode on every throttling answer: 5 attempts, backoff
  rand(0, 1) x min(2^(n-1), 20) s, the per-client retry quota (500 tokens, 5 a retry).
- SQS (the upload queue): visibility timeout, ChangeMessageVisibility,
  ApproximateReceiveCount, redrive to the DLQ after maxReceiveCount receives, retention;
  the Lambda event source: MaximumConcurrency pollers, each receiving up to BatchSize
  visible messages, invoking the function, deleting the messages not reported as batch
  item failures (one DeleteMessageBatch); idle pollers long-poll (20 s a request,
  counted). These settings, the functions' memory, timeouts, retries and environment
  and the reconciliation schedule are read from template.yaml (template.py).
- EventBridge: one completion event per finished job, 0.1 % never delivered (seeded);
  the process function invoked asynchronously 0.5 s later, its retries (1 and 2 minutes
  after a failure) within the maximum event age, then the on-failure destination. The
  pipeline's own events (PutEvents, one per final record) are counted and priced.
- Lambda: execution environments kept warm 10 minutes (a cold start adds 0.8 s, billed),
  duration = the requests' latencies + the function's own work (parameters.py), the
  template's timeouts, GB-seconds at the template's memory, CloudWatch Logs bytes per
  invocation, X-Ray traces by the default sampling rule (1 a second, then 5 %).
- Reconciliation on its schedule: its ``time_is_up`` and its ListTranscriptionJobs pace
  (``RateLimit``, 4/s) run on the invocation's simulated clock.
- The backfill: as operations/backfill.py, on a laptop: one listing of the output
  bucket's final records, the input listing, answered objects skipped, the rest sent
  10 a SendMessageBatch by 4 senders (laptop latencies in parameters.LAPTOP_LATENCY).

What is not
-----------
- Invocations run their use case at once on their own clock: requests are stamped with
  the right times, but another invocation's effects are seen as of when it ran, and
  Transcribe's state is advanced to the latest time any caller showed it (a caller a
  few seconds behind may see a job finish a few seconds early). So a reconciliation run
  (up to a minute of listing) may reach a job that ends during the run before the job's
  own event does: both write the same record (``final_records_written_twice``).
- No failures other than quotas and lost events: S3, SQS, DynamoDB, EventBridge and
  Lambda always answer; no Transcribe job fails; no upload is rejected, carries options
  or has a sidecar; no duplicate SQS deliveries or S3 notifications;
  S3 and DynamoDB request-rate limits, Lambda's account concurrency (1,000) and
  EventBridge's own delivery retries are never reached here and not modelled.
- Transcripts are tiny (three items): ``process_job`` runs for real on them; the
  function's duration is modelled from the media length instead (0.14 s per audio hour,
  from make bench's measured processing time).
- Two shortcuts (memo.py) make the millions of repeated attempts affordable: an object's
  media check is computed once, and an attempt Transcribe refused at a quota is replayed
  while nothing it read has changed (the same requests, in the same order, through the
  same adapters; Transcribe's answer live). A run without them reports exactly the same
  (tests/benchmark/test_volumes.py); they only skip recomputing what is known.
- Costs are list prices in us-east-1 without free tiers; storage, CloudWatch metrics and
  alarms (monthly, not per file) and data transfer (free within the Region) are left out.
"""

from __future__ import annotations

import multiprocessing
import sys
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

# The pipeline's layer, importable as Lambda imports it (python -m bench.volumes, tests).
_LAYER = Path(__file__).resolve().parents[2] / "layers" / "transcription_pipeline"
if str(_LAYER) not in sys.path:
    sys.path.append(str(_LAYER))

from bench.volumes.parameters import Quotas  # noqa: E402
from bench.volumes.scenario import Report, Scenario, run_scenario  # noqa: E402

# The scenarios.
SCENARIOS = (
    Scenario("burst", burst=20_000),
    Scenario("backfill", backfill=100_000),
    Scenario("burst + backfill", burst=20_000, backfill=100_000),
)
# The same shapes, small, with Transcribe's job quotas a tenth (25 running, 1,000 queued):
# a backlog of hours, not days (CI: the invariants, in seconds).
QUICK_FACTOR = 0.1
QUICK_SCENARIOS = (
    Scenario("burst", burst=2_000),
    Scenario("backfill", backfill=2_000),
    Scenario("burst + backfill", burst=2_000, backfill=2_000),
)


def stack(quick: bool) -> tuple[Quotas, dict[str, str]]:
    """The quotas with template.yaml's settings, and the functions' environment; quick:
    Transcribe's job quotas a tenth."""
    from bench.volumes.template import load

    quotas, environment = load()
    return (quotas.scaled(QUICK_FACTOR) if quick else quotas), environment


def run_all(
    scenarios: Sequence[Scenario],
    quotas: Quotas,
    environment: dict[str, str] | None = None,
    workers: int = 1,
    verbose: bool = False,
) -> list[Report]:
    """The scenarios' reports, in order; with ``workers`` > 1 in that many processes (the
    runs are independent and deterministic: the figures are the same either way)."""
    options: dict[str, Any] = {"environment": environment, "verbose": verbose}
    if workers <= 1 or len(scenarios) <= 1:
        return [run_scenario(scenario, quotas, **options) for scenario in scenarios]
    largest_first = sorted(scenarios, key=lambda s: -(s.burst + s.backfill))
    context = multiprocessing.get_context("fork")  # the children keep sys.path
    with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
        futures = {s.name: pool.submit(run_scenario, s, quotas, **options) for s in largest_first}
        return [futures[s.name].result() for s in scenarios]


__all__ = [
    "QUICK_SCENARIOS",
    "SCENARIOS",
    "Quotas",
    "Report",
    "Scenario",
    "run_all",
    "run_scenario",
    "stack",
]
