"""One scenario: its files, the pipeline wired to the simulated services, the run, the report."""

from __future__ import annotations

import json
import math
import random
import sys
import time
from collections import Counter
from collections.abc import Iterator, Mapping
from contextlib import nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote_plus

from bench.volumes.adapters import (
    SimAnnouncer,
    SimInFlightJobs,
    SimObjectStore,
    SimTranscribeJobs,
    SimUploadQueue,
)
from bench.volumes.lambdas import FunctionModel, SqsEventSource
from bench.volumes.memo import shortcuts
from bench.volumes.parameters import (
    EVENTBRIDGE_DELAY,
    EVENTBRIDGE_LOSS,
    JOB_SHARE_OF_MEDIA,
    LAPTOP_LATENCY,
    MEDIA_KINDS,
    MEDIA_MINUTES,
    PROCESS_SECONDS_PER_AUDIO_HOUR,
    S3_NOTIFICATION_DELAY,
    START_LOG_BYTES_PER_UPLOAD,
    START_LOG_BYTES_PER_WARNING,
    START_SECONDS_PER_MESSAGE,
    TRANSCRIPT_BYTES_PER_AUDIO_HOUR,
    MediaKind,
    Quotas,
    function_specs,
)
from bench.volumes.prices import Cost, cost_of
from bench.volumes.world import (
    Call,
    Job,
    Message,
    S3Service,
    SqsQueue,
    StoredObject,
    TranscribeService,
    World,
    moment,
)
from transcription_pipeline.aws import CapacityExceeded, OutgoingMessage
from transcription_pipeline.config import Settings, load_settings
from transcription_pipeline.events import Origin, Upload, s3_notification
from transcription_pipeline.media import MAX_PROBE_BYTES
from transcription_pipeline.naming import (
    ERROR_RECORD,
    SUMMARY_JSON,
    S3Location,
    job_name_for,
    output_folder,
    output_key,
    revision_of,
)
from transcription_pipeline.outputs import render_outputs
from transcription_pipeline.process import process_job
from transcription_pipeline.publish import REVISION_METADATA, publish_outputs, record_metadata
from transcription_pipeline.reconcile import LIST_REQUESTS_PER_SECOND, RateLimit, reconcile
from transcription_pipeline.start import start_queued_uploads
from transcription_pipeline.transcript import parse_transcript

REPO = Path(__file__).resolve().parents[2]
INPUT_BUCKET, OUTPUT_BUCKET = "sim-input", "sim-output"
QUEUE_URL = "https://sqs.us-east-1.amazonaws.com/111122223333/sim-upload-queue"
QUEUE_ARN = "arn:aws:sqs:us-east-1:111122223333:sim-upload-queue"
BURST_PREFIX, BACKFILL_PREFIX = "uploads/", "archive/"
DAY = 86_400.0
BACKFILL_SENDERS = 4  # operations/backfill.py DEFAULT_SENDERS
SEND_BATCH_SIZE = 10
PROGRESS_EVERY = 6 * 3600.0  # simulated seconds between progress lines (verbose)
# A transcript small enough that processing 100,000 of them takes seconds; the function's
# duration is modelled from the media length instead (parameters.py).
TINY_TRANSCRIPT = json.dumps(
    {
        "jobName": "sim",
        "accountId": "111122223333",
        "status": "COMPLETED",
        "results": {
            "transcripts": [{"transcript": "Hello world."}],
            "items": [
                {
                    "start_time": "0.0",
                    "end_time": "0.5",
                    "alternatives": [{"confidence": "0.99", "content": "Hello"}],
                    "type": "pronunciation",
                },
                {
                    "start_time": "0.6",
                    "end_time": "1.0",
                    "alternatives": [{"confidence": "0.98", "content": "world"}],
                    "type": "pronunciation",
                },
                {"alternatives": [{"confidence": "0.0", "content": "."}], "type": "punctuation"},
            ],
        },
    }
).encode()


