"""Use case: find what fell through the cracks and put it back on the normal path.

Every started job has an item in the in-flight table until its final record exists.
Run on a schedule, reconciliation reads that table, so its cost grows with the work in
flight, not with the bucket. For each item older than the minimum age:

1. the job is COMPLETED or FAILED but has no final record (EventBridge delivers
   Transcribe's events on a best-effort basis): it is processed exactly as its
   completion event would have been (``process_job``);
2. Transcribe does not know the job (never started, or its record expired): if the
   input still holds that revision it goes back on the upload queue, the same path as
   a new upload; otherwise the item is dropped (a newer upload has its own);
3. the job is QUEUED or IN_PROGRESS: nothing to do yet.

Statuses come from ListTranscriptionJobs since the oldest item (100 jobs a request,
paced under Transcribe's 5 requests a second), not from one request per item. Each
item is isolated: its failure is counted and reported, and the next run retries it.
Before the Lambda timeout the run stops and saves its position; the next run starts
there, so a backlog is worked through across runs instead of from the top every time.

Uploads whose S3 notification never reached the queue are not looked for here: that
would mean listing the bucket. ``make backfill`` is the full sweep.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, TypeVar

from transcription_pipeline.aws import (
    Announcer,
    InFlightJob,
    InFlightJobs,
    ObjectStore,
    OutgoingMessage,
    TranscribeJobs,
    UploadQueue,
)
from transcription_pipeline.config import Settings
from transcription_pipeline.events import Origin, Upload, s3_notification
from transcription_pipeline.model_summary.types import SummaryModel
from transcription_pipeline.naming import S3Location
from transcription_pipeline.publish import JOB_METADATA, final_record_metadata

if TYPE_CHECKING:
    from transcription_pipeline.translation import Translator

Item = TypeVar("Item")
TimeIsUp = Callable[[], bool]

# ListTranscriptionJobs is limited to 5 requests a second per account (Service Quotas);
# the process function and the console share it, so reconciliation takes at most 4.
LIST_REQUESTS_PER_SECOND = 4.0
# An item is written just after its job starts; a job found in flight again (a repeated
# event) may be older than its item. Listing starts this much before the oldest item,
# and what the listing still misses is asked for by name.
LISTING_MARGIN = timedelta(hours=1)
WAITING = frozenset({"QUEUED", "IN_PROGRESS"})
FINISHED = frozenset({"COMPLETED", "FAILED"})


class RateLimit:
    """Call before each request: sleeps as needed to stay at ``per_second`` or below."""

    def __init__(
        self,
        per_second: float,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._interval = 1.0 / per_second
        self._clock = clock
        self._sleep = sleep
        self._next = float("-inf")

    def __call__(self) -> None:
        now = self._clock()
        if now < self._next:
            self._sleep(self._next - now)
            now = self._next
        self._next = now + self._interval


@dataclass(frozen=True)
class ItemFailure:
    """One item reconciliation could not handle this run (the next run retries it)."""

    job_name: str
    source_key: str
    error: str  # exception type and message: ids and AWS error codes, no transcript text


@dataclass
class ReconcileReport:
    items_in_flight: int = 0  # every item in the table
    items_checked: int = 0  # old enough to look at, this run
    jobs_waiting: int = 0  # queued or running in Transcribe
    jobs_answered: int = 0  # had their final record already: item removed
    jobs_recovered: Counter[str] = field(default_factory=Counter)  # process outcome -> count
    uploads_requeued: int = 0  # Transcribe did not know the job: back on the upload queue
    items_dropped: int = 0  # the upload was deleted or replaced: nothing left to answer
    list_requests: int = 0
    failures: list[ItemFailure] = field(default_factory=list)
    stopped_early: bool = False  # time ran out; the next run carries on from here

    def as_dict(self) -> dict[str, int]:
        flat = {
            "items_in_flight": self.items_in_flight,
            "items_checked": self.items_checked,
            "jobs_waiting": self.jobs_waiting,
            "jobs_answered": self.jobs_answered,
            "uploads_requeued": self.uploads_requeued,
            "items_dropped": self.items_dropped,
            "list_requests": self.list_requests,
            "items_failed": len(self.failures),
            "stopped_early": int(self.stopped_early),
        }
        flat.update({f"jobs_{k}": v for k, v in self.jobs_recovered.items()})
        return flat


def _never() -> bool:
    return False


def _no_pause() -> None:
    return None


def _from_checkpoint(items: list[InFlightJob], checkpoint: str) -> list[InFlightJob]:
    """Items in position order, starting after the checkpoint and wrapping around."""
    ordered = sorted(items, key=lambda item: item.position)
    return [i for i in ordered if i.position > checkpoint] + [
        i for i in ordered if i.position <= checkpoint
    ]


def _each_in_time(
    items: Iterator[Item], report: ReconcileReport, time_is_up: TimeIsUp
) -> Iterator[Item]:
    for item in items:
        if time_is_up():
            report.stopped_early = True
            return
        yield item


@dataclass
class _Reconciler:
    settings: Settings
    store: ObjectStore
    jobs: TranscribeJobs
    in_flight: InFlightJobs
    queue: UploadQueue
    announcer: Announcer
    now: datetime
    report: ReconcileReport
    summary_model: SummaryModel | None = None
    translator: Translator | None = None

    def settle(self, item: InFlightJob, listed_status: str | None) -> None:
        status = listed_status
        if status is None:
            job = self.jobs.get(item.job_name)  # rare: older than the listing, or unknown
            status = job.status if job is not None else None
        if status in WAITING:
            self.report.jobs_waiting += 1
        elif status in FINISHED:
            self._answer(item)
        else:
            self._start_again(item)

    def _answer(self, item: InFlightJob) -> None:
        recorded = final_record_metadata(self.store, self.settings.output_bucket, item.source_key)
        if recorded.get(JOB_METADATA) == item.job_name:
            self.in_flight.remove(item.source_key, item.job_name)
            self.report.jobs_answered += 1
            return
        # Loaded here, not at import: most runs process no job, and the outputs' code
        # (page, document, chapters) would lengthen every cold start of this function.
        from transcription_pipeline.process import process_job

        result = process_job(
            item.job_name,
            self.settings,
            self.store,
            self.jobs,
            self.in_flight,
            self.announcer,
            event_time=self.now.isoformat(),
            summary_model=self.summary_model,
            translator=self.translator,
        )
        if result.source is None:  # not this stack's, or unknown: nothing will answer it
            self.in_flight.remove(item.source_key, item.job_name)
        self.report.jobs_recovered[str(result.outcome)] += 1

    def _start_again(self, item: InFlightJob) -> None:
        source = S3Location(self.settings.input_bucket, item.source_key)
        head = self.store.head(source)
        if head is None or head.revision != item.revision:
            self.in_flight.remove(item.source_key, item.job_name)
            self.report.items_dropped += 1
            return
        upload = Upload(
            bucket=source.bucket,
            key=source.key,
            size=head.size,
            etag=head.etag,
            version_id=head.version_id,
            event_time=self.now.isoformat(),
            origin=Origin.RECONCILE,
        )
        refused = self.queue.send(
            [OutgoingMessage("reconcile", s3_notification(upload), Origin.RECONCILE)]
        )
        if refused:
            raise RuntimeError(f"the upload queue refused the message: {refused['reconcile']}")
        # The start function tracks it again once its job starts.
        self.in_flight.remove(item.source_key, item.job_name)
        self.report.uploads_requeued += 1


def reconcile(
    settings: Settings,
    store: ObjectStore,
    jobs: TranscribeJobs,
    in_flight: InFlightJobs,
    queue: UploadQueue,
    announcer: Announcer,
    *,
    now: datetime,
    time_is_up: TimeIsUp = _never,
    before_list_request: Callable[[], None] = _no_pause,
    summary_model: SummaryModel | None = None,
    translator: Translator | None = None,
) -> ReconcileReport:
    report = ReconcileReport()
    every_item = list(in_flight.all())
    report.items_in_flight = len(every_item)
    youngest = now - timedelta(minutes=settings.reconcile_min_age_minutes)
    due = [item for item in every_item if item.started_at <= youngest]
    if not due:
        return report

    def counted_request() -> None:
        report.list_requests += 1
        before_list_request()

    since = min(item.started_at for item in due) - LISTING_MARGIN
    statuses = jobs.statuses_since(
        settings.job_name_prefix, since, before_each_request=counted_request
    )
    reconciler = _Reconciler(
        settings, store, jobs, in_flight, queue, announcer, now, report, summary_model, translator
    )
    position = ""
    for item in _each_in_time(
        iter(_from_checkpoint(due, in_flight.checkpoint())), report, time_is_up
    ):
        report.items_checked += 1
        position = item.position
        try:
            reconciler.settle(item, statuses.get(item.job_name))
        except Exception as error:  # noqa: BLE001 - isolated per item, reported
            report.failures.append(
                ItemFailure(item.job_name, item.source_key, f"{type(error).__name__}: {error}")
            )
    # Where the next run starts: after the last item handled, or from the top when done.
    in_flight.save_checkpoint(position if report.stopped_early else "")
    return report
