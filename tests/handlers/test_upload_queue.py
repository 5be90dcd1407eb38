"""The upload queue between S3 and the start function, under moto.

Partial batch responses, messages put back with a growing delay (read back from moto's
queue and from the next receipt), capacity errors, malformed and test messages, and
messages from backfill and reconciliation (``origin``) that may have their answer already.
"""

from __future__ import annotations

import json
import logging
import time
from typing import Any

import pytest

from tests.conftest import TRANSCRIPTS
from tests.handlers.conftest import (
    PROCESS,
    START,
    ApiCall,
    Stack,
    completion,
    job_names,
    put_media,
    s3_record,
    upload,
)
from transcription_pipeline.start import retry_delay

QUOTA = {"Error": {"Code": "LimitExceededException", "Message": "The job queue is full."}}


def media_uri_ends_with(suffix: str) -> Any:
    """A ``when`` for fake_aws_answer: StartTranscriptionJob for that upload only."""
    return lambda params: str(params.get("Media", {}).get("MediaFileUri", "")).endswith(suffix)


def error_logs(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.levelno >= logging.ERROR]


# -- partial batch response ---------------------------------------------------------------


@pytest.mark.usefixtures("no_backoff")
def test_one_bad_and_one_throttled_message_leave_the_others_started(
    stack: Stack, fake_aws_answer: Any, caplog: pytest.LogCaptureFixture
) -> None:
    first = stack.enqueue({"Records": [upload(stack, "a/one.mp3", "tone.mp3")]})
    bad = stack.enqueue("this is not an S3 notification")
    second = stack.enqueue({"Records": [upload(stack, "a/two.wav", "tone.wav")]})
    busy = stack.enqueue({"Records": [upload(stack, "a/busy.mp3", "tone.mp3")]})
    throttled = fake_aws_answer(
        "transcribe", "StartTranscriptionJob", 400, QUOTA, when=media_uri_ends_with("busy.mp3")
    )

    (batch,) = [stack.receive()]
    assert [r["messageId"] for r in batch] == [first, bad, second, busy]
    response = stack.run_start(batch)

    assert response == {"batchItemFailures": [{"itemIdentifier": busy}]}
    assert throttled  # Transcribe really said no
    assert job_names(stack) == sorted(
        [stack.job_name_of("a/one.mp3"), stack.job_name_of("a/two.wav")]
    )
    assert [i["source_key"] for i in stack.in_flight()] == ["a/one.mp3", "a/two.wav"]
    # The malformed message is let go (logged), the throttled one waits on the queue.
    assert stack.queued_ids() == [busy]
    assert stack.visible_in(busy) == pytest.approx(retry_delay(1, busy), abs=2)
    assert [r.getMessage() for r in error_logs(caplog)] == ["malformed upload message"]
    assert stack.output_keys() == []  # throttling is never a rejection


@pytest.mark.usefixtures("no_backoff")
def test_an_unexpected_error_puts_one_message_back_and_the_batch_goes_on(
    stack: Stack, fake_aws_answer: Any, caplog: pytest.LogCaptureFixture
) -> None:
    broken = upload(stack, "b/broken.mp3", "tone.mp3")
    fine = upload(stack, "b/fine.mp3", "tone.mp3")
    fake_aws_answer(
        "s3",
        "GetObject",
        500,
        {"Error": {"Code": "InternalError", "Message": "We encountered an internal error."}},
        when=lambda params: params.get("Key") == "b/broken.mp3",
    )

    with caplog.at_level(logging.WARNING):
        delivery = stack.start(broken, fine)

    broken_id, fine_id = delivery.message_ids
    assert delivery.failures == [broken_id]
    assert job_names(stack) == [stack.job_name_of("b/fine.mp3")]  # not a quota: went on
    assert stack.queued_ids() == [broken_id]
    assert stack.visible_in(broken_id) == pytest.approx(retry_delay(1, broken_id), abs=2)
    (warning,) = [r for r in caplog.records if "put back on the queue" in r.getMessage()]
    assert warning.__dict__["message_id"] == broken_id
    assert fine_id not in stack.queued_ids()


# -- capacity: the rest of the batch goes back unread, with growing delays ------------------


