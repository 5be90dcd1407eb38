"""Amazon Translate's TranslateText over its JSON 1.1 wire protocol, with a fake translation.

boto3 (pointed here with an endpoint URL) sends ``POST /`` with
``X-Amz-Target: AWSShineFrontendService_20170701.TranslateText`` and
``Content-Type: application/x-amz-json-1.1``; errors go back as JSON 1.1 does
(``{"__type": ..., "message": ...}`` and the status of the API model).

The "translation" is deterministic and reversible, so tests can check that every text came
back to its place: each line becomes ``[<target>] `` followed by its words, each spelt
backwards (``reverse_translation`` undoes it). Line breaks are kept, as Translate keeps them.

Checks, as Translate makes them: Text present and at most 10,000 UTF-8 bytes
(TextSizeLimitExceededException), known language codes (UnsupportedLanguagePairException).
Source equal to target is accepted (Translate returns the text and does not charge) but
noted in ``problems``, since the pipeline should never ask for it.

Scriptable faults: ``throttle_next(n)``, ``merge_lines_next(n)`` (the next answers join
their first two lines, as the service sometimes does), ``fail_target(code, error)``.
"""

from __future__ import annotations

import threading
import uuid
from dataclasses import dataclass

from local_pipeline.standins import Answer, RecordedRequest, StandIn
from transcription_pipeline.translation import AUTO, MAX_REQUEST_BYTES, TRANSLATE_LANGUAGE_CODES

__all__ = ["TranslateStandIn", "fake_translation", "reverse_translation", "target_prefix"]

OPERATION_TARGET = "AWSShineFrontendService_20170701.TranslateText"
CONTENT_TYPE = "application/x-amz-json-1.1"
_ERROR_NAMESPACE = "com.amazonaws.translate#"
# HTTP statuses of the errors in the API model (botocore's translate-2017-07-01).
_STATUS = {
    "InvalidRequestException": 400,
    "TextSizeLimitExceededException": 400,
    "TooManyRequestsException": 429,
    "UnsupportedLanguagePairException": 400,
    "DetectedLanguageLowConfidenceException": 400,
    "ResourceNotFoundException": 404,
    "InternalServerException": 500,
    "ServiceUnavailableException": 503,
    "AccessDeniedException": 400,
}
AUTO_DETECTED = "en"  # what the stand-in "detects" for SourceLanguageCode auto


def target_prefix(target: str) -> str:
    return f"[{target}] "


def fake_translation(text: str, target: str) -> str:
    """Every line prefixed with ``[target] `` and each word spelt backwards."""
    return "\n".join(
        target_prefix(target) + " ".join(word[::-1] for word in line.split(" "))
        for line in text.split("\n")
    )


def reverse_translation(text: str, target: str) -> str:
    """The original of one line of ``fake_translation`` (prefix removed, words turned back)."""
    prefix = target_prefix(target)
    if not text.startswith(prefix):
        raise ValueError(f"not a fake {target} translation: {text[:40]!r}")
    return " ".join(word[::-1] for word in text[len(prefix) :].split(" "))


@dataclass(frozen=True)
class _Failure:
    error: str
    message: str


class TranslateStandIn(StandIn):
    signing_service = "translate"

    def __init__(self) -> None:
        super().__init__()
        self._faults = threading.Lock()
        self._throttles = 0
        self._merges = 0
        self._failing: dict[str, _Failure] = {}
        self.problems: list[str] = []  # accepted requests the pipeline should not send
        self.answered: list[dict[str, str]] = []  # bodies of the requests answered with 200

    # -- scripting --------------------------------------------------------------------
    def throttle_next(self, count: int) -> None:
        with self._faults:
            self._throttles += count

    def merge_lines_next(self, count: int = 1) -> None:
        with self._faults:
            self._merges += count

    def fail_target(
        self,
        target: str,
        error: str = "UnsupportedLanguagePairException",
        message: str | None = None,
    ) -> None:
        with self._faults:
            self._failing[target] = _Failure(
                error, message or f"Unsupported language pair: to {target}."
            )

    # -- the service --------------------------------------------------------------------
    def translate_requests(self) -> list[dict[str, str]]:
        """Bodies of every TranslateText request received (answered or not)."""
        return [
            request.json()
            for request in self.requests
            if request.headers.get("x-amz-target") == OPERATION_TARGET
        ]

    def answer(self, request: RecordedRequest) -> Answer:
        if request.path != "/" or request.headers.get("x-amz-target") != OPERATION_TARGET:
            return _error("UnknownOperationException", "only TranslateText is served", 400)
        if not request.headers.get("content-type", "").startswith(CONTENT_TYPE):
            return _error("SerializationException", f"Content-Type must be {CONTENT_TYPE}", 400)
        body = request.json()
        text = body.get("Text")
        source = body.get("SourceLanguageCode")
        target = body.get("TargetLanguageCode")
        if not isinstance(text, str) or not text:
            return _error("ValidationException", "1 validation error: Text must not be empty", 400)
        if not isinstance(source, str) or not isinstance(target, str):
            return _error("ValidationException", "Source and target language codes required", 400)
        size = len(text.encode("utf-8"))
        if size > MAX_REQUEST_BYTES:
            return _error(
                "TextSizeLimitExceededException",
                f"Input text size exceeds limit. Max length of request text allowed is "
                f"{MAX_REQUEST_BYTES} bytes while in this request the text size is {size} bytes",
            )
        known_source = source == AUTO or source in TRANSLATE_LANGUAGE_CODES
        if not known_source or target not in TRANSLATE_LANGUAGE_CODES:
            return _error(
                "UnsupportedLanguagePairException",
                f"Unsupported language pair: {source} to {target}.",
                extra={"SourceLanguageCode": source, "TargetLanguageCode": target},
            )
        with self._faults:
            failure = self._failing.get(target)
            throttled = not failure and self._throttles > 0
            if throttled:
                self._throttles -= 1
            merge = not failure and not throttled and self._merges > 0 and "\n" in text
            if merge:
                self._merges -= 1
        if failure:
            return _error(failure.error, failure.message)
        if throttled:
            return _error("TooManyRequestsException", "Rate exceeded")
        detected = AUTO_DETECTED if source == AUTO else source
        if detected == target:
            with self._faults:
                self.problems.append(f"source equals target ({target})")
            translated = text
        else:
            translated = fake_translation(text, target)
        if merge:
            first, second, *rest = translated.split("\n")
            translated = "\n".join([f"{first} {second}", *rest])
        with self._faults:
            self.answered.append({"Text": text, "Source": source, "Target": target})
        return Answer(
            200,
            {
                "TranslatedText": translated,
                "SourceLanguageCode": detected,
                "TargetLanguageCode": target,
            },
            {"x-amzn-RequestId": str(uuid.uuid4())},
        )


def _error(
    error: str, message: str, status: int | None = None, extra: dict[str, str] | None = None
) -> Answer:
    """A JSON 1.1 error answer: ``__type`` names the error, ``message`` says why."""
    return Answer(
        status or _STATUS.get(error, 400),
        {"__type": _ERROR_NAMESPACE + error, "message": message, **(extra or {})},
        {"x-amzn-RequestId": str(uuid.uuid4())},
    )
