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
        ({"RECONCILE_LOOKBACK_HOURS": "0"}, "RECONCILE_LOOKBACK_HOURS"),
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
