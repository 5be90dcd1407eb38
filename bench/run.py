"""Measure the pipeline against its budgets and print a table; write the figures as JSON.

    python -m bench.run [--quick] [--output bench/results.json]

--quick runs each measure at its smallest size only (CI does this to keep the benchmark
working); budgets are reported, never asserted: a miss is a finding, not a test failure.
"""

from __future__ import annotations

import argparse
import io
import json
import math
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bench.timing import best_cpu_seconds

if TYPE_CHECKING:
    from local_pipeline.template import FunctionSpec

REPO = Path(__file__).resolve().parent.parent
LAYER = REPO / "layers" / "transcription_pipeline"
KIB, MIB, GIB = 1024, 1024**2, 1024**3


@dataclass
class Figure:
    measure: str
    value: float
    unit: str
    budget: float | None
    detail: str = ""
    within_budget: bool | None = None

    def __post_init__(self) -> None:
        if self.budget is not None:
            self.within_budget = self.value <= self.budget


# -- 1. bytes read to validate one upload -------------------------------------------------
def _virtual_wav(size: int) -> Callable[[int, int], bytes]:
    """Ranges of a WAV of ``size`` bytes (a real header, then silence) without storing it."""
    header = bytearray((REPO / "tests" / "media" / "tone.wav").read_bytes()[:44])
    header[4:8] = (size - 8).to_bytes(4, "little")
    header[40:44] = (size - 44).to_bytes(4, "little")

    def read(start: int, end: int) -> bytes:
        head = bytes(header[start : min(end + 1, 44)]) if start < 44 else b""
        return head + bytes(end + 1 - max(start, 44)) if end >= 44 else head

    return read


def _virtual_mp4(size: int) -> Callable[[int, int], bytes]:
    """An MP4 of ``size`` bytes: a real ftyp, an mdat filling the middle, the moov at the end
    (the common layout of a long recording, and the costly one to validate)."""
    original = (REPO / "tests" / "media" / "tone.mp4").read_bytes()
    boxes: dict[bytes, bytes] = {}
    offset = 0
    while offset < len(original):
        box_size = int.from_bytes(original[offset : offset + 4], "big")
        boxes[original[offset + 4 : offset + 8]] = original[offset : offset + box_size]
        offset += box_size
    ftyp, moov = boxes[b"ftyp"], boxes[b"moov"]
    mdat_size = size - len(ftyp) - len(moov)
    mdat_header = (1).to_bytes(4, "big") + b"mdat" + mdat_size.to_bytes(8, "big")
    moov_at = len(ftyp) + mdat_size

    def read(start: int, end: int) -> bytes:
        out = bytearray()
        for position in range(start, end + 1):
            if position < len(ftyp):
                out.append(ftyp[position])
            elif position < len(ftyp) + 16:
                out.append(mdat_header[position - len(ftyp)])
            elif position >= moov_at:
                out.append(moov[position - moov_at])
            else:
                out.append(0)
        return bytes(out)

    return read