@dataclass(frozen=True)
class Scenario:
    name: str
    burst: int = 0  # new uploads within ``burst_seconds``
    backfill: int = 0  # existing objects, all put on the queue by make backfill
    answered_share: float = 0.3  # of the backfill: their final record exists already
    burst_seconds: float = 60.0
    seed: int = 1


@dataclass(slots=True)
class File:
    key: str
    kind: MediaKind
    media_seconds: float
    job_seconds: float
    size: int
    etag: str
    uploaded: float  # seconds from the scenario's start (negative: before it)
    answered_before: bool
    revision: str = ""

    @property
    def location(self) -> S3Location:
        return S3Location(INPUT_BUCKET, self.key)


def make_files(scenario: Scenario) -> list[File]:
    rng = random.Random(scenario.seed)
    files: list[File] = []
    shares = [kind.share for kind in MEDIA_KINDS]

    def one(key_stem: str, uploaded: float, answered: bool) -> File:
        kind = rng.choices(MEDIA_KINDS, shares)[0]
        media = rng.uniform(*MEDIA_MINUTES) * 60
        return File(
            key=f"{key_stem}.{kind.extension}",
            kind=kind,
            media_seconds=media,
            job_seconds=media * rng.uniform(*JOB_SHARE_OF_MEDIA),
            size=int(media * kind.bytes_per_second),
            etag=f"{rng.getrandbits(128):032x}",
            uploaded=uploaded,
            answered_before=answered,
        )

    answered = set(
        rng.sample(range(scenario.backfill), round(scenario.backfill * scenario.answered_share))
    )
    for index in range(scenario.backfill):
        uploaded = -30 * DAY + index  # uploaded over the past weeks
        files.append(one(f"{BACKFILL_PREFIX}{index:06d}-recording", uploaded, index in answered))
    for index in range(scenario.burst):
        uploaded = rng.uniform(0, scenario.burst_seconds)
        files.append(one(f"{BURST_PREFIX}{index:06d}-talk", uploaded, False))
    return files


def quota_bound(files: list[File], concurrent: float, starts_per_second: float) -> float:
    """The earliest the last job could end, whatever the pipeline did (seconds from the
    scenario's start). Jobs run whole, at most ``concurrent`` at once, each from its upload
    (backfill: the start). Three bounds, the largest holds:

    - the latest ``upload + its job's duration``;
    - area: for every upload time u, the jobs uploaded at or after u need
      ``u + (their job-seconds) / concurrent``;
    - start rate: with at most ``rate`` starts in each whole second, the last of N jobs
      starts at floor((N - 1) / rate) at the earliest, and runs at least the shortest job.
    """
    jobs = sorted((max(f.uploaded, 0.0), f.job_seconds) for f in files if not f.answered_before)
    if not jobs:
        return 0.0
    latest = max(u + d for u, d in jobs)
    area = 0.0
    remaining = 0.0
    for u, d in reversed(jobs):
        remaining += d
        area = max(area, u + remaining / concurrent)
    rate = math.floor((len(jobs) - 1) / starts_per_second) + min(d for _, d in jobs)
    return max(latest, area, rate)