@pytest.mark.usefixtures("no_backoff")
def test_a_capacity_error_defers_the_rest_of_the_batch_unread(
    stack: Stack, fake_aws_answer: Any, api_calls: list[ApiCall]
) -> None:
    keys = [f"c/talk {index}.mp3" for index in range(4)]
    ids = [stack.enqueue({"Records": [upload(stack, key, "tone.mp3")]}) for key in keys]
    refusals = fake_aws_answer("transcribe", "StartTranscriptionJob", 400, QUOTA)
    api_calls.clear()

    delivery = stack.deliver()

    assert delivery.failures == ids  # every message goes back, none is lost
    # Only the first upload was read and tried; the others would meet the same answer.
    read = {c.params["Key"] for c in api_calls if c.operation in ("GetObject", "HeadObject")}
    assert read <= {keys[0], keys[0] + ".options.json"}  # its bytes, and its options sidecar
    assert {c["TranscriptionJobName"] for c in refusals} == {stack.job_name_of(keys[0])}
    assert job_names(stack) == []
    assert stack.in_flight() == []
    for message_id in ids:
        assert stack.visible_in(message_id) == pytest.approx(retry_delay(1, message_id), abs=2)
    assert stack.dead_letter_ids() == []


@pytest.mark.usefixtures("no_backoff")
def test_a_message_put_back_returns_after_its_delay_and_the_delay_grows(
    stack: Stack, fake_aws_answer: Any
) -> None:
    fake_aws_answer("transcribe", "StartTranscriptionJob", 400, QUOTA)
    (message_id,) = stack.start(upload(stack, "d/talk.mp3", "tone.mp3")).message_ids
    delays = []
    for receive_count in (2, 3, 4):
        delay = stack.visible_in(message_id)
        delays.append(delay)
        stack.clock.advance(delay - 2)
        assert stack.receive() == []  # not yet
        stack.clock.advance(4)
        (record,) = stack.receive()  # the next receipt: Lambda's next try
        assert record["messageId"] == message_id
        assert record["attributes"]["ApproximateReceiveCount"] == str(receive_count)
        assert stack.run_start([record])["batchItemFailures"] == [{"itemIdentifier": message_id}]
        assert stack.visible_in(message_id) == pytest.approx(
            retry_delay(receive_count, message_id), abs=2
        )

    assert delays == sorted(delays)
    assert delays[-1] > 3 * delays[0]  # doubling, not a fixed pause
    assert stack.dead_letter_ids() == []  # a quota is not a reason to dead-letter


@pytest.mark.usefixtures("no_backoff")
def test_once_capacity_is_back_the_waiting_uploads_start(
    stack: Stack, fake_aws_answer: Any
) -> None:
    keys = [f"e/talk {index}.mp3" for index in range(3)]
    records = [upload(stack, key, "tone.mp3") for key in keys]
    fake_aws_answer(
        "transcribe",
        "StartTranscriptionJob",
        400,
        QUOTA,
        when=lambda _params: stack.clock.offset < 3600,  # an hour at the quota
    )
    assert len(stack.start(*records).failures) == 3

    stack.clock.advance(3600)
    delivery = stack.deliver()

    assert delivery.failures == []
    assert job_names(stack) == sorted(stack.job_name_of(key) for key in keys)
    assert stack.queued_ids() == []


# -- malformed and test messages ----------------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [
        pytest.param("not json", id="not-json"),
        pytest.param("[1, 2]", id="json-list"),
        pytest.param('{"Records": "x"}', id="records-not-a-list"),
        pytest.param('{"Records": [{"s3": {"object": {"key": 42}}}]}', id="key-not-a-string"),
        pytest.param("{}", id="no-records"),
    ],
)
def test_a_malformed_message_is_logged_and_let_go(
    stack: Stack, body: str, caplog: pytest.LogCaptureFixture
) -> None:
    delivery = stack.start(body)

    (message_id,) = delivery.message_ids
    assert delivery.failures == []  # nothing a retry could fix: not put back
    assert stack.queued_ids() == []
    (error,) = error_logs(caplog)
    assert error.getMessage() == "malformed upload message"
    assert error.__dict__["message_id"] == message_id
    assert error.__dict__["error"]  # says what is wrong


def test_records_lambda_could_not_have_sent_are_let_go(
    stack: Stack, caplog: pytest.LogCaptureFixture
) -> None:
    stack.enqueue({"Records": []})  # well formed, names no object
    (good,) = stack.receive()
    records: list[Any] = [
        "a string",
        None,
        {"body": "{}", "receiptHandle": "x"},  # no messageId
        {"messageId": "m-1", "body": "{}"},  # no receiptHandle
        good,
    ]

    response = stack.invoke(START, {"Records": records})

    assert response == {"batchItemFailures": []}
    messages = [r.getMessage() for r in error_logs(caplog)]
    assert messages == ["malformed upload message"] * 4


@pytest.mark.parametrize("event", [{}, {"Records": "x"}, [], {"records": []}])
def test_an_event_without_sqs_records_is_logged_and_ignored(
    stack: Stack, event: Any, caplog: pytest.LogCaptureFixture
) -> None:
    assert stack.invoke(START, event) == {"batchItemFailures": []}
    (error,) = error_logs(caplog)
    assert error.getMessage() == "event without SQS records ignored"