def bytes_read_to_validate(size: int, kind: str) -> tuple[int, str]:
    """Run the start use case on a virtual object of ``size`` bytes; count what S3 sent.

    The real adapter and a real botocore client: GetObject and StartTranscriptionJob are
    answered by botocore hooks (no network), and the bytes are counted from the answers.
    """
    import boto3
    from botocore.awsrequest import AWSResponse, HTTPHeaders
    from botocore.response import StreamingBody

    from transcription_pipeline.aws import Announcer, InFlightJobs, ObjectStore, TranscribeJobs
    from transcription_pipeline.config import load_settings
    from transcription_pipeline.events import Upload
    from transcription_pipeline.start import StartOutcome, start_transcription

    source = _virtual_wav(size) if kind == "wav" else _virtual_mp4(size)
    session = boto3.Session(
        aws_access_key_id="bench", aws_secret_access_key="bench", region_name="us-east-1"
    )
    served: list[int] = []
    whole_gets: list[str] = []

    def get_object(params: dict[str, Any], **_: Any) -> tuple[AWSResponse, dict[str, Any]]:
        if "Range" not in params["headers"]:
            # A whole-object GET: the upload's options sidecar, which this upload lacks.
            whole_gets.append(params["url_path"])
            missing = {"Error": {"Code": "NoSuchKey", "Message": "The key does not exist"}}
            return AWSResponse("https://s3.invalid", 404, HTTPHeaders(), None), missing
        ranges = params["headers"]["Range"].removeprefix("bytes=")
        first, last = (int(n) for n in ranges.split("-"))
        body = source(first, min(last, size - 1))
        served.append(len(body))
        stream = StreamingBody(io.BytesIO(body), len(body))
        # S3 always sends Last-Modified: part of the upload's revision.
        modified = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)
        response = {"Body": stream, "ContentLength": len(body), "LastModified": modified}
        return AWSResponse("https://s3.invalid", 206, HTTPHeaders(), None), response

    def start_job(**_: Any) -> tuple[AWSResponse, dict[str, Any]]:
        return AWSResponse("https://transcribe.invalid", 200, HTTPHeaders(), None), {}

    def put_item(**_: Any) -> tuple[AWSResponse, dict[str, Any]]:
        return AWSResponse("https://dynamodb.invalid", 200, HTTPHeaders(), None), {}

    # botocore types hooks as returning None; a before-call hook may answer instead.
    session.events.register("before-call.s3.GetObject", get_object)  # type: ignore[arg-type]
    session.events.register("before-call.transcribe.StartTranscriptionJob", start_job)  # type: ignore[arg-type]
    session.events.register("before-call.dynamodb.PutItem", put_item)  # type: ignore[arg-type]
    settings = load_settings(
        {"INPUT_BUCKET": "in", "OUTPUT_BUCKET": "out", "JOB_NAME_PREFIX": "bench."}
    )
    upload = Upload("in", f"long/recording.{kind}", size, "0" * 32, None, "")
    result = start_transcription(
        upload,
        settings,
        ObjectStore(session.client("s3")),
        TranscribeJobs(session.client("transcribe")),
        InFlightJobs("in-flight", session.client("dynamodb")),
        Announcer("bench", session.client("events")),  # not called for a started job
        now=datetime(2026, 11, 24, 10, 0, 1, tzinfo=UTC),
    )
    if result.outcome is not StartOutcome.STARTED:
        raise RuntimeError(f"the {kind} of {size} bytes was {result.outcome}: {result.check}")
    detail = f"{len(served)} ranged GET(s)"
    if whole_gets:
        detail += f"; {len(whole_gets)} GET of an options sidecar (none there)"
    return sum(served), detail


# -- 2. transcript processing -----------------------------------------------------------------
def lambda_environment(spec: FunctionSpec) -> dict[str, str]:
    """The function's environment, and a function name so that Powertools believes it
    runs in Lambda."""
    return {
        **spec.environment,
        "AWS_LAMBDA_FUNCTION_NAME": spec.logical_id,
        "AWS_DEFAULT_REGION": "us-east-1",
    }


# One fresh process per size, pinned to one core, imports the process function's handler as
# Lambda does (function folder and layer on the path, the function's environment), so that
# memory is counted above what the handler holds once imported. It processes the transcript
# once (peak memory), then times the pipeline and the plain baseline in turns, in the same
# process. Time is the process's CPU time (user + system, page faults included): this
# machine is shared, and wall time would also count the turns of other processes.
WORKER = """
import gc, json, os, sys, time, tracemalloc
os.sched_setaffinity(0, {0})  # one core

def peak_rss():
    # This process's own peak (VmHWM): getrusage's ru_maxrss would keep the parent's
    # peak across fork and exec, the generated transcript included.
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024

import app  # the handler module, with all it imports
footprint = peak_rss()
from bench.transcripts import plain_text_and_srt
from transcription_pipeline.naming import S3Location
from transcription_pipeline.outputs import render_outputs
from transcription_pipeline.transcript import parse_transcript

raw = open(sys.argv[1], "rb").read()
source = S3Location("in", "long.mp4")

def process():
    render_outputs(raw, parse_transcript(raw), source, "2026-01-01T00:00:00Z")

def plain():
    plain_text_and_srt(raw)

def plain_gc_paused():
    gc.disable()
    try:
        plain_text_and_srt(raw)
    finally:
        gc.enable()

process()
max_rss = peak_rss()  # before the baseline runs and tracemalloc's own
runs = {"seconds": process, "plain_seconds": plain, "plain_gc_paused_seconds": plain_gc_paused}
best = {name: float("inf") for name in runs}
for _ in range(int(sys.argv[2])):
    for name, run in runs.items():
        gc.collect()
        started = time.process_time()
        run()
        best[name] = min(best[name], time.process_time() - started)
tracemalloc.start()
process()
traced_peak = tracemalloc.get_traced_memory()[1]
print(json.dumps({**best, "max_rss": max_rss, "import_footprint": footprint,
                  "traced_peak": traced_peak}))
"""


