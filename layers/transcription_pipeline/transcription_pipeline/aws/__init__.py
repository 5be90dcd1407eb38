"""The only package that talks to AWS: each service behind a few small methods.

Clients honour ``AWS_ENDPOINT_URL`` (boto3 reads it), so the same code runs against
moto locally; nothing here names an endpoint. Throttling and 5xx answers are retried
by botocore's standard retry mode and then raised; only answers that mean something to
the pipeline are translated (a missing object, a refused job, a quota).
Bedrock (``aws.bedrock``) and Translate (``aws.translate``) are imported where they are
used, so the functions that never call them do not load them.
"""

from transcription_pipeline.aws.dynamodb import InFlightJob, InFlightJobs
from transcription_pipeline.aws.eventbridge import Announcer, EmitFailed, RegenerateRequests
from transcription_pipeline.aws.s3 import (
    CONTENT_TYPES,
    ListedObject,
    ObjectGone,
    ObjectHead,
    ObjectStore,
    RangeRead,
)
from transcription_pipeline.aws.sqs import ORIGIN_ATTRIBUTE, OutgoingMessage, UploadQueue
from transcription_pipeline.aws.transcribe import (
    JOB_STATUSES,
    CapacityExceeded,
    JobRefused,
    TranscribeJobs,
    TranscriptionJob,
)

__all__ = [
    "CONTENT_TYPES",
    "JOB_STATUSES",
    "ORIGIN_ATTRIBUTE",
    "AmazonTranslator",
    "Announcer",
    "BedrockSummaryModel",
    "CapacityExceeded",
    "EmitFailed",
    "InFlightJob",
    "InFlightJobs",
    "JobRefused",
    "ListedObject",
    "ObjectGone",
    "ObjectHead",
    "ObjectStore",
    "OutgoingMessage",
    "RangeRead",
    "RegenerateRequests",
    "TranscribeJobs",
    "TranscriptionJob",
    "UploadQueue",
]
