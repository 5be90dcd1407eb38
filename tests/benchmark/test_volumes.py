"""The volume simulation (bench/volumes) at small sizes: its invariants and its content.

Small scenarios with Transcribe's job quotas scaled down (5 jobs running, 200 queued), so
each runs in about a second; what they check holds at any size. Figures are never
asserted against budgets here: that is the benchmark's report.
"""

from __future__ import annotations

import copy
import json
from dataclasses import replace
from typing import Any

import pytest

from bench.volumes import QUICK_SCENARIOS, Quotas, Scenario, run_scenario, stack
from bench.volumes.parameters import MEDIA_KINDS
from bench.volumes.scenario import (
    INPUT_BUCKET,
    OUTPUT_BUCKET,
    File,
    Pipeline,
    Report,
    quota_bound,
)
from transcription_pipeline.naming import OUTPUT_FILES, SUMMARY_JSON, output_key
from transcription_pipeline.publish import JOB_METADATA, REVISION_METADATA
from transcription_pipeline.summary import Summary

SMALL = Quotas().scaled(0.02)  # 5 running, 200 queued


def run(scenario: Scenario, quotas: Quotas = SMALL) -> tuple[Pipeline, Report]:
    pipeline = Pipeline(scenario, quotas)
    return pipeline, pipeline.run()


def comparable(report: Report) -> dict[str, Any]:
    """The report without what depends on the machine or counts the shortcuts."""
    figures = copy.deepcopy(report.as_dict())
    figures.pop("cpu_seconds")
    figures["details"]["outcomes"] = {
        k: v
        for k, v in figures["details"]["outcomes"].items()
        if "media checks" not in k and "start attempts" not in k
    }
    return figures


def assert_every_file_accounted_for(report: Report) -> None:
    assert report.answered + report.dead_lettered + report.lost == report.files
    assert report.lost == 0
    assert report.dead_lettered == 0
    assert report.answered == report.files
    assert report.wall_seconds >= report.bound_seconds > 0


def test_a_burst_is_answered_whole_with_real_outputs() -> None:
    pipeline, report = run(Scenario("burst", burst=300))

    assert_every_file_accounted_for(report)
    outputs = pipeline.s3.buckets[OUTPUT_BUCKET]
    jobs = pipeline.transcribe.jobs
    assert len(jobs) == 300  # one job a file, none twice
    for file in pipeline.files:
        summary_object = outputs[output_key(file.key, SUMMARY_JSON)]
        for name in OUTPUT_FILES:  # the process function's six outputs
            assert output_key(file.key, name) in outputs
        assert summary_object.metadata[REVISION_METADATA] == file.revision
        job_name = summary_object.metadata[JOB_METADATA]
        assert jobs[job_name].media_uri == f"s3://{INPUT_BUCKET}/{file.key}"
        assert jobs[job_name].status == "COMPLETED"
        assert summary_object.body is not None
        summary = Summary.from_dict(json.loads(summary_object.body))
        assert (summary.source.bucket, summary.source.key) == (INPUT_BUCKET, file.key)
        assert summary.job_name == job_name
    assert not pipeline.in_flight.items  # every item removed once answered
    assert report.details["outcomes"]["start: started"] == 300
    assert (
        report.details["outcomes"]["process: published"]
        >= 300 - report.details["completion_events_lost"]
    )


def test_requests_are_counted_and_priced() -> None:
    _, report = run(Scenario("burst", burst=200))

    requests = report.requests
    assert requests["SQS SendMessage (by S3)"] == 200
    assert requests["Transcribe StartTranscriptionJob"] >= 200
    assert requests["S3 PutObject"] >= 6 * 200  # six outputs a file
    assert requests["S3 PutObject (by Transcribe)"] == 2 * 200
    assert requests["DynamoDB PutItem"] >= 200
    assert requests["DynamoDB DeleteItem"] >= 200
    assert requests["Lambda Invoke ProcessTranscriptFunction"] >= 199
    assert requests["Lambda Invoke ReconcileFunction"] >= 1
    assert requests["SQS ReceiveMessage"] > 0
    assert requests["EventBridge PutEvents"] >= 200  # a completion event a file
    lines = report.cost.lines
    for line in ("S3 GET/HEAD", "S3 PUT/LIST/POST", "SQS", "Lambda compute", "DynamoDB write"):
        assert lines[line] > 0, line
    assert report.cost.transcribe == pytest.approx(report.audio_hours * 1.44)
    assert 0 < report.cost.overhead_percent < 100


