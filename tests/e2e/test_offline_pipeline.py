"""The whole pipeline offline: template.yaml -> moto server -> real handlers -> local
Transcribe (faster-whisper tiny.en) -> EventBridge rule -> outputs.

Nothing is stubbed between the upload and the outputs: the functions run unchanged and
reach moto only through AWS_ENDPOINT_URL, exactly as they would reach AWS.
"""

from __future__ import annotations

import json
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import boto3
import pytest

from tests.conftest import REPO, free_port
from transcription_pipeline.naming import OUTPUT_FILES

pytest.importorskip("faster_whisper", reason="make test installs requirements-local.txt")

from local_pipeline.cloud import LocalCloud, default_template
from local_pipeline.engine import LocalTranscribeEngine
from local_pipeline.speech import SpeechRecogniser
from local_pipeline.wer import word_error_rate

SAMPLES = REPO / "samples"
SPOKEN = (SAMPLES / "sample-talk.txt").read_text(encoding="utf-8")
OUTPUTS = set(OUTPUT_FILES)


class Pipeline:
    def __init__(self, cloud: LocalCloud) -> None:
        self.cloud = cloud
        self.s3 = cloud.client("s3")
        self.input_bucket = cloud.bucket_name("InputBucket")
        self.output_bucket = cloud.bucket_name("OutputBucket")

    def upload(self, path: Path, key: str, metadata: dict[str, str] | None = None) -> None:
        """As `aws s3 cp [--metadata ...]` uploads it."""
        extra = {"ExtraArgs": {"Metadata": metadata}} if metadata else {}
        self.s3.upload_file(str(path), self.input_bucket, key, **extra)

    def job_of(self, key: str) -> dict[str, Any]:
        """The Transcribe job of ``key``, as moto holds it (GetTranscriptionJob)."""
        transcribe = self.cloud.client("transcribe")
        for summary in transcribe.list_transcription_jobs()["TranscriptionJobSummaries"]:
            name = summary["TranscriptionJobName"]
            job: dict[str, Any] = transcribe.get_transcription_job(TranscriptionJobName=name)[
                "TranscriptionJob"
            ]
            if job["Media"]["MediaFileUri"].endswith(f"/{key}"):
                return job
        raise AssertionError(f"no job for {key}")

    def event_of(self, key: str) -> dict[str, Any]:
        """The completion event EventBridge delivered about ``key`` to the documented rule."""
        event = self.cloud.wait_for_completion_event(key, 10)
        assert event is not None, f"no completion event about {key}"
        return event

    def wait_for_answer(self, key: str, timeout: float = 120) -> dict[str, bytes]:
        files = self.cloud.wait_for_final_record(key, timeout)
        assert files is not None, f"no answer for {key}; invocations: {self.cloud.invocations}"
        return files


@pytest.fixture(scope="module")
def pipeline() -> Iterator[Pipeline]:
    threads_before = {t.name for t in threading.enumerate()}
    with (
        LocalCloud(default_template(REPO)) as cloud,
        LocalTranscribeEngine(cloud, SpeechRecogniser()),
    ):
        endpoint = cloud.endpoint_url
        yield Pipeline(cloud)
        # Every call of every function was checked against its own role, and allowed.
        assert cloud.enforcer.checked > 0
        assert not cloud.enforcer.denials, "IAM refused: " + "; ".join(
            map(str, cloud.enforcer.denials)
        )
    # Nothing is left behind: no threads of ours, nothing listening on the port.
    time.sleep(0.2)
    leftover = {t.name for t in threading.enumerate()} - threads_before
    assert not {name for name in leftover if name.startswith("local-")}
    parts = urlsplit(endpoint)
    with socket.socket() as probe:
        probe.settimeout(1)
        assert probe.connect_ex((parts.hostname, parts.port)) != 0


