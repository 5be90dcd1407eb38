"""Stable, readable JSON for every document the pipeline writes.

Sorted keys, so the same content is always the same bytes (a repeated event rewrites
identical objects); unicode kept as is, since transcripts are in every language.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any


def json_bytes(document: Mapping[str, Any]) -> bytes:
    return (json.dumps(document, indent=2, ensure_ascii=False, sort_keys=True) + "\n").encode()