def process_transcript(seconds: float, rounds: int) -> dict[str, Any]:
    """Parse + text + subtitles + summary of a generated transcript, in a fresh process,
    beside the plain baseline (parse + text + SRT) of the same file."""
    from bench.transcripts import scaled_transcript_bytes
    from local_pipeline.cloud import default_template

    spec = default_template(REPO).function("ProcessTranscriptFunction")
    raw = scaled_transcript_bytes(seconds)
    path = [spec.code_dir, *spec.layer_dirs, REPO]
    with tempfile.NamedTemporaryFile(suffix=".json") as file:
        file.write(raw)
        file.flush()
        result = subprocess.run(
            [sys.executable, "-c", WORKER, file.name, str(rounds)],
            env={
                **os.environ,
                **lambda_environment(spec),
                "PYTHONPATH": os.pathsep.join(str(p) for p in path),
            },
            capture_output=True,
            text=True,
            check=True,
        )
    figures: dict[str, Any] = json.loads(result.stdout)
    figures.update(words=raw.count(b'"pronunciation"'), json_bytes=len(raw))
    return figures


def processing(quick: bool) -> list[Figure]:
    durations = {"1 min": 60} if quick else {"1 min": 60, "1 h": 3600, "4 h": 4 * 3600}
    rounds, passes = (1, 1) if quick else (9, 2)
    # The sizes take turns, each in fresh processes, `passes` times: times are the best of
    # all rounds, memory the larger figure.
    processed: dict[str, dict[str, Any]] = {}
    for _ in range(passes):
        for label, seconds in durations.items():
            result = process_transcript(seconds, rounds)
            best = processed.setdefault(label, result)
            for key in ("seconds", "plain_seconds", "plain_gc_paused_seconds"):
                best[key] = min(best[key], result[key])
            for key in ("max_rss", "traced_peak"):
                best[key] = max(best[key], result[key])
            best["import_footprint"] = min(best["import_footprint"], result["import_footprint"])
    rounds *= passes
    figures = []
    for label, result in processed.items():
        four_hours = label == "4 h"
        pipeline, plain = result["seconds"], result["plain_seconds"]
        paused = result["plain_gc_paused_seconds"]
        size = f"{result['words']} words, {result['json_bytes'] / MIB:.1f} MB of JSON"
        figures += [
            Figure(
                f"process a {label} transcript: time",
                pipeline,
                "s",
                1.5 if four_hours else None,
                f"{size}; CPU time, best of {rounds}",
            ),
            Figure(
                f"process a {label} transcript: x plain baseline",
                pipeline / plain,
                "x",
                2.0 if four_hours else None,
                f"plain {plain:.3f} s; {pipeline / paused:.2f}x it with the GC paused, "
                f"{paused:.3f} s",
            ),
            Figure(
                f"process a {label} transcript: peak memory",
                result["max_rss"] / MIB,
                "MB",
                200 if four_hours else None,
                f"process RSS; Python allocations {result['traced_peak'] / MIB:.0f} MB",
            ),
            Figure(
                f"process a {label} transcript: memory above the handler's imports",
                (result["max_rss"] - result["import_footprint"]) / MIB,
                "MB",
                120 if four_hours else None,
                f"peak RSS less {result['import_footprint'] / MIB:.0f} MB after import",
            ),
        ]
    if "4 h" in processed:
        ratio = processed["4 h"]["seconds"] / processed["1 h"]["seconds"]
        words = processed["4 h"]["words"] / processed["1 h"]["words"]
        figures.append(
            Figure("process time 4 h / 1 h", ratio, "x", 4.3, f"linear growth is {words:.2f}x")
        )
    return figures


# -- 2b. summaries: chapters offline, and what a Bedrock summary takes ---------------------
# Claude 3.5 Haiku on Bedrock, on-demand list price (USD per million tokens; the Bedrock
# pricing page, March 2026); the stand-in answers under its model id.
MODEL_PRICE_INPUT_PER_MILLION = 0.80
MODEL_PRICE_OUTPUT_PER_MILLION = 4.00
# The offline summary (chapters included) of a 4-hour transcript: a third of its
# processing budget above (1.5 s for everything).
OFFLINE_SUMMARY_BUDGET_SECONDS = 0.5