@pytest.mark.parametrize("sample", ["sample-talk.mp4", "sample-talk.webm"])
def test_spoken_words_come_back(pipeline: Pipeline, sample: str) -> None:
    key = f"e2e/{sample}"
    pipeline.upload(SAMPLES / sample, key)

    files = pipeline.wait_for_answer(key)

    assert set(files) == OUTPUTS
    transcript = json.loads(files["transcript.json"])
    text = transcript["results"]["transcripts"][0]["transcript"]
    assert word_error_rate(SPOKEN, text) <= 0.25
    summary: dict[str, Any] = json.loads(files["summary.json"])
    assert summary["source"] == {"bucket": pipeline.input_bucket, "key": key}
    assert summary["job_name"].startswith("transcription-pipeline.sample-talk.")
    assert summary["language_code"] == "en-US"
    assert summary["no_speech"] is False
    spoken_words = len(SPOKEN.split())
    assert abs(summary["word_count"] - spoken_words) <= spoken_words * 0.25
    assert 10.0 < summary["duration_seconds"] <= 15.5  # the clip is 15.4 s with pauses
    assert summary["highlights"]
    for highlight in summary["highlights"]:
        assert highlight["text"] in text
    assert "pipeline" in summary["keywords"]
    srt = files["subtitles.srt"].decode()
    assert srt.startswith("1\n00:00:0")
    assert files["transcript.txt"].decode().strip()


def test_unsupported_file_ends_in_error_json(pipeline: Pipeline, tmp_path: Path) -> None:
    text_as_video = tmp_path / "notes.mp4"
    text_as_video.write_text("These are meeting notes, not a video.\n" * 20)
    pipeline.upload(text_as_video, "e2e/notes.mp4")

    files = pipeline.wait_for_answer("e2e/notes.mp4")

    assert set(files) == {"error.json"}
    record = json.loads(files["error.json"])
    assert record["status"] == "REJECTED"
    assert record["detected"] == "text"


def test_media_transcribe_cannot_use_fails_the_job_and_says_why(
    pipeline: Pipeline, tmp_path: Path
) -> None:
    """An upload that passes validation (a well-formed AMR header) but holds no audio:
    the engine FAILS the job as Transcribe would, and the FAILED event reaches the
    function, which writes the reason. (Media in a bucket of another application cannot
    be used for this: the process function's role may not read it, as in AWS.)"""
    media = tmp_path / "silent.amr"
    media.write_bytes(b"#!AMR\n" + bytes([0x7C]) * 3000)  # NO_DATA frames only
    key = "e2e/silent.amr"
    pipeline.upload(media, key)

    files = pipeline.wait_for_answer(key)

    record = json.loads(files["error.json"])
    assert record["status"] == "FAILED"
    assert record["stage"] == "transcription"
    assert "too small" in record["transcribe_failure_reason"]
    assert "too short" in record["reason"]
    assert record["source"] == {"bucket": pipeline.input_bucket, "key": key}
    assert record["job_name"].startswith("transcription-pipeline.silent.")


def test_the_options_in_the_metadata_reach_the_job_the_outputs_and_the_event(
    pipeline: Pipeline,
) -> None:
    """What `make demo LANGUAGE=en-GB SPEAKERS=2 NAMES=Ana,Ben TITLE=...` puts on the upload."""
    key = "e2e/options/talk.mp4"
    metadata = {
        "language": "en-GB",
        "speakers": "2",
        "speaker-names": "Ana,Ben",
        "title": "Sample talk",
    }
    pipeline.upload(SAMPLES / "sample-talk.mp4", key, metadata)

    files = pipeline.wait_for_answer(key)

    assert pipeline.s3.head_object(Bucket=pipeline.input_bucket, Key=key)["Metadata"] == metadata
    job = pipeline.job_of(key)
    assert job["LanguageCode"] == "en-GB"
    assert job["Settings"]["ShowSpeakerLabels"] is True
    assert job["Settings"]["MaxSpeakerLabels"] == 2
    summary = json.loads(files["summary.json"])
    assert summary["title"] == "Sample talk"
    assert summary["language_code"] == "en-GB"  # the job's: the raw transcript names none
    assert "language_code" not in json.loads(files["transcript.json"])["results"]
    # The local engine does not tell speakers apart: its transcript has no speaker labels
    # (nor channels), so there is nothing for the names to replace. Not faked.
    assert "speaker_labels" not in json.loads(files["transcript.json"])["results"]
    assert "speaker_names" not in summary
    assert "Ana" not in files["transcript.txt"].decode()
    event = pipeline.event_of(key)
    assert event["source"] == "transcription-pipeline.transcription-pipeline"
    assert event["detail-type"] == "Transcript Published"
    detail = event["detail"]
    assert detail["job_name"] == job["TranscriptionJobName"] == summary["job_name"]
    assert (detail["word_count"], detail["language_code"]) == (summary["word_count"], "en-GB")
    assert detail["outputs"]["summary.json"] == f"{key}/summary.json"
    assert "sample recording" not in json.dumps(event).lower()  # ids and counts, no text


