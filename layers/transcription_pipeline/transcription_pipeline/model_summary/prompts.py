"""The summary prompts: versioned files under transcription_pipeline/prompts/summary/.

Placeholders are ``{name}`` for the names below only, filled in one pass: braces in the
JSON example, in a custom instruction or in the transcript stay as they are, and a value
that happens to contain ``{transcript}`` is never filled in again.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources

__all__ = ["PROMPT_VERSION", "SummaryPrompts", "fill", "load_prompts"]

PROMPT_VERSION = "summary/v1"

_PLACEHOLDER = re.compile(
    r"\{(language|instructions|transcript|partials|part|parts|start|end|problem)\}"
)


@dataclass(frozen=True)
class SummaryPrompts:
    version: str
    system: str  # {language}
    instructions: str  # the default instructions; a summary_prompt replaces them
    map: str  # {part} {parts} {start} {end} {instructions} {transcript} {language}
    reduce: str  # {parts} {start} {end} {instructions} {partials} {language}
    correction: str  # {problem}; appended to a prompt whose answer could not be used


@functools.cache
def load_prompts(version: str = PROMPT_VERSION) -> SummaryPrompts:
    folder = resources.files("transcription_pipeline.prompts").joinpath(*version.split("/"))

    def read(name: str) -> str:
        return folder.joinpath(name).read_text(encoding="utf-8").strip()

    return SummaryPrompts(
        version=version,
        system=read("system.md"),
        instructions=read("instructions.md"),
        map=read("map.md"),
        reduce=read("reduce.md"),
        correction="\n\n" + read("correction.md"),
    )


def fill(template: str, values: Mapping[str, str]) -> str:
    """The template with its placeholders replaced; a placeholder without a value stays."""
    return _PLACEHOLDER.sub(lambda match: values.get(match.group(1), match.group(0)), template)
