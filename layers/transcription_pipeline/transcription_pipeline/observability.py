"""Tracing shared by the handlers (Logger and Metrics are plain Powertools).

Lambda's active tracing (``Tracing: Active`` in the template) records every invocation.
The X-Ray SDK behind Powertools' Tracer adds a subsegment per AWS call, but importing it
costs about as much cold start as importing boto3 itself (~110 ms on these machines), so
it is opt-in: the template's ``DetailedTracing`` parameter sets ``DETAILED_TRACING``.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any, TypeVar, cast

Handler = TypeVar("Handler", bound=Callable[..., Any])


def detailed_tracing_enabled() -> bool:
    return os.environ.get("DETAILED_TRACING", "").strip().lower() == "true"


def trace_handler(handler: Handler) -> Handler:
    """Powertools' capture_lambda_handler when detailed tracing is on, else the handler."""
    if not detailed_tracing_enabled():
        return handler
    from aws_lambda_powertools import Tracer  # the X-Ray SDK loads here, only when wanted

    return cast("Handler", Tracer().capture_lambda_handler(handler))
