from __future__ import annotations

import pytest

from transcription_pipeline.config import ConfigError, load_settings

BASE = {"INPUT_BUCKET": "in", "OUTPUT_BUCKET": "out", "JOB_NAME_PREFIX": "stack."}


def test_defaults_are_safe() -> None:
    settings = load_settings(BASE)

    assert settings.output_bucket == "out"
    assert settings.raw_output_prefix == "_transcribe/"
    assert settings.language_code == "en-US"
    assert settings.speaker_labels is True
    assert settings.max_speakers == 10
    assert settings.vocabulary_name is None
    assert settings.pii_redaction is False
    assert settings.data_access_role_arn is None  # no role: jobs are not queued
    assert settings.reconcile_min_age_minutes == 60


def test_automatic_language_identification() -> None:
    settings = load_settings({**BASE, "LANGUAGE_CODE": "auto", "LANGUAGE_OPTIONS": "en-US, de-DE"})

    assert settings.identify_language
    assert settings.language_options == ("en-US", "de-DE")


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"OUTPUT_BUCKET": ""}, "OUTPUT_BUCKET"),
        ({"INPUT_BUCKET": ""}, "INPUT_BUCKET"),
        ({"RECONCILE_MIN_AGE_MINUTES": "1"}, "RECONCILE_MIN_AGE_MINUTES"),
        ({"RECONCILE_MIN_AGE_MINUTES": "1441"}, "RECONCILE_MIN_AGE_MINUTES"),
        ({"JOB_NAME_PREFIX": "bad prefix"}, "JOB_NAME_PREFIX"),
        ({"LANGUAGE_CODE": "english"}, "LANGUAGE_CODE"),
        ({"LANGUAGE_CODE": "auto", "LANGUAGE_OPTIONS": "en-US"}, "at least 2"),
        ({"LANGUAGE_OPTIONS": "en-US,xx"}, "LANGUAGE_OPTIONS"),
        ({"MAX_SPEAKERS": "1"}, "MAX_SPEAKERS"),
        ({"MAX_SPEAKERS": "ten"}, "MAX_SPEAKERS"),
        ({"SPEAKER_LABELS": "maybe"}, "SPEAKER_LABELS"),
        ({"RAW_OUTPUT_PREFIX": "raw"}, "RAW_OUTPUT_PREFIX"),
        ({"RAW_OUTPUT_PREFIX": "raw output/"}, "RAW_OUTPUT_PREFIX"),
        (
            {"LANGUAGE_CODE": "auto", "LANGUAGE_OPTIONS": "en-US,es-US", "VOCABULARY_NAME": "v"},
            "VOCABULARY_NAME",
        ),
    ],
)
def test_nonsense_is_refused_with_the_variable_named(
    overrides: dict[str, str], message: str
) -> None:
    with pytest.raises(ConfigError, match=message):
        load_settings({**BASE, **overrides})


def test_flags_accept_the_template_values() -> None:
    settings = load_settings({**BASE, "SPEAKER_LABELS": "false", "PII_REDACTION": "true"})
    assert settings.speaker_labels is False
    assert settings.pii_redaction is True


def test_the_queue_the_table_and_the_data_access_role_are_read() -> None:
    settings = load_settings(
        {
            **BASE,
            "UPLOAD_QUEUE_URL": " https://sqs.us-east-1.amazonaws.com/1/q ",
            "IN_FLIGHT_TABLE": "stack-InFlightTable",
            "TRANSCRIBE_DATA_ACCESS_ROLE_ARN": "arn:aws:iam::1:role/stack-TranscribeDataAccessRole",
            "RECONCILE_MIN_AGE_MINUTES": "15",
        }
    )

    assert settings.upload_queue_url == "https://sqs.us-east-1.amazonaws.com/1/q"
    assert settings.in_flight_table == "stack-InFlightTable"
    assert settings.data_access_role_arn == "arn:aws:iam::1:role/stack-TranscribeDataAccessRole"
    assert settings.reconcile_min_age_minutes == 15


def test_summary_model_and_translation_settings_are_read_and_checked() -> None:
    base = {"INPUT_BUCKET": "in", "OUTPUT_BUCKET": "out", "JOB_NAME_PREFIX": "stack."}
    settings = load_settings(
        {
            **base,
            "SUMMARY_MODEL_ID": "us.amazon.nova-lite-v1:0",
            "SUMMARY_TOKEN_BUDGET": "50000",
            "TARGET_LANGUAGES": "de-DE, ja-JP",
        }
    )
    assert settings.summary_model_id == "us.amazon.nova-lite-v1:0"
    assert settings.summary_token_budget == 50_000
    assert settings.summary_chunk_tokens == 8_000
    assert settings.target_languages == ("de-DE", "ja-JP")
    assert settings.stack_options().target_languages == ("de-DE", "ja-JP")
    assert load_settings(base).summary_model_id is None
    with pytest.raises(ConfigError, match="TARGET_LANGUAGES holds 'de'"):
        load_settings({**base, "TARGET_LANGUAGES": "de"})
    with pytest.raises(ConfigError, match="SUMMARY_MODEL_ID"):
        load_settings({**base, "SUMMARY_MODEL_ID": "model id with spaces"})
