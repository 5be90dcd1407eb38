"""Settings read once from the environment variables that template.yaml declares.

A plain frozen dataclass instead of a pydantic model: the layer stays small and the
import stays cheap, and the handful of fields needs no more than this.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass

from transcription_pipeline.languages import BATCH_LANGUAGE_CODES
from transcription_pipeline.options import FileOptions, OptionError, parse_profiles

# Transcribe's OutputKey alphabet; our reserved prefix must obey it.
_OUTPUT_KEY_PATTERN = re.compile(r"^[a-zA-Z0-9\-_.!*'()/]+/$")
_LANGUAGE_CODE_PATTERN = re.compile(r"^[a-z]{2,3}-[A-Z]{2}$")
_JOB_NAME_PREFIX_PATTERN = re.compile(r"^[0-9a-zA-Z._-]{1,150}$")
# A Bedrock model id, inference-profile id or ARN (Converse's modelId).
_MODEL_ID_PATTERN = re.compile(r"^[0-9a-zA-Z._:/-]{1,2048}$")
AUTO_LANGUAGE = "auto"


class ConfigError(ValueError):
    """The environment does not describe a usable configuration (a deployment mistake)."""


@dataclass(frozen=True)
class Settings:
    input_bucket: str
    output_bucket: str
    job_name_prefix: str  # unique to this stack; the EventBridge rule filters on it
    raw_output_prefix: str  # where Transcribe writes its own JSON, e.g. "_transcribe/"
    language_code: str | None  # None means automatic language identification
    language_options: tuple[str, ...]  # candidates for identification
    speaker_labels: bool
    max_speakers: int
    vocabulary_name: str | None
    pii_redaction: bool
    output_kms_key_arn: str | None = None  # Transcribe's OutputEncryptionKMSKeyId
    # The role Transcribe assumes to read uploads and write its output; with it, jobs above
    # the concurrent-job quota wait in Transcribe's own queue (AllowDeferredExecution).
    data_access_role_arn: str | None = None
    upload_queue_url: str = ""  # S3 -> this queue -> the start function
    in_flight_table: str = ""  # one item per started job until its answer exists
    reconcile_min_age_minutes: int = 60  # a job older than this should have announced itself
    # The completion events' EventBridge source: this stack's own.
    event_source: str = "transcription-pipeline"
    # Per-prefix options (OptionProfiles), longest prefix first.
    option_profiles: tuple[tuple[str, FileOptions], ...] = ()
    # DeleteFollowsSource: a deleted upload takes its outputs, raw transcripts, jobs and
    # in-flight items with it (README, Delete follows the source).
    delete_follows_source: bool = False
    # SummaryModelId: the Bedrock model or inference profile that writes the abstractive
    # summary; None keeps the offline summary only.
    summary_model_id: str | None = None
    summary_token_budget: int = 200_000  # input + output tokens one file may use
    summary_chunk_tokens: int = 8_000  # one map call's input, prompt included
    # TranslateTo: languages every upload's outputs are translated into (options add more).
    target_languages: tuple[str, ...] = ()
    transcript_document: bool = True  # TranscriptDocument: write transcript.docx too

    @property
    def request_source(self) -> str:
        """The EventBridge source of this stack's requests to itself (Regenerate Requested):
        not the completion events' source, so rules for those never see requests."""
        return f"{self.event_source}.requests"

    @property
    def identify_language(self) -> bool:
        return self.language_code is None

    def stack_options(self) -> FileOptions:
        """The stack's parameters as the lowest-precedence source of per-file options."""
        return FileOptions(
            language=self.language_code or "auto",
            language_options=self.language_options or None,
            speakers=self.max_speakers if self.speaker_labels else None,
            vocabulary=self.vocabulary_name,
            redaction=self.pii_redaction,
            target_languages=self.target_languages or None,
        )


def _required(env: Mapping[str, str], name: str) -> str:
    value = env.get(name, "").strip()
    if not value:
        raise ConfigError(f"environment variable {name} is required")
    return value


def _flag(env: Mapping[str, str], name: str, default: bool) -> bool:
    value = env.get(name, "").strip().lower()
    if not value:
        return default
    if value in ("true", "1", "yes"):
        return True
    if value in ("false", "0", "no"):
        return False
    raise ConfigError(f"{name} must be true or false, not {value!r}")


def _whole_number(env: Mapping[str, str], name: str, default: int, low: int, high: int) -> int:
    try:
        value = int(env.get(name, "").strip() or str(default))
    except ValueError as error:
        raise ConfigError(f"{name} must be a whole number") from error
    if not low <= value <= high:
        raise ConfigError(f"{name} must be between {low} and {high}")
    return value