def test_the_s3_test_event_is_ignored(stack: Stack, caplog: pytest.LogCaptureFixture) -> None:
    test_event = {
        "Service": "Amazon S3",
        "Event": "s3:TestEvent",
        "Time": "2026-11-24T09:00:00.000Z",
        "Bucket": stack.input_bucket,
        "RequestId": "5582815E1AEA5ADF",
        "HostId": "8cLeGAmw098X5cv4Zkwcmo8vvZa3eH3eKxsPzbB9wrR+YstdA6Knx4Ip8EXAMPLE",
    }

    delivery = stack.start(test_event)

    assert delivery.failures == []
    assert stack.queued_ids() == []
    assert job_names(stack) == []
    assert error_logs(caplog) == []  # expected once per notification setup: no error


def test_what_s3_itself_puts_on_the_queue_is_understood(stack: Stack) -> None:
    """The bucket's notification configuration from template.yaml, set in moto: S3 sends
    its s3:TestEvent when it is set up, then one message per upload."""
    properties = stack.template.resolve(stack.template.resources["InputBucket"]["Properties"])
    (queue,) = properties["NotificationConfiguration"]["QueueConfigurations"]
    assert queue["Queue"] == stack.upload_queue_arn
    stack.s3.put_bucket_notification_configuration(
        Bucket=stack.input_bucket,
        NotificationConfiguration={
            "QueueConfigurations": [{"QueueArn": queue["Queue"], "Events": [queue["Event"]]}]
        },
    )
    setup = stack.deliver()
    put_media(stack, "f/S3 sent this.mp3", "tone.mp3")

    uploaded = stack.deliver()

    assert setup.failures == uploaded.failures == []
    assert job_names(stack) == [stack.job_name_of("f/S3 sent this.mp3")]
    assert stack.queued_ids() == []


# -- messages from backfill and reconciliation ------------------------------------------------


def answer(stack: Stack, key: str) -> str:
    """The upload's job finished and its outputs published; returns the job name."""
    (name,) = [n for n in job_names(stack) if n == stack.job_name_of(key)]
    stack.complete_job(name, (TRANSCRIPTS / "01-plain.json").read_bytes())
    assert stack.invoke(PROCESS, completion(name))["outcome"] == "published"
    return name


@pytest.mark.parametrize("origin", ["backfill", "reconcile"])
def test_a_resent_upload_with_its_answer_starts_nothing(
    stack: Stack, origin: str, api_calls: list[ApiCall]
) -> None:
    record = upload(stack, "g/talk.mp3", "tone.mp3")
    stack.start(record)
    answer(stack, "g/talk.mp3")
    api_calls.clear()

    delivery = stack.start(record, origin=origin)

    assert delivery.failures == []
    assert len(job_names(stack)) == 1
    assert not [c for c in api_calls if c.operation == "StartTranscriptionJob"]
    assert not [c for c in api_calls if c.operation == "PutObject"]
    assert stack.in_flight() == []  # not tracked again: it has its answer


def test_a_resent_rejected_upload_is_not_rejected_again(
    stack: Stack, api_calls: list[ApiCall]
) -> None:
    stack.s3.put_object(Bucket=stack.input_bucket, Key="g/notes.mp3", Body=b"plain text\n")
    record = s3_record(stack.input_bucket, "g/notes.mp3", b"plain text\n")
    stack.start(record)
    assert stack.output_keys() == ["g/notes.mp3/error.json"]
    api_calls.clear()

    assert stack.start(record, origin="backfill").failures == []

    assert not [c for c in api_calls if c.operation == "PutObject"]


def test_a_backfilled_upload_without_an_answer_is_started(stack: Stack) -> None:
    record = upload(stack, "h/never announced.mp3", "tone.mp3")  # its S3 event was lost

    delivery = stack.start(record, origin="backfill")

    assert delivery.failures == []
    assert job_names(stack) == [stack.job_name_of("h/never announced.mp3")]
    assert [i["source_key"] for i in stack.in_flight()] == ["h/never announced.mp3"]


def test_a_backfilled_upload_replaced_since_its_answer_is_started_again(stack: Stack) -> None:
    stack.start(upload(stack, "i/talk.mp3", "tone.mp3"))
    old = answer(stack, "i/talk.mp3")
    time.sleep(1.1)  # S3 stamps uploads to the second
    replaced = upload(stack, "i/talk.mp3", "tone-noid3.mp3")  # its S3 event was lost

    delivery = stack.start(replaced, origin="backfill")

    assert delivery.failures == []
    new = stack.job_name_of("i/talk.mp3")
    assert new != old
    assert job_names(stack) == sorted([old, new])
    assert [i["job_name"] for i in stack.in_flight()] == [new]


