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

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from transcription_pipeline.aws import ObjectStore, TranscribeJobs
from transcription_pipeline.config import Settings
from transcription_pipeline.naming import S3Location, job_name_for, parse_s3_uri
from transcription_pipeline.process import process_job
from transcription_pipeline.publish import (
    JOB_METADATA,
    REVISION_METADATA,
    final_record_metadata,
)
from transcription_pipeline.start import Upload, should_skip, start_transcription


@dataclass
class ReconcileReport:
    jobs_checked: int = 0
    jobs_answered: int = 0  # already had their final record
    jobs_recovered: Counter[str] = field(default_factory=Counter)  # process outcome -> count
    uploads_checked: int = 0
    uploads_in_flight: int = 0  # too young, or their job exists
    uploads_answered: int = 0
    uploads_restarted: Counter[str] = field(default_factory=Counter)  # start outcome -> count

    def as_dict(self) -> dict[str, int]:
        flat = {
            "jobs_checked": self.jobs_checked,
            "jobs_answered": self.jobs_answered,
            "uploads_checked": self.uploads_checked,
            "uploads_in_flight": self.uploads_in_flight,
            "uploads_answered": self.uploads_answered,
        }
        flat.update({f"jobs_{k}": v for k, v in self.jobs_recovered.items()})
        flat.update({f"uploads_{k}": v for k, v in self.uploads_restarted.items()})
        return flat


def recover_jobs(
    settings: Settings, store: ObjectStore, jobs: TranscribeJobs, *, now: datetime
) -> ReconcileReport:
    """Part 1: finished jobs whose completion event never produced a record."""
    report = ReconcileReport()
    since = now - timedelta(hours=settings.reconcile_lookback_hours)
    for name in jobs.finished_since(settings.job_name_prefix, since):
        report.jobs_checked += 1
        job = jobs.get(name)
        if job is None or not job.media_uri:
            continue
        source_key = parse_s3_uri(job.media_uri).key
        recorded = final_record_metadata(store, settings.output_bucket, source_key)
        if recorded.get(JOB_METADATA) == name:
            report.jobs_answered += 1
            continue
        result = process_job(name, settings, store, jobs, event_time=now.isoformat())
        report.jobs_recovered[str(result.outcome)] += 1
    return report


def restart_uploads(
    settings: Settings,
    store: ObjectStore,
    jobs: TranscribeJobs,
    *,
    now: datetime,
    report: ReconcileReport | None = None,
) -> ReconcileReport:
    """Part 2: uploads old enough to have a job that have neither a job nor a record."""
    report = report or ReconcileReport()
    youngest = now - timedelta(minutes=settings.reconcile_min_age_minutes)
    oldest = now - timedelta(hours=settings.reconcile_lookback_hours)
    for listed in store.list_objects(settings.input_bucket):
        if should_skip(listed.key) or not oldest <= listed.last_modified <= youngest:
            continue
        report.uploads_checked += 1
        source = S3Location(settings.input_bucket, listed.key)
        head = store.head(source)  # the versionId, when the bucket keeps versions
        if head is None:
            continue
        recorded = final_record_metadata(store, settings.output_bucket, listed.key)
        if recorded.get(REVISION_METADATA) == head.revision:
            report.uploads_answered += 1
            continue
        if jobs.get(job_name_for(settings.job_name_prefix, source, head.revision)) is not None:
            report.uploads_in_flight += 1  # a finished one is part 1's business
            continue
        upload = Upload(
            bucket=source.bucket,
            key=source.key,
            size=listed.size,
            etag=head.etag,
            version_id=head.version_id,
            event_time=now.isoformat(),
        )
        result = start_transcription(upload, settings, store, jobs)
        report.uploads_restarted[str(result.outcome)] += 1
    return report


def reconcile(
    settings: Settings, store: ObjectStore, jobs: TranscribeJobs, *, now: datetime
) -> ReconcileReport:
    report = recover_jobs(settings, store, jobs, now=now)
    return restart_uploads(settings, store, jobs, now=now, report=report)
