"""Every number the simulation assumes, in one place: quotas, prices, latencies, media.

Quotas are the AWS defaults (per account and Region) from ../shared/REFERENCE.md and the
template; prices are public us-east-1 list prices (first tier, no free tier), checked
against the AWS pricing pages in 2025; latencies are stated assumptions for requests
from Lambda to a service in the same Region (typical medians, not measured here).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

# -- quotas and settings ----------------------------------------------------------------------


@dataclass(frozen=True)
class Quotas:
    """Transcribe's quotas, and the template's settings that shape throughput and cost
    (the defaults are template.yaml's as written; template.load reads the file itself)."""

    concurrent_jobs: int = 250  # Transcribe: concurrent batch jobs
    queued_jobs: int = 10_000  # Transcribe: jobs waiting with AllowDeferredExecution
    queued_share: float = 0.9  # queued jobs use at most 90 % of the concurrent quota
    # A request that may wait (AllowDeferredExecution) joins the back of a non-empty queue
    # even when fewer than 250 jobs run (FIFO). False: it runs at once whenever fewer than
    # 250 run, and only the queue is held to 90 %. The documentation does not say which;
    # True is the conservative reading.
    deferred_requests_queue_behind: bool = True
    start_per_second: int = 25  # StartTranscriptionJob
    get_per_second: int = 30  # GetTranscriptionJob
    list_per_second: int = 5  # ListTranscriptionJobs
    # template.yaml
    start_max_concurrency: int = 5  # the SQS event source's MaximumConcurrency
    sqs_batch_size: int = 10
    visibility_timeout: float = 360.0
    max_receive_count: int = 300
    retention_seconds: float = 14 * 86_400.0
    reconcile_interval: float = 15 * 60.0
    reconcile_timeout: float = 900.0
    reconcile_safety_margin: float = 60.0  # functions/reconcile/app.py SAFETY_MARGIN_SECONDS
    reconcile_min_age_minutes: int = 60
    process_retries: int = 2  # EventInvokeConfig.MaximumRetryAttempts
    process_max_event_age: float = 21_600.0  # EventInvokeConfig.MaximumEventAgeInSeconds
    start_timeout: float = 60.0
    process_timeout: float = 300.0
    start_memory_gb: float = 0.25
    process_memory_gb: float = 1.0
    reconcile_memory_gb: float = 1.0

    def scaled(self, factor: float) -> Quotas:
        """Transcribe's job quotas times ``factor`` (the request rates stay)."""
        return replace(
            self,
            concurrent_jobs=max(1, round(self.concurrent_jobs * factor)),
            queued_jobs=max(1, round(self.queued_jobs * factor)),
        )


# -- Lambda ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class FunctionSpec:
    name: str
    memory_gb: float  # the template's MemorySize
    timeout: float  # the template's Timeout
    overhead: float  # seconds of handler work per invocation (logging, metrics, parsing)
    log_bytes: int  # CloudWatch Logs bytes per invocation: START/END/REPORT, EMF, summary line


def function_specs(quotas: Quotas) -> tuple[FunctionSpec, FunctionSpec, FunctionSpec]:
    """The start, process and reconcile functions."""
    return (
        FunctionSpec(
            "StartTranscriptionFunction",
            quotas.start_memory_gb,
            quotas.start_timeout,
            0.005,
            2_000,
        ),
        FunctionSpec(
            "ProcessTranscriptFunction",
            quotas.process_memory_gb,
            quotas.process_timeout,
            0.010,
            2_200,
        ),
        FunctionSpec(
            "ReconcileFunction",
            quotas.reconcile_memory_gb,
            quotas.reconcile_timeout,
            0.010,
            2_500,
        ),
    )


START_SECONDS_PER_MESSAGE = 0.003  # parse, sniff and log one message at 256 MB (0.15 vCPU)
START_LOG_BYTES_PER_UPLOAD = 700  # the "upload handled" line
START_LOG_BYTES_PER_WARNING = 1_500  # a message put back for another reason than a quota
# Rendering a transcript: make bench measures 0.08 s of CPU per audio hour on one core of
# this machine; 1024 MB of Lambda is about 0.58 vCPU.
PROCESS_SECONDS_PER_AUDIO_HOUR = 0.14
COLD_START_SECONDS = 0.8  # INIT (imports, clients), billed
KEEP_WARM_SECONDS = 600.0  # an idle execution environment is reclaimed after this
SQS_LONG_POLL_SECONDS = 20.0  # the event source's empty receives while the queue is empty
# Tracing: Active samples by X-Ray's default rule: the first request each second, then 5 %.
X_RAY_SAMPLED_SHARE = 0.05

# -- latencies of one request, seconds ------------------------------------------------------------
LATENCY: dict[str, float] = {
    "S3 GetObject": 0.020,
    "S3 HeadObject": 0.012,
    "S3 PutObject": 0.025,
    "S3 DeleteObjects": 0.030,
    "S3 ListObjectsV2": 0.080,
    "SQS SendMessageBatch": 0.015,
    "SQS ChangeMessageVisibility": 0.008,
    "DynamoDB PutItem": 0.006,
    "DynamoDB DeleteItem": 0.006,
    "DynamoDB GetItem": 0.004,
    "DynamoDB Scan": 0.040,
    "EventBridge PutEvents": 0.015,
    "Transcribe StartTranscriptionJob": 0.080,
    "Transcribe GetTranscriptionJob": 0.040,
    "Transcribe ListTranscriptionJobs": 0.120,
}
S3_BYTES_PER_SECOND = 80e6  # one GET's transfer rate inside the Region
LAPTOP_LATENCY: dict[str, float] = {  # the backfill runs on a laptop, ~40 ms from the Region
    "S3 ListObjectsV2": 0.300,  # 1,000 keys a page
    "SQS SendMessageBatch": 0.040,  # 10 messages: ~250 messages a second, one request at a time
}
S3_NOTIFICATION_DELAY = 1.0  # upload -> message on the queue
EVENTBRIDGE_DELAY = 0.5  # job finished -> process function invoked
EVENTBRIDGE_LOSS = 0.001  # share of completion events never delivered (issue: 0.1 %)

# botocore "standard" retry mode (CLIENT_CONFIG: max_attempts 5): throttling answers are
# retried after rand(0, 1) * min(2 ** (attempt - 1), 20) s; each retry takes 5 tokens from
# a per-client quota of 500, given back on success (1 token back for a first-try success).
MAX_ATTEMPTS = 5
RETRY_QUOTA = 500
THROTTLING_RETRY_COST = 5

# -- prices, US dollars (us-east-1, public list prices) ------------------------------------------
PRICES: dict[str, tuple[float, str]] = {
    "S3 GET/HEAD": (0.0004 / 1_000, "per request (GET, HEAD)"),
    "S3 PUT/LIST/POST": (0.005 / 1_000, "per request (PUT, LIST, DeleteObjects as a POST)"),
    "SQS": (0.40 / 1_000_000, "per request of up to 64 KB, standard queue"),
    "DynamoDB write": (0.625 / 1_000_000, "per write request unit, on demand"),
    "DynamoDB read": (0.125 / 1_000_000, "per read request unit, on demand"),
    "Lambda requests": (0.20 / 1_000_000, "per invocation"),
    "Lambda compute": (0.0000133334, "per GB-second, arm64"),
    "CloudWatch Logs": (0.50 / 1024**3, "per byte ingested (standard class)"),
    "X-Ray": (5.00 / 1_000_000, "per trace recorded (default sampling: 1/s + 5 %)"),
    "EventBridge": (0.0, "AWS service events on the default bus and schedules are free"),
    "EventBridge PutEvents": (1.00 / 1_000_000, "per custom event (64 KB chunks)"),
    "Transcribe": (0.024 / 60, "per second of audio (batch, first tier)"),
}


# -- media ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class MediaKind:
    extension: str
    fixture: str  # tests/media file whose bytes start every object of this kind
    bytes_per_second: int  # sets the object's size from its length
    share: float


MEDIA_KINDS = (
    MediaKind("mp3", "tone.mp3", 16_000, 0.4),  # 128 kbit/s
    MediaKind("mp4", "tone.mp4", 160_000, 0.4),  # a talk recorded at ~1.25 Mbit/s
    MediaKind("wav", "tone.wav", 32_000, 0.2),  # 16 kHz, 16-bit mono
)
MEDIA_MINUTES = (5.0, 90.0)  # media length: uniform over this range
JOB_SHARE_OF_MEDIA = (0.1, 0.5)  # a job runs for this share of the media length, uniform
TRANSCRIPT_BYTES_PER_AUDIO_HOUR = 2_000_000  # Transcribe's JSON (make bench: 2.0 MB per hour)
