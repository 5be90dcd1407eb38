"""Amazon Bedrock Runtime's Converse over its REST-JSON wire protocol, with a fake model.

boto3 (pointed here with an endpoint URL) sends ``POST /model/{modelId}/converse``, the
model id URL-encoded in the path (``:`` and ``/`` of an ARN or a versioned id too), a
JSON body of ``system``, ``messages`` and ``inferenceConfig``, signed for the service
``bedrock``. The answer is ``{"output": {"message": {"role": "assistant", "content":
[{"text": ...}]}}, "stopReason", "usage": {"inputTokens", "outputTokens",
"totalTokens"}, "metrics": {"latencyMs"}}``; an error is its HTTP status, an
``x-amzn-ErrorType`` header (botocore's rest-json parser takes the code from it, the part
before any ``:``) and ``{"message": ...}``.
https://docs.aws.amazon.com/bedrock/latest/APIReference/API_runtime_Converse.html

Checks, as Bedrock makes them: a known model id (a malformed one is a
ValidationException, an unknown one ResourceNotFoundException); messages present, user
first, text content; ``inferenceConfig.maxTokens`` present and within the model's
limit; the input within ``context_tokens`` ("Input is too long for requested model.").
Tokens are counted by ``count_tokens``, a stand-in tokenizer about as fine-grained as
real ones (about 1.1 tokens per English word, one per CJK or Thai character, one per
digit).

The "model" is deterministic and plausible, not a language model. It answers the JSON
object of the summary prompts (transcription_pipeline/prompts/summary/): from transcript
lines (``[h:mm:ss] Speaker: text``) a summary of the first sentences, key points, a
chapter at the first line and then every ten minutes, and an action item for each
sentence that says "will" or "I'll" (owner: the speaker for "I will", a name before
"will"). Given partial summaries (a reduce prompt), it merges them. An answer longer than
``maxTokens`` is cut there, with stopReason ``max_tokens``, as models do.

Scriptable faults: ``throttle_next(n)``, ``fail_next(code, message, n)``,
``answer_non_json_next(n)``, ``answer_text_next(text, n)``.
"""

from __future__ import annotations

import json
import re
import threading
import time
import uuid
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

from local_pipeline.standins import Answer, RecordedRequest, StandIn

__all__ = [
    "DEFAULT_MODEL_IDS",
    "STANDIN_MODEL_ID",
    "BedrockStandIn",
    "ConverseCall",
    "count_tokens",
]

STANDIN_MODEL_ID = "anthropic.claude-3-5-haiku-20241022-v1:0"
DEFAULT_MODEL_IDS = frozenset(
    {
        STANDIN_MODEL_ID,
        "us.anthropic.claude-3-5-haiku-20241022-v1:0",
        "anthropic.claude-3-haiku-20240307-v1:0",
        "amazon.nova-lite-v1:0",
        "us.amazon.nova-lite-v1:0",
        "amazon.nova-micro-v1:0",
    }
)
DEFAULT_CONTEXT_TOKENS = 200_000
DEFAULT_MAX_OUTPUT_TOKENS = 8192  # the largest maxTokens the stand-in's models accept
MESSAGE_TOKENS = 8  # what the stand-in counts for the chat template around a request

# HTTP statuses of Converse's errors in the API model (botocore's bedrock-runtime).
_STATUS = {
    "AccessDeniedException": 403,
    "InternalServerException": 500,
    "ModelErrorException": 424,
    "ModelNotReadyException": 429,
    "ModelTimeoutException": 408,
    "ResourceNotFoundException": 404,
    "ServiceUnavailableException": 503,
    "ThrottlingException": 429,
    "ValidationException": 400,
}
_PATH = re.compile(r"^/model/(?P<model>[^/?]+)/converse$")
# Foundation-model ids (anthropic.claude-...:0), inference-profile ids (us.anthropic...),
# and ARNs: what Bedrock takes for a well-formed identifier, roughly.
_WELL_FORMED_MODEL = re.compile(
    r"^(arn:aws[\w-]*:bedrock:[\w-]+:\d*:[\w./:-]+|[\w-]+(\.[\w:.-]+)+)$"
)
_LINE = re.compile(r"^\[(\d+):(\d{2}):(\d{2})\] (?:(?P<speaker>[^:\[\]]{1,40}): )?(?P<text>.*)$")
_SENTENCE = re.compile("(?<=[.!?\u3002\uff01\uff1f])\\s*")  # and the full-width forms
_WILL = re.compile(r"\b(?:will|I'll|we'll)\b", re.IGNORECASE)
_I_WILL = re.compile(r"^(?:I will|I'll)\b", re.IGNORECASE)
_NAME_WILL = re.compile(r"^([A-Z][a-z]+) will\b")
_NOT_NAMES = frozenset({"We", "It", "This", "That", "They", "He", "She", "You", "There", "What"})
_TOKEN = re.compile(r"\d|[^\W\d_]+|[^\w\s]|_")
CHAPTER_SECONDS = 600
SENTENCE_WORDS = 30
# What one answer holds at most, so answers stay within a usual maxTokens (1024).
MAX_KEY_POINTS, MAX_ACTION_ITEMS, MAX_CHAPTERS, MAX_SUMMARY_SENTENCES = 5, 5, 12, 3


