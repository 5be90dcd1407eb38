"""The smoke test command (python -m operations.smoke, make smoke).

- Against the real local cloud of ``make local`` (a subprocess with the real speech model):
  the sample passes every check and nothing of the run is left. This is how CI runs it.
- Failure paths against an in-process local cloud whose Transcribe engine "hears" a
  scripted text (no speech model): a rejected upload, a broken process function (timeout
  with hints), a transcript without the clip's words.
- The CloudFormation path under moto: a stack with the template's own Outputs, a missing
  stack, a stack without the outputs, and a timeout with the dead-letter queue counts.
"""

from __future__ import annotations

import io
import json
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from local_pipeline.template import load_template
from operations.smoke import (
    Progress,
    check_outputs,
    cloudformation_outputs,
    main,
    smoke_key,
    srt_cues,
    stack_outputs_from,
    vtt_cues,
)
from tests.conftest import REPO, free_port
from transcription_pipeline.naming import OUTPUT_FILES, S3Location

pytest.importorskip("faster_whisper", reason="make test installs requirements-local.txt")

from local_pipeline.cloud import LocalCloud, default_template
from local_pipeline.engine import LocalTranscribeEngine
from local_pipeline.invoke import Handler, load_handler
from local_pipeline.speech import (
    RecognisedSegment,
    RecognisedWord,
    Recognition,
    SpeechRecogniser,
)
from local_pipeline.template import FunctionSpec

SPOKEN = (REPO / "samples" / "sample-talk.txt").read_text(encoding="utf-8")
STACK = "transcription-pipeline"
EXIT_OK, EXIT_FAILED, EXIT_SETUP = 0, 1, 2


@dataclass
class Run:
    code: int
    out: str
    err: str


def smoke(*argv: str) -> Run:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), stdout=out, stderr=err)
    return Run(code, out.getvalue(), err.getvalue())


def leftovers(endpoint: str | None = None) -> list[str]:
    """Whatever any smoke run left in the buckets or in Transcribe (the local stack)."""
    options: dict[str, Any] = {"region_name": "us-east-1"}
    if endpoint:
        options["endpoint_url"] = endpoint
    s3 = boto3.client("s3", **options)
    transcribe = boto3.client("transcribe", **options)
    found = []
    for bucket, prefix in (
        (f"{STACK}-input-123456789012-us-east-1", "smoke-tests/"),
        (f"{STACK}-output-123456789012-us-east-1", "smoke-tests/"),
        (f"{STACK}-output-123456789012-us-east-1", f"_transcribe/{STACK}.smoke-"),
    ):
        listing = s3.list_objects_v2(Bucket=bucket, Prefix=prefix).get("Contents", [])
        found += [f"s3://{bucket}/{item['Key']}" for item in listing]
    jobs = transcribe.list_transcription_jobs(JobNameContains=f"{STACK}.smoke-")
    found += [job["TranscriptionJobName"] for job in jobs.get("TranscriptionJobSummaries", [])]
    return found


# -- against `make local` (python -m local_pipeline up), with the real speech model --------


