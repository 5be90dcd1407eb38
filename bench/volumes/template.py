"""The settings the simulation takes from template.yaml (its parameter defaults), so that
it follows the stack as deployed: the upload queue, the SQS event source, the functions'
memory, timeouts and retries, the reconciliation schedule and the functions' environment.
"""

from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path
from typing import Any

from bench.volumes.parameters import Quotas
from local_pipeline.template import Template

REPO = Path(__file__).resolve().parents[2]


def _properties(template: Template, logical_id: str) -> dict[str, Any]:
    """A resource's properties, resolved; a function's merged over Globals.Function."""
    resource = template.resources[logical_id]
    properties = dict(resource.get("Properties", {}))
    if resource["Type"] == "AWS::Serverless::Function":
        properties = {**template.document.get("Globals", {}).get("Function", {}), **properties}
    resolved: dict[str, Any] = template.resolve(properties)
    return resolved


def _event(properties: dict[str, Any], event_type: str) -> dict[str, Any]:
    for event in properties.get("Events", {}).values():
        if event.get("Type") == event_type:
            found: dict[str, Any] = event.get("Properties", {})
            return found
    raise ValueError(f"no {event_type} event")


def _rate_seconds(expression: str) -> float:
    match = re.fullmatch(r"rate\((\d+) (minute|minutes|hour|hours)\)", expression.strip())
    if match is None:
        raise ValueError(f"not a rate expression: {expression!r}")
    return int(match.group(1)) * (60.0 if match.group(2).startswith("minute") else 3600.0)


def load(path: Path = REPO / "template.yaml") -> tuple[Quotas, dict[str, str]]:
    """Quotas with the template's settings, and the start function's environment."""
    template = Template(path, stack_name="sim")
    queue = _properties(template, "UploadQueue")
    start = _properties(template, "StartTranscriptionFunction")
    process = _properties(template, "ProcessTranscriptFunction")
    reconcile = _properties(template, "ReconcileFunction")
    sqs = _event(start, "SQS")
    invoke = process.get("EventInvokeConfig", {})
    environment = template.function("StartTranscriptionFunction").environment
    quotas = replace(
        Quotas(),
        start_max_concurrency=int(sqs["ScalingConfig"]["MaximumConcurrency"]),
        sqs_batch_size=int(sqs.get("BatchSize", 10)),
        visibility_timeout=float(queue["VisibilityTimeout"]),
        max_receive_count=int(queue["RedrivePolicy"]["maxReceiveCount"]),
        retention_seconds=float(queue["MessageRetentionPeriod"]),
        reconcile_interval=_rate_seconds(str(_event(reconcile, "Schedule")["Schedule"])),
        reconcile_timeout=float(reconcile["Timeout"]),
        reconcile_min_age_minutes=int(environment["RECONCILE_MIN_AGE_MINUTES"]),
        process_retries=int(invoke.get("MaximumRetryAttempts", 2)),
        process_max_event_age=float(invoke.get("MaximumEventAgeInSeconds", 21_600)),
        start_timeout=float(start["Timeout"]),
        process_timeout=float(process["Timeout"]),
        start_memory_gb=int(start["MemorySize"]) / 1024,
        process_memory_gb=int(process["MemorySize"]) / 1024,
        reconcile_memory_gb=int(reconcile["MemorySize"]) / 1024,
    )
    return quotas, environment
