"""Amazon DynamoDB: the in-flight table, one item per started job until its answer exists.

Reconciliation reads this table instead of the input bucket, so its cost grows with the
work in flight, not with the bucket. The start function adds an item after starting a
job; publishing the job's final record removes it; TTL removes what is left after
``expires_at`` (longer than a job can wait in Transcribe's queue).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import boto3

from transcription_pipeline.aws.errors import CLIENT_CONFIG

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

# Partition and sort key of the item where reconciliation keeps its place between runs.
_CHECKPOINT_KEY = {"source_key": {"S": "#reconcile"}, "job_name": {"S": "#checkpoint"}}


@dataclass(frozen=True)
class InFlightJob:
    source_key: str
    job_name: str
    revision: str
    started_at: datetime

    @property
    def position(self) -> str:
        """Where this item sorts in a run: reconciliation resumes after a checkpoint."""
        return f"{self.source_key}\0{self.job_name}"


def _epoch(moment: datetime) -> int:
    return int(moment.timestamp())


class InFlightJobs:
    def __init__(self, table_name: str, client: DynamoDBClient | None = None) -> None:
        self.table_name = table_name
        self._dynamodb: DynamoDBClient = client or boto3.client("dynamodb", config=CLIENT_CONFIG)

    def add(self, job: InFlightJob, expires_at: datetime) -> None:
        """Record a started job (a repeated add for the same job overwrites, harmlessly)."""
        self._dynamodb.put_item(
            TableName=self.table_name,
            Item={
                "source_key": {"S": job.source_key},
                "job_name": {"S": job.job_name},
                "revision": {"S": job.revision},
                "started_at": {"N": str(_epoch(job.started_at))},
                "expires_at": {"N": str(_epoch(expires_at))},
            },
        )

    def remove(self, source_key: str, job_name: str) -> None:
        """The job has its answer (absent items are not an error)."""
        self._dynamodb.delete_item(
            TableName=self.table_name,
            Key={"source_key": {"S": source_key}, "job_name": {"S": job_name}},
        )

    def of_source(self, source_key: str) -> list[InFlightJob]:
        """The items of one upload (its partition), with one Query per 1 MB page."""
        request: dict[str, Any] = {
            "TableName": self.table_name,
            "KeyConditionExpression": "source_key = :key",
            "ExpressionAttributeValues": {":key": {"S": source_key}},
            "ConsistentRead": True,
        }
        jobs: list[InFlightJob] = []
        while True:
            page = self._dynamodb.query(**request)
            jobs += [
                InFlightJob(
                    source_key=item["source_key"]["S"],
                    job_name=item["job_name"]["S"],
                    revision=item.get("revision", {}).get("S", ""),
                    started_at=datetime.fromtimestamp(int(item["started_at"]["N"]), UTC),
                )
                for item in page.get("Items", [])
            ]
            last_key = page.get("LastEvaluatedKey")
            if not last_key:
                return jobs
            request["ExclusiveStartKey"] = last_key

    def all(self) -> Iterator[InFlightJob]:
        """Every item, page by page (1 MB a page): as many reads as there are jobs in flight."""
        request: dict[str, Any] = {"TableName": self.table_name}
        while True:
            page = self._dynamodb.scan(**request)
            for item in page.get("Items", []):
                if item["source_key"]["S"] == _CHECKPOINT_KEY["source_key"]["S"]:
                    continue
                yield InFlightJob(
                    source_key=item["source_key"]["S"],
                    job_name=item["job_name"]["S"],
                    revision=item.get("revision", {}).get("S", ""),
                    started_at=datetime.fromtimestamp(int(item["started_at"]["N"]), UTC),
                )
            last_key = page.get("LastEvaluatedKey")
            if not last_key:
                return
            request["ExclusiveStartKey"] = last_key

    def checkpoint(self) -> str:
        """The position reconciliation stopped at last time ("" when it finished)."""
        item = self._dynamodb.get_item(
            TableName=self.table_name, Key=_CHECKPOINT_KEY, ConsistentRead=True
        ).get("Item", {})
        return str(item.get("position", {}).get("S", ""))

    def save_checkpoint(self, position: str) -> None:
        self._dynamodb.put_item(
            TableName=self.table_name,
            Item={**_CHECKPOINT_KEY, "position": {"S": position}},
        )
