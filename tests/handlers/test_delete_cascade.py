"""DeleteFollowsSource under the stack's roles: a deleted upload takes everything that names
it — outputs, raw Transcribe output of every job it had, the jobs, in-flight items, its
sidecar — and nothing else; a job that ends after the deletion leaves nothing; with the
parameter off (the default) a removal changes nothing."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from tests.conftest import MEDIA, TRANSCRIPTS
from tests.handlers.conftest import (
    PROCESS,
    START,
    Stack,
    completion,
    job_names,
    s3_record,
    upload,
)

TRANSCRIPT = (TRANSCRIPTS / "01-plain.json").read_bytes()
GONE = "gone/talk.mp3"
NEIGHBOUR = "kept/talk.mp3"  # the same file name: its jobs start like GONE's


@pytest.fixture
def following(stack: Stack) -> Stack:
    """The stack deployed with DeleteFollowsSource=true (roles and environment follow)."""
    stack.template.parameters["DeleteFollowsSource"] = "true"
    assert stack.template.function(START).environment["DELETE_FOLLOWS_SOURCE"] == "true"
    return stack


@pytest.fixture
def frozen_jobs(monkeypatch: pytest.MonkeyPatch) -> None:
    """moto moves a job one state per GetTranscriptionJob; a running job stays running."""
    from moto.transcribe.models import FakeTranscriptionJob

    monkeypatch.setattr(FakeTranscriptionJob, "advance", lambda _self: None)


def removal(stack: Stack, key: str) -> dict[str, Any]:
    """S3's ObjectRemoved:Delete record: no size and no eTag (S3 user guide, "Event message
    structure")."""
    record = copy.deepcopy(s3_record(stack.input_bucket, key, b""))
    record["eventName"] = "ObjectRemoved:Delete"
    del record["s3"]["object"]["size"]
    del record["s3"]["object"]["eTag"]
    return record


def answer(stack: Stack, name: str) -> str:
    stack.complete_job(name, TRANSCRIPT)
    return str(stack.invoke(PROCESS, completion(name))["outcome"])


def newest_job(stack: Stack, key: str) -> str:
    (name,) = [n for n in job_names(stack) if n == stack.job_name_of(key)]
    return name


def everything(stack: Stack) -> dict[str, Any]:
    """Every object of both buckets, every Transcribe job and every in-flight item."""
    listed = {}
    for bucket in (stack.input_bucket, stack.output_bucket):
        contents = stack.s3.list_objects_v2(Bucket=bucket).get("Contents", [])
        listed[bucket] = {
            item["Key"]: stack.s3.get_object(Bucket=bucket, Key=item["Key"])["Body"].read()
            for item in contents
        }
    return {
        "objects": listed,
        "jobs": job_names(stack),
        "in_flight": [(i["source_key"], i["job_name"]) for i in stack.in_flight()],
    }


def naming(state: dict[str, Any], key: str, jobs: list[str]) -> list[str]:
    """What in ``state`` names ``key`` or one of its jobs."""
    found = [
        f"{bucket}/{name}"
        for bucket, objects in state["objects"].items()
        for name in objects
        if name.startswith(key) or any(job in name for job in jobs)
    ]
    found += [job for job in state["jobs"] if job in jobs]
    found += [f"in flight {item}" for item in state["in_flight"] if item[0] == key]
    return found


def test_a_deleted_upload_takes_everything_that_names_it_and_nothing_else(
    following: Stack,
) -> None:
    stack = following
    stack.start(upload(stack, NEIGHBOUR, "tone.mp3"))
    assert answer(stack, newest_job(stack, NEIGHBOUR)) == "published"
    # GONE: a sidecar, a first upload whose job is superseded by a second upload, both done.
    stack.s3.put_object(
        Bucket=stack.input_bucket, Key=GONE + ".options.json", Body=b'{"title": "Gone"}'
    )
    stack.start(upload(stack, GONE, "tone.mp3"))
    first = newest_job(stack, GONE)
    stack.start(upload(stack, GONE, "tone-noid3.mp3"))
    second = newest_job(stack, GONE)
    assert first != second
    assert answer(stack, first) == "superseded"
    assert answer(stack, second) == "published"
    gone_jobs = [first, second]
    before = everything(stack)
    assert len(naming(before, GONE, gone_jobs)) > 8  # outputs, raw outputs, jobs, sidecar

    stack.s3.delete_object(Bucket=stack.input_bucket, Key=GONE)
    delivery = stack.start(removal(stack, GONE))

    assert delivery.failures == []
    after = everything(stack)
    assert naming(after, GONE, gone_jobs) == []
    # Nothing else was touched: the neighbour's outputs, raw output, job and input.
    expected = copy.deepcopy(before)
    for bucket, objects in expected["objects"].items():
        expected["objects"][bucket] = {
            name: body
            for name, body in objects.items()
            if not name.startswith(GONE) and not any(job in name for job in gone_jobs)
        }
    expected["jobs"] = [job for job in before["jobs"] if job not in gone_jobs]
    assert after == expected
    assert expected["jobs"] == [newest_job(stack, NEIGHBOUR)]

    # The removal delivered again (at least once): nothing more to do, nothing refused.
    assert stack.start(removal(stack, GONE)).failures == []
    assert everything(stack) == after


