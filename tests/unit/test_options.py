"""Per-upload options: each source read, precedence, every invalid value named."""

from __future__ import annotations

import json
import re

import botocore.loaders
import pytest

from transcription_pipeline.config import load_settings
from transcription_pipeline.languages import BATCH_LANGUAGE_CODES
from transcription_pipeline.options import (
    FileOptions,
    OptionError,
    Source,
    names_by_label,
    options_from_metadata,
    options_from_sidecar,
    parse_profiles,
    profile_for,
    resolve,
)

BASE = {
    "INPUT_BUCKET": "in",
    "OUTPUT_BUCKET": "out",
    "JOB_NAME_PREFIX": "stack.",
}
STACK = load_settings(BASE).stack_options()


def test_the_language_codes_are_botocores() -> None:
    model = botocore.loaders.Loader().load_service_model("transcribe", "service-2")
    assert set(model["shapes"]["LanguageCode"]["enum"]) == BATCH_LANGUAGE_CODES


def test_metadata_options_are_read_and_other_metadata_is_left_alone() -> None:
    options = options_from_metadata(
        {"language": "es-US", "speakers": "3", "camera": "canon", "speaker-names": "Ana,Ben"}
    )
    assert options == FileOptions(language="es-US", speakers=3, speaker_names=("Ana", "Ben"))


def test_sidecar_takes_json_types_and_a_label_map() -> None:
    body = json.dumps(
        {
            "title": "Panel",
            "speakers": 2,
            "speaker_names": {"spk_1": "Ben", "spk_0": "Ana"},
            "target_languages": ["de-DE", "fr-FR"],
            "summary_prompt": "Focus on decisions.",
        }
    ).encode()
    options = options_from_sidecar(body, "a.mp4.options.json")
    assert options.speaker_names == (("spk_0", "Ana"), ("spk_1", "Ben"))
    assert options.target_languages == ("de-DE", "fr-FR")
    assert options.title == "Panel"
    assert options.summary_prompt == "Focus on decisions."


def test_precedence_sidecar_over_metadata_over_profile_over_stack() -> None:
    profiles = parse_profiles(
        json.dumps(
            {
                "interviews/": {"language": "de-DE"},
                "interviews/es/": {"language": "es-US", "speakers": 2},
            }
        )
    )
    profile = profile_for("interviews/es/talk.mp4", profiles)
    assert profile is not None
    assert profile.options.language == "es-US"
    metadata = Source("metadata", FileOptions(speakers=4, title="From metadata"))
    sidecar = Source("sidecar", FileOptions(title="From sidecar"))
    resolved = resolve([sidecar, metadata, profile], STACK)
    assert resolved.language_code == "es-US"  # profile over stack (en-US)
    assert resolved.max_speakers == 4  # metadata over profile
    assert resolved.title == "From sidecar"  # sidecar over metadata
    assert resolve([], STACK).language_code == "en-US"
    assert resolve([], STACK).max_speakers == 10


@pytest.mark.parametrize(
    ("entries", "option", "allowed"),
    [
        ({"language": "xx-XX"}, "language", "batch language code"),
        ({"speakers": "1"}, "speakers", "2 to 30"),
        ({"speakers": "31"}, "speakers", "2 to 30"),
        ({"speakers": "many"}, "speakers", "whole number"),
        ({"channels": "maybe"}, "channels", "true or false"),
        ({"redaction": "yes"}, "redaction", "true or false"),
        ({"vocabulary": "bad name!"}, "vocabulary", "letters, digits"),
        ({"vocabulary_filter_method": "hide"}, "vocabulary_filter_method", "mask, remove, tag"),
        ({"title": ""}, "title", "1 to 200"),
        ({"speaker_names": {"speaker1": "Ana"}}, "speaker_names", "map of labels"),
        ({"target_languages": "de-DE,xx"}, "target_languages", "not a Transcribe language"),
        ({"colour": "red"}, "colour", "not an option"),
    ],
)
def test_every_invalid_value_is_named_with_what_is_allowed(
    entries: dict[str, object], option: str, allowed: str
) -> None:
    with pytest.raises(OptionError) as caught:
        resolve([Source("s", options_from_sidecar(json.dumps(entries).encode(), "x"))], STACK)
    assert caught.value.option == option
    assert allowed in str(caught.value)
    assert "the sidecar x" in str(caught.value) or caught.value.source == "s"


