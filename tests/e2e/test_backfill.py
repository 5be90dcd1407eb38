"""make backfill against the local cloud: 300 existing objects through the real pipeline.

The input bucket is filled as a bucket that predates the stack would be (its notification
switched off while writing), with real media from tests/media (every format Transcribe
takes, and the ones it refuses), under ``backfill/``:

- 20 answered by an earlier run of the pipeline itself (10 transcripts, 10 error.json);
- 70 with records written beforehand, as the pipeline writes them (summary.json or
  error.json, with the revision in their metadata): 60 answered, 10 failed;
- 10 that are not uploads (folder markers, Transcribe's check files);
- 190 never seen: 30 media, 160 in formats the start function refuses;
- 10 uploaded normally just before the backfill, still on their way through the queue
  when it lists them (the race a backfill of a live bucket meets).

``python -m operations.backfill --endpoint-url ... --prefix backfill/ --wait`` must send
exactly the unanswered ones, and every one of them must end with its final record; no
object gets a second job (the racing ones meet the start function's idempotence); nothing
outside the prefix is touched. Recognition is the real local engine: these clips are
1-1.5 s of tone, which faster-whisper's voice detection passes over in milliseconds, so
the time goes where it goes in AWS: the functions and the queue.
"""

from __future__ import annotations

import contextlib
import io
import json
import re
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from operations.backfill import main
from tests.conftest import MEDIA, REPO
from transcription_pipeline.naming import ERROR_RECORD, SUMMARY_JSON, output_key, revision_of
from transcription_pipeline.publish import record_metadata

pytest.importorskip("faster_whisper", reason="make test installs requirements-local.txt")

from local_pipeline.cloud import LocalCloud, default_template
from local_pipeline.engine import LocalTranscribeEngine
from local_pipeline.speech import SpeechRecogniser

STACK = "transcription-pipeline"
ACCEPTED = sorted(
    (
        "faststart.mp4",
        "opus.ogg",
        "opus.webm",
        "tone-noid3.mp3",
        "tone.amr",
        "tone.flac",
        "tone.m4a",
        "tone.mp3",
        "tone.mp4",
        "tone.wav",
        "video.mp4",
    )
)
REFUSED = sorted(
    (
        "noaudio.mp4",
        "surround.flac",
        "surround.m4a",
        "surround.ogg",
        "surround.wav",
        "surround.webm",
        "video.mkv",
        "video.mov",
        "vorbis.ogg",
        "vorbis.webm",
    )
)


class Bucket:
    def __init__(self, cloud: LocalCloud) -> None:
        self.cloud = cloud
        self.s3 = cloud.client("s3")
        self.input = cloud.bucket_name("InputBucket")
        self.output = cloud.bucket_name("OutputBucket")
        self._bodies = {name: (MEDIA / name).read_bytes() for name in (*ACCEPTED, *REFUSED)}

    def put(self, key: str, media: str | None = None) -> None:
        body = self._bodies[media] if media else b""
        self.s3.put_object(Bucket=self.input, Key=key, Body=body)

    def fill(self, folder: str, count: int, files: list[str]) -> list[str]:
        keys = []
        for number in range(count):
            media = files[number % len(files)]
            key = f"backfill/{folder}/{number:03}-{media}"
            self.put(key, media)
            keys.append(key)
        return keys

    def record(self, key: str, name: str) -> None:
        """A final record as the pipeline writes it: the revision it answers in metadata."""
        head = self.s3.head_object(Bucket=self.input, Key=key)
        revision = revision_of(head["ETag"].strip('"'), None, head["LastModified"])
        body = {"source": {"bucket": self.input, "key": key}, "status": "REJECTED"}
        self.s3.put_object(
            Bucket=self.output,
            Key=output_key(key, name),
            Body=json.dumps(body).encode(),
            Metadata=record_metadata(revision, None),
        )

    def final_records(self) -> dict[str, str]:
        """Output folder -> the name of its final record."""
        found = {}
        pages = self.s3.get_paginator("list_objects_v2").paginate(Bucket=self.output)
        for page in pages:
            for item in page.get("Contents", []):
                folder, _, name = item["Key"].rpartition("/")
                if name in (SUMMARY_JSON, ERROR_RECORD):
                    found[folder] = name
        return found

    @contextlib.contextmanager
    def without_notifications(self) -> Iterator[None]:
        """Objects written here are as old as the bucket: no event announced them."""
        saved = self.s3.get_bucket_notification_configuration(Bucket=self.input)
        saved.pop("ResponseMetadata", None)
        self.s3.put_bucket_notification_configuration(
            Bucket=self.input, NotificationConfiguration={}
        )
        try:
            yield
        finally:
            self.s3.put_bucket_notification_configuration(
                Bucket=self.input, NotificationConfiguration=saved
            )


def start_outcomes(log: str) -> list[dict[str, Any]]:
    """The start function's "upload handled" log lines (Powertools JSON, one per line)."""
    handled = []
    for line in log.splitlines():
        if not line.startswith("{"):
            continue
        entry = json.loads(line)
        if entry.get("message") == "upload handled":
            handled.append(entry)
    return handled