def test_a_backfill_skips_answered_objects_and_starts_the_rest() -> None:
    pipeline, report = run(Scenario("backfill", backfill=300, answered_share=0.3))

    assert_every_file_accounted_for(report)
    assert report.answered_before == 90
    assert report.details["backfill"] == {"listed": 300, "answered, not sent": 90, "sent": 210}
    assert len(pipeline.transcribe.jobs) == 210
    assert report.requests["SQS SendMessageBatch"] == 21
    # Answered before: no job, the record untouched.
    answered = [f for f in pipeline.files if f.answered_before]
    assert not any(f.key in pipeline.answered_at for f in answered)


def test_lost_completion_events_are_recovered_by_reconciliation(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr("bench.volumes.scenario.EVENTBRIDGE_LOSS", 0.2)

    _, report = run(Scenario("burst", burst=200))

    lost_events = report.details["completion_events_lost"]
    assert lost_events > 10
    assert report.details["reconcile"]["recovered"] == lost_events
    assert_every_file_accounted_for(report)


def test_a_message_received_too_often_is_dead_lettered_and_counted() -> None:
    quotas = replace(SMALL, max_receive_count=3)

    _, report = run(Scenario("burst", burst=400), quotas)

    assert report.dead_lettered > 0
    assert report.details["upload_queue"]["dead_letters"] >= report.dead_lettered
    assert report.answered + report.dead_lettered + report.lost == report.files
    assert report.lost == 0


def test_runs_are_deterministic_and_the_shortcuts_change_nothing() -> None:
    scenario = Scenario("burst + backfill", burst=150, backfill=150)

    first = run_scenario(scenario, SMALL)
    again = run_scenario(scenario, SMALL)
    real = run_scenario(scenario, SMALL, use_shortcuts=False)

    assert comparable(first) == comparable(again)
    assert comparable(first) == comparable(real)
    outcomes = first.details["outcomes"]
    assert outcomes["start attempts replayed"] > outcomes["start attempts run"]
    assert "start attempts replayed" not in real.details["outcomes"]


def test_the_quick_scenarios_keep_every_file() -> None:
    """What make bench --quick runs (CI): the invariants, never the timing."""
    backfill = next(s for s in QUICK_SCENARIOS if s.name == "backfill")
    _, report = run(replace(backfill, backfill=500), Quotas().scaled(0.1))

    assert_every_file_accounted_for(report)


def _file(uploaded: float, job_seconds: float) -> File:
    """A file of which only the upload time and the job's duration matter."""
    return File("k", MEDIA_KINDS[0], job_seconds * 3, job_seconds, 1, "e", uploaded, False)


def test_the_quota_bound() -> None:
    # 4 jobs of 100 s on 2 slots: 200 s of work each slot.
    assert quota_bound([_file(0, 100)] * 4, 2, 1000) == pytest.approx(200)
    # A late upload: its own end.
    assert quota_bound([_file(0, 10), _file(500, 50)], 10, 1000) == pytest.approx(550)
    # The start rate: 101 jobs at 1 a second, the last starts at 100 s.
    assert quota_bound([_file(0, 1)] * 101, 1000, 1) == pytest.approx(101)
    # Answered before: no job, no bound.
    assert quota_bound([replace(_file(0, 100), answered_before=True)], 1, 1) == 0


def test_the_stack_settings_come_from_the_template() -> None:
    quotas, environment = stack(quick=False)

    assert quotas.max_receive_count >= 100
    assert quotas.start_max_concurrency >= 2
    assert quotas.visibility_timeout >= quotas.start_timeout
    assert quotas.reconcile_interval == 15 * 60
    assert quotas.start_memory_gb > 0
    assert environment["JOB_NAME_PREFIX"]
    quick, _ = stack(quick=True)
    assert quick.concurrent_jobs == quotas.concurrent_jobs // 10
    assert quick.max_receive_count == quotas.max_receive_count
    pipeline = Pipeline(Scenario("burst", burst=1), quotas, environment)
    assert pipeline.settings.input_bucket == INPUT_BUCKET
    assert pipeline.settings.data_access_role_arn  # Transcribe may queue jobs
