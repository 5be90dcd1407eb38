"""What every adapter shares: the retry configuration and reading an AWS error code."""

from __future__ import annotations

from botocore.config import Config
from botocore.exceptions import ClientError

# Throttling and 5xx answers are retried by botocore's standard mode, then raised.
CLIENT_CONFIG = Config(retries={"mode": "standard", "max_attempts": 5})


def error_code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))
