"""Template rules under test: which parameter values `sam deploy` refuses, and why.

CloudFormation checks parameter constraints and the Rules section before it creates
anything; local_pipeline.template.parameter_refusals evaluates both the same way. A
combination Transcribe would refuse for every upload must be refused here instead.
"""

from __future__ import annotations

import itertools
import shlex
import tomllib
from collections import defaultdict
from typing import Any

import botocore.loaders
import pytest

from local_pipeline.template import (
    Template,
    TemplateError,
    load_template,
    parameter_refusals,
)
from tests.conftest import REPO

TEMPLATE = load_template(REPO / "template.yaml")

# Transcribe's batch language codes: the LanguageCode enum of StartTranscriptionJob.
BATCH_LANGUAGES = sorted(
    botocore.loaders.Loader().load_service_model("transcribe", "service-2")["shapes"][
        "LanguageCode"
    ]["enum"]
)
DIALECTS: dict[str, list[str]] = defaultdict(list)
for _code in BATCH_LANGUAGES:
    DIALECTS[_code.split("-")[0]].append(_code)

AUTO_REFUSES_TWO_DIALECTS = "dialects; language identification takes one dialect per language"


def refusals(**values: str) -> list[str]:
    return parameter_refusals(TEMPLATE, values)


def auto(options: str, **values: str) -> list[str]:
    return refusals(LanguageCode="auto", LanguageOptions=options, **values)


# -- the evaluator itself, on a template small enough to check by hand -------------------------

TINY = {
    "Parameters": {
        "Mode": {"Type": "String", "Default": "a", "AllowedValues": ["a", "b", "c"]},
        "Codes": {
            "Type": "CommaDelimitedList",
            "Default": "x1,y2",
            "AllowedPattern": "^[a-z][0-9]$",
        },
        "Size": {"Type": "Number", "Default": 5, "MinValue": 1, "MaxValue": 9},
    },
    "Rules": {
        "ModeBWantsX1": {
            "RuleCondition": {"Fn::Equals": [{"Ref": "Mode"}, "b"]},
            "Assertions": [
                {
                    "Assert": {"Fn::Contains": [{"Ref": "Codes"}, "x1"]},
                    "AssertDescription": "mode b needs x1",
                },
                {
                    "Assert": {"Fn::EachMemberIn": [{"Ref": "Codes"}, ["x1", "y2"]]},
                    "AssertDescription": "mode b takes x1 and y2 only",
                },
            ],
        },
        "NeverC": {
            "Assertions": [
                {
                    "Assert": {"Fn::Not": [{"Fn::Equals": [{"Ref": "Mode"}, "c"]}]},
                    "AssertDescription": "c is retired",
                }
            ]
        },
    },
}


def test_evaluator_accepts_what_passes_and_names_what_fails() -> None:
    assert parameter_refusals(TINY, {}) == []
    assert parameter_refusals(TINY, {"Mode": "b"}) == []  # condition true, assertions hold
    assert parameter_refusals(TINY, {"Codes": "z3"}) == []  # condition false: not checked
    assert parameter_refusals(TINY, {"Mode": "b", "Codes": "y2, z3"}) == [
        "Rule ModeBWantsX1: mode b needs x1",
        "Rule ModeBWantsX1: mode b takes x1 and y2 only",
    ]
    assert parameter_refusals(TINY, {"Mode": "c"}) == ["Rule NeverC: c is retired"]


def test_evaluator_checks_parameter_constraints() -> None:
    assert parameter_refusals(TINY, {"Mode": "d"}) == [
        "Parameter Mode: 'd' is not an allowed value"
    ]
    (pattern,) = parameter_refusals(TINY, {"Codes": "x1,XY"})  # each member is matched
    assert "'XY' must match pattern" in pattern
    assert parameter_refusals(TINY, {"Size": "10"}) == ["Parameter Size: 10 is above MaxValue 9"]
    assert parameter_refusals(TINY, {"Size": "0"}) == ["Parameter Size: 0 is below MinValue 1"]
    assert parameter_refusals(TINY, {"Size": "many"}) == ["Parameter Size: 'many' is not a number"]
    assert parameter_refusals(TINY, {"Colour": "red"}) == [
        "Parameter Colour is not in the template"
    ]


