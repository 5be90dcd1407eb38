"""Per-upload options end to end under moto: metadata, sidecar, prefix profile, precedence,
invalid values, job identity, and names and title in the outputs."""

from __future__ import annotations

import json
from typing import Any

from tests.conftest import MEDIA, TRANSCRIPTS
from tests.handlers.conftest import PROCESS, Stack, completion, job_names, jobs, s3_record

SPEAKERS_FIXTURE = (TRANSCRIPTS / "03-speaker-identification.json").read_bytes()


def upload_with(
    stack: Stack, key: str, metadata: dict[str, str] | None = None, sidecar: Any = None
) -> dict[str, Any]:
    """Upload tone.mp3 under ``key`` with S3 metadata and/or a sidecar; the S3 record."""
    if sidecar is not None:
        body = sidecar if isinstance(sidecar, bytes) else json.dumps(sidecar).encode()
        stack.s3.put_object(Bucket=stack.input_bucket, Key=key + ".options.json", Body=body)
    media = (MEDIA / "tone.mp3").read_bytes()
    stack.s3.put_object(Bucket=stack.input_bucket, Key=key, Body=media, Metadata=metadata or {})
    return s3_record(stack.input_bucket, key, media)


def the_job(stack: Stack) -> dict[str, Any]:
    (job,) = jobs(stack)
    return job


def test_metadata_sets_language_and_speakers_of_the_job(stack: Stack) -> None:
    assert (
        stack.start(
            upload_with(stack, "m/talk.mp3", {"language": "es-US", "speakers": "3"})
        ).failures
        == []
    )
    job = the_job(stack)
    assert job["LanguageCode"] == "es-US"
    assert job["Settings"]["MaxSpeakerLabels"] == 3
    assert job["TranscriptionJobName"].count(".") == 3  # prefix, name, revision hash, variant


def test_a_sidecar_wins_over_metadata_and_a_profile_over_the_stack(stack: Stack) -> None:
    profiles = json.dumps({"interviews/es/": {"language": "es-US", "speakers": 2}})
    record = upload_with(
        stack,
        "interviews/es/a.mp3",
        {"speakers": "4"},
        {"speakers": 5, "title": "Entrevista"},
    )
    assert stack.start(record, OPTION_PROFILES=profiles).failures == []
    job = the_job(stack)
    assert job["LanguageCode"] == "es-US"  # profile over the stack's en-US
    assert job["Settings"]["MaxSpeakerLabels"] == 5  # sidecar over metadata over profile


def test_an_invalid_option_is_an_error_record_that_names_it_and_nothing_starts(
    stack: Stack,
) -> None:
    record = upload_with(stack, "bad/talk.mp3", {"speakers": "1"})
    assert stack.start(record).failures == []
    assert job_names(stack) == []
    error = json.loads(stack.output("bad/talk.mp3/error.json"))
    assert "'speakers'" in error["reason"]
    assert "the upload's S3 metadata" in error["reason"]
    assert "2 to 30" in error["reason"]


def test_a_broken_sidecar_is_named_in_the_error_record(stack: Stack) -> None:
    record = upload_with(stack, "bad/side.mp3", sidecar=b"{not json")
    stack.start(record)
    error = json.loads(stack.output("bad/side.mp3/error.json"))
    assert "bad/side.mp3.options.json" in error["reason"]
    assert job_names(stack) == []


def test_other_transcription_options_make_another_job_and_names_do_not(stack: Stack) -> None:
    stack.start(upload_with(stack, "same/talk.mp3"))
    plain = the_job(stack)["TranscriptionJobName"]
    # The same bytes again with a Spanish sidecar: another job for the same revision hash.
    stack.s3.put_object(
        Bucket=stack.input_bucket,
        Key="same/talk.mp3.options.json",
        Body=json.dumps({"language": "es-US"}).encode(),
    )
    media = (MEDIA / "tone.mp3").read_bytes()
    stack.start(s3_record(stack.input_bucket, "same/talk.mp3", media))
    names = job_names(stack)
    assert len(names) == 2
    spanish = next(name for name in names if name != plain)
    assert spanish.rsplit(".", 1)[0] == plain  # the same upload, a variant of it


def test_speaker_names_and_title_reach_the_outputs(stack: Stack) -> None:
    record = upload_with(
        stack,
        "panel/p.mp3",
        {"speaker-names": "Ana,Ben,Cleo"},
        {"title": "Quarterly panel"},
    )
    stack.start(record)
    (name,) = job_names(stack)
    stack.complete_job(name, SPEAKERS_FIXTURE)
    assert stack.invoke(PROCESS, completion(name))["outcome"] == "published"

    srt = stack.output("panel/p.mp3/subtitles.srt").decode()
    vtt = stack.output("panel/p.mp3/subtitles.vtt").decode()
    text = stack.output("panel/p.mp3/transcript.txt").decode()
    summary = json.loads(stack.output("panel/p.mp3/summary.json"))
    markdown = stack.output("panel/p.mp3/summary.md").decode()
    assert "Ana: " in srt
    assert "spk_0" not in srt
    assert "<v Ben>" in vtt
    assert "] Cleo: " in text
    assert summary["speaker_names"] == {"spk_0": "Ana", "spk_1": "Ben", "spk_2": "Cleo"}
    assert summary["title"] == "Quarterly panel"
    assert markdown.startswith("# Transcript summary: Quarterly panel\n")
