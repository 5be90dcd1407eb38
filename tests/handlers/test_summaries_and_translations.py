"""The process function with a Bedrock model (SummaryModelId) and translations (TranslateTo).

Its own boto3 clients talk to local stand-ins that speak Bedrock Runtime's and Amazon
Translate's wire protocols (local_pipeline.standins), with the function's role from
template.yaml enforced on every call: what reaches the stand-ins is what would reach AWS.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import pytest

from local_pipeline.standins import serving
from local_pipeline.standins.bedrock import STANDIN_MODEL_ID, BedrockStandIn
from local_pipeline.standins.translate import TranslateStandIn, reverse_translation
from local_pipeline.template import Template
from tests.conftest import REPO, TRANSCRIPTS
from tests.handlers.conftest import EVERY_OUTPUT as EVERY_OUTPUT_NAMES
from tests.handlers.conftest import (
    PROCESS,
    SAMPLE_KEY,
    STACK_NAME,
    Stack,
    complete_sample_job,
    completion,
    job_event,
    job_names,
    outputs,
    sample_job,
    upload,
)

SPEAKERS_FIXTURE = "03-speaker-identification.json"
EVERY_OUTPUT = set(EVERY_OUTPUT_NAMES)


@pytest.fixture(scope="module")
def bedrock() -> Iterator[BedrockStandIn]:
    with serving(BedrockStandIn()) as stand_in:
        yield stand_in  # type: ignore[misc]


@pytest.fixture(scope="module")
def translate() -> Iterator[TranslateStandIn]:
    with serving(TranslateStandIn()) as stand_in:
        yield stand_in  # type: ignore[misc]


@pytest.fixture
def with_parameters(stack: Stack) -> Any:
    """The stack deployed with other template parameters (roles and environment follow)."""

    def deploy(**parameters: str) -> Stack:
        stack.template = Template(
            REPO / "template.yaml", stack_name=STACK_NAME, parameter_overrides=parameters
        )
        return stack

    return deploy


def process(stack: Stack, bedrock: BedrockStandIn, translate: TranslateStandIn) -> Any:
    return stack.invoke(
        PROCESS,
        job_event(stack),
        AWS_ENDPOINT_URL_BEDROCK_RUNTIME=bedrock.url,
        AWS_ENDPOINT_URL_TRANSLATE=translate.url,
    )


def words_of(transcript: bytes) -> set[str]:
    return {
        item["alternatives"][0]["content"]
        for item in json.loads(transcript)["results"]["items"]
        if item["type"] == "pronunciation"
    }


def summary_of(stack: Stack) -> dict[str, Any]:
    document: dict[str, Any] = json.loads(outputs(stack)["summary.json"])
    return document


@pytest.fixture(autouse=True)
def fresh_stand_ins(bedrock: BedrockStandIn, translate: TranslateStandIn) -> None:
    bedrock.reset()
    translate.requests.clear()
    translate.answered.clear()


def test_the_model_writes_the_summary_and_every_other_output_stays(
    with_parameters: Any, bedrock: BedrockStandIn, translate: TranslateStandIn
) -> None:
    stack = with_parameters(SummaryModelId=STANDIN_MODEL_ID)
    complete_sample_job(stack, SPEAKERS_FIXTURE)

    assert process(stack, bedrock, translate)["outcome"] == "published"

    files = outputs(stack)
    assert set(files) == EVERY_OUTPUT
    summary = summary_of(stack)
    assert summary["summary_source"] == "bedrock"
    assert summary["model_summary"]["summary"].strip()
    usage = summary["model_usage"]
    # The calls the model answered and the tokens it counted (what Bedrock bills).
    answered = [call for call in bedrock.calls if call.status == 200]
    assert usage["calls"] == len(answered) >= 1
    assert usage["input_tokens"] == sum(call.input_tokens for call in answered)
    assert usage["model_id"] == STANDIN_MODEL_ID
    # The offline summary is kept: highlights, keywords, chapters.
    assert summary["highlights"]
    assert summary["keywords"]
    assert summary["chapters"]
    markdown = files["summary.md"].decode()
    assert f"Amazon Bedrock, {STANDIN_MODEL_ID}" in markdown
    assert "## Summary" in markdown
    # The requests AWS would get: Converse on the model, signed for bedrock, temperature 0,
    # the transcript's lines with the speakers' labels and times.
    for request in bedrock.requests:
        assert request.path == f"/model/{quote(STANDIN_MODEL_ID, safe='')}/converse"
        assert request.signing_service == "bedrock"
    prompts = "\n".join(call.prompt for call in bedrock.calls)
    assert "spk_0:" in prompts
    assert "[0:00:" in prompts
    assert all(call.temperature == 0 for call in bedrock.calls)
    assert translate.requests == []  # no language asked for


def test_a_refused_model_keeps_every_output_and_says_why_the_offline_summary_stands(
    with_parameters: Any, bedrock: BedrockStandIn, translate: TranslateStandIn
) -> None:
    stack = with_parameters(SummaryModelId=STANDIN_MODEL_ID)
    complete_sample_job(stack, SPEAKERS_FIXTURE)
    bedrock.fail_next("AccessDeniedException", "You don't have access to the model.", count=50)

    assert process(stack, bedrock, translate)["outcome"] == "published"

    files = outputs(stack)
    assert set(files) == EVERY_OUTPUT
    summary = summary_of(stack)
    assert summary["summary_source"] == "offline"
    assert "model_summary" not in summary
    assert "bedrock:InvokeModel" in summary["model_fallback_reason"]
    assert summary["highlights"]
    assert "the model's summary was not used" in files["summary.md"].decode()


def test_throttling_is_retried_until_the_model_answers(
    with_parameters: Any, bedrock: BedrockStandIn, translate: TranslateStandIn, no_backoff: None
) -> None:
    stack = with_parameters(SummaryModelId=STANDIN_MODEL_ID)
    complete_sample_job(stack, SPEAKERS_FIXTURE)
    bedrock.throttle_next(2)

    process(stack, bedrock, translate)

    assert summary_of(stack)["summary_source"] == "bedrock"
    throttled = [call for call in bedrock.calls if call.error == "ThrottlingException"]
    assert len(throttled) == 2
    assert summary_of(stack)["model_usage"]["calls"] == len(bedrock.calls) - 2


def test_an_upload_asks_for_its_own_instructions(
    with_parameters: Any, bedrock: BedrockStandIn, translate: TranslateStandIn
) -> None:
    stack = with_parameters(SummaryModelId=STANDIN_MODEL_ID)
    stack.s3.put_object(
        Bucket=stack.input_bucket,
        Key="uploads/My Talk.mp4.options.json",
        Body=json.dumps({"summary_prompt": "List every decision about the harbour."}).encode(),
    )
    complete_sample_job(stack, SPEAKERS_FIXTURE)

    process(stack, bedrock, translate)

    assert summary_of(stack)["model_usage"]["custom_instructions"] is True
    assert all("List every decision about the harbour." in c.prompt for c in bedrock.calls)


def test_translations_are_written_per_language_and_a_failed_one_blocks_nothing(
    with_parameters: Any, bedrock: BedrockStandIn, translate: TranslateStandIn, api_calls: Any
) -> None:
    stack = with_parameters(TranslateTo="de-DE,ar-SA")
    complete_sample_job(stack, SPEAKERS_FIXTURE)
    translate.fail_target("ar", "UnsupportedLanguagePairException")

    assert process(stack, bedrock, translate)["outcome"] == "published"

    files = outputs(stack)
    assert set(files) >= EVERY_OUTPUT
    assert {name for name in files if name.startswith("translations/de-DE/")} == {
        "translations/de-DE/subtitles.srt",
        "translations/de-DE/subtitles.vtt",
        "translations/de-DE/transcript.txt",
    }
    german = files["translations/de-DE/subtitles.srt"].decode()
    original = files["subtitles.srt"].decode()
    # Same cues at the same times; each cue's text is its own, translated.
    assert [line for line in german.splitlines() if "-->" in line] == [
        line for line in original.splitlines() if "-->" in line
    ]
    # The first cue: the speaker's label as the original shows it, then its text.
    german_cue = " ".join(german.split("\n\n")[0].splitlines()[2:])
    original_cue = " ".join(original.split("\n\n")[0].splitlines()[2:])
    assert german_cue.startswith("spk_0: ")
    assert original_cue.startswith("spk_0: ")
    assert reverse_translation(german_cue.removeprefix("spk_0: "), "de") == (
        original_cue.removeprefix("spk_0: ")
    )
    failed = json.loads(files["translations/ar-SA/error.json"])
    assert failed["error_code"] == "UnsupportedLanguagePairException"
    assert failed["target_language"] == "ar-SA"
    assert not any(name.startswith("translations/ar-SA/subtitles") for name in files)
    assert {body["TargetLanguageCode"] for body in translate.translate_requests()} == {"de", "ar"}
    assert all(body["SourceLanguageCode"] == "en" for body in translate.translate_requests())
    assert all(r.signing_service == "translate" for r in translate.requests)
    assert bedrock.requests == []  # no model configured
    # Subscribers learn how each language went from the completion event.
    (emitted,) = [
        json.loads(entry["Detail"])
        for call in api_calls
        if call.operation == "PutEvents"
        for entry in call.params["Entries"]
    ]
    assert emitted["translations"] == {"de-DE": "translated", "ar-SA": "failed"}
    assert emitted["summary_source"] == "offline"


def test_a_failure_record_removes_the_translations_of_an_earlier_answer(
    with_parameters: Any, bedrock: BedrockStandIn, translate: TranslateStandIn
) -> None:
    stack = with_parameters(TranslateTo="de-DE")
    complete_sample_job(stack, SPEAKERS_FIXTURE)
    process(stack, bedrock, translate)
    assert "translations/de-DE/subtitles.srt" in outputs(stack)

    # The same job, now failed (a record for it is replaced by its error.json).
    stack.fail_job(sample_job(stack), "The media format could not be decoded.")
    stack.invoke(PROCESS, completion(sample_job(stack), "FAILED"))

    files = outputs(stack)
    assert "error.json" in files
    assert [name for name in files if name.startswith("translations/")] == []


def test_with_redaction_the_model_sees_the_redacted_transcript_only(
    with_parameters: Any, bedrock: BedrockStandIn, translate: TranslateStandIn
) -> None:
    stack = with_parameters(SummaryModelId=STANDIN_MODEL_ID, PiiRedaction="true")
    assert stack.start(upload(stack, SAMPLE_KEY, "faststart.mp4")).failures == []
    (name,) = job_names(stack)
    job = stack.transcribe_backend().transcriptions[name]
    job.content_redaction["RedactionOutput"] = "redacted_and_unredacted"
    stack.complete_job(name, (TRANSCRIPTS / "v6-pii-redaction.json").read_bytes())
    # Transcribe's unredacted file holds the personal data.
    plain = (TRANSCRIPTS / "01-plain.json").read_bytes()
    stack.s3.put_object(Bucket=stack.output_bucket, Key=f"_transcribe/{name}.json", Body=plain)

    process(stack, bedrock, translate)

    prompts = "\n".join(call.prompt for call in bedrock.calls)
    assert "[PII]" in prompts
    only_unredacted = words_of(plain) - words_of(
        (TRANSCRIPTS / "v6-pii-redaction.json").read_bytes()
    )
    assert len(only_unredacted) >= 3  # the names the redacted file replaced by [PII]
    assert not [word for word in only_unredacted if word in prompts]
