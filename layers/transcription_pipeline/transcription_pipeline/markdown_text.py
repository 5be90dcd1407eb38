"""Transcript-derived text made safe for one line of Markdown (summary.md)."""

from __future__ import annotations

import re

__all__ = ["markdown_inline"]

# "_" only at a word edge: intraword underscores (spk_0) never emphasise in CommonMark.
_MD_SPECIAL = re.compile(r"([\\`*<|]|(?<![0-9A-Za-z])_|_(?![0-9A-Za-z]))")


def markdown_inline(text: str) -> str:
    """``text`` on one line, Markdown's special characters escaped (a leading # too)."""
    escaped = _MD_SPECIAL.sub(r"\\\1", " ".join(text.split()))
    return "\\" + escaped if escaped.startswith("#") else escaped