def test_evaluator_refuses_what_cloudformation_would_not_parse() -> None:
    one_condition_or = {
        "Parameters": {"P": {"Type": "String", "Default": "x"}},
        "Rules": {"R": {"Assertions": [{"Assert": {"Fn::Or": [{"Fn::Equals": ["a", "a"]}]}}]}},
    }
    with pytest.raises(TemplateError, match="2 to 10"):
        parameter_refusals(one_condition_or, {})


# -- the deployed template: what it accepts ---------------------------------------------------


def samconfig_overrides(environment: str) -> dict[str, str]:
    config = tomllib.loads((REPO / "samconfig.toml").read_text())
    overrides = config[environment]["deploy"]["parameters"].get("parameter_overrides", [])
    pairs = overrides if isinstance(overrides, list) else shlex.split(overrides)
    return dict(pair.split("=", 1) for pair in pairs)


def test_the_defaults_are_accepted() -> None:
    assert refusals() == []


@pytest.mark.parametrize("environment", ["default", "prod"])
def test_samconfig_environments_are_accepted(environment: str) -> None:
    overrides = samconfig_overrides(environment)

    assert overrides  # the file was read
    assert parameter_refusals(TEMPLATE, overrides) == []


@pytest.mark.parametrize(
    "values",
    [
        {"LanguageCode": "auto", "LanguageOptions": "en-US,es-US"},
        {"LanguageCode": "auto", "LanguageOptions": "en-GB, fr-FR, de-DE, ja-JP, zh-CN"},
        {"LanguageCode": "es-US", "PiiRedaction": "true"},
        {"LanguageCode": "en-US", "PiiRedaction": "true", "VocabularyName": "product-names"},
        {"LanguageCode": "de-DE"},
        {"LanguageCode": "ja-JP", "VocabularyName": "namen"},
        # LanguageOptions are not used with a fixed language, so not checked against it.
        {"LanguageCode": "fr-FR", "LanguageOptions": "en-US,en-GB"},
        {"StartMaximumConcurrency": "2"},
        {"StartMaximumConcurrency": "1000"},
        {"ReconcileMinAgeMinutes": "5", "ReconcileIntervalMinutes": "2"},
        {"InputInventory": "true", "CustomerManagedKey": "true"},
    ],
    ids=lambda values: ",".join(f"{k}={v}" for k, v in values.items()),
)
def test_documented_combinations_are_accepted(values: dict[str, str]) -> None:
    assert parameter_refusals(TEMPLATE, values) == []


@pytest.mark.parametrize(
    ("values", "refusal"),
    [
        # Lambda's range for an SQS event source's MaximumConcurrency.
        (
            {"StartMaximumConcurrency": "1"},
            "Parameter StartMaximumConcurrency: 1 is below MinValue 2",
        ),
        (
            {"StartMaximumConcurrency": "1001"},
            "Parameter StartMaximumConcurrency: 1001 is above MaxValue 1000",
        ),
        ({"InputInventory": "yes"}, "Parameter InputInventory: 'yes' is not an allowed value"),
        # Removed with the upload queue: a samconfig.toml still naming them fails the deploy.
        ({"StartConcurrency": "10"}, "Parameter StartConcurrency is not in the template"),
        (
            {"ReconcileLookbackHours": "24"},
            "Parameter ReconcileLookbackHours is not in the template",
        ),
    ],
    ids=lambda value: ",".join(value) if isinstance(value, dict) else "",
)
def test_reliability_parameters_out_of_range_or_removed_are_refused(
    values: dict[str, str], refusal: str
) -> None:
    assert parameter_refusals(TEMPLATE, values) == [refusal]


def test_every_parameter_is_in_a_parameter_group() -> None:
    """The console shows parameters by group: a new one (or a removed one) is in exactly
    one group, and no group names a parameter the template no longer has."""
    groups = TEMPLATE["Metadata"]["AWS::CloudFormation::Interface"]["ParameterGroups"]
    grouped = [name for group in groups for name in group["Parameters"]]

    assert sorted(grouped) == sorted(TEMPLATE["Parameters"])
    assert len(grouped) == len(set(grouped))


def test_every_pair_of_different_languages_is_accepted() -> None:
    for code in BATCH_LANGUAGES:
        partner = "ja-JP" if not code.startswith("ja-") else "en-US"
        assert auto(f"{code},{partner}") == [], code


