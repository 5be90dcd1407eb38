"""Amazon SQS: the upload queue between S3 and the start function.

Uploads wait here, durably, whenever Transcribe is at a quota: a message the start
function cannot handle yet is made invisible for a growing delay (its own visibility
timeout), and reaches the dead-letter queue only after the queue's maxReceiveCount.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import boto3

from transcription_pipeline.aws.errors import CLIENT_CONFIG

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient
    from mypy_boto3_sqs.type_defs import SendMessageBatchRequestEntryTypeDef

ORIGIN_ATTRIBUTE = "origin"  # a message attribute: who put the upload on the queue
SEND_BATCH_SIZE = 10  # SendMessageBatch takes at most 10 entries


MAX_DELAY_SECONDS = 900  # SendMessage's DelaySeconds


@dataclass(frozen=True)
class OutgoingMessage:
    entry_id: str  # unique within one batch: [A-Za-z0-9_-]{1,80}
    body: str
    origin: str
    delay_seconds: int = 0  # invisible this long after sending (at most 15 minutes)


class UploadQueue:
    def __init__(self, queue_url: str, client: SQSClient | None = None) -> None:
        self.queue_url = queue_url
        self._sqs: SQSClient = client or boto3.client("sqs", config=CLIENT_CONFIG)

    def retry_later(self, receipt_handle: str, delay_seconds: int) -> None:
        """Make a received message visible again in ``delay_seconds`` (SQS: at most 12 h)."""
        self._sqs.change_message_visibility(
            QueueUrl=self.queue_url,
            ReceiptHandle=receipt_handle,
            VisibilityTimeout=delay_seconds,
        )

    def send(self, messages: Sequence[OutgoingMessage]) -> dict[str, str]:
        """Send up to 10 messages in one request; returns entry id -> why SQS refused it."""
        if len(messages) > SEND_BATCH_SIZE:
            raise ValueError(f"at most {SEND_BATCH_SIZE} messages per batch")
        if not messages:
            return {}
        entries: list[SendMessageBatchRequestEntryTypeDef] = [
            {
                "Id": message.entry_id,
                "MessageBody": message.body,
                "MessageAttributes": {
                    ORIGIN_ATTRIBUTE: {"DataType": "String", "StringValue": message.origin}
                },
                "DelaySeconds": min(message.delay_seconds, MAX_DELAY_SECONDS),
            }
            for message in messages
        ]
        response = self._sqs.send_message_batch(QueueUrl=self.queue_url, Entries=entries)
        return {
            failed["Id"]: f"{failed.get('Code', '')}: {failed.get('Message', '')}"
            for failed in response.get("Failed", [])
        }