@pytest.fixture(scope="module")
def make_local(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The long-running local cloud, as `make local` starts it; yields its endpoint."""
    port = free_port()
    server = subprocess.Popen(
        [
            *(sys.executable, "-m", "local_pipeline", "up"),
            *("--port", str(port), "--output", str(tmp_path_factory.mktemp("make-local"))),
        ],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        banner = ""
        for line in server.stdout or ():
            banner += line
            if "Ctrl-C stops it" in line:
                break
        assert "Ctrl-C stops it" in banner, banner
        yield f"http://127.0.0.1:{port}"
    finally:
        server.send_signal(signal.SIGINT)
        remaining, _ = server.communicate(timeout=60)
    assert server.returncode == 0, remaining


def test_smoke_passes_against_make_local_and_leaves_nothing(make_local: str) -> None:
    run = smoke("--stack-name", STACK, "--endpoint-url", make_local, "--timeout", "120")

    assert run.code == EXIT_OK, run.out + run.err
    for name in ("transcript.json", "transcript.txt", "subtitles.srt", "subtitles.vtt"):
        assert f"ok   {name}:" in run.out
    assert "ok   summary.json:" in run.out
    assert "en-US" in run.out
    assert "SMOKE TEST PASSED" in run.out
    removed = run.out.split("removed what the smoke test created:")[1]
    assert "- the upload s3://" in removed
    assert "- the Transcribe job transcription-pipeline.smoke-" in removed
    assert "- Transcribe's raw output _transcribe/transcription-pipeline.smoke-" in removed
    assert f"- {len(OUTPUT_FILES)} output(s) in s3://" in removed
    assert run.err == ""
    assert leftovers(make_local) == []


def test_make_smoke_runs_the_command_with_its_variables() -> None:
    if shutil.which("make") is None:
        pytest.skip("make is not installed")
    dry_run = subprocess.run(
        [
            *("make", "-n", "smoke", "STACK=my-stack", "ENDPOINT=http://127.0.0.1:5000"),
            *("TIMEOUT=30", "FILE=samples/sample-talk.webm"),
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
    )
    command = " ".join(dry_run.stdout.replace("\\\n", " ").split())
    assert (
        '-m operations.smoke --stack-name "my-stack" --endpoint-url "http://127.0.0.1:5000" '
        '--timeout "30" --file "samples/sample-talk.webm"'
    ) in command


# -- failure paths against an in-process local cloud (scripted speech) --------------------


class ScriptedRecogniser(SpeechRecogniser):
    """ "Hears" ``text``, 0.4 s a word: the engine's real path without the model."""

    def __init__(self) -> None:
        super().__init__()
        self.text = SPOKEN

    def load(self) -> None:
        pass

    def recognise(self, media: Path, *, language: str | None = None) -> Recognition:
        words = tuple(
            RecognisedWord(word, 0.4 * index, 0.4 * index + 0.35, 0.9)
            for index, word in enumerate(self.text.split())
        )
        segment = RecognisedSegment(0.0, words[-1].end, 0, len(words) - 1)
        return Recognition(words, (segment,), "en", words[-1].end + 0.5)


@dataclass
class ScriptedPipeline:
    cloud: LocalCloud
    recogniser: ScriptedRecogniser
    broken: set[str] = field(default_factory=set)  # logical ids of functions that raise

    @property
    def endpoint(self) -> str:
        return self.cloud.endpoint_url


@pytest.fixture
def pipeline(monkeypatch: pytest.MonkeyPatch) -> Iterator[ScriptedPipeline]:
    """One per test: the moto tests below reset moto's state, which a running cloud holds."""
    broken: set[str] = set()

    def load_maybe_broken(spec: FunctionSpec) -> Handler:
        handler = load_handler(spec)

        def maybe_broken(event: dict[str, Any], context: Any) -> Any:
            if spec.logical_id in broken:
                raise RuntimeError(f"{spec.logical_id} is broken for this test")
            return handler(event, context)

        return maybe_broken

    monkeypatch.setattr("local_pipeline.cloud.load_handler", load_maybe_broken)
    recogniser = ScriptedRecogniser()
    with LocalCloud(default_template(REPO)) as cloud, LocalTranscribeEngine(cloud, recogniser):
        yield ScriptedPipeline(cloud, recogniser, broken)


def local_smoke(pipeline: ScriptedPipeline, *argv: str) -> Run:
    return smoke(
        "--stack-name", STACK, "--endpoint-url", pipeline.endpoint, "--poll-seconds", "0.1", *argv
    )


def test_rejected_upload_fails_with_the_reason_from_error_json(
    pipeline: ScriptedPipeline, tmp_path: Path
) -> None:
    notes = tmp_path / "notes.mp4"
    notes.write_text("These are meeting notes, not a video.\n" * 20)

    run = local_smoke(pipeline, "--file", str(notes), "--timeout", "30")

    assert run.code == EXIT_FAILED, run.out + run.err
    assert "SMOKE TEST FAILED" in run.out
    assert "the pipeline answered with error.json: " in run.out
    assert "plain text" in run.out
    assert "status: REJECTED" in run.out
    assert "error.json was s3://" in run.out
    assert "what to do: the start function refused the upload" in run.out
    assert "- the upload s3://" in run.out.split("removed what the smoke test created:")[1]
    assert leftovers(pipeline.endpoint) == []


def test_broken_process_function_times_out_and_says_where_to_look(
    pipeline: ScriptedPipeline,
) -> None:
    pipeline.broken.add("ProcessTranscriptFunction")

    run = local_smoke(pipeline, "--timeout", "2")

    assert run.code == EXIT_FAILED, run.out + run.err
    assert "timed out after 2 s without a final record" in run.out
    assert "outputs there: none" in run.out
    assert "Transcribe job transcription-pipeline.smoke-" in run.out
    assert ": COMPLETED" in run.out
    assert "the process function failed or its event was lost" in run.out
    assert "ProcessTranscriptDeadLetterQueue" in run.out
    assert "dead-letter queues: the local cloud has none" in run.out
    # The finished job is deleted too: reconciliation would write its outputs again.
    removed = run.out.split("removed what the smoke test created:")[1]
    assert "- the Transcribe job transcription-pipeline.smoke-" in removed
    assert leftovers(pipeline.endpoint) == []


def test_transcript_without_the_clips_words_fails_the_check(pipeline: ScriptedPipeline) -> None:
    pipeline.recogniser.text = "Completely different words were heard in this recording today."

    run = local_smoke(pipeline, "--timeout", "30")

    assert run.code == EXIT_FAILED, run.out + run.err
    assert "FAIL transcript.txt: " in run.out
    assert "of 21 expected words; missing: " in run.out
    assert "ok   summary.json:" in run.out  # the other checks still ran
    assert "transcript.txt: " in run.out.split("SMOKE TEST FAILED")[1]
    assert leftovers(pipeline.endpoint) == []


def test_a_stack_the_local_cloud_does_not_run_exits_2(pipeline: ScriptedPipeline) -> None:
    run = local_smoke(pipeline, "--stack-name", "someone-else")

    assert run.code == EXIT_SETUP
    assert "someone-else-input-123456789012-us-east-1" in run.err
    assert "no such bucket" in run.err
    assert "is 'someone-else' the right name?" in run.err
    assert run.out == ""


def test_no_local_cloud_at_the_endpoint_exits_2() -> None:
    run = smoke("--stack-name", STACK, "--endpoint-url", f"http://127.0.0.1:{free_port()}")

    assert run.code == EXIT_SETUP
    assert "nothing answers at http://127.0.0.1:" in run.err
    assert "make local" in run.err


def test_missing_file_exits_2(tmp_path: Path) -> None:
    run = smoke("--stack-name", STACK, "--file", str(tmp_path / "absent.mp4"))

    assert run.code == EXIT_SETUP
    assert "absent.mp4 is not a file" in run.err


# -- the CloudFormation path, under moto -----------------------------------------------


SMOKE_OUTPUTS = (
    "InputBucketName",
    "OutputBucketName",
    "JobNamePrefix",
    "StartTranscriptionDeadLetterQueueUrl",
    "ProcessTranscriptDeadLetterQueueUrl",
    "JobEventsDeadLetterQueueUrl",
)


def stack_template(outputs: Sequence[str] = SMOKE_OUTPUTS) -> str:
    """template.yaml's own Outputs over just the resources they name (moto cannot run SAM)."""
    template = load_template(REPO / "template.yaml")
    resources: dict[str, Any] = {}
    for logical_id in ("InputBucket", "OutputBucket"):
        name = template["Resources"][logical_id]["Properties"]["BucketName"]
        resources[logical_id] = {"Type": "AWS::S3::Bucket", "Properties": {"BucketName": name}}
    for logical_id in (
        "StartTranscriptionDeadLetterQueue",
        "ProcessTranscriptDeadLetterQueue",
        "JobEventsDeadLetterQueue",
    ):
        resources[logical_id] = {"Type": "AWS::SQS::Queue"}
    chosen = {name: template["Outputs"][name] for name in outputs}
    # The functions' ARNs (GetAtt of SAM functions moto cannot create), for the logs hint.
    for logical_id in ("StartTranscriptionFunction", "ProcessTranscriptFunction"):
        arn = "arn:aws:lambda:us-east-1:123456789012:function:${AWS::StackName}-" + logical_id
        chosen[f"{logical_id}Arn"] = {"Value": {"Fn::Sub": arn + "-A1"}}
    return json.dumps({"Resources": resources, "Outputs": chosen})


@pytest.fixture
def aws() -> Iterator[None]:
    with mock_aws():
        yield


def create_stack(name: str, outputs: Sequence[str] = SMOKE_OUTPUTS) -> None:
    boto3.client("cloudformation").create_stack(
        StackName=name, TemplateBody=stack_template(outputs)
    )


@pytest.mark.usefixtures("aws")
def test_stack_outputs_come_from_cloudformation() -> None:
    create_stack("smoke-stack")

    values = cloudformation_outputs(boto3.client("cloudformation"), "smoke-stack")
    outputs = stack_outputs_from(values, stack_name="smoke-stack", source="stack")

    assert outputs.input_bucket == "smoke-stack-input-123456789012-us-east-1"
    assert outputs.output_bucket == "smoke-stack-output-123456789012-us-east-1"
    assert outputs.job_name_prefix == "smoke-stack."
    assert set(outputs.dead_letter_queues) == {
        "StartTranscriptionDeadLetterQueue",
        "ProcessTranscriptDeadLetterQueue",
        "JobEventsDeadLetterQueue",
    }
    for url in outputs.dead_letter_queues.values():
        assert url.startswith("https://sqs.us-east-1.amazonaws.com/123456789012/smoke-stack-")


def test_template_outputs_name_the_local_clouds_buckets() -> None:
    """With --endpoint-url the same values come from template.yaml, as the local cloud
    names its resources (LocalCloud.bucket_name)."""
    from operations.smoke import template_outputs

    values = template_outputs(REPO / "template.yaml", STACK)
    outputs = stack_outputs_from(
        values, stack_name=STACK, source="local", endpoint_url="http://127.0.0.1:5000"
    )

    template = default_template(REPO)
    assert outputs.input_bucket == template.physical_name("InputBucket")
    assert outputs.output_bucket == template.physical_name("OutputBucket")
    assert outputs.job_name_prefix == f"{STACK}."


@pytest.mark.usefixtures("aws")
def test_missing_stack_exits_2_and_says_what_to_check() -> None:
    run = smoke("--stack-name", "no-such-stack", "--region", "us-east-1")

    assert run.code == EXIT_SETUP
    assert "stack 'no-such-stack' does not exist in us-east-1" in run.err
    assert "--region" in run.err
    assert run.out == ""


@pytest.mark.usefixtures("aws")
def test_stack_without_the_bucket_outputs_exits_2() -> None:
    create_stack("old-stack", outputs=("JobNamePrefix",))

    run = smoke("--stack-name", "old-stack", "--region", "us-east-1")

    assert run.code == EXIT_SETUP
    assert "has no output InputBucketName, OutputBucketName" in run.err
    assert "deploy the current template.yaml" in run.err


@pytest.mark.usefixtures("aws")
def test_timeout_on_a_stack_counts_dead_letters_and_removes_the_upload() -> None:
    """A stack whose functions never run (moto runs none): the upload waits in vain."""
    create_stack("quiet-stack")
    sqs = boto3.client("sqs")
    start_dlq = sqs.get_queue_url(
        QueueName=next(
            url.rsplit("/", 1)[1]
            for url in sqs.list_queues()["QueueUrls"]
            if "StartTranscriptionDeadLetterQueue" in url
        )
    )["QueueUrl"]
    sqs.send_message(QueueUrl=start_dlq, MessageBody="{}")

    run = smoke(
        "--stack-name", "quiet-stack", "--region", "us-east-1", "--timeout", "0.5",
        "--poll-seconds", "0.1",
    )  # fmt: skip

    assert run.code == EXIT_FAILED, run.out + run.err
    assert "timed out after" in run.out
    assert "Transcribe job: none named quiet-stack.smoke-" in run.out
    assert "the start function did not start one" in run.out
    assert "StartTranscriptionDeadLetterQueue: 1 " in run.out
    assert "ProcessTranscriptDeadLetterQueue: 0 " in run.out
    assert "make redrive STACK=quiet-stack" in run.out
    assert "aws logs tail /aws/lambda/quiet-stack-StartTranscriptionFunction-A1" in run.out
    assert "aws logs tail /aws/lambda/quiet-stack-ProcessTranscriptFunction-A1" in run.out
    input_bucket = "quiet-stack-input-123456789012-us-east-1"
    assert "- the upload s3://quiet-stack-input-" in run.out
    assert boto3.client("s3").list_objects_v2(Bucket=input_bucket).get("KeyCount") == 0


# -- pure parts ------------------------------------------------------------------------


def test_the_key_carries_a_token_the_job_name_keeps() -> None:
    key = smoke_key("My Talk (final).mp4", "0a1b2c3d")

    assert key.startswith("smoke-tests/")
    folder, name = key.rsplit("/", 1)
    assert name == "smoke-0a1b2c3d-My-Talk-final.mp4"  # job-name-safe already
    assert len(folder) == len("smoke-tests/20261124T100601Z")


def test_subtitle_parsers_count_cues_and_name_a_malformed_one() -> None:
    srt = (
        "1\n00:00:00,000 --> 00:00:02,500\nHello there.\n\n2\n00:00:02,500 --> 00:00:04,000\nBye.\n"
    )
    vtt = "WEBVTT\n\n00:00:00.000 --> 00:00:02.500\nHello there.\n"

    assert srt_cues(srt) == 2
    assert vtt_cues(vtt) == 1
    with pytest.raises(ValueError, match="cue 2"):
        srt_cues(srt.replace("00:00:02,500 --> 00:00:04,000", "soon"))
    with pytest.raises(ValueError, match="WEBVTT"):
        vtt_cues(srt)


def test_content_checks_name_what_is_wrong() -> None:
    source = S3Location("in", "smoke-tests/x/smoke-1-sample-talk.mp4")
    summary = {"source": {"bucket": "in", "key": source.key}, "word_count": 0}
    files = {
        "transcript.json": b'{"results": {"transcripts": [{"transcript": ""}]}}',
        "transcript.txt": b"This is a sample recording.",
        "subtitles.srt": b"",
        "subtitles.vtt": b"WEBVTT\n",
        "summary.json": json.dumps(summary).encode(),
        "summary.md": b"# Transcript summary\n",
    }

    checks = {
        check.name: check for check in check_outputs(files, source=source, expected_text=SPOKEN)
    }

    assert not checks["transcript.json"].ok
    assert not checks["transcript.txt"].ok
    assert "3 of 21 expected words" in checks["transcript.txt"].detail
    assert not checks["subtitles.srt"].ok
    assert checks["subtitles.vtt"].detail == "0 cue(s)"
    assert not checks["summary.json"].ok
    assert "word_count is 0" in checks["summary.json"].detail
    assert "duration_seconds is None" in checks["summary.json"].detail
    assert checks["summary.md"].ok


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_rewrites_one_line_on_a_terminal_and_prints_changes_otherwise() -> None:
    terminal, log = _Terminal(), io.StringIO()
    for stream in (terminal, log):
        progress = Progress(stream)
        progress.waiting("waiting: no job yet", "; 9 s left")
        progress.waiting("waiting: no job yet", "; 8 s left")
        progress.waiting("waiting: job IN_PROGRESS", "; 7 s left")
        progress("done")

    assert terminal.getvalue().count("\r\x1b[K") == 3
    assert terminal.getvalue().endswith("] done\n")
    assert "\r" not in log.getvalue()
    assert len(log.getvalue().splitlines()) == 3  # the unchanged state is not repeated
