"""Amazon EventBridge: the completion events and this stack's requests to itself (Regenerate
Requested), on the account's default bus."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import boto3

from transcription_pipeline.announcements import Announcement
from transcription_pipeline.aws.errors import CLIENT_CONFIG
from transcription_pipeline.events import REGENERATE_REQUESTED, regenerate_detail

if TYPE_CHECKING:
    from mypy_boto3_events import EventBridgeClient


class EmitFailed(Exception):
    """EventBridge did not take the event; raised so the whole step is retried."""


class Announcer:
    def __init__(self, source: str, client: EventBridgeClient | None = None) -> None:
        self.source = source
        self._events: EventBridgeClient = client or boto3.client("events", config=CLIENT_CONFIG)

    def emit(self, announcement: Announcement) -> None:
        response = self._events.put_events(
            Entries=[
                {
                    "Source": self.source,
                    "DetailType": str(announcement.detail_type),
                    "Detail": json.dumps(announcement.detail, sort_keys=True),
                }
            ]
        )
        if response.get("FailedEntryCount"):
            entry = response.get("Entries", [{}])[0]
            raise EmitFailed(f"{entry.get('ErrorCode', '')}: {entry.get('ErrorMessage', '')}")


class RegenerateRequests:
    """Asks the process function to render an upload's outputs again (its EventBridge rule)."""

    def __init__(self, source: str, client: EventBridgeClient | None = None) -> None:
        self.source = source
        self._events: EventBridgeClient = client or boto3.client("events", config=CLIENT_CONFIG)

    def request(self, source_key: str) -> None:
        response = self._events.put_events(
            Entries=[
                {
                    "Source": self.source,
                    "DetailType": REGENERATE_REQUESTED,
                    "Detail": json.dumps(regenerate_detail(source_key), sort_keys=True),
                }
            ]
        )
        if response.get("FailedEntryCount"):
            entry = response.get("Entries", [{}])[0]
            raise EmitFailed(f"{entry.get('ErrorCode', '')}: {entry.get('ErrorMessage', '')}")