def load_settings(env: Mapping[str, str] | None = None) -> Settings:
    """Build Settings from ``env`` (default: ``os.environ``); raise ConfigError on nonsense."""
    env = os.environ if env is None else env

    job_name_prefix = _required(env, "JOB_NAME_PREFIX")
    if not _JOB_NAME_PREFIX_PATTERN.match(job_name_prefix):
        raise ConfigError(f"JOB_NAME_PREFIX {job_name_prefix!r} is not a valid job name start")

    raw_output_prefix = env.get("RAW_OUTPUT_PREFIX", "").strip() or "_transcribe/"
    if not _OUTPUT_KEY_PATTERN.match(raw_output_prefix):
        raise ConfigError(
            f"RAW_OUTPUT_PREFIX {raw_output_prefix!r} must end with '/' and use only "
            "characters Transcribe accepts in an OutputKey"
        )

    language = env.get("LANGUAGE_CODE", "").strip() or "en-US"
    language_code: str | None = None if language.lower() == AUTO_LANGUAGE else language
    if language_code is not None and not _LANGUAGE_CODE_PATTERN.match(language_code):
        raise ConfigError(f"LANGUAGE_CODE {language!r} is neither a code like en-US nor 'auto'")
    language_options = tuple(
        code.strip() for code in env.get("LANGUAGE_OPTIONS", "").split(",") if code.strip()
    )
    for code in language_options:
        if not _LANGUAGE_CODE_PATTERN.match(code):
            raise ConfigError(f"LANGUAGE_OPTIONS holds {code!r}, not a code like en-US")
    if language_code is None and len(language_options) < 2:
        raise ConfigError("automatic language identification needs at least 2 LANGUAGE_OPTIONS")

    vocabulary_name = env.get("VOCABULARY_NAME", "").strip() or None
    if vocabulary_name and language_code is None:
        # A custom vocabulary belongs to one language; identification may pick another.
        raise ConfigError("VOCABULARY_NAME needs a fixed LANGUAGE_CODE, not 'auto'")

    summary_model_id = env.get("SUMMARY_MODEL_ID", "").strip() or None
    if summary_model_id and not _MODEL_ID_PATTERN.match(summary_model_id):
        raise ConfigError(
            f"SUMMARY_MODEL_ID {summary_model_id!r} is not a Bedrock model id, inference "
            "profile id or ARN"
        )
    target_languages = tuple(
        code.strip() for code in env.get("TARGET_LANGUAGES", "").split(",") if code.strip()
    )
    for code in target_languages:
        if code not in BATCH_LANGUAGE_CODES:
            raise ConfigError(f"TARGET_LANGUAGES holds {code!r}, not a language code like de-DE")

    try:
        option_profiles = parse_profiles(env.get("OPTION_PROFILES", ""))
    except OptionError as error:
        raise ConfigError(f"OPTION_PROFILES: {error}") from error

    return Settings(
        option_profiles=option_profiles,
        delete_follows_source=_flag(env, "DELETE_FOLLOWS_SOURCE", default=False),
        event_source=env.get("EVENT_SOURCE", "").strip() or "transcription-pipeline",
        input_bucket=_required(env, "INPUT_BUCKET"),
        output_bucket=_required(env, "OUTPUT_BUCKET"),
        job_name_prefix=job_name_prefix,
        raw_output_prefix=raw_output_prefix,
        language_code=language_code,
        language_options=language_options,
        speaker_labels=_flag(env, "SPEAKER_LABELS", default=True),
        max_speakers=_whole_number(env, "MAX_SPEAKERS", 10, 2, 30),
        vocabulary_name=vocabulary_name,
        pii_redaction=_flag(env, "PII_REDACTION", default=False),
        output_kms_key_arn=env.get("OUTPUT_KMS_KEY_ARN", "").strip() or None,
        data_access_role_arn=env.get("TRANSCRIBE_DATA_ACCESS_ROLE_ARN", "").strip() or None,
        upload_queue_url=env.get("UPLOAD_QUEUE_URL", "").strip(),
        in_flight_table=env.get("IN_FLIGHT_TABLE", "").strip(),
        reconcile_min_age_minutes=_whole_number(env, "RECONCILE_MIN_AGE_MINUTES", 60, 5, 24 * 60),
        summary_model_id=summary_model_id,
        summary_token_budget=_whole_number(env, "SUMMARY_TOKEN_BUDGET", 200_000, 1_000, 10_000_000),
        summary_chunk_tokens=_whole_number(env, "SUMMARY_CHUNK_TOKENS", 8_000, 1_000, 300_000),
        target_languages=target_languages,
        transcript_document=_flag(env, "TRANSCRIPT_DOCUMENT", default=True),
    )