def test_a_sidecar_uploaded_before_the_media_is_honoured(pipeline: Pipeline) -> None:
    key = "e2e/sidecar/talk.mp4"
    sidecar = {"language": "en-AU", "speakers": 3, "title": "From the sidecar"}
    pipeline.s3.put_object(
        Bucket=pipeline.input_bucket, Key=f"{key}.options.json", Body=json.dumps(sidecar)
    )
    # The sidecar wins over the metadata.
    pipeline.upload(SAMPLES / "sample-talk.mp4", key, {"language": "en-GB", "title": "No"})

    files = pipeline.wait_for_answer(key)

    job = pipeline.job_of(key)
    assert job["LanguageCode"] == "en-AU"
    assert job["Settings"]["MaxSpeakerLabels"] == 3
    summary = json.loads(files["summary.json"])
    assert (summary["title"], summary["language_code"]) == ("From the sidecar", "en-AU")
    assert pipeline.event_of(key)["detail-type"] == "Transcript Published"


def test_an_invalid_option_is_error_json_and_an_upload_rejected_event(
    pipeline: Pipeline, tmp_path: Path
) -> None:
    key = "e2e/sidecar/bad.mp4"
    pipeline.s3.put_object(
        Bucket=pipeline.input_bucket,
        Key=f"{key}.options.json",
        Body=json.dumps({"speakers": "many"}),
    )
    pipeline.upload(SAMPLES / "sample-talk.mp4", key)

    files = pipeline.wait_for_answer(key)

    assert set(files) == {"error.json"}
    record = json.loads(files["error.json"])
    assert record["status"] == "REJECTED"
    assert f"option 'speakers' from the sidecar {key}.options.json is 'many'" in record["reason"]
    event = pipeline.event_of(key)
    assert event["detail-type"] == "Upload Rejected"
    assert event["detail"]["reason"] == record["reason"]
    assert event["detail"]["error_record"] == f"{key}/error.json"
    with pytest.raises(AssertionError, match="no job"):
        pipeline.job_of(key)  # nothing was started


def in_flight_items(pipeline: Pipeline) -> list[dict[str, Any]]:
    table = pipeline.cloud.table_name("InFlightTable")
    items: list[dict[str, Any]] = pipeline.cloud.client("dynamodb").scan(TableName=table)["Items"]
    return [item for item in items if item["source_key"]["S"] != "#reconcile"]


def test_a_job_is_in_flight_until_its_answer_and_reconciliation_finds_nothing_left(
    pipeline: Pipeline,
) -> None:
    """The start function records each job in the in-flight table, the process function
    removes it; the scheduled reconciliation (run on demand here) reads the table with its
    own role and has nothing to settle."""
    key = "e2e/in-flight.mp4"
    pipeline.upload(SAMPLES / "sample-talk.mp4", key)
    deadline = time.monotonic() + 60
    while not any(item["source_key"]["S"] == key for item in in_flight_items(pipeline)):
        assert time.monotonic() < deadline, "the started job was never recorded"
        time.sleep(0.05)

    pipeline.wait_for_answer(key)

    assert [item["source_key"]["S"] for item in in_flight_items(pipeline)] == []
    scheduled = {
        "version": "0",
        "id": "53dc4d37-cffa-4f76-80c9-8b7d4a4d2eaa",
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": "123456789012",
        "time": "2026-12-01T12:00:00Z",
        "region": "us-east-1",
        "resources": ["arn:aws:events:us-east-1:123456789012:rule/reconcile"],
        "detail": {},
    }
    run = pipeline.cloud.invoke("ReconcileFunction", scheduled)
    assert run.error is None, run.error
    assert isinstance(run.result, dict)
    counts = {name: run.result[name] for name in ("items_in_flight", "uploads_requeued")}
    assert counts == {"items_in_flight": 0, "uploads_requeued": 0}, run.result
    assert run.result["items_failed"] == 0, run.result
    assert not pipeline.cloud.enforcer.denials