def summaries(quick: bool) -> list[Figure]:
    """The offline summary with chapters beside the chapters alone; the Bedrock summary's
    plan (calls, tokens, cost) at the default chunk size beside one call holding the whole
    transcript, and the calls the stand-in answered when the real code runs against it."""
    from bench.transcripts import scaled_transcript_bytes
    from local_pipeline.standins import serving
    from local_pipeline.standins.bedrock import STANDIN_MODEL_ID, BedrockStandIn
    from transcription_pipeline.aws.bedrock import BedrockSummaryModel
    from transcription_pipeline.model_summary import plan_model_summary, summarise_with_model
    from transcription_pipeline.model_summary.lines import transcript_lines
    from transcription_pipeline.model_summary.tokens import estimate_tokens
    from transcription_pipeline.summary import summarise
    from transcription_pipeline.transcript import parse_transcript
    from transcription_pipeline.words import group_words

    figures: list[Figure] = []
    rounds = 1 if quick else 5
    transcript = parse_transcript(scaled_transcript_bytes(60 if quick else 4 * 3600))
    words = group_words(transcript.items)
    label = "1 min" if quick else "4 h"
    summary = summarise(transcript, words, source_bucket="b", source_key="k", created_at="t")
    with_chapters = best_cpu_seconds(
        lambda: summarise(transcript, words, source_bucket="b", source_key="k", created_at="t"),
        rounds,
    )
    # Baseline: the same summary with the chapter step left out.
    from transcription_pipeline.summary import offline

    segment = offline.segment_chapters  # type: ignore[attr-defined]
    offline.segment_chapters = lambda *_args, **_kwargs: ()  # type: ignore[attr-defined]
    try:
        without_chapters = best_cpu_seconds(
            lambda: summarise(transcript, words, source_bucket="b", source_key="k", created_at="t"),
            rounds,
        )
    finally:
        offline.segment_chapters = segment  # type: ignore[attr-defined]
    figures.append(
        Figure(
            f"offline summary with chapters, {label} transcript: time",
            with_chapters,
            "s",
            None if quick else OFFLINE_SUMMARY_BUDGET_SECONDS,
            f"{len(words)} words, {len(summary.chapters)} chapters; without the chapter step "
            f"{without_chapters:.3f} s; CPU time, best of {rounds}",
        )
    )

    hours_measured = (1,) if quick else (1, 4)
    with serving(BedrockStandIn()) as stand_in:
        assert isinstance(stand_in, BedrockStandIn)
        client = _standin_bedrock_client(stand_in.url)
        for hours in hours_measured:
            hour_words = group_words(parse_transcript(scaled_transcript_bytes(hours * 3600)).items)
            plan = plan_model_summary(
                hour_words, language_code="en-US", output_language=None, joiner=" ",
                instructions=None,
            )  # fmt: skip
            whole = estimate_tokens(
                "\n".join(line.render() for line in transcript_lines(hour_words, joiner=" "))
            )
            cost = (
                plan.estimated_input_tokens * MODEL_PRICE_INPUT_PER_MILLION
                + plan.estimated_output_tokens * MODEL_PRICE_OUTPUT_PER_MILLION
            ) / 1e6
            stand_in.reset()
            result = summarise_with_model(
                hour_words,
                BedrockSummaryModel(STANDIN_MODEL_ID, client=client),
                model_id=STANDIN_MODEL_ID,
                language_code="en-US",
                output_language=None,
                joiner=" ",
                instructions=None,
                token_budget=10_000_000,
            )
            figures += [
                Figure(
                    f"Bedrock summary of a {hours} h transcript: calls",
                    plan.calls,
                    "calls",
                    None,
                    f"{plan.map_calls} map + at most {plan.reduce_calls} reduce at the default "
                    f"{8000} tokens a call; the stand-in was asked {result.usage.calls}",
                ),
                Figure(
                    f"Bedrock summary of a {hours} h transcript: input tokens",
                    plan.estimated_input_tokens,
                    "tokens",
                    None,
                    f"estimate; the whole transcript in one call would be {whole} tokens "
                    f"({plan.estimated_input_tokens / whole:.2f}x: prompts, overlap, reduce)",
                ),
                Figure(
                    f"Bedrock summary of a {hours} h transcript: cost per audio hour",
                    cost / hours,
                    "USD",
                    None,
                    f"at most, Claude 3.5 Haiku list price ${MODEL_PRICE_INPUT_PER_MILLION}/"
                    f"${MODEL_PRICE_OUTPUT_PER_MILLION} per million input/output tokens, "
                    f"every call's output at its {plan.estimated_output_tokens // plan.calls} "
                    "token cap",
                ),
            ]
    return figures


