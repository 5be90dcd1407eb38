"""The abstractive summary through the real Bedrock adapter (boto3, Converse) against the
local Bedrock stand-in: the wire requests, the map-reduce over a long transcript, and
every way a summary falls back to the offline one.

The 1-hour and 4-hour transcripts are fixture 03 (real speech, speaker labels) copied
back to back, as the benchmarks make them.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import boto3
import pytest

from bench.transcripts import scaled_transcript_bytes
from local_pipeline.standins import serving
from local_pipeline.standins.bedrock import (
    DEFAULT_CONTEXT_TOKENS,
    DEFAULT_MODEL_IDS,
    STANDIN_MODEL_ID,
    BedrockStandIn,
    count_tokens,
)
from transcription_pipeline.aws.bedrock import BedrockSummaryModel
from transcription_pipeline.model_summary import (
    ModelReply,
    ModelSummaryResult,
    SummaryPlan,
    estimate_tokens,
    plan_model_summary,
    summarise_with_model,
)
from transcription_pipeline.model_summary.tokens import MESSAGE_OVERHEAD_TOKENS
from transcription_pipeline.transcript import parse_transcript
from transcription_pipeline.words import Word, group_words

PROFILE_ARN = (
    "arn:aws:bedrock:us-east-1:111122223333:inference-profile/"
    "us.anthropic.claude-3-5-haiku-20241022-v1:0"
)
CHUNK_TOKENS = 8000


@functools.cache
def transcript_words(hours: float) -> tuple[Word, ...]:
    return group_words(parse_transcript(scaled_transcript_bytes(hours * 3600)).items)


@pytest.fixture(scope="module")
def served() -> Iterator[BedrockStandIn]:
    """One server for the module (stopping one takes half a second)."""
    with serving(BedrockStandIn(model_ids=DEFAULT_MODEL_IDS | {PROFILE_ARN})) as stand_in:
        assert isinstance(stand_in, BedrockStandIn)
        yield stand_in


@pytest.fixture
def standin(served: BedrockStandIn) -> Iterator[BedrockStandIn]:
    served.reset()
    yield served
    served.reset()
    served.context_tokens = DEFAULT_CONTEXT_TOKENS


class RecordingModel:
    """The real adapter, with every reply kept (the tokens the "model" counted)."""

    def __init__(self, standin: BedrockStandIn, model_id: str) -> None:
        client = boto3.client("bedrock-runtime", endpoint_url=standin.url, region_name="us-east-1")
        self.adapter = BedrockSummaryModel(model_id, client)
        self.replies: list[ModelReply] = []

    def converse(self, *, system: str, prompt: str, max_output_tokens: int) -> ModelReply:
        reply = self.adapter.converse(
            system=system, prompt=prompt, max_output_tokens=max_output_tokens
        )
        self.replies.append(reply)
        return reply


def summarise(
    standin: BedrockStandIn,
    words: tuple[Word, ...],
    *,
    model_id: str = STANDIN_MODEL_ID,
    **options: Any,
) -> tuple[ModelSummaryResult, RecordingModel]:
    model = RecordingModel(standin, model_id)
    settings: dict[str, Any] = {
        "language_code": "en-US",
        "output_language": None,
        "joiner": " ",
        "instructions": None,
        "token_budget": 500_000,
    }
    settings.update(options)
    return summarise_with_model(words, model, model_id=model_id, **settings), model


def plan_for(words: tuple[Word, ...], **options: Any) -> SummaryPlan:
    settings: dict[str, Any] = {
        "language_code": "en-US",
        "output_language": None,
        "joiner": " ",
        "instructions": None,
    }
    settings.update(options)
    return plan_model_summary(words, **settings)


def transcript_lines_of(prompt: str) -> list[str]:
    inner = prompt.split("<transcript>\n", 1)[1].split("\n</transcript>", 1)[0]
    return inner.split("\n")


def test_the_request_on_the_wire(standin: BedrockStandIn) -> None:
    words = transcript_words(0.05)
    result, _ = summarise(
        standin,
        words,
        model_id=PROFILE_ARN,
        output_language="fr-FR",
        instructions="Focus on the weather.",
    )
    assert result.summary is not None, result.fallback_reason
    (request,) = standin.requests
    # The model id travels in the path, URL-encoded (":" and "/" of the ARN too).
    assert request.path == f"/model/{quote(PROFILE_ARN, safe='')}/converse"
    assert (request.signing_service, request.region) == ("bedrock", "us-east-1")
    body = request.json()
    assert set(body) == {"system", "messages", "inferenceConfig"}
    assert body["inferenceConfig"] == {"maxTokens": 1024, "temperature": 0}
    (system,) = body["system"]
    (message,) = body["messages"]
    assert message["role"] == "user"
    (content,) = message["content"]
    assert "Write every text value in French." in system["text"]
    assert "Focus on the weather." in content["text"]
    assert "Give at most eight key points" not in content["text"]  # the default instructions
    lines = transcript_lines_of(content["text"])
    assert lines[0].startswith("[0:00:00] spk_0: ")
    assert len(lines) > 3
    assert result.usage.custom_instructions is True
    assert result.summary.language == "fr-FR"


def test_four_hours_map_then_reduce_within_the_chunk_size(standin: BedrockStandIn) -> None:
    words = transcript_words(4)
    assert len(words) > 35_000
    plan = plan_for(words)
    result, model = summarise(standin, words)

    assert result.summary is not None, result.fallback_reason
    calls = standin.calls
    maps = [c for c in calls if "<transcript>" in c.prompt]
    reduces = [c for c in calls if "<partial_summaries>" in c.prompt]
    assert len(maps) == plan.map_calls == len(plan.chunks) == 12
    # The stand-in's partials are short: all twelve fit one reduce request (the plan
    # counts the worst case, a tree of 4 reduce calls).
    assert len(reduces) == 1
    assert plan.reduce_calls == 4
    assert len(calls) == result.usage.calls == 13
    assert all(c.status == 200 for c in calls)

    # Every request within the chunk size by the estimate, and the stand-in's own count
    # (about the grain of a real tokenizer) under the estimate.
    for call, reply in zip(calls, model.replies, strict=True):
        estimated = estimate_tokens(call.system) + estimate_tokens(call.prompt)
        assert estimated + MESSAGE_OVERHEAD_TOKENS <= CHUNK_TOKENS
        assert reply.input_tokens == call.input_tokens <= estimated
        assert reply.output_tokens <= 1024
    assert result.usage.input_tokens == sum(c.input_tokens for c in calls)
    assert result.usage.input_tokens + result.usage.output_tokens < plan.estimated_tokens

    # Neighbouring chunks overlap: each starts with the lines that ended the one before.
    chunk_lines = [transcript_lines_of(c.prompt) for c in maps]
    for chunk, before, after in zip(plan.chunks[1:], chunk_lines, chunk_lines[1:], strict=False):
        assert chunk.overlap_lines > 0
        assert after[: chunk.overlap_lines] == before[-chunk.overlap_lines :]
        assert after[chunk.overlap_lines] not in before
    assert chunk_lines[0][0].startswith("[0:00:00] ")
    assert chunk_lines[-1][-1].startswith("[4:0")

    chapters = [c.start_seconds for c in result.summary.chapters]
    assert chapters == sorted(chapters)
    assert 1 < len(chapters) <= 12
    assert chapters[-1] <= words[-1].end


def test_one_hour_takes_four_calls(standin: BedrockStandIn) -> None:
    plan = plan_for(transcript_words(1))
    result, _ = summarise(standin, transcript_words(1))
    assert (plan.map_calls, plan.reduce_calls) == (3, 1)
    assert result.usage.calls == len(standin.requests) == 4
    assert result.usage.chunks == 3


def test_throttled_twice_then_answered(standin: BedrockStandIn) -> None:
    standin.throttle_next(2)
    result, _ = summarise(standin, transcript_words(0.05))
    assert [c.error for c in standin.calls] == ["ThrottlingException", "ThrottlingException", None]
    assert len(standin.requests) == 3  # botocore's retries, one call of the use case
    assert result.summary is not None, result.fallback_reason
    assert result.usage.calls == 1


def test_access_denied_falls_back_naming_the_permission(standin: BedrockStandIn) -> None:
    standin.fail_next(
        "AccessDeniedException",
        "You don't have access to the model with the specified model ID.",
    )
    result, _ = summarise(standin, transcript_words(0.05))
    assert len(standin.requests) == 1  # not retried
    assert result.summary is None
    assert result.fallback_reason is not None
    assert "AccessDeniedException" in result.fallback_reason
    assert "bedrock:InvokeModel" in result.fallback_reason
    assert STANDIN_MODEL_ID in result.fallback_reason


def test_an_unknown_model_falls_back(standin: BedrockStandIn) -> None:
    result, _ = summarise(standin, transcript_words(0.05), model_id="example.no-such-model-v1:0")
    assert result.fallback_reason is not None
    assert "ResourceNotFoundException" in result.fallback_reason
    assert len(standin.requests) == 1  # not retried


def test_non_json_once_is_asked_again(standin: BedrockStandIn) -> None:
    standin.answer_non_json_next(1)
    result, _ = summarise(standin, transcript_words(0.05))
    assert result.summary is not None, result.fallback_reason
    first, second = (c.prompt for c in standin.calls)
    assert second.startswith(first)
    assert "Your previous answer could not be used: it held no JSON object" in second


def test_non_json_twice_falls_back(standin: BedrockStandIn) -> None:
    standin.answer_non_json_next(2)
    result, _ = summarise(standin, transcript_words(0.05))
    assert len(standin.requests) == 2
    assert result.summary is None
    assert result.fallback_reason == (
        "the model's answer for part 1 of 1 was not the JSON object asked for, twice "
        "(it held no JSON object)"
    )
    assert result.usage.calls == 2
    assert result.usage.input_tokens == sum(c.input_tokens for c in standin.calls)


def test_a_fenced_answer_is_read(standin: BedrockStandIn) -> None:
    answer = {"summary": "Fenced.", "key_points": ["k"], "action_items": [], "chapters": []}
    standin.answer_text_next("```json\n" + json.dumps(answer) + "\n```")
    result, _ = summarise(standin, transcript_words(0.05))
    assert result.summary is not None
    assert (result.summary.summary, result.summary.key_points) == ("Fenced.", ("k",))


def test_an_answer_cut_at_max_tokens_twice_falls_back(standin: BedrockStandIn) -> None:
    result, _ = summarise(standin, transcript_words(0.05), max_output_tokens=20)
    assert [c.max_tokens for c in standin.calls] == [20, 20]
    assert result.fallback_reason is not None
    assert "cut off at the output limit" in result.fallback_reason


def test_a_budget_too_small_sends_nothing(standin: BedrockStandIn) -> None:
    words = transcript_words(1)
    needed = plan_for(words).estimated_tokens
    result, _ = summarise(standin, words, token_budget=needed - 1)
    assert standin.requests == []
    assert result.fallback_reason == (
        f"the transcript needs about {needed} tokens, over the budget of {needed - 1}; "
        "raise SummaryTokenBudget"
    )


def test_the_stand_in_refuses_input_over_its_context(standin: BedrockStandIn) -> None:
    standin.context_tokens = 1000
    result, _ = summarise(standin, transcript_words(0.2))
    assert result.fallback_reason is not None
    assert "ValidationException: Input is too long for requested model." in result.fallback_reason


def test_the_stand_in_checks_the_request(standin: BedrockStandIn) -> None:
    client = boto3.client("bedrock-runtime", endpoint_url=standin.url, region_name="us-east-1")
    with pytest.raises(client.exceptions.ValidationException, match="model limit"):
        client.converse(
            modelId=STANDIN_MODEL_ID,
            messages=[{"role": "user", "content": [{"text": "hi"}]}],
            inferenceConfig={"maxTokens": 100_000},
        )
    with pytest.raises(client.exceptions.ValidationException, match="maxTokens is required"):
        client.converse(
            modelId=STANDIN_MODEL_ID, messages=[{"role": "user", "content": [{"text": "hi"}]}]
        )
    with pytest.raises(client.exceptions.ValidationException, match="start with a user"):
        client.converse(modelId=STANDIN_MODEL_ID, messages=[], inferenceConfig={"maxTokens": 5})


def test_stand_in_token_counts() -> None:
    assert count_tokens("Hello, world.") == 4
    assert count_tokens("[0:01:05] Ana:") == 11  # each digit and mark is one
    assert count_tokens("今日は晴れ") == 5
    text = "The team looked at the quarterly numbers and agreed on the plan. " * 20
    assert count_tokens(text) <= estimate_tokens(text)


def test_japanese_lines_have_no_spaces_and_stay_under_the_estimate(
    standin: BedrockStandIn,
) -> None:
    pieces = ["今日は", "会議の", "議題を", "確認します。", "田中さんが", "資料を", "送ります。"]
    words = tuple(
        Word(text, text.rstrip("。"), n * 0.5, n * 0.5 + 0.4, 0.9, "spk_0", text.endswith("。"),
             text.endswith("。"))
        for n, text in enumerate(pieces * 40)
    )  # fmt: skip
    result, model = summarise(standin, words, language_code="ja-JP", joiner="")
    assert result.summary is not None, result.fallback_reason
    (call,) = standin.calls
    assert "Write every text value in Japanese." in call.system
    assert "[0:00:00] spk_0: 今日は会議の議題を確認します。田中さんが" in call.prompt
    (reply,) = model.replies
    assert reply.input_tokens <= estimate_tokens(call.system) + estimate_tokens(call.prompt)
