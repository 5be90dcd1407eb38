"""The use case: an abstractive summary of a transcript of any length, map then reduce.

1. Plan: the words become lines, the lines chunks that fit one call (prompt included).
   The calls and tokens are counted before any call; over the budget, nothing is sent.
2. Map: one call per chunk, in order, each answering the JSON object of system.md.
3. Reduce: the partial summaries combined in one call, or in groups and again (a tree)
   when they do not fit one.

Anything that stops a summary (the budget, a refusal, an answer that is not the JSON
asked for, twice) ends in a result without summary and with the reason: the caller
keeps the offline summary then. An empty transcript makes no call at all.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from threading import Lock
from typing import NamedTuple, TypeVar

from transcription_pipeline.model_summary.answers import (
    AnswerError,
    parse_answer,
    stated_owner,
    valid_chapters,
)
from transcription_pipeline.model_summary.chunks import Chunk, chunk_lines
from transcription_pipeline.model_summary.languages import language_name
from transcription_pipeline.model_summary.lines import TranscriptLine, clock, transcript_lines
from transcription_pipeline.model_summary.prompts import (
    PROMPT_VERSION,
    SummaryPrompts,
    fill,
    load_prompts,
)
from transcription_pipeline.model_summary.tokens import MESSAGE_OVERHEAD_TOKENS, estimate_tokens
from transcription_pipeline.model_summary.types import (
    ActionItem,
    ModelFailed,
    ModelReply,
    ModelSummary,
    ModelSummaryResult,
    ModelThrottled,
    ModelUsage,
    SummaryModel,
)
from transcription_pipeline.words import Word

__all__ = [
    "DEFAULT_CHUNK_TOKENS",
    "DEFAULT_MAX_OUTPUT_TOKENS",
    "DEFAULT_OVERLAP_TOKENS",
    "SummaryPlan",
    "plan_model_summary",
    "summarise_with_model",
]

DEFAULT_CHUNK_TOKENS = 8000
DEFAULT_OVERLAP_TOKENS = 400
DEFAULT_MAX_OUTPUT_TOKENS = 1024
# A chunk must leave at least this much room for transcript lines beside the prompt.
MIN_TRANSCRIPT_TOKENS = 256
# A partial summary is at most max_output_tokens as the model counts them; read back by
# a reduce call, the estimate of the same text can be up to half as much again.
_PARTIAL_ESTIMATE_NUMERATOR, _PARTIAL_ESTIMATE_DENOMINATOR = 3, 2
_PARTIAL_WRAPPER_TOKENS = 24  # {"part":12,"from":"1:02:03","to":"1:34:56", ...}
_PROBLEM_MAX_CHARS = 200
_BLOCKED = frozenset({"content_filtered", "guardrail_intervened"})
_UNKNOWN_LANGUAGE = "the language the transcript is in"

_T = TypeVar("_T")


class SummaryPlan(NamedTuple):
    """What a summary will take at most: calls, and tokens by this package's estimate."""

    chunks: tuple[Chunk, ...]
    map_calls: int
    reduce_calls: int  # upper bound: a group of one partial needs no call
    reduce_levels: int
    estimated_input_tokens: int
    estimated_output_tokens: int  # every call's max_output_tokens

    @property
    def calls(self) -> int:
        return self.map_calls + self.reduce_calls

    @property
    def estimated_tokens(self) -> int:
        return self.estimated_input_tokens + self.estimated_output_tokens


class _PlanError(Exception):
    """The settings leave no room for the transcript or for the partial summaries."""


class _FallBack(Exception):
    """Stop: no summary, for the reason given."""


@dataclass(frozen=True)
class _Setup:
    """The prompts filled in for one transcript, and the sizes they leave."""

    prompts: SummaryPrompts
    system: str
    instructions: str
    language: str  # the name in the prompt
    map_overhead: int  # every token of a map request but the transcript lines
    reduce_overhead: int  # every token of a reduce request but the partial summaries
    partial_tokens: int  # the most one partial summary may cost in a reduce request
    chunk_tokens: int
    overlap_tokens: int


class _Partial(NamedTuple):
    start: float
    end: float
    summary: ModelSummary


