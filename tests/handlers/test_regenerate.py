"""Regenerate: outputs rendered again from the stored transcript, without a new job, under
the stack's roles — the same bytes when nothing changed (and nothing written), new bytes
when the sidecar's names changed, a new job when it changed the transcription, and every
case that has nothing to render reported."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest

from tests.conftest import MEDIA, TRANSCRIPTS
from tests.handlers.conftest import (
    PROCESS,
    ApiCall,
    Stack,
    completion,
    job_names,
    s3_record,
    upload,
)
from transcription_pipeline.naming import OUTPUT_FILES

SPEAKERS = (TRANSCRIPTS / "03-speaker-identification.json").read_bytes()
# Language identification: the job's facts (name, score) come back from summary.json.
LANGUAGE_ID = (TRANSCRIPTS / "v5-language-identification.json").read_bytes()
KEY = "panel/p.mp3"
EVERY_FILE = tuple(OUTPUT_FILES)


def regenerate_event(stack: Stack, key: str) -> dict[str, Any]:
    """The Regenerate Requested event make regenerate sends, as EventBridge delivers it."""
    source = stack.template.function(PROCESS).environment["EVENT_SOURCE"] + ".requests"
    return {
        "version": "0",
        "id": "6a7e8feb-b491-4cf7-a9f1-bf3703467718",
        "detail-type": "Regenerate Requested",
        "source": source,
        "account": stack.template.account_id,
        "time": "2026-11-24T10:00:00Z",
        "region": stack.template.region,
        "resources": [],
        "detail": {"version": 1, "key": key},
    }


def publish(stack: Stack, key: str = KEY, transcript: bytes = SPEAKERS) -> str:
    """Upload tone.mp3 under ``key``, let its job finish with ``transcript``; the job name."""
    stack.start(upload(stack, key, "tone.mp3"))
    (name,) = [n for n in job_names(stack) if n == stack.job_name_of(key)]
    stack.complete_job(name, transcript)
    assert stack.invoke(PROCESS, completion(name))["outcome"] == "published"
    return name


def files_of(stack: Stack, key: str = KEY) -> dict[str, bytes]:
    return {name: stack.output(f"{key}/{name}") for name in EVERY_FILE}


def put_sidecar(stack: Stack, key: str, options: dict[str, Any]) -> dict[str, Any]:
    """Upload ``<key>.options.json``; the S3 record S3 sends for it."""
    body = json.dumps(options).encode()
    stack.s3.put_object(Bucket=stack.input_bucket, Key=key + ".options.json", Body=body)
    return s3_record(stack.input_bucket, key + ".options.json", body)


@pytest.fixture
def requests_seen(stack: Stack) -> Any:
    """The RegenerateRequested rule of template.yaml on moto's default bus, to a queue:
    what the process function would be invoked with."""
    pattern = stack.template.function(PROCESS).events["RegenerateRequested"]["Properties"][
        "Pattern"
    ]
    events, sqs = boto3.client("events"), boto3.client("sqs")
    url = sqs.create_queue(QueueName="regenerate-requests")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    events.put_rule(Name="regenerate", EventPattern=json.dumps(pattern))
    events.put_targets(Rule="regenerate", Targets=[{"Id": "q", "Arn": arn}])

    def received() -> list[dict[str, Any]]:
        answer = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)
        return [json.loads(m["Body"]) for m in answer.get("Messages", [])]

    return received


@pytest.mark.parametrize("transcript", [SPEAKERS, LANGUAGE_ID], ids=["speakers", "language-id"])
def test_nothing_changed_means_the_same_bytes_and_no_write(
    stack: Stack, api_calls: list[ApiCall], transcript: bytes
) -> None:
    publish(stack, transcript=transcript)
    before = files_of(stack)
    heads = {
        name: stack.s3.head_object(Bucket=stack.output_bucket, Key=f"{KEY}/{name}")["Metadata"]
        for name in EVERY_FILE
    }
    api_calls.clear()

    result = stack.invoke(PROCESS, regenerate_event(stack, KEY))

    assert result == {"outcome": "unchanged", "source_key": KEY, "files_written": []}
    assert files_of(stack) == before
    assert [c for c in api_calls if c.operation in ("PutObject", "DeleteObjects")] == []
    for name in EVERY_FILE:
        metadata = stack.s3.head_object(Bucket=stack.output_bucket, Key=f"{KEY}/{name}")
        assert metadata["Metadata"] == heads[name]


def test_new_names_in_the_sidecar_give_new_outputs_without_a_new_job(
    stack: Stack, requests_seen: Any
) -> None:
    name = publish(stack)
    before = files_of(stack)
    record_metadata = stack.s3.head_object(Bucket=stack.output_bucket, Key=f"{KEY}/summary.json")[
        "Metadata"
    ]

    # The sidecar arrives after the answer: the start function asks for a regenerate.
    delivery = stack.start(put_sidecar(stack, KEY, {"speaker_names": ["Ana", "Ben", "Cleo"]}))
    assert delivery.failures == []
    (request,) = requests_seen()
    assert request["detail"]["key"] == KEY
    result = stack.invoke(PROCESS, request)

    assert result["outcome"] == "regenerated"
    assert job_names(stack) == [name]  # no new job
    after = files_of(stack)
    assert after["transcript.json"] == before["transcript.json"]
    assert sorted(result["files_written"]) == sorted(n for n in EVERY_FILE if after[n] != before[n])
    assert "transcript.json" not in result["files_written"]
    assert "Ana: " in after["subtitles.srt"].decode()
    assert "<v Ben>" in after["subtitles.vtt"].decode()
    summary = json.loads(after["summary.json"])
    assert summary["speaker_names"] == {"spk_0": "Ana", "spk_1": "Ben", "spk_2": "Cleo"}
    assert summary["job_name"] == name
    assert summary["created_at"] == json.loads(before["summary.json"])["created_at"]
    # The record still answers the same revision with the same job.
    for file_name in EVERY_FILE:
        head = stack.s3.head_object(Bucket=stack.output_bucket, Key=f"{KEY}/{file_name}")
        assert head["Metadata"] == record_metadata

    # And again: nothing more to do.
    assert stack.invoke(PROCESS, request)["outcome"] == "unchanged"


def test_a_sidecar_that_changes_the_language_starts_a_new_job(
    stack: Stack, requests_seen: Any
) -> None:
    first = publish(stack)

    assert stack.start(put_sidecar(stack, KEY, {"language": "es-US"})).failures == []

    names = job_names(stack)
    assert len(names) == 2
    (spanish,) = [n for n in names if n != first]
    assert spanish.rsplit(".", 1)[0] == first  # the same upload, another variant
    job = stack.transcribe.get_transcription_job(TranscriptionJobName=spanish)
    assert job["TranscriptionJob"]["LanguageCode"] == "es-US"
    assert requests_seen() == []
    # A regenerate now would render the old job's words with new options: refused.
    assert stack.invoke(PROCESS, regenerate_event(stack, KEY))["outcome"] == "needs_new_job"


def test_a_sidecar_before_its_media_changes_nothing(stack: Stack, requests_seen: Any) -> None:
    assert stack.start(put_sidecar(stack, "early/a.mp3", {"title": "Early"})).failures == []
    assert job_names(stack) == []
    assert requests_seen() == []
    assert stack.output_keys() == []


def test_an_error_record_or_no_record_has_nothing_to_regenerate(stack: Stack) -> None:
    stack.start(upload(stack, "bad/video.mkv", "video.mkv"))
    error = stack.output("bad/video.mkv/error.json")

    rejected = stack.invoke(PROCESS, regenerate_event(stack, "bad/video.mkv"))
    missing = stack.invoke(PROCESS, regenerate_event(stack, "never/uploaded.mp3"))

    assert rejected["outcome"] == "error_record"
    assert missing["outcome"] == "no_record"
    assert stack.output("bad/video.mkv/error.json") == error
    assert stack.output_keys() == ["bad/video.mkv/error.json"]


def test_another_upload_under_the_key_is_not_rendered_with_the_old_words(stack: Stack) -> None:
    publish(stack)
    before = files_of(stack)
    other = (MEDIA / "tone-noid3.mp3").read_bytes()
    stack.s3.put_object(Bucket=stack.input_bucket, Key=KEY, Body=other)

    assert stack.invoke(PROCESS, regenerate_event(stack, KEY))["outcome"] == "needs_new_job"
    assert files_of(stack) == before


def test_a_deleted_source_is_left_as_it_is(stack: Stack) -> None:
    publish(stack)
    before = files_of(stack)
    stack.s3.delete_object(Bucket=stack.input_bucket, Key=KEY)

    assert stack.invoke(PROCESS, regenerate_event(stack, KEY))["outcome"] == "source_deleted"
    assert files_of(stack) == before


def test_a_request_from_another_source_is_not_obeyed(stack: Stack) -> None:
    publish(stack)
    event = regenerate_event(stack, KEY)
    event["source"] = "someone.else"

    assert stack.invoke(PROCESS, event) == {"outcome": "malformed"}
