"""Amazon Translate: one TranslateText call, as translation.Translator wants it."""

from __future__ import annotations

from typing import TYPE_CHECKING

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from transcription_pipeline.aws.errors import CLIENT_CONFIG, error_code
from transcription_pipeline.translation import TranslationFailed, TranslationThrottled

if TYPE_CHECKING:
    from mypy_boto3_translate import TranslateClient

# What Translate answers when the request rate is too high (TooManyRequestsException, HTTP
# 429, in the API reference); botocore's standard mode retries both with backoff first.
_THROTTLING_ERRORS = frozenset({"ThrottlingException", "TooManyRequestsException"})


class AmazonTranslator:
    """TranslateText with standard retries (throttling and 5xx), then typed errors:
    TranslationThrottled when still throttled, TranslationFailed(code, message) otherwise
    (UnsupportedLanguagePairException, TextSizeLimitExceededException,
    DetectedLanguageLowConfidenceException, AccessDeniedException, ...).

    ``max_attempts`` is botocore's: retries after the first attempt (6 -> up to 7 requests;
    the throttling backoff is rand(0, 1) * min(2**i, 20) s, so at most ~51 s in all).
    """

    def __init__(self, client: TranslateClient | None = None, *, max_attempts: int = 6) -> None:
        # Made when the first translation is asked for: lambda_support builds this adapter
        # then (TranslatorOnFirstUse), not on every cold start.
        config = CLIENT_CONFIG.merge(
            Config(retries={"mode": "standard", "max_attempts": max_attempts})
        )
        self._translate: TranslateClient = client or boto3.client("translate", config=config)

    def translate_text(self, text: str, source: str, target: str) -> str:
        try:
            response = self._translate.translate_text(
                Text=text, SourceLanguageCode=source, TargetLanguageCode=target
            )
        except ClientError as error:
            code = error_code(error)
            message = str(error.response.get("Error", {}).get("Message", ""))
            if code in _THROTTLING_ERRORS:
                raise TranslationThrottled(f"{code}: {message}") from error
            raise TranslationFailed(code or "ClientError", message) from error
        except BotoCoreError as error:
            # No answer at all (connection, timeout) even after retries.
            raise TranslationFailed(type(error).__name__, str(error)) from error
        return response["TranslatedText"]
