"""Reading the model's answers: the JSON object asked for, checked and made consistent.

Models wrap JSON in code fences or a sentence now and then; the outermost ``{...}`` is
taken. What cannot be used raises AnswerError with a short problem (never the answer's
text: it quotes the transcript), which the next prompt tells the model about.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from typing import Any

from transcription_pipeline.model_summary.lines import parse_clock
from transcription_pipeline.model_summary.types import ActionItem, ModelChapter, ModelSummary

__all__ = [
    "AnswerError",
    "json_object_text",
    "parse_answer",
    "stated_owner",
    "valid_chapters",
]

MAX_KEY_POINTS = 20
MAX_ACTION_ITEMS = 50
MAX_CHAPTERS = 50

_FENCE = re.compile(r"^\s*```[\w-]*[ \t]*\n?(.*?)\n?```\s*$", re.DOTALL)
# What models write for "no owner" instead of null.
_NO_OWNER = frozenset(
    {
        "",
        "-",
        "?",
        "n/a",
        "na",
        "none",
        "null",
        "nobody",
        "no one",
        "not stated",
        "not specified",
        "tbd",
        "unassigned",
        "unknown",
        "unspecified",
    }
)


class AnswerError(Exception):
    """The answer is not the JSON object asked for; the message says why, briefly."""


def json_object_text(text: str) -> str:
    """The outermost ``{...}`` of ``text``, after taking off a code fence around it."""
    fenced = _FENCE.match(text)
    if fenced:
        text = fenced.group(1)
    first, last = text.find("{"), text.rfind("}")
    if first < 0 or last < first:
        raise AnswerError("it held no JSON object")
    return text[first : last + 1]


def parse_answer(text: str, *, language: str | None, stop_reason: str = "end_turn") -> ModelSummary:
    """The answer as a ModelSummary: chapters in the order given, owners as given."""
    cut_off = stop_reason == "max_tokens"
    try:
        data = json.loads(json_object_text(text))
    except (AnswerError, ValueError) as error:
        if cut_off:
            raise AnswerError(
                "it was cut off at the output limit; give a shorter answer"
            ) from error
        if isinstance(error, AnswerError):
            raise
        raise AnswerError(f"it was not valid JSON ({_short(str(error))})") from error
    if not isinstance(data, dict):
        raise AnswerError("it was JSON but not an object")
    summary = data.get("summary")
    if not isinstance(summary, str) or not summary.strip():
        raise AnswerError('its "summary" was missing or empty')
    return ModelSummary(
        summary=summary.strip(),
        key_points=tuple(_unique(_texts(data.get("key_points"), ("text", "point"))))[
            :MAX_KEY_POINTS
        ],
        action_items=tuple(_action_items(data.get("action_items")))[:MAX_ACTION_ITEMS],
        chapters=tuple(_chapters(data.get("chapters")))[:MAX_CHAPTERS],
        language=language,
    )


def valid_chapters(
    chapters: Iterable[ModelChapter], *, end_seconds: float
) -> tuple[ModelChapter, ...]:
    """Chapters within the transcript (0..end_seconds) in ascending order of start, one
    per second at most (the first title given for that second is kept)."""
    kept: dict[int, ModelChapter] = {}
    for chapter in chapters:
        if 0 <= chapter.start_seconds <= end_seconds and chapter.title:
            kept.setdefault(int(chapter.start_seconds), chapter)
    return tuple(kept[second] for second in sorted(kept))


def stated_owner(owner: str | None, stated: str, *, spaced: bool = True) -> str | None:
    """The owner when the transcript names them, else None (the model named someone the
    transcript never does). ``stated`` is the speakers' names and the text, case-folded;
    in a ``spaced`` script each word of the owner must appear as a whole word."""
    if owner is None:
        return None
    folded = owner.casefold()
    if not spaced:
        return owner if folded in stated else None
    words = re.findall(r"\w+", folded)
    found = all(re.search(rf"(?<!\w){re.escape(word)}(?!\w)", stated) for word in words)
    return owner if words and found else None


def _short(text: str, limit: int = 120) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _clean(value: Any) -> str:
    return " ".join(value.split()) if isinstance(value, str) else ""


def _texts(value: Any, keys: tuple[str, ...]) -> Iterable[str]:
    """Strings of a list whose entries are strings, or objects holding one under a key."""
    if not isinstance(value, list):
        return
    for entry in value:
        if isinstance(entry, dict):
            entry = next((entry[key] for key in keys if key in entry), None)
        text = _clean(entry)
        if text:
            yield text


def _unique(texts: Iterable[str]) -> Iterable[str]:
    seen: set[str] = set()
    for text in texts:
        if text.casefold() not in seen:
            seen.add(text.casefold())
            yield text


def _owner(value: Any) -> str | None:
    text = _clean(value)
    return None if text.casefold() in _NO_OWNER else text


def _action_items(value: Any) -> Iterable[ActionItem]:
    if not isinstance(value, list):
        return
    seen: set[str] = set()
    for entry in value:
        if isinstance(entry, dict):
            text = _clean(entry.get("text") or entry.get("task") or entry.get("item"))
            owner = _owner(entry.get("owner") or entry.get("assignee"))
        else:
            text, owner = _clean(entry), None
        if text and text.casefold() not in seen:
            seen.add(text.casefold())
            yield ActionItem(text, owner)


def _chapters(value: Any) -> Iterable[ModelChapter]:
    if not isinstance(value, list):
        return
    for entry in value:
        if not isinstance(entry, dict):
            continue
        start = next(
            (
                entry[key]
                for key in ("start", "start_time", "time", "start_seconds")
                if key in entry
            ),
            None,
        )
        if isinstance(start, bool):
            continue
        if isinstance(start, int | float):
            seconds: float | None = float(start)
        elif isinstance(start, str):
            seconds = parse_clock(start)
        else:
            seconds = None
        title = _clean(entry.get("title") or entry.get("name"))
        if seconds is not None and title:
            yield ModelChapter(seconds, title)
