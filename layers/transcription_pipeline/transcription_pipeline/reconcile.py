"""Use case: find what fell through the cracks and put it back on the normal path.

EventBridge delivers Transcribe's events on a best-effort basis, and an upload's own
event can be lost to retries that ran out. Run on a schedule, this finds:

1. this stack's COMPLETED and FAILED jobs without a final record, and processes them
   exactly as the completion event would have (``process_job``);
2. input objects old enough to have a job, with neither a job nor a final record, and
   starts them exactly as their S3 event would have (``start_transcription``).

Both paths are idempotent, so running this while events are in flight is harmless.
"""

from __future__ import annotations

import functools
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TypeVar

from transcription_pipeline.aws import ObjectStore, TranscribeJobs
from transcription_pipeline.config import Settings
from transcription_pipeline.events import Upload
from transcription_pipeline.naming import S3Location, job_name_for, parse_s3_uri
from transcription_pipeline.process import process_job
from transcription_pipeline.publish import (
    JOB_METADATA,
    REVISION_METADATA,
    final_record_metadata,
)
from transcription_pipeline.start import should_skip, start_transcription

Item = TypeVar("Item")
TimeIsUp = Callable[[], bool]


@dataclass(frozen=True)
class ItemFailure:
    """One job or upload reconciliation could not handle this run (the next run retries)."""

    kind: str  # "job" or "upload"
    name: str  # the job name or the input key
    error: str  # exception type and message: ids and AWS error codes, no transcript text


@dataclass
class ReconcileReport:
    jobs_checked: int = 0
    jobs_answered: int = 0  # already had their final record
    jobs_recovered: Counter[str] = field(default_factory=Counter)  # process outcome -> count
    uploads_checked: int = 0
    uploads_in_flight: int = 0  # too young, or their job exists
    uploads_answered: int = 0
    uploads_restarted: Counter[str] = field(default_factory=Counter)  # start outcome -> count
    failures: list[ItemFailure] = field(default_factory=list)
    stopped_early: bool = False  # time ran out; the next run carries on

    def as_dict(self) -> dict[str, int]:
        flat = {
            "jobs_checked": self.jobs_checked,
            "jobs_answered": self.jobs_answered,
            "uploads_checked": self.uploads_checked,
            "uploads_in_flight": self.uploads_in_flight,
            "uploads_answered": self.uploads_answered,
            "items_failed": len(self.failures),
            "stopped_early": int(self.stopped_early),
        }
        flat.update({f"jobs_{k}": v for k, v in self.jobs_recovered.items()})
        flat.update({f"uploads_{k}": v for k, v in self.uploads_restarted.items()})
        return flat


def _never() -> bool:
    return False


def _each_in_time(
    items: Iterator[Item], report: ReconcileReport, time_is_up: TimeIsUp
) -> Iterator[Item]:
    """The items, until time is up (then the report says so and the rest waits a run)."""
    for item in items:
        if time_is_up():
            report.stopped_early = True
            return
        yield item


def _isolated(report: ReconcileReport, kind: str, name: str, work: Callable[[], None]) -> None:
    """Run one item's work; its failure is recorded in the report, never the run's end.

    Anything can go wrong with one item (an expired file, a 500, a quota error, a bug
    that one odd input triggers) and must not keep every other item from being
    reconciled, now and on every later run.
    """
    try:
        work()
    except Exception as error:  # noqa: BLE001 - isolated per item, reported below
        report.failures.append(ItemFailure(kind, name, f"{type(error).__name__}: {error}"))


def recover_jobs(
    settings: Settings,
    store: ObjectStore,
    jobs: TranscribeJobs,
    *,
    now: datetime,
    report: ReconcileReport | None = None,
    time_is_up: TimeIsUp = _never,
) -> ReconcileReport:
    """Part 1: finished jobs whose completion event never produced a record."""
    report = report or ReconcileReport()
    since = now - timedelta(hours=settings.reconcile_lookback_hours)

    def recover(name: str) -> None:
        job = jobs.get(name)
        if job is None or not job.media_uri:
            return
        source_key = parse_s3_uri(job.media_uri).key
        recorded = final_record_metadata(store, settings.output_bucket, source_key)
        if recorded.get(JOB_METADATA) == name:
            report.jobs_answered += 1
            return
        result = process_job(name, settings, store, jobs, event_time=now.isoformat())
        report.jobs_recovered[str(result.outcome)] += 1

    names = jobs.finished_since(settings.job_name_prefix, since)
    for name in _each_in_time(names, report, time_is_up):
        report.jobs_checked += 1
        _isolated(report, "job", name, functools.partial(recover, name))
    return report


def restart_uploads(
    settings: Settings,
    store: ObjectStore,
    jobs: TranscribeJobs,
    *,
    now: datetime,
    report: ReconcileReport | None = None,
    time_is_up: TimeIsUp = _never,
) -> ReconcileReport:
    """Part 2: uploads old enough to have a job that have neither a job nor a record."""
    report = report or ReconcileReport()
    youngest = now - timedelta(minutes=settings.reconcile_min_age_minutes)
    oldest = now - timedelta(hours=settings.reconcile_lookback_hours)

    def restart(key: str, size: int) -> None:
        source = S3Location(settings.input_bucket, key)
        head = store.head(source)  # the versionId, when the bucket keeps versions
        if head is None:
            return
        recorded = final_record_metadata(store, settings.output_bucket, key)
        if recorded.get(REVISION_METADATA) == head.revision:
            report.uploads_answered += 1
            return
        if jobs.get(job_name_for(settings.job_name_prefix, source, head.revision)) is not None:
            report.uploads_in_flight += 1  # a finished one is part 1's business
            return
        upload = Upload(
            bucket=source.bucket,
            key=source.key,
            size=size,
            etag=head.etag,
            version_id=head.version_id,
            event_time=now.isoformat(),
        )
        result = start_transcription(upload, settings, store, jobs)
        report.uploads_restarted[str(result.outcome)] += 1

    listing = store.list_objects(settings.input_bucket)
    for listed in _each_in_time(listing, report, time_is_up):
        if should_skip(listed.key) or not oldest <= listed.last_modified <= youngest:
            continue
        report.uploads_checked += 1
        _isolated(report, "upload", listed.key, functools.partial(restart, listed.key, listed.size))
    return report


def reconcile(
    settings: Settings,
    store: ObjectStore,
    jobs: TranscribeJobs,
    *,
    now: datetime,
    time_is_up: TimeIsUp = _never,
) -> ReconcileReport:
    report = recover_jobs(settings, store, jobs, now=now, time_is_up=time_is_up)
    if report.stopped_early:
        return report
    return restart_uploads(settings, store, jobs, now=now, report=report, time_is_up=time_is_up)
