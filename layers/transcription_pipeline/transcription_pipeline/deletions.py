"""Use case: an upload was deleted; with DeleteFollowsSource, everything that names it goes.

Its outputs folder (the six outputs and error.json), the raw Transcribe output of each of
its jobs (``_transcribe/<job>.json`` and ``redacted-<job>.json``), the jobs' records in
Transcribe (their names hold the file name), its in-flight items and its options sidecar.

The jobs are found three ways, since no one place knows them all: the final record's
metadata, the in-flight table (a Query of the key's partition), and Transcribe's own list
of jobs whose name starts with this key's job-name start, each checked by its media URI
(older uploads under the same key had jobs whose records are gone). A job still queued or
running is left alone with its in-flight item: when it finishes, the process function (or
reconciliation) finds the source gone and removes what it left.

A removal record is only a hint: what counts is whether an object is under the key now.
If one is (the key was uploaded again, or in a versioned bucket a non-current version was
deleted and the current one remains), nothing is deleted — its outputs answer an object
that exists. A delete marker hides the object, so it is a deletion.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from transcription_pipeline.aws import InFlightJobs, ObjectStore, TranscribeJobs
from transcription_pipeline.config import Settings
from transcription_pipeline.file_options import sidecar_of
from transcription_pipeline.naming import (
    ERROR_RECORD,
    MAX_S3_KEY_BYTES,
    OUTPUT_FILES,
    S3Location,
    job_name_start,
    output_key,
    raw_output_keys,
)
from transcription_pipeline.publish import JOB_METADATA, final_record_metadata, translation_keys

RUNNING = frozenset({"QUEUED", "IN_PROGRESS"})


class DeleteOutcome(enum.StrEnum):
    DELETED = "deleted"  # everything that named the key is gone (running jobs excepted)
    KEPT = "kept"  # an object is under the key now: its outputs stay
    IGNORED = "ignored"  # DeleteFollowsSource is off


@dataclass(frozen=True)
class DeleteResult:
    outcome: DeleteOutcome
    jobs_deleted: tuple[str, ...] = ()
    jobs_running: tuple[str, ...] = ()  # cleaned up when they finish


def jobs_of_source(
    source: S3Location, settings: Settings, jobs: TranscribeJobs, known: set[str]
) -> dict[str, str | None]:
    """Every job of ``source`` Transcribe still knows, plus ``known``: name -> status
    (None: Transcribe no longer knows it)."""
    found: dict[str, str | None] = {}
    start = job_name_start(settings.job_name_prefix, source)
    listed = [name for name in jobs.names_containing(start) if name.startswith(start)]
    for name in sorted(known | set(listed)):
        job = jobs.get(name)
        if job is None:
            if name in known:
                found[name] = None
            continue
        # Another key with the same file name has jobs with the same start: not ours.
        if job.media_uri == source.uri:
            found[name] = job.status
    return found


def remove_job_traces(
    source_key: str,
    job_name: str,
    settings: Settings,
    store: ObjectStore,
    jobs: TranscribeJobs,
    in_flight: InFlightJobs,
) -> None:
    """A finished job of a deleted upload: its raw output, its record and its item."""
    store.delete(settings.output_bucket, raw_output_keys(settings.raw_output_prefix, job_name))
    jobs.delete(job_name)
    in_flight.remove(source_key, job_name)


def follow_deleted_source(
    source_key: str,
    settings: Settings,
    store: ObjectStore,
    jobs: TranscribeJobs,
    in_flight: InFlightJobs,
) -> DeleteResult:
    """Delete what names a deleted upload; idempotent, so a retry finishes the work."""
    if not settings.delete_follows_source:
        return DeleteResult(DeleteOutcome.IGNORED)
    source = S3Location(settings.input_bucket, source_key)
    if store.head(source) is not None:
        return DeleteResult(DeleteOutcome.KEPT)
    known = {item.job_name for item in in_flight.of_source(source_key)}
    recorded = final_record_metadata(store, settings.output_bucket, source_key).get(JOB_METADATA)
    if recorded:
        known.add(recorded)
    deleted, running = [], []
    for name, status in jobs_of_source(source, settings, jobs, known).items():
        if status in RUNNING:
            running.append(name)
            continue
        remove_job_traces(source_key, name, settings, store, jobs, in_flight)
        deleted.append(name)
    # The outputs after the jobs: until the record goes, a retry still finds its job.
    names = [*OUTPUT_FILES, ERROR_RECORD]
    store.delete(
        settings.output_bucket,
        [
            *(output_key(source_key, name) for name in names),
            *translation_keys(store, settings.output_bucket, source_key),
        ],
    )
    sidecar = sidecar_of(source)
    if len(sidecar.key.encode("utf-8")) <= MAX_S3_KEY_BYTES:
        store.delete(sidecar.bucket, [sidecar.key])
    return DeleteResult(DeleteOutcome.DELETED, tuple(deleted), tuple(running))