def count_tokens(text: str) -> int:
    """The stand-in's tokenizer: each digit and punctuation mark one token; a run of
    letters one token per six ASCII letters, per three letters of a two-byte script, and
    one per character of a three-byte one (CJK, kana, Hangul, Thai, Indic)."""
    tokens = 0
    for piece in _TOKEN.findall(text):
        if not piece[0].isalpha():
            tokens += 1
            continue
        ascii_letters = sum(1 for c in piece if c.isascii())
        wide = sum(1 for c in piece if len(c.encode("utf-8")) >= 3)
        two_byte = len(piece) - ascii_letters - wide
        tokens += -(-ascii_letters // 6) + -(-two_byte // 3) + wide
    return tokens


@dataclass(frozen=True)
class ConverseCall:
    """One Converse request as the stand-in read it, with what it answered."""

    model_id: str
    system: str
    prompt: str  # the user messages' text
    max_tokens: int | None
    temperature: float | None
    input_tokens: int
    status: int
    error: str | None  # the error code answered, if any


@dataclass(frozen=True)
class _Fault:
    kind: str  # "throttle", "error", "non_json", "text"
    code: str = ""
    message: str = ""


class BedrockStandIn(StandIn):
    signing_service = "bedrock"

    def __init__(
        self,
        *,
        model_ids: Iterable[str] = DEFAULT_MODEL_IDS,
        context_tokens: int = DEFAULT_CONTEXT_TOKENS,
        max_output_tokens: int = DEFAULT_MAX_OUTPUT_TOKENS,
    ) -> None:
        super().__init__()
        self.model_ids = frozenset(model_ids)
        self.context_tokens = context_tokens
        self.max_output_tokens = max_output_tokens
        self.calls: list[ConverseCall] = []  # every Converse request that reached the model id
        self._faults_lock = threading.Lock()
        self._faults: deque[_Fault] = deque()

    # -- scripting --------------------------------------------------------------------
    def throttle_next(self, count: int = 1) -> None:
        self._script(_Fault("throttle"), count)

    def fail_next(self, code: str, message: str | None = None, count: int = 1) -> None:
        self._script(_Fault("error", code, message or f"{code} (scripted)"), count)

    def answer_non_json_next(self, count: int = 1) -> None:
        self._script(_Fault("non_json"), count)

    def answer_text_next(self, text: str, count: int = 1) -> None:
        """The next answers are exactly ``text`` (a fenced JSON, a cut answer...)."""
        self._script(_Fault("text", message=text), count)

    def reset(self) -> None:
        """Forget the requests, calls and scripted faults (one stand-in, many tests)."""
        with self._faults_lock:
            self.requests.clear()
            self.calls.clear()
            self._faults.clear()

    def _script(self, fault: _Fault, count: int) -> None:
        with self._faults_lock:
            self._faults.extend([fault] * count)

    # -- the service --------------------------------------------------------------------
    def converse_bodies(self) -> list[dict[str, Any]]:
        """Bodies of every request to a converse path (answered or not)."""
        return [r.json() for r in self.requests if _PATH.match(r.path.split("?", 1)[0])]

    def answer(self, request: RecordedRequest) -> Answer:
        started = time.monotonic()
        path = _PATH.match(request.path.split("?", 1)[0])
        if path is None:
            return _error("UnknownOperationException", "only Converse is served", 404)
        model_id = unquote(path.group("model"))
        if not _WELL_FORMED_MODEL.match(model_id):
            return _error("ValidationException", "The provided model identifier is invalid.")
        if model_id not in self.model_ids:
            return _error("ResourceNotFoundException", "Model not found.")
        try:
            body = request.json()
        except ValueError:
            return _error("SerializationException", "the body is not JSON", 400)
        system, prompt, problem = _read_body(body)
        config = body.get("inferenceConfig") if isinstance(body, dict) else None
        max_tokens = config.get("maxTokens") if isinstance(config, dict) else None
        temperature = config.get("temperature") if isinstance(config, dict) else None
        input_tokens = count_tokens(system) + count_tokens(prompt) + MESSAGE_TOKENS

        def reply(answer: Answer) -> Answer:
            error = answer.headers.get("x-amzn-ErrorType", "").split(":", 1)[0] or None
            call = ConverseCall(
                model_id, system, prompt, max_tokens, temperature, input_tokens,
                answer.status, error,
            )  # fmt: skip
            with self._faults_lock:
                self.calls.append(call)
            return answer

        with self._faults_lock:
            fault = self._faults.popleft() if self._faults else None
        if fault is not None and fault.kind == "throttle":
            return reply(
                _error("ThrottlingException", "Too many requests, please wait before trying again.")
            )
        if fault is not None and fault.kind == "error":
            return reply(_error(fault.code, fault.message))
        if problem:
            return reply(_error("ValidationException", problem))
        if not isinstance(max_tokens, int) or isinstance(max_tokens, bool):
            return reply(_error("ValidationException", "inferenceConfig.maxTokens is required"))
        if not 1 <= max_tokens <= self.max_output_tokens:
            return reply(
                _error(
                    "ValidationException",
                    f"The maximum tokens you requested exceeds the model limit of "
                    f"{self.max_output_tokens}. Try again with a maximum tokens value that is "
                    "lower than the limit.",
                )
            )
        if temperature is not None and not 0 <= temperature <= 1:
            return reply(_error("ValidationException", "temperature must be within 0..1"))
        if input_tokens > self.context_tokens:
            return reply(_error("ValidationException", "Input is too long for requested model."))

        if fault is not None and fault.kind == "non_json":
            text = (
                "Sure! Here is a summary of the transcript. The speakers discuss the points "
                "above and agree on the next steps."
            )
        elif fault is not None and fault.kind == "text":
            text = fault.message
        else:
            text = json.dumps(_model_answer(prompt), ensure_ascii=False)
        text, stop_reason = _limited(text, max_tokens)
        output_tokens = count_tokens(text)
        return reply(
            Answer(
                200,
                {
                    "output": {"message": {"role": "assistant", "content": [{"text": text}]}},
                    "stopReason": stop_reason,
                    "usage": {
                        "inputTokens": input_tokens,
                        "outputTokens": output_tokens,
                        "totalTokens": input_tokens + output_tokens,
                    },
                    "metrics": {"latencyMs": int((time.monotonic() - started) * 1000)},
                },
                {"x-amzn-RequestId": str(uuid.uuid4())},
            )
        )


def _error(code: str, message: str, status: int | None = None) -> Answer:
    return Answer(
        status or _STATUS.get(code, 400),
        {"message": message},
        {
            # The form AWS sends; botocore keeps the part before ":".
            "x-amzn-ErrorType": f"{code}:http://internal.amazon.com/coral/com.amazon.bedrock/",
            "x-amzn-RequestId": str(uuid.uuid4()),
        },
    )


def _read_body(body: Any) -> tuple[str, str, str | None]:
    """The system text, the user messages' text, and what is wrong with the body."""
    if not isinstance(body, dict):
        return "", "", "the body must be a JSON object"
    system_blocks = body.get("system", [])
    if not isinstance(system_blocks, list) or not all(
        isinstance(b, dict) and isinstance(b.get("text"), str) for b in system_blocks
    ):
        return "", "", "system must be a list of text blocks"
    system = "\n".join(block["text"] for block in system_blocks)
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        return system, "", "A conversation must start with a user message."
    texts: list[str] = []
    for number, message in enumerate(messages):
        role = message.get("role") if isinstance(message, dict) else None
        if role != ("user" if number % 2 == 0 else "assistant"):
            return (
                system,
                "",
                (
                    "A conversation must alternate between user and assistant roles, "
                    "starting with a user message."
                ),
            )
        content = message.get("content")
        if not isinstance(content, list) or not content:
            return system, "", f"messages.{number}.content must not be empty"
        for block in content:
            if not isinstance(block, dict) or not isinstance(block.get("text"), str):
                return system, "", "the stand-in reads text content blocks only"
            if not block["text"].strip():
                return system, "", "The text field in the ContentBlock object is blank."
            if role == "user":
                texts.append(block["text"])
    return system, "\n".join(texts), None


def _limited(text: str, max_tokens: int) -> tuple[str, str]:
    """The text cut at ``max_tokens`` tokens (stopReason max_tokens), or whole (end_turn)."""
    if count_tokens(text) <= max_tokens:
        return text, "end_turn"
    low, high = 0, len(text)
    while low < high:  # the longest prefix within the limit
        middle = (low + high + 1) // 2
        if count_tokens(text[:middle]) <= max_tokens:
            low = middle
        else:
            high = middle - 1
    return text[:low], "max_tokens"


# -- the fake model -----------------------------------------------------------------------
def _model_answer(prompt: str) -> dict[str, Any]:
    partials = _block(prompt, "partial_summaries")
    if partials is not None:
        return _merged(partials)
    transcript = _block(prompt, "transcript")
    return _summary_of_lines(transcript if transcript is not None else prompt)


def _block(prompt: str, tag: str) -> str | None:
    start, end = prompt.find(f"<{tag}>"), prompt.rfind(f"</{tag}>")
    if start < 0 or end < start:
        return None
    return prompt[start + len(tag) + 2 : end]


def _sentences(text: str) -> list[str]:
    """Sentences, each cut at SENTENCE_WORDS words (a model writes briefly)."""
    cut = (" ".join(s.split()[:SENTENCE_WORDS]) for s in _SENTENCE.split(text))
    return [sentence for sentence in cut if sentence]


def _clock(seconds: int) -> str:
    hours, rest = divmod(seconds, 3600)
    return f"{hours}:{rest // 60:02d}:{rest % 60:02d}"


def _summary_of_lines(text: str) -> dict[str, Any]:
    lines: list[tuple[int, str | None, str]] = []
    for raw in text.splitlines():
        match = _LINE.match(raw.strip())
        if match:
            hours, minutes, seconds = (int(match.group(i)) for i in (1, 2, 3))
            speaker = match.group("speaker")
            lines.append((hours * 3600 + minutes * 60 + seconds, speaker, match.group("text")))
    if not lines:
        return {"summary": "The text holds no transcript lines.", "key_points": [],
                "action_items": [], "chapters": []}  # fmt: skip
    sentences = [s for _, _, line in lines for s in _sentences(line)]
    summary = " ".join(sentences[:2]) or lines[0][2]
    step = max(1, len(lines) // 4)
    key_points = list(dict.fromkeys(_sentences(line)[0] for _, _, line in lines[::step] if line))
    action_items: list[dict[str, Any]] = []
    for _, speaker, line in lines:
        for sentence in _sentences(line):
            if len(action_items) < MAX_ACTION_ITEMS and _WILL.search(sentence):
                owner = None
                name = _NAME_WILL.match(sentence)
                if _I_WILL.match(sentence) and speaker:
                    owner = speaker
                elif name and name.group(1) not in _NOT_NAMES:
                    owner = name.group(1)
                action_items.append({"text": sentence, "owner": owner})
    chapters: list[dict[str, str]] = []
    next_chapter = lines[0][0]
    for seconds, _, line in lines:
        if seconds >= next_chapter:
            title = " ".join(re.sub(r"[^\w\s'-]", "", line).split()[:6]) or "Untitled"
            chapters.append({"start": _clock(seconds), "title": title})
            next_chapter = seconds + CHAPTER_SECONDS
    return {
        "summary": summary,
        "key_points": key_points[:MAX_KEY_POINTS],
        "action_items": action_items,
        "chapters": chapters,
    }


def _merged(text: str) -> dict[str, Any]:
    parts = []
    for raw in text.splitlines():
        raw = raw.strip()
        if raw.startswith("{"):
            try:
                parts.append(json.loads(raw))
            except ValueError:
                continue
    summaries = [_sentences(str(p.get("summary", "")))[:1] for p in parts]
    key_points = [k for p in parts for k in p.get("key_points", [])]
    seen: set[str] = set()
    action_items = []
    for part in parts:
        for item in part.get("action_items", []):
            if isinstance(item, dict) and str(item.get("text")).casefold() not in seen:
                seen.add(str(item.get("text")).casefold())
                action_items.append(item)
    chapters: dict[str, dict[str, Any]] = {}
    for part in parts:
        for chapter in part.get("chapters", []):
            if isinstance(chapter, dict) and isinstance(chapter.get("start"), str):
                chapters.setdefault(chapter["start"], chapter)
    ordered = sorted(chapters.values(), key=lambda c: [int(n) for n in c["start"].split(":")])
    if len(ordered) > MAX_CHAPTERS:  # merged into fewer, longer chapters, evenly
        ordered = [ordered[i * len(ordered) // MAX_CHAPTERS] for i in range(MAX_CHAPTERS)]
    firsts = [s for first in summaries for s in first]
    if len(firsts) > MAX_SUMMARY_SENTENCES:
        step = len(firsts) / MAX_SUMMARY_SENTENCES
        firsts = [firsts[int(i * step)] for i in range(MAX_SUMMARY_SENTENCES)]
    return {
        "summary": " ".join(firsts) or "No summary.",
        "key_points": list(dict.fromkeys(key_points))[:MAX_KEY_POINTS],
        "action_items": action_items[:MAX_ACTION_ITEMS],
        "chapters": ordered,
    }