@pytest.mark.usefixtures("frozen_jobs")
def test_a_job_that_ends_after_the_deletion_writes_nothing_and_leaves_nothing(
    following: Stack,
) -> None:
    stack = following
    stack.start(upload(stack, GONE, "tone.mp3"))
    name = newest_job(stack, GONE)
    stack.transcribe_backend().transcriptions[name].status = "IN_PROGRESS"

    stack.s3.delete_object(Bucket=stack.input_bucket, Key=GONE)
    assert stack.start(removal(stack, GONE)).failures == []
    # A running job is left to finish, and still tracked so that it is cleaned up then.
    assert job_names(stack) == [name]
    assert [i["job_name"] for i in stack.in_flight()] == [name]

    # Transcribe writes _transcribe/<job>.json and says COMPLETED.
    stack.s3.put_object(Bucket=stack.output_bucket, Key=f"_transcribe/{name}.json", Body=TRANSCRIPT)
    stack.transcribe_backend().transcriptions[name].status = "COMPLETED"
    result = stack.invoke(PROCESS, completion(name))

    assert result["outcome"] == "source_deleted"
    assert everything(stack) == {
        "objects": {stack.input_bucket: {}, stack.output_bucket: {}},
        "jobs": [],
        "in_flight": [],
    }


def test_without_the_parameter_a_removal_changes_nothing(stack: Stack) -> None:
    assert stack.template.function(START).environment["DELETE_FOLLOWS_SOURCE"] == "false"
    stack.start(upload(stack, GONE, "tone.mp3"))
    name = newest_job(stack, GONE)
    stack.s3.delete_object(Bucket=stack.input_bucket, Key=GONE)
    # Deleted before its job ended: the answer is still written, as before.
    assert answer(stack, name) == "published"
    before = everything(stack)

    assert stack.start(removal(stack, GONE)).failures == []

    assert everything(stack) == before


def test_a_key_uploaded_again_before_the_removal_is_read_keeps_its_outputs(
    following: Stack,
) -> None:
    stack = following
    stack.start(upload(stack, GONE, "tone.mp3"))
    assert answer(stack, newest_job(stack, GONE)) == "published"
    stack.s3.delete_object(Bucket=stack.input_bucket, Key=GONE)
    stack.s3.put_object(Bucket=stack.input_bucket, Key=GONE, Body=(MEDIA / "tone.mp3").read_bytes())
    before = everything(stack)

    assert stack.start(removal(stack, GONE)).failures == []

    assert everything(stack) == before


def test_in_a_versioned_bucket_a_delete_marker_is_a_deletion_and_an_old_version_is_not(
    following: Stack,
) -> None:
    stack = following
    stack.s3.put_bucket_versioning(
        Bucket=stack.input_bucket, VersioningConfiguration={"Status": "Enabled"}
    )

    def upload_version(media_file: str) -> str:
        """Upload a version; S3's record names it (versionId), as in a versioned bucket."""
        body = (MEDIA / media_file).read_bytes()
        version = stack.s3.put_object(Bucket=stack.input_bucket, Key=GONE, Body=body)
        record = s3_record(stack.input_bucket, GONE, body)
        record["s3"]["object"]["versionId"] = version["VersionId"]
        assert stack.start(record).failures == []
        return str(version["VersionId"])

    older = upload_version("tone-noid3.mp3")
    older_job = newest_job(stack, GONE)
    upload_version("tone.mp3")
    assert answer(stack, older_job) == "superseded"
    assert answer(stack, newest_job(stack, GONE)) == "published"
    before = everything(stack)

    # A non-current version deleted for good: the current upload and its outputs stay.
    stack.s3.delete_object(Bucket=stack.input_bucket, Key=GONE, VersionId=older)
    old_version_removed = removal(stack, GONE)
    old_version_removed["s3"]["object"]["versionId"] = older
    assert stack.start(old_version_removed).failures == []
    assert everything(stack) == before

    # A plain delete makes a delete marker: the upload is gone for its user.
    marker = stack.s3.delete_object(Bucket=stack.input_bucket, Key=GONE)
    marker_created = removal(stack, GONE)
    marker_created["eventName"] = "ObjectRemoved:DeleteMarkerCreated"
    marker_created["s3"]["object"]["versionId"] = marker["VersionId"]
    assert stack.start(marker_created).failures == []
    assert naming(everything(stack), GONE, before["jobs"]) == []


def test_the_removal_notification_is_configured_only_with_the_parameter(stack: Stack) -> None:
    def events() -> list[str]:
        properties = stack.template.resolve(stack.template.resources["InputBucket"]["Properties"])
        queues = properties["NotificationConfiguration"]["QueueConfigurations"]
        assert all(q["Queue"] == stack.upload_queue_arn for q in queues)
        return [q["Event"] for q in queues]

    assert events() == ["s3:ObjectCreated:*"]
    stack.template.parameters["DeleteFollowsSource"] = "true"
    assert events() == ["s3:ObjectCreated:*", "s3:ObjectRemoved:*"]
    assert json.dumps(events())  # plain data, as S3's API takes it