# -- 2c. subtitles: how well they read, and what building them takes ---------------------
# build_cues on a 4-hour transcript (~36,000 words): it took ~45 ms before the cue ends
# were chosen by dynamic programming; about twice that is the budget.
SUBTITLE_BUILD_BUDGET_MS = 100
SUBTITLE_BUILDER_NAMES = {
    "after": "build_cues",
    "before": "previous build_cues",
    "greedy": "greedy splitter",
    "transcribe": "Amazon Transcribe's own",
}


def subtitle_quality_figures(quick: bool) -> list[Figure]:
    """Where cues end and how fast they must be read (bench/subtitle_quality.py), for
    build_cues, the previous build_cues, a greedy splitter and Transcribe's own
    subtitles where a fixture keeps them, over every Transcribe fixture (and the demo's
    synthetic speech when demo-output/ holds it); then build_cues's time on a long
    transcript beside the previous one's."""
    from bench.subtitle_quality import (
        MAX_CHARS_PER_SECOND,
        NO_TRANSCRIBE_SUBTITLES,
        bench_inputs,
        build_before,
        pooled,
        quality_rows,
        transcribe_subtitles_note,
    )
    from bench.transcripts import scaled_transcript_bytes
    from transcription_pipeline.render import build_cues
    from transcription_pipeline.scripts import LATIN
    from transcription_pipeline.transcript import parse_transcript
    from transcription_pipeline.words import group_words

    inputs = bench_inputs()
    rows = quality_rows(inputs)
    figures: list[Figure] = []
    for builder, name in SUBTITLE_BUILDER_NAMES.items():
        mine = [row for row in rows if row.builder == builder]
        if not mine:
            continue
        breaks, speed, line_ends = pooled(rows, builder)
        worst = max(mine, key=lambda row: row.quality.breaks.missed_percent)
        fastest = max(mine, key=lambda row: row.quality.speed.beyond_forced_percent)
        checked = builder == "after"
        figures += [
            Figure(
                f"subtitles, {name}: cue ends not on a break where one existed",
                breaks.missed_percent,
                "%",
                5 if checked else None,
                f"{breaks.missed}/{breaks.counted} cue ends, {len(mine)} inputs; worst "
                f"{worst.input} {worst.quality.breaks.missed_percent:.1f} %",
            ),
            Figure(
                f"subtitles, {name}: cues over {MAX_CHARS_PER_SECOND} characters/s beyond "
                "what the speech forces",
                speed.beyond_forced_percent,
                "%",
                2 if checked else None,
                f"raw {speed.over_percent:.1f} % ({speed.over}/{speed.cues} cues, "
                f"{speed.forced} forced); worst {fastest.input} "
                f"{fastest.quality.speed.beyond_forced_percent:.1f} %",
            ),
            Figure(
                f"subtitles, {name}: line ends on a function word",
                line_ends.percent,
                "%",
                None,
                f"{line_ends.on_function_word}/{line_ends.lines} lines",
            ),
        ]
    note = transcribe_subtitles_note(inputs)
    if note == NO_TRANSCRIBE_SUBTITLES:
        figures.append(
            Figure(f"subtitles, {SUBTITLE_BUILDER_NAMES['transcribe']}", 0, "inputs", None, note)
        )

    rounds = 1 if quick else 5
    label = "1 min" if quick else "4 h"
    words = group_words(parse_transcript(scaled_transcript_bytes(60 if quick else 4 * 3600)).items)
    after = best_cpu_seconds(lambda: build_cues(words), rounds)
    before = best_cpu_seconds(lambda: build_before(words, LATIN), rounds)
    figures.append(
        Figure(
            f"build_cues, {label} transcript: time",
            after * 1000,
            "ms",
            None if quick else SUBTITLE_BUILD_BUDGET_MS,
            f"{len(words)} words; the previous build_cues {before * 1000:.0f} ms; CPU time, "
            f"best of {rounds}",
        )
    )
    return figures