@pytest.mark.parametrize(
    ("options", "option", "allowed"),
    [
        (
            FileOptions(language="auto", language_options=("en-US", "en-GB")),
            "language_options",
            "different languages",
        ),
        (FileOptions(language="auto", language_options=("en-US",)), "language_options", "2 to 5"),
        (
            FileOptions(language="auto", language_options=("en-US", "de-DE"), vocabulary="v"),
            "vocabulary",
            "fixed language",
        ),
        (FileOptions(language="de-DE", redaction=True), "redaction", "en-US or es-US"),
        (FileOptions(speakers=3, channels=True), "channels", "either speakers or channels"),
        (
            FileOptions(vocabulary_filter_method="tag"),
            "vocabulary_filter_method",
            "vocabulary_filter",
        ),
    ],
)
def test_combinations_transcribe_refuses_are_refused_before_any_job(
    options: FileOptions, option: str, allowed: str
) -> None:
    with pytest.raises(OptionError) as caught:
        resolve([Source("the upload's S3 metadata", options)], STACK)
    assert caught.value.option == option
    assert allowed in str(caught.value)
    assert caught.value.source == "the upload's S3 metadata"


def test_only_transcription_options_change_the_job_identity() -> None:
    stack = resolve([], STACK)
    assert stack.transcription_fingerprint(stack) == ""
    named = resolve([Source("s", FileOptions(title="T", speaker_names=("Ana",)))], STACK)
    assert named.transcription_fingerprint(stack) == ""  # rendering only: same job
    spanish = resolve([Source("s", FileOptions(language="es-US"))], STACK)
    three = resolve([Source("s", FileOptions(speakers=3))], STACK)
    assert len(spanish.transcription_fingerprint(stack)) == 8
    assert spanish.transcription_fingerprint(stack) != three.transcription_fingerprint(stack)


def test_channels_from_a_file_override_the_stacks_speaker_count() -> None:
    resolved = resolve([Source("s", FileOptions(channels=True))], STACK)
    assert resolved.channel_identification
    assert resolved.max_speakers is None


def test_names_follow_first_appearance_or_the_map() -> None:
    assert names_by_label(("Ana", "Ben"), ["spk_1", "spk_0"]) == {"spk_1": "Ana", "spk_0": "Ben"}
    assert names_by_label((("spk_0", "Ana"),), ["spk_1", "spk_0"]) == {"spk_0": "Ana"}
    assert names_by_label((), ["spk_0"]) == {}


def test_a_bad_profile_is_a_configuration_error_at_cold_start() -> None:
    from transcription_pipeline.config import ConfigError

    with pytest.raises(ConfigError, match="speakers"):
        load_settings({**BASE, "OPTION_PROFILES": json.dumps({"a/": {"speakers": 1}})})


def test_a_variant_ends_the_job_name_and_the_plain_name_is_unchanged() -> None:
    from transcription_pipeline.naming import MAX_JOB_NAME_LENGTH, S3Location, job_name_for

    source = S3Location("in", "talks/" + "long-name-" * 30 + ".mp4")
    plain = job_name_for("stack.", source, "rev")
    variant = job_name_for("stack.", source, "rev", "0123abcd")
    assert variant.endswith(".0123abcd")
    assert plain.rsplit(".", 1)[1] == variant.rsplit(".", 2)[1]  # the same revision hash
    assert len(plain) <= MAX_JOB_NAME_LENGTH
    assert len(variant) <= MAX_JOB_NAME_LENGTH
    assert re.fullmatch(r"stack\.(long-name-)+long-n\.[0-9a-f]{16}", plain)  # cut to fit 200


def test_summary_language_is_a_checked_language_code_apart_from_the_job() -> None:
    from transcription_pipeline.options import (
        FileOptions,
        OptionError,
        Source,
        options_from_sidecar,
        resolve,
    )

    stack = FileOptions(language="en-US")
    sidecar = options_from_sidecar(b'{"summary_language": "de-DE"}', "a.mp4.options.json")
    resolved = resolve([Source("the sidecar", sidecar)], stack)
    assert resolved.summary_language == "de-DE"
    # The summary's language does not change what Transcribe does: same job.
    assert resolved.transcription_fingerprint(resolve([], stack)) == ""
    with pytest.raises(OptionError, match="summary_language"):
        resolve([Source("the sidecar", FileOptions(summary_language="German"))], stack)
