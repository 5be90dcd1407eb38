"""Two shortcuts, so that millions of repeated attempts run in minutes: both do the same
requests, in the same order, with the same results as the real code, and skip only
computation whose result is already known. tests/benchmark/test_volumes.py checks that a
run with them and a run without them report exactly the same.

1. The media check of an object is computed once per (key, size) and then replayed: the
   same ranged reads through the use case's own reader (each GET made, counted and
   timed; a vanished object still raises ObjectGone), the same verdict. Sniffing is a
   pure function of the key, the size and the bytes, and no object is overwritten here.

2. An attempt that Transcribe refused at a quota is replayed. While Transcribe's queue is
   full, every message in the upload queue comes back about hourly, and every time
   ``start_transcription`` reads the object's first bytes, HEADs the final records
   (backfill), looks for an options sidecar, derives the revision, the options, the job
   name and the request, and asks Transcribe, which refuses. After one such real
   attempt, a later attempt of the same upload is replayed when nothing it read has
   changed (checked without a request): the same reads, HEADs and GETs through the same
   adapters, the same StartTranscriptionJob request (botocore's retries and Transcribe's
   answer are live). Refused: it raises CapacityExceeded, as the real code. Accepted: it
   does what ``start_transcription`` does after a started job (the in-flight item, the
   result). Everything around it, ``start_queued_uploads`` (parsing, the batch, the
   deferrals), runs unchanged.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import transcription_pipeline.start as start_module
from bench.volumes.adapters import SimObjectStore
from transcription_pipeline.aws import (
    Announcer,
    CapacityExceeded,
    InFlightJob,
    InFlightJobs,
    ObjectGone,
    ObjectHead,
    ObjectStore,
    RangeRead,
    TranscribeJobs,
)
from transcription_pipeline.config import Settings
from transcription_pipeline.events import Upload
from transcription_pipeline.media import MediaCheck, RangeReader, check_media
from transcription_pipeline.naming import S3Location, revision_of
from transcription_pipeline.start import (
    IN_FLIGHT_DAYS,
    StartOutcome,
    StartResult,
    start_transcription,
)

_Read = tuple[S3Location, int, int, str | None, str | None]  # location, offset, length, ...
# ("range", _Read, (length, Last-Modified)) | ("head", location, ObjectHead or None)
# | ("get", location, its size, or None: it was not there)
_Call = tuple[str, Any, Any]


class ReplayedMediaCheck:
    def __init__(self) -> None:
        self.verdicts: dict[tuple[str, int], tuple[tuple[tuple[int, int], ...], MediaCheck]] = {}
        self.computed = 0
        self.replayed = 0

    def __call__(self, key: str, size: int, read: RangeReader) -> MediaCheck:
        known = self.verdicts.get((key, size))
        if known is not None:
            self.replayed += 1
            reads, verdict = known
            for offset, length in reads:
                read(offset, length)
            return verdict
        made: list[tuple[int, int]] = []

        def recording(offset: int, length: int) -> bytes:
            made.append((offset, length))
            return read(offset, length)

        verdict = check_media(key, size, recording)
        self.verdicts[(key, size)] = (tuple(made), verdict)
        self.computed += 1
        return verdict


class _RecordingStore(ObjectStore):
    """The store, with every read of one attempt noted (writes pass through)."""

    def __init__(self, store: ObjectStore) -> None:  # no boto3 client
        self._store = store
        self.calls: list[_Call] = []

    @property
    def bytes_read(self) -> int:
        return self._store.bytes_read

    @bytes_read.setter
    def bytes_read(self, value: int) -> None:
        self._store.bytes_read = value

    def read_range(
        self,
        location: S3Location,
        offset: int,
        length: int,
        *,
        version_id: str | None = None,
        etag: str | None = None,
    ) -> RangeRead:
        chunk = self._store.read_range(location, offset, length, version_id=version_id, etag=etag)
        read: _Read = (location, offset, length, version_id, etag)
        self.calls.append(("range", read, (len(chunk.data), chunk.last_modified)))
        return chunk

    def head(self, location: S3Location) -> ObjectHead | None:
        head = self._store.head(location)
        self.calls.append(("head", location, head))
        return head

    def read_all(self, location: S3Location) -> bytes:
        try:
            body = self._store.read_all(location)
        except ObjectGone:
            self.calls.append(("get", location, None))
            raise
        self.calls.append(("get", location, len(body)))
        return body

    def put(
        self, location: S3Location, body: bytes, metadata: Mapping[str, str] | None = None
    ) -> None:
        self._store.put(location, body, metadata)

    def delete(self, bucket: str, keys: Iterable[str]) -> None:
        self._store.delete(bucket, keys)


class _RecordingJobs(TranscribeJobs):
    def __init__(self, jobs: TranscribeJobs) -> None:  # no boto3 client
        self._jobs = jobs
        self.request: Mapping[str, Any] | None = None

    def start(self, request: Mapping[str, Any]) -> bool:
        self.request = request
        return self._jobs.start(request)


@dataclass(frozen=True)
class _Refused:
    calls: tuple[_Call, ...]
    request: Mapping[str, Any]
    revision: str
    check: MediaCheck
    bytes_read: int


class ReplayedRefusals:
    def __init__(self, media: ReplayedMediaCheck) -> None:
        self.media = media
        self.refused: dict[tuple[Any, ...], _Refused] = {}
        self.real_attempts = 0
        self.replayed = 0

    def __call__(
        self,
        upload: Upload,
        settings: Settings,
        store: ObjectStore,
        jobs: TranscribeJobs,
        in_flight: InFlightJobs,
        announcer: Announcer,
        *,
        now: datetime,
    ) -> StartResult:
        key = (upload.bucket, upload.key, upload.size, upload.etag, upload.version_id)
        key_with_origin = (*key, str(upload.origin))
        known = self.refused.get(key_with_origin)
        if known is not None and isinstance(store, SimObjectStore) and _unchanged(store, known):
            return self._replay(known, key_with_origin, upload, store, jobs, in_flight, now)
        self.refused.pop(key_with_origin, None)
        self.real_attempts += 1
        recording_store, recording_jobs = _RecordingStore(store), _RecordingJobs(jobs)
        before = store.bytes_read
        try:
            return start_transcription(
                upload, settings, recording_store, recording_jobs, in_flight, announcer, now=now
            )
        except CapacityExceeded:
            self._remember(key_with_origin, upload, recording_store, recording_jobs, before)
            raise

    def _remember(
        self,
        key: tuple[Any, ...],
        upload: Upload,
        store: _RecordingStore,
        jobs: _RecordingJobs,
        before: int,
    ) -> None:
        reads = [result for kind, _, result in store.calls if kind == "range"]
        verdict = self.media.verdicts.get((upload.key, upload.size))
        if jobs.request is None or not reads or verdict is None:
            return  # not the attempt understood here: never replayed
        # As start_transcription derives it: from the Last-Modified of the version read.
        revision = revision_of(upload.etag, upload.version_id, reads[-1][1])
        self.refused[key] = _Refused(
            tuple(store.calls), jobs.request, revision, verdict[1], store.bytes_read - before
        )

    def _replay(
        self,
        known: _Refused,
        key: tuple[Any, ...],
        upload: Upload,
        store: ObjectStore,
        jobs: TranscribeJobs,
        in_flight: InFlightJobs,
        now: datetime,
    ) -> StartResult:
        self.replayed += 1
        for kind, what, result in known.calls:
            if kind == "range":
                location, offset, length, version_id, etag = what
                store.read_range(location, offset, length, version_id=version_id, etag=etag)
            elif kind == "head":
                store.head(what)
            elif result is None:  # a GET that found nothing: no options sidecar
                with contextlib.suppress(ObjectGone):
                    store.read_all(what)
            else:
                store.read_all(what)
        started = jobs.start(known.request)  # CapacityExceeded again: raised as the real code
        # Accepted: the rest of start_transcription after jobs.start.
        del self.refused[key]
        job_name = str(known.request["TranscriptionJobName"])
        in_flight.add(
            InFlightJob(upload.key, job_name, known.revision, started_at=now),
            expires_at=now + timedelta(days=IN_FLIGHT_DAYS),
        )
        outcome = StartOutcome.STARTED if started else StartOutcome.ALREADY_STARTED
        return StartResult(outcome, job_name, known.check, known.bytes_read)


def _unchanged(store: SimObjectStore, known: _Refused) -> bool:
    """Would every read of the refused attempt answer the same now? (No request.)"""
    for kind, what, result in known.calls:
        if kind == "range":
            location, _, _, _, etag = what
            stored = store.peek(location)
            if stored is None or (etag and stored.etag != etag.strip('"')):
                return False
            if stored.last_modified != result[1]:
                return False
        elif kind == "head":
            if store.peek_head(what) != result:
                return False
        else:
            stored = store.peek(what)
            if (None if stored is None else stored.size) != result:
                return False
    return True


@dataclass
class Shortcuts:
    media: ReplayedMediaCheck
    refusals: ReplayedRefusals

    def counts(self) -> dict[str, int]:
        return {
            "media checks computed": self.media.computed,
            "media checks replayed": self.media.replayed,
            "start attempts run": self.refusals.real_attempts,
            "start attempts replayed": self.refusals.replayed,
        }


@contextmanager
def shortcuts() -> Iterator[Shortcuts]:
    """Both shortcuts in place of ``start.check_media`` and ``start.start_transcription``
    for the duration of a run, then the real functions back."""
    namespace = vars(start_module)
    if namespace["check_media"] is not check_media:
        raise RuntimeError("start.check_media is not media.check_media: the memo is stale")
    media = ReplayedMediaCheck()
    refusals = ReplayedRefusals(media)
    namespace["check_media"] = media
    namespace["start_transcription"] = refusals
    try:
        yield Shortcuts(media, refusals)
    finally:
        namespace["check_media"] = check_media
        namespace["start_transcription"] = start_transcription