def _standin_bedrock_client(url: str) -> Any:
    import boto3

    return boto3.client(
        "bedrock-runtime",
        endpoint_url=url,
        region_name="us-east-1",
        aws_access_key_id="bench",
        aws_secret_access_key="bench",
    )


# -- 3. cold start --------------------------------------------------------------------------
# CPU time of the importing process: on a shared machine, wall time mostly measures the
# neighbours. Imports are CPU-bound once the files are in the page cache.
IMPORT_TIMER = (
    "import time; started = time.process_time(); import {module}; "
    "print(time.process_time() - started)"
)


def import_seconds_once(module: str, path: Sequence[Path], environment: dict[str, str]) -> float:
    """CPU time of importing ``module`` in a fresh interpreter."""
    result = subprocess.run(
        [sys.executable, "-c", IMPORT_TIMER.format(module=module)],
        env={**os.environ, **environment, "PYTHONPATH": os.pathsep.join(str(p) for p in path)},
        capture_output=True,
        text=True,
        check=True,
    )
    return float(result.stdout)


def cold_starts(runs: int) -> list[Figure]:
    from local_pipeline.cloud import default_template

    template = default_template(REPO)
    functions = template.functions()
    samples: dict[str, list[float]] = {"boto3": [], **{spec.logical_id: [] for spec in functions}}
    with tempfile.TemporaryDirectory() as layer_copy:
        layers = [compiled_layer(layer, Path(layer_copy)) for layer in template_layers(template)]
        # Interleaved, so a busy moment weighs on the reference and the handlers alike.
        for _ in range(runs):
            samples["boto3"].append(import_seconds_once("boto3", [], {}))
            for spec in functions:
                # As Lambda imports the handler: its module from the function folder, the
                # layer as `sam build` ships it (with bytecode), the function's environment.
                samples[spec.logical_id].append(
                    import_seconds_once(
                        spec.handler_module, [spec.code_dir, *layers], lambda_environment(spec)
                    )
                )
    boto3_seconds = statistics.median(samples["boto3"])
    figures = [Figure("import boto3 (reference, CPU time)", boto3_seconds * 1000, "ms", None)]
    for spec in functions:
        seconds = statistics.median(samples[spec.logical_id])
        figures.append(
            Figure(
                f"cold start: import {spec.logical_id}",
                seconds / boto3_seconds,
                "x boto3",
                1.3,
                f"{seconds * 1000:.0f} ms CPU, median of {runs}",
            )
        )
    return figures


def template_layers(template: Any) -> list[Path]:
    return sorted({layer for spec in template.functions() for layer in spec.layer_dirs})


def compiled_layer(layer: Path, into: Path) -> Path:
    """The layer's packages with bytecode, as its Makefile builds them for Lambda."""
    target = into / layer.name
    for package in layer.iterdir():
        if package.is_dir() and (package / "__init__.py").exists():
            shutil.copytree(
                package, target / package.name, ignore=shutil.ignore_patterns("__pycache__")
            )
    subprocess.run(
        [
            sys.executable,
            "-m",
            "compileall",
            "-q",
            "--invalidation-mode",
            "unchecked-hash",
            str(target),
        ],
        check=True,
        capture_output=True,
    )
    return target