def plan_model_summary(
    words: Sequence[Word],
    *,
    language_code: str | None,
    output_language: str | None,
    joiner: str,
    instructions: str | None,
    chunk_tokens: int = DEFAULT_CHUNK_TOKENS,
    overlap_tokens: int = DEFAULT_OVERLAP_TOKENS,
    max_output_tokens: int = DEFAULT_MAX_OUTPUT_TOKENS,
) -> SummaryPlan:
    """The plan summarise_with_model follows (raises ValueError when it cannot be made)."""
    setup = _setup(
        language_code, output_language, instructions, chunk_tokens, overlap_tokens,
        max_output_tokens,
    )  # fmt: skip
    try:
        return _plan(transcript_lines(words, joiner=joiner), setup, max_output_tokens)
    except _PlanError as error:
        raise ValueError(str(error)) from error


def summarise_with_model(
    words: Sequence[Word],
    model: SummaryModel,
    *,
    model_id: str,
    language_code: str | None,
    output_language: str | None,
    joiner: str,
    instructions: str | None,
    chunk_tokens: int = DEFAULT_CHUNK_TOKENS,
    overlap_tokens: int = DEFAULT_OVERLAP_TOKENS,
    token_budget: int,
    max_output_tokens: int = DEFAULT_MAX_OUTPUT_TOKENS,
    max_parallel_calls: int = 1,
) -> ModelSummaryResult:
    """An abstractive summary of ``words``, or the reason to keep the offline summary.

    ``language_code`` is the transcript's (Transcribe's code); ``output_language`` a code
    or name to write in instead. ``joiner`` goes between words ("" for Chinese, Japanese,
    Thai). ``instructions`` (an upload's summary_prompt) replaces the default
    instructions; the JSON contract of the system prompt stays. ``chunk_tokens`` bounds
    every request (prompt and transcript, by the estimate of tokens.py); the tokens of
    all requests and answers together are kept within ``token_budget``.
    ``max_parallel_calls`` > 1 sends the calls of a step from a thread pool; the result
    is the same as sequential.
    """
    custom = bool(instructions and instructions.strip())
    calls = _Calls(model, token_budget, max_output_tokens)

    def result(summary: ModelSummary | None, reason: str | None, chunks: int) -> ModelSummaryResult:
        usage = ModelUsage(
            model_id=model_id,
            calls=calls.count,
            input_tokens=calls.input_tokens,
            output_tokens=calls.output_tokens,
            chunks=chunks,
            prompt_version=PROMPT_VERSION,
            custom_instructions=custom,
        )
        return ModelSummaryResult(summary, usage, reason)

    lines = transcript_lines(words, joiner=joiner)
    if not lines:
        return result(None, "the transcript has no words, so there is nothing to summarise", 0)
    try:
        setup = _setup(
            language_code, output_language, instructions, chunk_tokens, overlap_tokens,
            max_output_tokens,
        )  # fmt: skip
        plan = _plan(lines, setup, max_output_tokens)
    except (_PlanError, ValueError) as error:  # settings that cannot work: no call made
        return result(None, str(error), 0)
    if plan.estimated_tokens > token_budget:
        return result(
            None,
            f"the transcript needs about {plan.estimated_tokens} tokens, over the budget of "
            f"{token_budget}; raise SummaryTokenBudget",
            len(plan.chunks),
        )

    language = output_language or language_code
    run = _Run(setup, calls, language, max_parallel_calls, model_id)
    try:
        summary = run.summarise(plan.chunks)
    except _FallBack as error:
        return result(None, str(error), len(plan.chunks))

    end_seconds = max(line.end for line in lines)
    stated = "\n".join(
        [*{line.speaker for line in lines if line.speaker}, *(w.text for w in words)]
    ).casefold()
    final = ModelSummary(
        summary=summary.summary,
        key_points=summary.key_points,
        action_items=tuple(
            ActionItem(item.text, stated_owner(item.owner, stated, spaced=joiner != ""))
            for item in summary.action_items
        ),
        chapters=valid_chapters(summary.chapters, end_seconds=end_seconds),
        language=language,
    )
    return result(final, None, len(plan.chunks))