@dataclass
class Report:
    scenario: str
    files: int
    answered_before: int
    answered: int  # final record for the file's revision, at the end (those before included)
    dead_lettered: int
    lost: int
    wall_seconds: float
    bound_seconds: float  # at the concurrent-job quota
    bound_queued_seconds: float  # at the share queued jobs may use
    audio_hours: float  # transcribed in this run
    requests: dict[str, int]
    cost: Cost
    details: dict[str, Any] = field(default_factory=dict)
    cpu_seconds: float = 0.0

    @property
    def requests_per_file(self) -> float:
        return sum(self.requests.values()) / self.files

    @property
    def wall_ratio(self) -> float:
        return self.wall_seconds / self.bound_seconds if self.bound_seconds else math.nan

    @property
    def wall_ratio_queued(self) -> float:
        return self.wall_seconds / self.bound_queued_seconds if self.bound_seconds else math.nan

    def as_dict(self) -> dict[str, Any]:
        return {
            "scenario": self.scenario,
            "files": self.files,
            "answered_before": self.answered_before,
            "answered": self.answered,
            "dead_lettered": self.dead_lettered,
            "lost": self.lost,
            "wall_hours": self.wall_seconds / 3600,
            "bound_hours": self.bound_seconds / 3600,
            "bound_queued_hours": self.bound_queued_seconds / 3600,
            "wall_ratio": self.wall_ratio,
            "wall_ratio_queued": self.wall_ratio_queued,
            "audio_hours": self.audio_hours,
            "requests_per_file": self.requests_per_file,
            "requests": dict(sorted(self.requests.items())),
            "cost": self.cost.as_dict(),
            "details": self.details,
            "cpu_seconds": self.cpu_seconds,
        }