def job_sources(cloud: LocalCloud) -> dict[str, str]:
    """Every Transcribe job of the local cloud -> the input key it transcribed."""
    transcribe = cloud.client("transcribe")
    sources = {}
    request: dict[str, Any] = {"MaxResults": 100}
    while True:
        page = transcribe.list_transcription_jobs(**request)
        for summary in page["TranscriptionJobSummaries"]:
            name = summary["TranscriptionJobName"]
            job = transcribe.get_transcription_job(TranscriptionJobName=name)["TranscriptionJob"]
            sources[name] = job["Media"]["MediaFileUri"].split("/", 3)[3]
        if not page.get("NextToken"):
            return sources
        request["NextToken"] = page["NextToken"]


def counted(report: str) -> dict[str, int]:
    """The report's counts by outcome: "  label   1,234   (why)" lines."""
    found = {}
    for line in report.splitlines():
        match = re.match(r"^  ([a-z][^\d]*?)\s{2,}(\d[\d,]*)(\s|$)", line)
        if match:
            found[match.group(1)] = int(match.group(2).replace(",", ""))
    return found


def test_backfill_answers_every_unanswered_object_once(tmp_path: Path) -> None:
    log = io.StringIO()
    activity: list[str] = []  # what the local cloud and engine did, for a failure's message
    with (
        LocalCloud(default_template(REPO), function_log=log, on_activity=activity.append) as cloud,
        LocalTranscribeEngine(cloud, SpeechRecogniser(), on_activity=activity.append) as engine,
    ):
        bucket = Bucket(cloud)

        # An earlier run: uploads the pipeline answered through S3's own events.
        earlier = bucket.fill("earlier", 10, ACCEPTED) + bucket.fill("earlier-refused", 10, REFUSED)
        for key in earlier:
            assert cloud.wait_for_final_record(key, 60) is not None, (key, activity[-20:])
        with bucket.without_notifications():
            answered = bucket.fill("answered", 60, ACCEPTED)
            failed = bucket.fill("failed", 10, REFUSED)
            for key in answered:
                bucket.record(key, SUMMARY_JSON)
            for key in failed:
                bucket.record(key, ERROR_RECORD)
            not_uploads = [f"backfill/folder-{number}/" for number in range(5)] + [
                f"backfill/folder-{number}/.write_access_check_file.temp" for number in range(5)
            ]
            for key in not_uploads:
                bucket.put(key)
            new_media = bucket.fill("new", 30, ACCEPTED)
            new_refused = bucket.fill("new-refused", 160, REFUSED)
            elsewhere = [f"elsewhere/{number}-tone.mp3" for number in range(5)]
            for key in elsewhere:
                bucket.put(key, "tone.mp3")
        jobs_before = set(engine.completed + engine.failed)
        assert len(jobs_before) == 10
        racing = bucket.fill("racing", 10, ACCEPTED)  # their events are in the queue

        out, err = io.StringIO(), io.StringIO()
        code = main(
            [
                *("--stack-name", STACK, "--endpoint-url", cloud.endpoint_url),
                *("--prefix", "backfill/", "--wait", "--timeout", "150"),
                *("--poll-seconds", "1", "--state-file", str(tmp_path / "state.json")),
            ],
            stdout=out,
            stderr=err,
            environ={"CI": "true"},
        )
        print(err.getvalue(), out.getvalue())  # pytest -s: the run as a person sees it

        assert code == 0, (out.getvalue(), err.getvalue(), activity[-20:])
        report = out.getvalue()
        counts = counted(report)
        # The racing uploads are sent unless their answers were there already.
        racing_sent = counts["queued (origin=backfill)"] - 190
        assert 0 <= racing_sent <= 10
        assert counts == {
            "listed": 300,
            "queued (origin=backfill)": 190 + racing_sent,
            "skipped: answered": 10 + 60 + 10 - racing_sent,
            "skipped: previously failed": 20,
            "skipped: not uploads": 10,
            "not sent (queue refused)": 0,
            "answered (summary.json)": 30 + racing_sent,
            "answered with error.json": 160,
            "no final record yet": 0,
        }
        assert "ALL ANSWERED" in report
        assert f"s3://{bucket.output}/backfill/failed/000-noaudio.mp4/error.json" in report
        assert "REJECTED: The MP4 file has no audio track." in report
        assert "listed 300" in err.getvalue()  # the progress lines

        # Every upload has its final record; nothing outside the prefix was touched.
        records = bucket.final_records()
        for key in [*earlier, *answered, *failed, *new_media, *new_refused, *racing]:
            assert key in records, key
        assert all(records[key] == ERROR_RECORD for key in new_refused)
        assert all(records[key] == SUMMARY_JSON for key in new_media)
        assert not any(folder.startswith(("elsewhere/", "backfill/folder-")) for folder in records)

        # One job per media object, ever: none for what was answered, none twice.
        jobs = job_sources(cloud)
        assert set(engine.completed) == set(jobs)
        assert jobs_before <= set(jobs)
        assert Counter(jobs.values()) == Counter([*earlier[:10], *racing, *new_media])
        handled = start_outcomes(log.getvalue())
        backfilled = [entry for entry in handled if entry.get("origin") == "backfill"]
        by_key = {entry["key"]: entry["outcome"] for entry in backfilled}
        assert set(by_key) <= {*new_media, *new_refused, *racing}
        outcomes = Counter(by_key[key] for key in [*new_media, *new_refused])
        assert outcomes == {"started": 30, "rejected": 160}
        assert {by_key[key] for key in racing if key in by_key} <= {"already_started", "answered"}
        assert not cloud.enforcer.denials, cloud.enforcer.denials
