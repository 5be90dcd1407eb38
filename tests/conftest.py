"""Shared test fixtures and helpers: paths, sample events, and no real AWS.

Test modules never import each other: what more than one of them needs lives in a
conftest.py (this one, or the one of their folder), as a fixture or a plain function.
"""

from __future__ import annotations

import json
import socket
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parent.parent
MEDIA = REPO / "tests" / "media"
TRANSCRIPTS = REPO / "tests" / "fixtures" / "transcribe"
EVENTS = REPO / "events"


def load_event(name: str) -> dict[str, Any]:
    """A sample event of events/, as a fresh dict."""
    event: dict[str, Any] = json.loads((EVENTS / name).read_text())
    return event


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@pytest.fixture(autouse=True)
def _offline_aws_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    """No test may reach real AWS: fake credentials, a fixed Region, no tracing."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_SESSION_TOKEN", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("POWERTOOLS_TRACE_DISABLED", "true")
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