class Pipeline:
    """The deployed stack in one process: services, adapters, functions, schedules."""

    def __init__(
        self, scenario: Scenario, quotas: Quotas, environment: Mapping[str, str] | None = None
    ) -> None:
        self.scenario = scenario
        self.quotas = quotas
        self.world = world = World(scenario.seed)
        self.loss_rng = random.Random(scenario.seed * 31 + 7)
        # The functions' environment (template.yaml's, when given), with the simulation's
        # own names for the buckets, the queue, the table and the job names.
        self.settings: Settings = load_settings(
            {
                "TRANSCRIBE_DATA_ACCESS_ROLE_ARN": "arn:aws:iam::111122223333:role/sim-data",
                **(environment or {}),
                "INPUT_BUCKET": INPUT_BUCKET,
                "OUTPUT_BUCKET": OUTPUT_BUCKET,
                "JOB_NAME_PREFIX": "sim.",
                "UPLOAD_QUEUE_URL": QUEUE_URL,
                "IN_FLIGHT_TABLE": "sim-in-flight",
                "RECONCILE_MIN_AGE_MINUTES": str(quotas.reconcile_min_age_minutes),
            }
        )
        self.s3 = S3Service()
        self.sqs = SqsQueue(quotas)
        self.transcribe = TranscribeService(quotas, world.sim)
        self.transcribe.on_finish = self._transcript_written
        self.transcribe.announce = self._completion_event
        self.store = SimObjectStore(world, self.s3)
        self.store.on_final_record = self._final_record
        self.jobs = SimTranscribeJobs(world, self.transcribe, self._job_seconds)
        self.in_flight = SimInFlightJobs(world, self.settings.in_flight_table)
        self.queue = SimUploadQueue(world, self.sqs, QUEUE_URL)
        self.announcer = SimAnnouncer(world, self.settings.event_source)
        start, process, reconcile = function_specs(quotas)
        self.start_function = FunctionModel(world, start)
        self.process_function = FunctionModel(world, process)
        self.reconcile_function = FunctionModel(world, reconcile)
        self.event_source = SqsEventSource(
            world,
            self.sqs,
            self.start_function,
            self._start_batch,
            quotas.start_max_concurrency,
            quotas.sqs_batch_size,
        )
        self.files = make_files(scenario)
        self.by_key = {f.key: f for f in self.files}
        self.answered_at: dict[str, float] = {}
        self.outcomes: Counter[str] = Counter()
        self.pending_events = 0  # completion events and retries not yet handled
        self.failure_destination: list[str] = []  # process events that ran out of retries
        self.lost_events = 0
        self.reconciled: Counter[str] = Counter()
        self.feeding = 0  # sources still putting messages on the queue
        self.backfill_counts: Counter[str] = Counter()
        self.setting_up = True

    # -- the starting state --------------------------------------------------------------------
    def _put_media(self, file: File) -> None:
        header = _HEADERS.get(file.kind.fixture)
        if header is None:
            # The fixture, then zeros: a slice serves every read of the probe's budget.
            header = (REPO / "tests" / "media" / file.kind.fixture).read_bytes()
            header += bytes(2 * MAX_PROBE_BYTES)
            _HEADERS[file.kind.fixture] = header
        modified = moment(math.floor(file.uploaded))
        file.revision = revision_of(file.etag, None, modified)
        self.s3.bucket(INPUT_BUCKET)[file.key] = StoredObject(
            etag=file.etag,
            last_modified=modified,
            size=file.size,
            metadata={},
            head_bytes=header,
        )

    def set_up(self) -> None:
        """Objects in the input bucket, earlier answers in the output bucket (not billed)."""
        self.world.meter.counting = False
        raw = TINY_TRANSCRIPT
        rendered = None
        for file in self.files:
            self._put_media(file)
            if file.answered_before:
                if rendered is None:
                    rendered = render_outputs(
                        raw, parse_transcript(raw), file.location, "2026-01-01T00:00:00Z"
                    ).files
                job_name = job_name_for(self.settings.job_name_prefix, file.location, file.revision)
                metadata = record_metadata(file.revision, job_name)
                publish_outputs(self.store, OUTPUT_BUCKET, file.key, rendered, metadata)
        self.world.meter.counting = True
        self.setting_up = False
        sim = self.world.sim
        for file in self.files:
            if file.uploaded >= 0:
                self.feeding += 1
                sim.at(file.uploaded + S3_NOTIFICATION_DELAY, self._notifier(file))
        if self.scenario.backfill:
            self.feeding += 1
            sim.at(0.0, self._backfill())
        sim.at(self.quotas.reconcile_interval, self._reconcile)

    def _notifier(self, file: File) -> Any:
        def notify() -> None:
            upload = Upload(
                INPUT_BUCKET,
                file.key,
                file.size,
                file.etag,
                None,
                moment(file.uploaded).isoformat(),
            )
            self.world.meter.count("SQS SendMessage (by S3)")
            self.sqs.send(s3_notification(upload), None, self.world.sim.now)
            self.feeding -= 1

        return notify

    def _backfill(self) -> Any:
        """make backfill on a laptop, as operations/backfill.py does it: one listing of the
        output bucket's final records under the prefix, then the input listing; an object
        whose final record is newer than it is answered and not sent; the rest go on the
        queue as S3 notifications with origin=backfill, 10 a SendMessageBatch, 4 senders
        at once (a batch costs the laptop a quarter of a request's latency)."""
        laptop = Call(0.0, latency=LAPTOP_LATENCY)
        listing: Iterator[Any] | None = None
        records: dict[str, Any] = {}

        def step() -> None:
            nonlocal listing
            laptop.t = max(laptop.t, self.world.sim.now)
            self.world.call = laptop
            if listing is None:
                for listed in self.store.list_objects(OUTPUT_BUCKET, prefix=BACKFILL_PREFIX):
                    folder, _, name = listed.key.rpartition("/")
                    if name in (SUMMARY_JSON, ERROR_RECORD):
                        known = records.get(folder)
                        if known is None or listed.last_modified > known:
                            records[folder] = listed.last_modified
                listing = self.store.list_objects(INPUT_BUCKET, prefix=BACKFILL_PREFIX)
            batch: list[Any] = []
            for listed in listing:
                self.backfill_counts["listed"] += 1
                answer = records.get(output_folder(listed.key))
                if answer is not None and answer >= listed.last_modified:
                    self.backfill_counts["answered, not sent"] += 1
                    continue
                batch.append(listed)
                if len(batch) == SEND_BATCH_SIZE:
                    break
            if not batch:
                self.feeding -= 1
                return
            at = moment(laptop.t).isoformat()
            messages = [
                OutgoingMessage(
                    f"e{index}",
                    s3_notification(
                        Upload(INPUT_BUCKET, o.key, o.size, o.etag, None, at, Origin.BACKFILL)
                    ),
                    Origin.BACKFILL,
                )
                for index, o in enumerate(batch)
            ]
            before = laptop.t
            refused = self.queue.send(messages)
            laptop.t = before + (laptop.t - before) / BACKFILL_SENDERS
            if refused:
                raise RuntimeError(f"the queue refused backfill messages: {refused}")
            self.backfill_counts["sent"] += len(messages)
            self.world.sim.at(laptop.t, step)

        return step

    # -- services' hooks --------------------------------------------------------------------------
    def _job_seconds(self, media_uri: str) -> tuple[float, float]:
        file = self.by_key[media_uri.removeprefix(f"s3://{INPUT_BUCKET}/")]
        return file.job_seconds, file.media_seconds

    def _transcript_written(self, job: Job) -> None:
        """Transcribe writes its access-check file and the transcript (two PUTs, billed)."""
        assert job.ended is not None
        self.world.meter.count("S3 PutObject (by Transcribe)", 2)
        self.s3.bucket(job.output_bucket)[job.output_key] = StoredObject(
            etag=self.s3.next_etag(),
            last_modified=moment(math.floor(job.ended)),
            size=int(TRANSCRIPT_BYTES_PER_AUDIO_HOUR * job.media_seconds / 3600),
            metadata={},
            body=TINY_TRANSCRIPT,
        )

    def _completion_event(self, job: Job) -> None:
        self.world.meter.count("EventBridge event")
        if self.loss_rng.random() < EVENTBRIDGE_LOSS:
            self.lost_events += 1
            return
        assert job.ended is not None
        self._deliver(job, job.ended + EVENTBRIDGE_DELAY, first_at=job.ended, attempt=0)

    def _final_record(self, source_key: str, metadata: Mapping[str, str], t: float) -> None:
        if self.setting_up:
            return
        file = self.by_key.get(source_key)
        if file is not None and metadata.get(REVISION_METADATA) == file.revision:
            self.answered_at.setdefault(source_key, t)
            self.outcomes["final records written"] += 1

    # -- the functions ----------------------------------------------------------------------------
    def _start_batch(self, messages: list[Message], call: Call) -> tuple[list[str], int]:
        records = [m.record(QUEUE_ARN) for m in messages]
        try:
            batch = start_queued_uploads(
                records,
                self.settings,
                self.store,
                self.jobs,
                self.in_flight,
                self.queue,
                self.announcer,
                now=moment(call.t),
            )
        except Exception:  # noqa: BLE001 - the invocation failed: SQS delivers them again
            self.start_function.stats.errors += 1
            return [], 0
        call.t += START_SECONDS_PER_MESSAGE * len(messages)
        deferred = {d.message_id for d in batch.deferred}
        log_bytes = START_LOG_BYTES_PER_UPLOAD * len(batch.handled)
        for handled in batch.handled:
            self.outcomes[f"start: {handled.result.outcome}"] += 1
        for d in batch.deferred:
            quota = d.error is None or isinstance(d.error, CapacityExceeded)
            self.outcomes["start: deferred at a quota" if quota else "start: deferred, error"] += 1
            log_bytes += 0 if quota else START_LOG_BYTES_PER_WARNING
        self.outcomes["start: unreadable"] += len(batch.unreadable)
        return [m.receipt for m in messages if m.message_id not in deferred], log_bytes

    def _deliver(self, job: Job, at: float, first_at: float, attempt: int) -> None:
        """EventBridge -> the process function, invoked asynchronously (2 retries, 6 h)."""
        self.pending_events += 1
        self.world.sim.at(at, lambda: self._process(job, first_at, attempt))

    def _process(self, job: Job, first_at: float, attempt: int) -> None:
        self.pending_events -= 1
        function = self.process_function
        container, call, started = function.begin(self.world.sim.now)
        failed = False
        try:
            assert job.ended is not None
            result = process_job(
                job.name,
                self.settings,
                self.store,
                self.jobs,
                self.in_flight,
                self.announcer,
                event_time=moment(job.ended).isoformat(),
            )
            call.t += PROCESS_SECONDS_PER_AUDIO_HOUR * job.media_seconds / 3600
            self.outcomes[f"process: {result.outcome}"] += 1
        except Exception:  # noqa: BLE001 - Lambda retries the event
            failed = True
        ended = function.end(container, call, started, 0)
        if failed or call.t > ended:
            function.stats.errors += 1
            retry_at = ended + 60.0 * (attempt + 1)
            if attempt < self.quotas.process_retries and (
                retry_at - first_at <= self.quotas.process_max_event_age
            ):
                self._deliver(job, retry_at, first_at, attempt + 1)
            else:
                self.failure_destination.append(job.name)

    def _reconcile(self) -> None:
        function = self.reconcile_function
        container, call, started = function.begin(self.world.sim.now)
        deadline = started + self.quotas.reconcile_timeout - self.quotas.reconcile_safety_margin

        def sleep(seconds: float) -> None:
            call.t += seconds

        report = reconcile(
            self.settings,
            self.store,
            self.jobs,
            self.in_flight,
            self.queue,
            self.announcer,
            now=moment(call.t),
            time_is_up=lambda: call.t > deadline,
            before_list_request=RateLimit(
                LIST_REQUESTS_PER_SECOND, clock=lambda: call.t, sleep=sleep
            ),
        )
        self.reconciled["runs"] += 1
        self.reconciled["recovered"] += sum(report.jobs_recovered.values())
        self.reconciled["answered already"] += report.jobs_answered
        self.reconciled["requeued"] += report.uploads_requeued
        self.reconciled["dropped"] += report.items_dropped
        self.reconciled["item failures"] += len(report.failures)
        self.reconciled["stopped early"] += int(report.stopped_early)
        self.reconciled["list requests"] += report.list_requests
        function.end(container, call, started, 400 * len(report.failures))
        if not self.quiet():
            self.world.sim.at(self.world.sim.now + self.quotas.reconcile_interval, self._reconcile)

    # -- the run ----------------------------------------------------------------------------------
    def quiet(self) -> bool:
        """Nothing left that could still answer a file."""
        return (
            self.feeding == 0
            and not self.sqs.messages
            and self.transcribe.idle
            and self.pending_events == 0
            and not self.in_flight.items
            and not self.event_source.busy
        )

    def run(
        self, limit_days: float = 30.0, use_shortcuts: bool = True, verbose: bool = False
    ) -> Report:
        started = time.process_time()
        self.set_up()
        sim = self.world.sim
        if verbose:
            sim.at(PROGRESS_EVERY, lambda: self._progress(started))
        with shortcuts() if use_shortcuts else nullcontext() as replay:
            sim.run(self.quiet, limit_days * DAY)
        if replay is not None:
            self.outcomes.update(replay.counts())
        self.event_source.stop(sim.now)
        return self._report(time.process_time() - started)

    def _progress(self, started: float) -> None:
        sim = self.world.sim
        print(
            f"  {self.scenario.name}: {sim.now / 3600:.0f} h simulated, "
            f"{len(self.answered_at):,} answered, {len(self.sqs.messages):,} messages "
            f"waiting, {len(self.transcribe.queue):,} jobs queued, "
            f"{len(self.sqs.dead_letters):,} dead letters; "
            f"{time.process_time() - started:.0f} s CPU",
            file=sys.stderr,
            flush=True,
        )
        if not self.quiet():
            sim.at(sim.now + PROGRESS_EVERY, lambda: self._progress(started))

    def _report(self, cpu_seconds: float) -> Report:
        outputs = self.s3.bucket(OUTPUT_BUCKET)
        unanswered = set()
        for file in self.files:
            record = outputs.get(output_key(file.key, SUMMARY_JSON)) or outputs.get(
                output_key(file.key, ERROR_RECORD)
            )
            if record is None or record.metadata.get(REVISION_METADATA) != file.revision:
                unanswered.add(file.key)
        answered = len(self.files) - len(unanswered)
        dead_keys = {_key_of(m.body) for m in self.sqs.dead_letters}
        dead = len(unanswered & dead_keys)
        # Dead letters of files answered all the same (by a copy of their message)
        dead_but_answered = len(dead_keys - unanswered)
        jobs = [f for f in self.files if not f.answered_before]
        answered_jobs = [f for f in jobs if f.key not in unanswered]
        audio_seconds = sum(job.media_seconds for job in self.transcribe.jobs.values())
        requests = dict(self.world.meter.requests)
        wall = max(self.answered_at.values(), default=0.0)
        quotas = self.quotas
        details: dict[str, Any] = {
            "simulated_until_hours": self.world.sim.now / 3600,
            "events": self.world.sim.events,
            "outcomes": dict(sorted(self.outcomes.items())),
            "refused_attempts": dict(self.world.meter.refused),
            "completion_events_lost": self.lost_events,
            "process_failure_destination": len(self.failure_destination),
            "reconcile": dict(self.reconciled),
            "upload_queue": {
                "receives": self.sqs.receives,
                "max_receive_count": self.sqs.max_seen_receive_count,
                "dead_letters": len(self.sqs.dead_letters),
                "dead_letters_of_answered_files": dead_but_answered,
                "expired": len(self.sqs.expired),
            },
            "transcribe": {
                "jobs": len(self.transcribe.jobs),
                "started_at_once": self.transcribe.stats.started_at_once,
                "queued": self.transcribe.stats.queued,
                "peak_queue": self.transcribe.stats.peak_queue,
                "peak_running": self.transcribe.stats.peak_running,
                "refused_queue_full": self.transcribe.stats.refused_queue_full,
                "throttled": self.transcribe.stats.throttled,
                "mean_running": self.transcribe.stats.busy_seconds / wall if wall else 0.0,
            },
            # The bound for the files answered in this run only: when some are not, the
            # wall time did not include their jobs.
            "bound_answered_hours": quota_bound(
                answered_jobs, quotas.concurrent_jobs, quotas.start_per_second
            )
            / 3600,
            # Reconciliation runs at once on its own clock, so it may reach a job that ends
            # during its run before the job's event does; both write the same record.
            "final_records_written_twice": self.outcomes["final records written"]
            - len(answered_jobs),
            "in_flight_peak": self.in_flight.peak,
            "completion_events_emitted": dict(self.announcer.emitted),
            "backfill": dict(self.backfill_counts),
            "functions": {
                f.spec.name: vars(f.stats)
                for f in (self.start_function, self.process_function, self.reconcile_function)
            },
            "quotas": vars(quotas),
        }
        return Report(
            scenario=self.scenario.name,
            files=len(self.files),
            answered_before=sum(f.answered_before for f in self.files),
            answered=answered,
            dead_lettered=dead,
            lost=len(self.files) - answered - dead,
            wall_seconds=wall,
            bound_seconds=quota_bound(jobs, quotas.concurrent_jobs, quotas.start_per_second),
            bound_queued_seconds=quota_bound(
                jobs, self.transcribe.queue_limit, quotas.start_per_second
            ),
            audio_hours=audio_seconds / 3600,
            requests=requests,
            cost=cost_of(self.world.meter, requests, audio_seconds),
            details=details,
            cpu_seconds=cpu_seconds,
        )


_HEADERS: dict[str, bytes] = {}


def _key_of(body: str) -> str:
    record = json.loads(body)["Records"][0]
    return unquote_plus(record["s3"]["object"]["key"])


def run_scenario(
    scenario: Scenario,
    quotas: Quotas | None = None,
    *,
    environment: Mapping[str, str] | None = None,
    use_shortcuts: bool = True,
    verbose: bool = False,
) -> Report:
    pipeline = Pipeline(scenario, quotas or Quotas(), environment)
    return pipeline.run(use_shortcuts=use_shortcuts, verbose=verbose)