# -- 4. artefact size ---------------------------------------------------------------------
def folder_bytes(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


def artefact_sizes() -> list[Figure]:
    sam = REPO / ".venv-sam" / "bin" / "sam"
    with tempfile.TemporaryDirectory() as build_dir:
        subprocess.run(
            [str(sam), "build", "--build-dir", build_dir],
            cwd=REPO,
            env={**os.environ, "SAM_CLI_TELEMETRY": "0", "AWS_DEFAULT_REGION": "us-east-1"},
            capture_output=True,
            check=True,
        )
        figures = []
        for artefact in sorted(Path(build_dir).iterdir()):
            if not artefact.is_dir():
                continue
            size = folder_bytes(artefact)
            if artefact.name.endswith("Layer"):
                botocore = (artefact / "python" / "botocore").exists()
                figures.append(
                    Figure(
                        f"layer {artefact.name} (unzipped)",
                        size / MIB,
                        "MB",
                        10,
                        "contains botocore!" if botocore else "no botocore",
                    )
                )
            else:
                figures.append(Figure(f"function code {artefact.name}", size / KIB, "KB", 100))
    return figures


# -- 5. end to end, offline ---------------------------------------------------------------------
def offline_demo() -> list[Figure]:
    from local_pipeline.cloud import LocalCloud, default_template
    from local_pipeline.engine import LocalTranscribeEngine
    from local_pipeline.speech import SpeechRecogniser

    marks: dict[str, float] = {}
    started = time.monotonic()

    def mark(message: str) -> None:
        for stage, needle in (
            # The job started: the local Transcribe picks it up.
            ("start function", "Transcribe (local): recognising"),
            ("transcribe (local)", "COMPLETED"),
            ("process function", "ProcessTranscriptFunction: outcome=published"),
        ):
            if needle in message and stage not in marks:
                marks[stage] = time.monotonic() - started

    recogniser = SpeechRecogniser()
    with LocalCloud(default_template(REPO), on_activity=mark) as cloud:
        marks["local cloud up"] = time.monotonic() - started
        recogniser.load()
        marks["speech model loaded"] = time.monotonic() - started
        with LocalTranscribeEngine(cloud, recogniser, on_activity=mark):
            upload_at = time.monotonic() - started
            key = "uploads/sample-talk.mp4"
            cloud.client("s3").upload_file(
                str(REPO / "samples" / "sample-talk.mp4"), cloud.bucket_name("InputBucket"), key
            )
            if cloud.wait_for_final_record(key, timeout=300) is None:
                failed = [f"{i.function}: {i.error}" for i in cloud.invocations if i.error]
                raise RuntimeError(
                    "the offline demo wrote no outputs within 300 s; "
                    + ("; ".join(failed) if failed else "no function failed")
                )
            marks["outputs written"] = time.monotonic() - started
    previous = 0.0
    figures = []
    for stage in (
        "local cloud up",
        "speech model loaded",
        "start function",
        "transcribe (local)",
        "process function",
        "outputs written",
    ):
        at = marks.get(stage, float("nan"))
        base = upload_at if stage == "start function" else previous
        figures.append(Figure(f"offline demo: {stage}", at - base, "s", None, f"at {at:.2f} s"))
        previous = at
    figures.append(Figure("offline demo: total", previous, "s", None, "samples/sample-talk.mp4"))
    return figures


# -- 6. volumes: a burst and a backfill in simulated time ---------------------------------------
def volumes(quick: bool) -> tuple[list[Figure], list[dict[str, Any]]]:
    """The issue's scenarios (quick: small ones at a tenth of Transcribe's job quotas), the
    real use cases against simulated AWS; what is modelled: bench/volumes/__init__.py."""
    from bench.volumes import QUICK_SCENARIOS, SCENARIOS, run_all, stack

    workers = min(2, os.cpu_count() or 1)
    started = time.monotonic()
    quotas, environment = stack(quick)
    reports = run_all(QUICK_SCENARIOS if quick else SCENARIOS, quotas, environment, workers)
    elapsed = time.monotonic() - started
    figures = []
    for r in reports:
        name = f"volumes, {r.scenario}"
        hours = (r.wall_seconds / 3600, r.bound_seconds / 3600, r.bound_queued_seconds / 3600)
        quotas = r.details["quotas"]
        busiest = sorted(r.requests.items(), key=lambda item: -item[1])[:3]
        upload_queue = r.details["upload_queue"]
        figures += [
            Figure(
                f"{name}: files answered",
                r.answered,
                "files",
                None,
                f"of {r.files:,}; {r.answered_before:,} had their answer before",
            ),
            Figure(
                f"{name}: files dead-lettered",
                r.dead_lettered,
                "files",
                0,
                f"most receives of a message {upload_queue['max_receive_count']}",
            ),
            Figure(
                f"{name}: files lost",
                r.lost,
                "files",
                0,
                f"{r.details['completion_events_lost']} completion events lost; reconcile "
                f"processed {r.details['reconcile'].get('recovered', 0)} finished jobs",
            ),
            Figure(
                f"{name}: wall time / quota bound",
                r.wall_ratio,
                "x",
                1.1,
                f"{hours[0]:.1f} h against {hours[1]:.1f} h at {quotas['concurrent_jobs']} "
                f"jobs; {r.wall_ratio_queued:.2f}x the {hours[2]:.1f} h at the "
                f"{math.floor(quotas['concurrent_jobs'] * quotas['queued_share'])} jobs "
                "Transcribe runs from its queue"
                + (
                    f"; the unanswered files' jobs never ran (bound without them "
                    f"{r.details['bound_answered_hours']:.1f} h)"
                    if r.answered < r.files
                    else ""
                ),
            ),
            Figure(
                f"{name}: AWS requests per file",
                r.requests_per_file,
                "requests",
                None,
                ", ".join(f"{api} {count / r.files:.1f}" for api, count in busiest),
            ),
            Figure(
                f"{name}: pipeline cost / Transcribe",
                r.cost.overhead_percent,
                "%",
                0.5,
                f"{r.cost.overhead_percent:.4f} %: ${r.cost.per_audio_hour:.5f} per audio "
                "hour beside Transcribe's "
                f"${r.cost.transcribe / r.audio_hours if r.audio_hours else 0:.2f}; "
                f"${r.cost.pipeline:,.2f} for {r.audio_hours:,.0f} audio hours",
            ),
        ]
    cpu = sum(r.cpu_seconds for r in reports)
    figures.append(
        Figure(
            "volumes: simulation run time",
            elapsed,
            "s",
            None,
            f"{cpu:.0f} s CPU in {workers} process(es); {'quick' if quick else 'full'} scenarios",
        )
    )
    return figures, [r.as_dict() for r in reports]


# -- report ---------------------------------------------------------------------------------------
def machine() -> dict[str, Any]:
    model = "unknown"
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    return {
        "cpu": model,
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "system": f"{platform.system()} {platform.release()}",
    }


def run(
    quick: bool, details: dict[str, Any] | None = None, volume_sizes: str | None = None
) -> list[Figure]:
    """Every measure's figures; ``details`` receives what a table row cannot hold.
    ``volume_sizes``: "full", "quick" or "none" (default: as ``quick`` says)."""
    figures: list[Figure] = []
    sizes = [MIB] if quick else [MIB, 2 * GIB]
    for kind in ("wav", "mp4"):
        for size in sizes:
            read, detail = bytes_read_to_validate(size, kind)
            label = "1 MB" if size == MIB else "2 GB"
            figures.append(
                Figure(f"bytes read to validate a {label} {kind}", read / KIB, "KiB", 64, detail)
            )

    figures += processing(quick)
    figures += summaries(quick)
    figures += subtitle_quality_figures(quick)
    figures += cold_starts(runs=1 if quick else 9)
    figures += artefact_sizes()
    figures += offline_demo()
    volume_sizes = volume_sizes or ("quick" if quick else "full")
    if volume_sizes != "none":
        volume_figures, volume_details = volumes(volume_sizes == "quick")
        figures += volume_figures
        if details is not None:
            details["volumes"] = volume_details
    return figures


def table(figures: list[Figure]) -> str:
    rows = ["| measure | figure | budget | |", "|---|---:|---:|---|"]
    for f in figures:
        budget = f"≤ {f.budget:g} {f.unit}" if f.budget is not None else ""
        verdict = {True: "ok", False: "**over**", None: ""}[f.within_budget]
        value = f"{f.value:.2f} {f.unit}" if f.value < 100 else f"{f.value:.0f} {f.unit}"
        detail = f" ({f.detail})" if f.detail else ""
        rows.append(f"| {f.measure}{detail} | {value} | {budget} | {verdict} |")
    return "\n".join(rows)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="smallest sizes only (CI)")
    parser.add_argument("--output", default=str(REPO / "bench" / "results.json"))
    parser.add_argument(
        "--volumes",
        choices=("full", "quick", "none"),
        help="the volume simulation's scenarios (default: full, or quick with --quick); "
        "the full ones take about 30 CPU minutes, in 2 processes",
    )
    arguments = parser.parse_args(argv)
    sys.path[:0] = [str(LAYER), str(REPO)]
    details: dict[str, Any] = {}
    figures = run(arguments.quick, details, arguments.volumes)
    report = {
        "machine": machine(),
        "quick": arguments.quick,
        "figures": [asdict(f) for f in figures],
        **details,
    }
    Path(arguments.output).write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    print(f"Machine: {report['machine']}")
    print(table(figures))
    print(f"\nFigures written to {arguments.output}")
    misses = [f.measure for f in figures if f.within_budget is False]
    if misses:
        print(f"Over budget: {', '.join(misses)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