def _setup(
    language_code: str | None,
    output_language: str | None,
    instructions: str | None,
    chunk_tokens: int,
    overlap_tokens: int,
    max_output_tokens: int,
) -> _Setup:
    if chunk_tokens < 1 or overlap_tokens < 0 or max_output_tokens < 1:
        raise ValueError(
            "chunk_tokens and max_output_tokens must be positive, overlap_tokens not negative"
        )
    prompts = load_prompts()
    wanted = output_language or language_code
    language = language_name(wanted) if wanted else _UNKNOWN_LANGUAGE
    text = instructions.strip() if instructions and instructions.strip() else prompts.instructions
    system = fill(prompts.system, {"language": language})
    # The longest values the placeholders take, so the overheads are upper bounds; the
    # correction is counted too, so a second ask fits the same chunk.
    widest = {"part": "999", "parts": "999", "start": "99:59:59", "end": "99:59:59"}
    correction = estimate_tokens(fill(prompts.correction, {"problem": "x" * _PROBLEM_MAX_CHARS}))
    fixed = estimate_tokens(system) + correction + MESSAGE_OVERHEAD_TOKENS
    values = {**widest, "instructions": text, "language": language}
    map_overhead = fixed + estimate_tokens(fill(prompts.map, {**values, "transcript": ""}))
    reduce_overhead = fixed + estimate_tokens(fill(prompts.reduce, {**values, "partials": ""}))
    partial = (
        max_output_tokens * _PARTIAL_ESTIMATE_NUMERATOR // _PARTIAL_ESTIMATE_DENOMINATOR
        + _PARTIAL_WRAPPER_TOKENS
    )
    return _Setup(
        prompts, system, text, language, map_overhead, reduce_overhead, partial, chunk_tokens,
        overlap_tokens,
    )  # fmt: skip