def test_an_unknown_origin_is_malformed(stack: Stack, caplog: pytest.LogCaptureFixture) -> None:
    record = upload(stack, "j/talk.mp3", "tone.mp3")

    delivery = stack.start(record, origin="someone")

    assert delivery.failures == []
    assert job_names(stack) == []
    assert [r.getMessage() for r in error_logs(caplog)] == ["malformed upload message"]


def test_backfill_messages_hold_what_the_start_function_reads(stack: Stack) -> None:
    """reconcile and backfill write their messages with ``s3_notification``: the same
    shape as S3's, key encoded the same way, read by the same code."""
    from transcription_pipeline.events import Origin, Upload, s3_notification

    key = "k/C++ & 100% talk é.mp3"
    body = put_media(stack, key, "tone.mp3")
    head = stack.s3.head_object(Bucket=stack.input_bucket, Key=key)
    message = s3_notification(
        Upload(
            bucket=stack.input_bucket,
            key=key,
            size=len(body),
            etag=head["ETag"].strip('"'),
            version_id=None,
            event_time="2026-11-24T10:00:00Z",
            origin=Origin.BACKFILL,
        )
    )
    ours = json.loads(message)["Records"][0]["s3"]["object"]["key"]

    assert ours == s3_record(stack.input_bucket, key, body)["s3"]["object"]["key"]
    assert stack.start(message, origin="backfill").failures == []
    assert job_names(stack) == [stack.job_name_of(key)]


# -- what pages someone: errors do, waiting for capacity does not ------------------------------


def metric_values(output: str, name: str) -> list[float]:
    """The values of one metric in the Embedded Metric Format lines a handler printed."""
    values: list[float] = []
    for line in output.splitlines():
        if not line.startswith("{") or '"_aws"' not in line:
            continue
        document = json.loads(line)
        if name in document:
            value = document[name]
            values.extend(value if isinstance(value, list) else [value])
    return values


@pytest.mark.usefixtures("no_backoff")
def test_an_error_counts_toward_the_retries_alarm_and_a_quota_does_not(
    stack: Stack, fake_aws_answer: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    fake_aws_answer(
        "s3",
        "GetObject",
        500,
        {"Error": {"Code": "InternalError", "Message": "We encountered an internal error."}},
        when=lambda params: params.get("Key") == "m/broken.mp3",
    )
    fake_aws_answer(
        "transcribe", "StartTranscriptionJob", 400, QUOTA, when=media_uri_ends_with("busy.mp3")
    )
    capsys.readouterr()
    stack.start(upload(stack, "m/broken.mp3", "tone.mp3"), upload(stack, "m/busy.mp3", "tone.mp3"))
    printed = capsys.readouterr().out

    # StartRetriesAlarm (template.yaml) watches UploadsRetriedAfterErrors: one for the 500.
    assert metric_values(printed, "UploadsRetriedAfterErrors") == [1.0]
    assert metric_values(printed, "UploadsWaitingForCapacity") == [1.0]


@pytest.mark.usefixtures("no_backoff")
def test_a_long_wait_for_capacity_restarts_as_a_fresh_copy_never_dead_lettered(
    stack: Stack, fake_aws_answer: Any
) -> None:
    from transcription_pipeline.start import FRESH_COPY_AFTER_RECEIVES

    fake_aws_answer("transcribe", "StartTranscriptionJob", 400, QUOTA)
    first = stack.enqueue({"Records": [upload(stack, "w/long.mp3", "tone.mp3")]})
    (record,) = stack.receive()
    # One receive short of the copy: back on the queue as itself, as every wait before.
    record["attributes"]["ApproximateReceiveCount"] = str(FRESH_COPY_AFTER_RECEIVES - 1)
    assert stack.run_start([record]) == {"batchItemFailures": [{"itemIdentifier": first}]}
    # (moto counts SQS's 12-hour visibility limit from the send, AWS from the receive, so
    # the 48th receive is given by its attribute rather than by 47 hours of waiting.)
    stack.clock.offset += 4000
    (record,) = stack.receive()
    record["attributes"]["ApproximateReceiveCount"] = str(FRESH_COPY_AFTER_RECEIVES)

    response = stack.run_start([record])

    # Not a failure: the original goes, a copy with the same body and origin takes its place.
    assert response == {"batchItemFailures": []}
    stack.clock.offset += 4000
    (copy,) = stack.receive()
    assert copy["messageId"] != first
    assert copy["attributes"]["ApproximateReceiveCount"] == "1"
    assert json.loads(copy["body"]) == json.loads(record["body"])
    assert copy["messageAttributes"]["origin"]["stringValue"] == "s3"
    assert stack.dead_letter_ids() == []