def test_the_language_lists_are_transcribe_s_batch_languages() -> None:
    """The template's two copies of the list match the installed botocore's model."""
    language_code = TEMPLATE["Parameters"]["LanguageCode"]["AllowedValues"]
    (check_codes, *_) = TEMPLATE["Rules"]["LanguageOptionsForIdentification"]["Assertions"]
    options_ref, allowed_options = check_codes["Assert"]["Fn::EachMemberIn"]

    assert options_ref == {"Ref": "LanguageOptions"}
    assert language_code == [*BATCH_LANGUAGES, "auto"]
    assert allowed_options == BATCH_LANGUAGES


# -- the deployed template: what it refuses, and with which message --------------------------


def test_pii_redaction_with_language_identification_is_refused() -> None:
    found = refusals(LanguageCode="auto", PiiRedaction="true")

    assert any("cannot be combined with language identification" in r for r in found)


@pytest.mark.parametrize("language", ["de-DE", "en-GB", "es-ES", "es-MX", "ja-JP"])
def test_pii_redaction_in_other_languages_is_refused(language: str) -> None:
    assert refusals(LanguageCode=language, PiiRedaction="true") == [
        "Rule PiiRedactionNeedsEnUsOrEsUs: Transcribe redacts PII in batch jobs only for "
        "LanguageCode en-US or es-US."
    ]


@pytest.mark.parametrize("language", ["xx-XX", "en-us", "en", "en-EN", "EN-US", "auto,en-US"])
def test_language_codes_transcribe_does_not_know_are_refused(language: str) -> None:
    (found,) = refusals(LanguageCode=language)

    assert found.startswith("Parameter LanguageCode:")
    assert "language code Transcribe supports for batch jobs" in found


def test_language_options_transcribe_does_not_know_are_refused() -> None:
    assert auto("en-US,xx-XX") == [
        "Rule LanguageOptionsForIdentification: LanguageOptions holds a code that is not a "
        "Transcribe batch language code (see the LanguageCode parameter for the list)."
    ]
    malformed = auto("en-US,english")
    assert "LanguageOptions: 'english' must match pattern" in malformed[0]


@pytest.mark.parametrize("options", ["de-DE", "en-US,en-US", "ja-JP, ja-JP, ja-JP"])
def test_identification_among_fewer_than_two_languages_is_refused(options: str) -> None:
    assert auto(options) == [
        "Rule LanguageOptionsForIdentification: Language identification needs LanguageOptions "
        "of at least 2 different languages, e.g. en-US,es-US."
    ]


def test_each_language_alone_is_refused() -> None:
    for code in BATCH_LANGUAGES:
        assert any("at least 2 different languages" in r for r in auto(code)), code


@pytest.mark.parametrize(
    "language", sorted(language for language, codes in DIALECTS.items() if len(codes) > 1)
)
def test_two_dialects_of_one_language_are_refused(language: str) -> None:
    """Every pair of dialects, with a second language so that only the dialect rule fails."""
    other = "ja-JP"
    for first, second in itertools.combinations(DIALECTS[language], 2):
        found = auto(f"{first},{other},{second}")
        assert found == [
            f"Rule LanguageOptionsForIdentification: LanguageOptions holds two {language}-* "
            f"{AUTO_REFUSES_TWO_DIALECTS}."
        ], (first, second)


def test_en_us_with_en_gb_is_refused() -> None:
    found = auto("en-US,en-GB")

    assert "Rule LanguageOptionsForIdentification: LanguageOptions holds two en-* " in found[-1]


def test_vocabulary_with_language_identification_is_still_refused() -> None:
    assert refusals(LanguageCode="auto", VocabularyName="terms") == [
        "Rule VocabularyNeedsFixedLanguage: A custom vocabulary belongs to one language; "
        "set LanguageCode, not auto."
    ]


# -- what the functions receive ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("options", "expected"),
    [(None, "en-US,es-US"), ("de-DE, fr-FR,  it-IT", "de-DE,fr-FR,it-IT")],
)
def test_functions_get_the_options_as_one_comma_separated_variable(
    options: str | None, expected: str
) -> None:
    overrides: dict[str, Any] = {} if options is None else {"LanguageOptions": options}
    stack = Template(REPO / "template.yaml", stack_name="s", parameter_overrides=overrides)

    for spec in stack.functions():
        assert spec.environment["LANGUAGE_OPTIONS"] == expected, spec.logical_id