def _plan(lines: Sequence[TranscriptLine], setup: _Setup, max_output_tokens: int) -> SummaryPlan:
    room = setup.chunk_tokens - setup.map_overhead
    if room < MIN_TRANSCRIPT_TOKENS:
        raise _PlanError(
            f"the prompt takes about {setup.map_overhead} of the {setup.chunk_tokens} tokens "
            "of a request, leaving no room for the transcript; shorten the summary_prompt "
            "or raise the chunk size"
        )
    # The overlap is at most half the room, so every chunk moves on by half a chunk.
    chunks = chunk_lines(
        lines, max_tokens=room, overlap_tokens=min(setup.overlap_tokens, room // 2)
    )
    input_tokens = sum(setup.map_overhead + chunk.tokens for chunk in chunks)
    fan_in = (setup.chunk_tokens - setup.reduce_overhead) // setup.partial_tokens
    if len(chunks) > 1 and fan_in < 2:
        raise _PlanError(
            f"a request of {setup.chunk_tokens} tokens cannot hold two partial summaries of "
            f"up to {max_output_tokens} tokens; raise the chunk size or lower the output limit"
        )
    reduce_calls = levels = 0
    partials = len(chunks)
    while partials > 1:
        groups = -(-partials // fan_in)
        input_tokens += groups * setup.reduce_overhead + partials * setup.partial_tokens
        reduce_calls += groups
        levels += 1
        partials = groups
    calls = len(chunks) + reduce_calls
    return SummaryPlan(
        chunks, len(chunks), reduce_calls, levels, input_tokens, calls * max_output_tokens
    )


class _Calls:
    """The model, behind the budget: counts every call and the tokens the model reports."""

    def __init__(self, model: SummaryModel, budget: int, max_output_tokens: int) -> None:
        self._model = model
        self._budget = budget
        self.max_output_tokens = max_output_tokens
        self._lock = Lock()
        self._reserved = 0  # estimates for calls under way
        self.count = 0
        self.input_tokens = 0
        self.output_tokens = 0

    def converse(self, system: str, prompt: str) -> ModelReply:
        need = (
            estimate_tokens(system)
            + estimate_tokens(prompt)
            + MESSAGE_OVERHEAD_TOKENS
            + self.max_output_tokens
        )
        with self._lock:
            used = self.input_tokens + self.output_tokens
            if used + self._reserved + need > self._budget:
                raise _FallBack(
                    f"the summary has used {used} tokens and the next request needs about "
                    f"{need} more, over the budget of {self._budget}; raise SummaryTokenBudget"
                )
            self._reserved += need
            self.count += 1
        try:
            reply = self._model.converse(
                system=system, prompt=prompt, max_output_tokens=self.max_output_tokens
            )
        finally:
            with self._lock:
                self._reserved -= need
        with self._lock:
            self.input_tokens += reply.input_tokens
            self.output_tokens += reply.output_tokens
        return reply


class _Run:
    def __init__(
        self,
        setup: _Setup,
        calls: _Calls,
        language: str | None,
        parallel: int,
        model_id: str,
    ) -> None:
        self._setup = setup
        self._calls = calls
        self._language = language
        self._parallel = max(1, parallel)
        self._model_id = model_id

    def summarise(self, chunks: Sequence[Chunk]) -> ModelSummary:
        parts = len(chunks)
        partials = self._all([functools.partial(self._map, chunk, parts) for chunk in chunks])
        while len(partials) > 1:
            groups = self._groups(partials)
            partials = self._all([functools.partial(self._combine, group) for group in groups])
        return partials[0].summary

    def _combine(self, group: Sequence[_Partial]) -> _Partial:
        """A group's reduce call; a group of one (the last, at times) passes as it is."""
        return self._reduce(group) if len(group) > 1 else group[0]

    def _map(self, chunk: Chunk, parts: int) -> _Partial:
        what = f"part {chunk.position + 1} of {parts}"
        prompt = fill(
            self._setup.prompts.map,
            {
                "part": str(chunk.position + 1),
                "parts": str(parts),
                "start": clock(chunk.start_seconds),
                "end": clock(chunk.end_seconds),
                "instructions": self._setup.instructions,
                "language": self._setup.language,
                "transcript": chunk.text,
            },
        )
        return _Partial(chunk.start_seconds, chunk.end_seconds, self._ask(prompt, what))

    def _reduce(self, group: Sequence[_Partial]) -> _Partial:
        start, end = group[0].start, group[-1].end
        prompt = fill(
            self._setup.prompts.reduce,
            {
                "parts": str(len(group)),
                "start": clock(start),
                "end": clock(end),
                "instructions": self._setup.instructions,
                "language": self._setup.language,
                "partials": "\n".join(_partial_line(n, p) for n, p in enumerate(group, 1)),
            },
        )
        what = f"the summaries from {clock(start)} to {clock(end)}"
        return _Partial(start, end, self._ask(prompt, what))

    def _groups(self, partials: Sequence[_Partial]) -> list[list[_Partial]]:
        """Consecutive partials, as many per reduce request as fit (two at least)."""
        room = self._setup.chunk_tokens - self._setup.reduce_overhead
        groups: list[list[_Partial]] = []
        tokens = 0
        for number, partial in enumerate(partials, 1):
            cost = estimate_tokens(_partial_line(number, partial)) + 1
            if groups and (tokens + cost <= room or len(groups[-1]) < 2):
                groups[-1].append(partial)
                tokens += cost
            else:
                groups.append([partial])
                tokens = cost
        return groups

    def _ask(self, prompt: str, what: str) -> ModelSummary:
        reply = self._converse(prompt, what)
        try:
            return parse_answer(reply.text, language=self._language, stop_reason=reply.stop_reason)
        except AnswerError as error:
            problem = str(error)[:_PROBLEM_MAX_CHARS]
        correction = fill(self._setup.prompts.correction, {"problem": problem})
        reply = self._converse(prompt + correction, what)
        try:
            return parse_answer(reply.text, language=self._language, stop_reason=reply.stop_reason)
        except AnswerError as error:
            raise _FallBack(
                f"the model's answer for {what} was not the JSON object asked for, twice ({error})"
            ) from error

    def _converse(self, prompt: str, what: str) -> ModelReply:
        try:
            reply = self._calls.converse(self._setup.system, prompt)
        except ModelThrottled as error:
            raise _FallBack(
                f"the model {self._model_id} kept throttling the requests (the request for "
                f"{what}, after the client's retries); a later run may work, or raise the "
                "model's quota"
            ) from error
        except ModelFailed as error:
            raise _FallBack(
                f"the model {self._model_id} failed the request for {what}: {error.code}: "
                f"{error.message}"
            ) from error
        if reply.stop_reason in _BLOCKED:
            raise _FallBack(f"the model's answer for {what} was blocked ({reply.stop_reason})")
        if reply.stop_reason == "model_context_window_exceeded":
            raise _FallBack(
                f"the request for {what} exceeded the model's context window; lower the chunk size"
            )
        return reply

    def _all(self, tasks: Sequence[Callable[[], _T]]) -> list[_T]:
        """Run the tasks, in a thread pool when asked; results in the tasks' order, and
        the first failure (in that order) raised once every started task has ended."""
        if self._parallel == 1 or len(tasks) < 2:
            return [task() for task in tasks]
        pool = ThreadPoolExecutor(max_workers=min(self._parallel, len(tasks)))
        try:
            return list(pool.map(lambda task: task(), tasks))
        finally:
            pool.shutdown(wait=True, cancel_futures=True)


def _partial_line(number: int, partial: _Partial) -> str:
    """One partial summary as a line of compact JSON for a reduce request."""
    data = partial.summary
    document = {
        "part": number,
        "from": clock(partial.start),
        "to": clock(partial.end),
        "summary": data.summary,
        "key_points": list(data.key_points),
        "action_items": [{"text": a.text, "owner": a.owner} for a in data.action_items],
        "chapters": [{"start": clock(c.start_seconds), "title": c.title} for c in data.chapters],
    }
    return json.dumps(document, ensure_ascii=False, separators=(",", ":"))
