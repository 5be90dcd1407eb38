"""The local cloud and per-upload options, without the speech model: S3 metadata, the
OptionProfiles parameter and the completion events, with the functions unchanged.

What needs the engine (outputs, titles, the published event, a sidecar's options in the
outputs) is in tests/e2e/test_offline_pipeline.py.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any

import pytest

from local_pipeline import cli
from local_pipeline.cli import DemoError, build_parser, load_template, upload_metadata
from local_pipeline.cloud import LocalCloud, describe_completion_event
from tests.conftest import REPO

SAMPLE = REPO / "samples" / "sample-talk.mp4"
SOURCE = "transcription-pipeline.transcription-pipeline"  # transcription-pipeline.<stack>


# -- the demo's flags and make's variables ------------------------------------------------


def test_the_demo_flags_are_the_s3_metadata_the_pipeline_reads() -> None:
    arguments = build_parser().parse_args(
        [
            "demo",
            "--language=es-US",
            "--speakers=two",  # not checked here: the pipeline says what is wrong
            "--speaker-names=Ana,Ben",
            "--title=Sample talk",
            "--metadata=Channels=true",
        ]
    )

    assert upload_metadata(arguments) == {
        "channels": "true",  # S3 lower-cases metadata names
        "language": "es-US",
        "speakers": "two",
        "speaker-names": "Ana,Ben",
        "title": "Sample talk",
    }
    assert upload_metadata(build_parser().parse_args(["demo"])) == {}
    with pytest.raises(DemoError, match="give NAME=VALUE"):
        upload_metadata(build_parser().parse_args(["demo", "--metadata", "channels"]))


def test_make_passes_the_options_and_the_profiles() -> None:
    if shutil.which("make") is None:
        pytest.skip("make is not installed")

    def dry_run(target: str, *variables: str, env: dict[str, str] | None = None) -> str:
        out = subprocess.run(
            ["make", "-n", target, *variables],
            cwd=REPO,
            capture_output=True,
            text=True,
            env=env,
        )
        assert out.returncode == 0, out.stderr
        return " ".join(out.stdout.replace("\\\n", " ").split())

    profiles = '{"interviews/": {"speakers": 2, "title": "It\'s ours"}}'
    demo = dry_run(
        "demo",
        "LANGUAGE=en-GB",
        "SPEAKERS=2",
        "NAMES=Ana,Ben",
        'TITLE=Bob\'s "big" talk, part 1',
        f"PROFILES={profiles}",
    )
    assert (
        "--language 'en-GB' --speakers '2' --speaker-names 'Ana,Ben' "
        "--title 'Bob'\\''s \"big\" talk, part 1' "
        '--parameter \'OptionProfiles={"interviews/": {"speakers": 2, "title": '
        "\"It'\\''s ours\"}}'"
    ) in demo
    local = dry_run("local", "PROFILES={}")
    assert "local_pipeline up" in local
    assert "--parameter 'OptionProfiles={}'" in local
    # The shell's LANGUAGE is gettext's list of locales, not an option of the file.
    plain = dry_run("demo", env={**os.environ, "LANGUAGE": "en_US:en"})
    assert "--language" not in plain
    assert "--parameter" not in plain


def test_template_parameters_are_checked_before_anything_starts() -> None:
    profiles = '{"interviews/": {"language": "es-US"}}'
    template = load_template([f"OptionProfiles={profiles}"])
    assert template.parameters["OptionProfiles"] == profiles

    with pytest.raises(DemoError, match="unknown parameter"):
        load_template(["NoSuchParameter=1"])
    with pytest.raises(DemoError, match="refused: Parameter PiiRedaction"):
        load_template(["PiiRedaction=maybe"])
    # The functions' own check: in AWS every invocation would fail at start-up.
    with pytest.raises(DemoError, match=r"OptionProfiles.*'speakers'.*2 to 30"):
        load_template(['OptionProfiles={"a/": {"speakers": 1}}'])


# -- the completion events ------------------------------------------------------------------


def test_a_completion_event_is_one_line_with_the_figures_or_the_reason() -> None:
    published = {
        "detail-type": "Transcript Published",
        "detail": {
            "input": {"key": "talks/a.mp4"},
            "word_count": 38,
            "duration_seconds": 14.42,
            "language_code": "en-GB",
        },
    }
    rejected = {
        "detail-type": "Upload Rejected",
        "detail": {"input": {"key": "talks/b.mp4"}, "reason": "option 'speakers' ..."},
    }

    assert describe_completion_event(published) == (
        "EventBridge: Transcript Published talks/a.mp4: 38 words, 14.4 s, en-GB"
    )
    assert describe_completion_event(rejected) == (
        "EventBridge: Upload Rejected talks/b.mp4: option 'speakers' ..."
    )


@pytest.fixture(scope="module")
def cloud() -> Iterator[tuple[LocalCloud, list[str]]]:
    """The template with a profile for profiled/; no speech model (jobs stay QUEUED)."""
    lines: list[str] = []
    template = load_template(['OptionProfiles={"profiled/": {"language": "en-AU", "speakers": 3}}'])
    with LocalCloud(template, on_activity=lines.append) as local:
        yield local, lines
        assert not local.enforcer.denials, local.enforcer.denials


def job_of(cloud: LocalCloud, key: str, timeout: float = 30) -> dict[str, Any]:
    transcribe = cloud.client("transcribe")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for summary in transcribe.list_transcription_jobs()["TranscriptionJobSummaries"]:
            name = summary["TranscriptionJobName"]
            job: dict[str, Any] = transcribe.get_transcription_job(TranscriptionJobName=name)[
                "TranscriptionJob"
            ]
            if job["Media"]["MediaFileUri"].endswith(f"/{key}"):
                return job
        time.sleep(0.1)
    raise AssertionError(f"no job for {key}; invocations: {cloud.invocations}")


def test_moto_routes_the_functions_events_to_the_documented_rule(
    cloud: tuple[LocalCloud, list[str]],
) -> None:
    """The start function's PutEvents (its own role, its own source) reaches a rule with the
    pattern the README documents; an event of another source does not."""
    local, lines = cloud
    events = local.client("events")
    rule = events.describe_rule(Name="local-completion-events")
    assert json.loads(rule["EventPattern"]) == {"source": [SOURCE]}
    events.put_events(
        Entries=[{"Source": "someone.else", "DetailType": "Upload Rejected", "Detail": "{}"}]
    )
    bucket = local.bucket_name("InputBucket")
    local.client("s3").put_object(
        Bucket=bucket, Key="ev/notes.mp4", Body=b"notes, not video\n" * 50
    )

    event = local.wait_for_completion_event("ev/notes.mp4", 30)

    assert event is not None, lines
    assert event["source"] == SOURCE
    assert event["detail-type"] == "Upload Rejected"
    detail = event["detail"]
    assert detail["error_record"] == "ev/notes.mp4/error.json"
    assert "plain text, not MP4" in detail["reason"]
    assert f"EventBridge: Upload Rejected ev/notes.mp4: {detail['reason']}" in lines
    assert [e["source"] for e in local.completion_events] == [SOURCE]


def test_s3_metadata_on_the_upload_sets_the_job(cloud: tuple[LocalCloud, list[str]]) -> None:
    local, _ = cloud
    bucket = local.bucket_name("InputBucket")
    metadata = {"language": "en-GB", "speakers": "2", "speaker-names": "Ana,Ben"}
    local.client("s3").upload_file(
        str(SAMPLE), bucket, "meta/talk.mp4", ExtraArgs={"Metadata": metadata}
    )

    job = job_of(local, "meta/talk.mp4")

    assert job["LanguageCode"] == "en-GB"
    assert job["Settings"]["ShowSpeakerLabels"] is True
    assert job["Settings"]["MaxSpeakerLabels"] == 2


def test_the_option_profiles_parameter_reaches_the_functions(
    cloud: tuple[LocalCloud, list[str]],
) -> None:
    """`make local PROFILES=...` / --parameter OptionProfiles=...: the prefix's options;
    metadata on the upload still wins over the profile."""
    local, _ = cloud
    bucket = local.bucket_name("InputBucket")
    s3 = local.client("s3")
    s3.upload_file(str(SAMPLE), bucket, "profiled/a.mp4")
    s3.upload_file(
        str(SAMPLE), bucket, "profiled/b.mp4", ExtraArgs={"Metadata": {"language": "en-IE"}}
    )

    profiled, overridden = job_of(local, "profiled/a.mp4"), job_of(local, "profiled/b.mp4")

    assert profiled["LanguageCode"] == "en-AU"
    assert profiled["Settings"]["MaxSpeakerLabels"] == 3
    assert overridden["LanguageCode"] == "en-IE"
    assert overridden["Settings"]["MaxSpeakerLabels"] == 3


# -- the real command ---------------------------------------------------------------------


def run_demo(tmp_path: Any, *flags: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "local_pipeline", "demo", "--output", str(tmp_path), *flags],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=180,
    )


def test_the_demo_puts_the_options_on_the_upload_and_prints_the_event(tmp_path: Any) -> None:
    """`make demo LANGUAGE=es-US SPEAKERS=2 NAMES=Ana,Ben TITLE=...`: the job carries
    es-US, the engine says it recognised English (tiny.en), the event is printed."""
    pytest.importorskip("faster_whisper", reason="make test installs requirements-local.txt")
    demo = run_demo(
        tmp_path,
        "--language=es-US",
        "--speakers=2",
        "--speaker-names=Ana,Ben",
        "--title=Sample talk",
    )

    assert demo.returncode == 0, demo.stdout + demo.stderr
    out = demo.stdout
    assert (
        "with S3 metadata language='es-US', speakers='2', speaker-names='Ana,Ben', "
        "title='Sample talk'"
    ) in out
    assert re.search(
        r"Transcribe \(local\): \S+ is a job for es-US, but the local engine recognised 'en' "
        r"\(Whisper tiny\.en knows English only\)",
        out,
    ), out
    summary = json.loads((tmp_path / "sample-talk.mp4" / "summary.json").read_text())
    event = re.search(
        r"EventBridge: Transcript Published uploads/sample-talk\.mp4: (\d+) words, "
        r"([\d.]+) s, es-US\n",
        out,
    )
    assert event, out
    assert int(event.group(1)) == summary["word_count"]
    assert float(event.group(2)) == pytest.approx(summary["duration_seconds"], abs=0.05)
    assert summary["language_code"] == "es-US"
    assert summary["title"] == "Sample talk"
    assert "# Transcript summary: Sample talk" in out
    # Events carry no transcript text.
    assert "sample recording" not in out.split("EventBridge:")[1].split("\n")[0]


def test_an_invalid_option_is_the_pipelines_own_reason_and_exit_code_1(tmp_path: Any) -> None:
    pytest.importorskip("faster_whisper", reason="make test installs requirements-local.txt")
    demo = run_demo(tmp_path, "--speakers=1")

    assert demo.returncode == cli.EXIT_NOT_TRANSCRIBED == 1, demo.stdout + demo.stderr
    assert (tmp_path / "sample-talk.mp4" / "error.json").exists(), demo.stdout + demo.stderr
    record = json.loads((tmp_path / "sample-talk.mp4" / "error.json").read_text())
    reason = record["reason"]
    assert "option 'speakers' from the upload's S3 metadata is '1'" in reason
    assert f"The pipeline could not transcribe uploads/sample-talk.mp4:\n  {reason}\n" in (
        demo.stdout
    )
    assert f"EventBridge: Upload Rejected uploads/sample-talk.mp4: {reason}\n" in demo.stdout
    assert "Transcribe (local): recognising" not in demo.stdout  # nothing was started
