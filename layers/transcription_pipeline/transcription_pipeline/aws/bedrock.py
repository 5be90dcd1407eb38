"""Amazon Bedrock: the abstractive summary's model, through the Converse API.

Converse (bedrock-runtime, ``POST /model/{modelId}/converse``) takes a system prompt, a
list of messages and ``inferenceConfig``; it answers ``output.message.content[].text``,
``stopReason`` and ``usage.inputTokens/outputTokens``; the caller needs
``bedrock:InvokeModel``.
https://docs.aws.amazon.com/bedrock/latest/APIReference/API_runtime_Converse.html

Errors (same page): ThrottlingException (429), ModelNotReadyException (429),
AccessDeniedException (403), ResourceNotFoundException (404), ModelTimeoutException
(408), ValidationException (400), ModelErrorException (424), InternalServerException
(500), ServiceUnavailableException (503). botocore's standard retry mode retries the
throttling and 5xx ones; what is left is raised as ModelThrottled or ModelFailed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from transcription_pipeline.aws.errors import CLIENT_CONFIG, error_code
from transcription_pipeline.model_summary.types import ModelFailed, ModelReply, ModelThrottled

if TYPE_CHECKING:
    from mypy_boto3_bedrock_runtime import BedrockRuntimeClient

__all__ = ["BedrockSummaryModel"]

# botocore's default read timeout is 60 s; a long answer from a large model takes longer
# (https://repost.aws/knowledge-center/bedrock-large-model-read-timeouts). A request
# that has not answered in this time is retried, within the function's own timeout.
DEFAULT_READ_TIMEOUT_SECONDS = 180
DEFAULT_MAX_ATTEMPTS = 6

_THROTTLED = frozenset({"ThrottlingException", "TooManyRequestsException"})
_MESSAGE_MAX_CHARS = 300


class BedrockSummaryModel:
    """A model or inference profile behind SummaryModel's ``converse`` (temperature 0)."""

    def __init__(
        self,
        model_id: str,
        client: BedrockRuntimeClient | None = None,
        *,
        max_attempts: int = DEFAULT_MAX_ATTEMPTS,
        read_timeout: int = DEFAULT_READ_TIMEOUT_SECONDS,
    ) -> None:
        self.model_id = model_id
        config = CLIENT_CONFIG.merge(
            Config(
                retries={"mode": "standard", "max_attempts": max_attempts},
                read_timeout=read_timeout,
                connect_timeout=10,
            )
        )
        self._bedrock: BedrockRuntimeClient = client or boto3.client(
            "bedrock-runtime", config=config
        )

    def converse(self, *, system: str, prompt: str, max_output_tokens: int) -> ModelReply:
        try:
            response = self._bedrock.converse(
                modelId=self.model_id,
                system=[{"text": system}],
                messages=[{"role": "user", "content": [{"text": prompt}]}],
                # The same transcript should give the same summary, as far as a model allows.
                inferenceConfig={"maxTokens": max_output_tokens, "temperature": 0},
            )
        except ClientError as error:
            code = error_code(error)
            message = str(error.response.get("Error", {}).get("Message", ""))
            if code in _THROTTLED:
                raise ModelThrottled(f"{code}: {message}") from error
            raise ModelFailed(code, _explained(code, message, self.model_id)) from error
        except BotoCoreError as error:  # timeouts and connection failures, after retries
            raise ModelFailed(type(error).__name__, str(error)[:_MESSAGE_MAX_CHARS]) from error
        content = response.get("output", {}).get("message", {}).get("content", [])
        text = "".join(block["text"] for block in content if "text" in block)
        usage = response.get("usage", {})
        return ModelReply(
            text=text,
            input_tokens=int(usage.get("inputTokens", 0)),
            output_tokens=int(usage.get("outputTokens", 0)),
            stop_reason=str(response.get("stopReason", "")),
        )


def _explained(code: str, message: str, model_id: str) -> str:
    """Bedrock's message, shortened, with what to check for the errors a setup causes."""
    message = message[:_MESSAGE_MAX_CHARS]
    if code == "AccessDeniedException":
        return (
            f"{message} (the function's role needs bedrock:InvokeModel on {model_id}; for a "
            "cross-Region inference profile, on the profile and on the model in every Region "
            "it routes to; and access to the model must be enabled in the account)"
        )
    if code == "ResourceNotFoundException":
        return f"{message} (check the model or inference-profile id {model_id} and the Region)"
    return message
