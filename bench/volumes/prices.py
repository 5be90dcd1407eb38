"""What the counted requests cost at list price (parameters.PRICES), beside Transcribe's own."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from bench.volumes.parameters import PRICES
from bench.volumes.world import Meter


def price_line(api: str) -> str | None:
    """The PRICES line a request is billed on; None when the request is free."""
    if api in ("S3 GetObject", "S3 HeadObject"):
        return "S3 GET/HEAD"
    if api.startswith("S3 "):  # PUT (ours and Transcribe's), LIST, DeleteObjects (a POST)
        return "S3 PUT/LIST/POST"
    if api.startswith("SQS "):
        return "SQS"
    if api.startswith("Lambda Invoke "):
        return "Lambda requests"
    if api == "EventBridge PutEvents":  # the pipeline's own completion events
        return "EventBridge PutEvents"
    # DynamoDB is billed by capacity units (below); Transcribe's API calls and EventBridge's
    # events from AWS services are free.
    return None


@dataclass
class Cost:
    lines: dict[str, float]  # dollars by PRICES line, the pipeline's own
    transcribe: float  # dollars of Transcribe for the audio transcribed
    audio_hours: float

    @property
    def pipeline(self) -> float:
        return sum(self.lines.values())

    @property
    def overhead_percent(self) -> float:
        return 100 * self.pipeline / self.transcribe if self.transcribe else 0.0

    @property
    def per_audio_hour(self) -> float:
        return self.pipeline / self.audio_hours if self.audio_hours else 0.0

    def as_dict(self) -> dict[str, object]:
        return {
            "pipeline_dollars": self.pipeline,
            "transcribe_dollars": self.transcribe,
            "overhead_percent": self.overhead_percent,
            "pipeline_dollars_per_audio_hour": self.per_audio_hour,
            "transcribe_dollars_per_audio_hour": PRICES["Transcribe"][0] * 3600,
            "lines": dict(sorted(self.lines.items())),
            "prices": {name: {"dollars": p, "per": per} for name, (p, per) in PRICES.items()},
        }


def cost_of(meter: Meter, requests: Mapping[str, int], audio_seconds: float) -> Cost:
    lines: dict[str, float] = dict.fromkeys(
        ("S3 GET/HEAD", "S3 PUT/LIST/POST", "SQS", "Lambda requests", "EventBridge PutEvents"),
        0.0,
    )
    for api, count in requests.items():
        line = price_line(api)
        if line is not None:
            lines[line] += count * PRICES[line][0]
    units = meter.units
    lines["DynamoDB write"] = units["DynamoDB WRU"] * PRICES["DynamoDB write"][0]
    lines["DynamoDB read"] = units["DynamoDB RRU"] * PRICES["DynamoDB read"][0]
    lines["Lambda compute"] = units["Lambda GB-seconds"] * PRICES["Lambda compute"][0]
    lines["CloudWatch Logs"] = units["CloudWatch Logs bytes"] * PRICES["CloudWatch Logs"][0]
    lines["X-Ray"] = units["X-Ray traces"] * PRICES["X-Ray"][0]
    return Cost(lines, audio_seconds * PRICES["Transcribe"][0], audio_seconds / 3600)