def test_long_running_mode_serves_uploads_and_stops_on_ctrl_c(tmp_path: Path) -> None:
    """`make local`: a person copies a file in with any S3 client and sees the outputs."""
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "local_pipeline", "up", "--port", str(port), "--output", tmp_path],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    lines: list[str] = []  # everything it prints, read by a thread of the test's own
    reader = threading.Thread(target=lines.extend, args=(server.stdout,), daemon=True)
    reader.start()

    def wait_for(text: str) -> str:
        deadline = time.monotonic() + 120
        while not any(text in line for line in lines):
            assert time.monotonic() < deadline, f"no {text!r} in:\n" + "".join(lines)
            time.sleep(0.1)
        return next(line for line in lines if text in line)

    try:
        endpoint = f"http://127.0.0.1:{port}"
        wait_for("Ctrl-C stops it")
        banner = "".join(lines)
        assert f"aws --endpoint-url {endpoint} s3 cp" in banner
        assert "Completion events (EventBridge, source transcription-pipeline." in banner
        s3 = boto3.client(
            "s3",
            endpoint_url=endpoint,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
            region_name="us-east-1",
        )
        bucket = "transcription-pipeline-input-123456789012-us-east-1"
        # Options as in AWS: a sidecar uploaded first, S3 metadata on the upload.
        s3.put_object(
            Bucket=bucket, Key="cli/talk.mp4.options.json", Body=b'{"title": "Through make local"}'
        )
        s3.upload_file(
            str(SAMPLES / "sample-talk.mp4"),
            bucket,
            "cli/talk.mp4",
            ExtraArgs={"Metadata": {"language": "en-GB"}},
        )

        printed = "EventBridge: Transcript Published cli/talk.mp4: "
        event_line = wait_for(printed)

        assert re.fullmatch(rf"\[ *[\d.]+s\] {printed}\d+ words, [\d.]+ s, en-GB\n", event_line)
        output_bucket = bucket.replace("-input-", "-output-")
        summary_key = "cli/talk.mp4/summary.md"
        summary = s3.get_object(Bucket=output_bucket, Key=summary_key)["Body"].read().decode()
        assert "sample recording" in summary.lower()
        assert summary.startswith("# Transcript summary: Through make local")
        assert "**Language:** en-GB" in summary

        # The project's own upload command, for people without the AWS CLI.
        assert f"make upload FILE=my.mp4 ENDPOINT={endpoint}" in banner
        uploaded = subprocess.run(
            [
                sys.executable,
                "-m",
                "local_pipeline",
                "upload",
                str(SAMPLES / "sample-talk.webm"),
                "--endpoint",
                endpoint,
                "--output",
                str(tmp_path / "saved"),
            ],
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert uploaded.returncode == 0, uploaded.stderr
        saved = tmp_path / "saved" / "sample-talk.webm"
        assert "sample recording" in (saved / "summary.md").read_text().lower()
        assert f"saved to {saved}/" in uploaded.stdout
    finally:
        server.send_signal(signal.SIGINT)
        server.wait(timeout=60)
        reader.join(timeout=10)
    output = "".join(lines)
    assert server.returncode == 0, output
    assert "Traceback" not in output
    with socket.socket() as probe:
        assert probe.connect_ex(("127.0.0.1", port)) != 0


def test_the_demo_writes_a_model_summary_through_the_bedrock_stand_in(tmp_path: Path) -> None:
    """make demo SUMMARY_MODEL=standin: the real process function calls the local Bedrock
    stand-in over HTTP (the same code path as a real model) and says it was a stand-in."""
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "local_pipeline",
            "demo",
            "--summary-model",
            "standin",
            "--output",
            str(tmp_path),
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
    )

    assert run.returncode == 0, run.stderr
    summary = json.loads((tmp_path / "sample-talk.mp4" / "summary.json").read_text())
    assert summary["summary_source"] == "bedrock"
    assert summary["model_usage"]["calls"] >= 1
    assert "## Summary" in run.stdout
    assert "local Bedrock stand-in" in run.stderr + run.stdout
    assert "not what a model writes" in run.stdout
    # The page people open comes first in the final report.
    report = run.stdout[run.stdout.index("\nOpen ") :]
    assert report.startswith(f"\nOpen {tmp_path}/sample-talk.mp4/transcript.html in a browser")
    assert (tmp_path / "sample-talk.mp4" / "chapters.vtt").read_text().startswith("WEBVTT")
