"""Handlers run as Lambda runs them: code from CodeUri, layer on the path, the
environment template.yaml declares, and moto in place of S3, SQS, DynamoDB and
Transcribe — moto made to answer as AWS does where it matters: every call a function
makes is checked against that function's own role in template.yaml (403 for a missing
key without s3:ListBucket, local_pipeline.iam), and Transcribe reports redacted output,
FailureReason and its concurrent-job quota (local_pipeline.transcribe_model).

Uploads reach the start function as they do in AWS: S3 -> the upload queue -> the SQS
event source. The queue (with its dead-letter queue and redrive policy) and the
in-flight table are made in moto from their definitions in template.yaml; a test puts
S3 notifications on the queue with SendMessage and ``Stack.start`` plays the event
source mapping: ReceiveMessage (so every receipt handle is real and ChangeMessageVisibility
works on it), the event Lambda builds from the messages, the invocation, and DeleteMessage
for each message the function did not report in ``batchItemFailures``.
"""

from __future__ import annotations

import contextlib
import copy
import hashlib
import json
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import quote_plus

import boto3
import pytest
from botocore.awsrequest import AWSResponse, HTTPHeaders
from moto import mock_aws

from local_pipeline.iam import Account, Denial, RoleEnforcer, moto_object_exists, role_of_function
from local_pipeline.invoke import LocalLambdaContext, function_environment, load_handler
from local_pipeline.template import Template
from local_pipeline.transcribe_model import realistic_transcribe, written_keys
from tests.conftest import MEDIA, REPO, TRANSCRIPTS, load_event

STACK_NAME = "transcription-pipeline"
START = "StartTranscriptionFunction"
PROCESS = "ProcessTranscriptFunction"
RECONCILE = "ReconcileFunction"
# Where the outputs of the sample upload (events/s3-put.json: "uploads/My Talk.mp4") go.
SAMPLE_KEY = "uploads/My Talk.mp4"
OUTPUT_PREFIX = SAMPLE_KEY + "/"
EVERY_OUTPUT = [
    "chapters.vtt",
    "subtitles.srt",
    "subtitles.vtt",
    "summary.json",
    "summary.md",
    "transcript.docx",
    "transcript.html",
    "transcript.json",
    "transcript.txt",
]
# The partition key value of reconciliation's checkpoint item (not an upload).
CHECKPOINT_PARTITION = "#reconcile"


class SqsClock:
    """moto's SQS clock, which a test can move forward: a message made invisible for an
    hour becomes visible again without waiting an hour (moto reads the time through
    ``unix_time``/``unix_time_millis`` of moto.sqs.models, replaced here)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        from moto.core.utils import unix_time as real_seconds

        self.offset = 0.0

        def seconds(dt: datetime | None = None) -> float:
            # time.time() is what moto computes from utcnow(), at a fraction of the cost
            # (moto asks for every message's visibility on every request).
            return real_seconds(dt) if dt is not None else time.time() + self.offset

        def millis(dt: datetime | None = None) -> float:
            return seconds(dt) * 1000.0

        monkeypatch.setattr("moto.sqs.models.unix_time", seconds)
        monkeypatch.setattr("moto.sqs.models.unix_time_millis", millis)
        self._millis = millis

    def advance(self, seconds: float) -> None:
        self.offset += seconds

    def now_millis(self) -> float:
        return self._millis()


@dataclass
class Delivery:
    """What one or more start invocations made of the messages they were given."""

    message_ids: list[str] = field(default_factory=list)  # in the order they were sent
    failures: list[str] = field(default_factory=list)  # batchItemFailures, in order
    responses: list[Any] = field(default_factory=list)  # what the function returned


@dataclass
class Stack:
    template: Template
    s3: Any
    transcribe: Any
    sqs: Any
    dynamodb: Any
    input_bucket: str
    output_bucket: str
    upload_queue_url: str
    dead_letter_queue_url: str
    in_flight_table: str
    enforcer: RoleEnforcer
    clock: SqsClock

    def invoke(self, logical_id: str, event: dict[str, Any], **env: str) -> Any:
        """Run a function as Lambda would, with its role's permissions enforced."""
        return self._run(logical_id, event, LocalLambdaContext(function_name=logical_id), env)

    def invoke_with_time_left(
        self, logical_id: str, event: dict[str, Any], remaining_millis: int
    ) -> Any:
        """``invoke``, with a context that says only so much time is left."""
        context = LocalLambdaContext(function_name=logical_id)
        context.get_remaining_time_in_millis = lambda: remaining_millis  # type: ignore[method-assign]
        return self._run(logical_id, event, context, {})

    def _run(
        self, logical_id: str, event: dict[str, Any], context: Any, env: dict[str, str]
    ) -> Any:
        spec = self.template.function(logical_id)
        role = role_of_function(self.template, logical_id)
        with function_environment(spec, env), self.enforcer.acting_as(role):
            handler = load_handler(spec)
            return handler(copy.deepcopy(event), context)

    def take_denials(self) -> list[Denial]:
        """The calls the roles refused so far (a test that expects some takes them)."""
        denials, self.enforcer.denials[:] = list(self.enforcer.denials), []
        return denials

    # -- the upload queue and the SQS event source ------------------------------------------
    @property
    def batch_size(self) -> int:
        """The SQS event source's BatchSize in template.yaml."""
        (event,) = self.template.function(START).events.values()
        return int(event["Properties"]["BatchSize"])

    @property
    def upload_queue_arn(self) -> str:
        return str(self.template.resolve({"Fn::GetAtt": ["UploadQueue", "Arn"]}))

    def enqueue(self, body: dict[str, Any] | str, origin: str | None = None) -> str:
        """Put one message on the upload queue (S3's notification, or backfill's and
        reconciliation's, which say who sent them in the ``origin`` attribute)."""
        request: dict[str, Any] = {
            "QueueUrl": self.upload_queue_url,
            "MessageBody": body if isinstance(body, str) else json.dumps(body),
        }
        if origin is not None:
            request["MessageAttributes"] = {"origin": {"DataType": "String", "StringValue": origin}}
        return str(self.sqs.send_message(**request)["MessageId"])

    def receive(self, max_messages: int | None = None) -> list[dict[str, Any]]:
        """One ReceiveMessage of the event source, as the records Lambda hands over."""
        answer = self.sqs.receive_message(
            QueueUrl=self.upload_queue_url,
            MaxNumberOfMessages=max_messages or self.batch_size,
            MessageSystemAttributeNames=["All"],
            MessageAttributeNames=["All"],
            WaitTimeSeconds=0,
        )
        return [self.lambda_record(message) for message in answer.get("Messages", [])]

    def lambda_record(self, message: dict[str, Any]) -> dict[str, Any]:
        """A received message in the shape of Lambda's SQS event record (lower camel case,
        message attributes with ``stringValue``/``dataType``)."""
        attributes = {
            name: value
            for name, value in message.get("Attributes", {}).items()
            if name
            in (
                "ApproximateReceiveCount",
                "SentTimestamp",
                "SenderId",
                "ApproximateFirstReceiveTimestamp",
            )
        }
        message_attributes = {
            name: {
                "stringValue": value.get("StringValue"),
                "stringListValues": [],
                "binaryListValues": [],
                "dataType": value["DataType"],
            }
            for name, value in message.get("MessageAttributes", {}).items()
        }
        return {
            "messageId": message["MessageId"],
            "receiptHandle": message["ReceiptHandle"],
            "body": message["Body"],
            "attributes": attributes,
            "messageAttributes": message_attributes,
            "md5OfBody": message["MD5OfBody"],
            "eventSource": "aws:sqs",
            "eventSourceARN": self.upload_queue_arn,
            "awsRegion": self.template.region,
        }

    def run_start(self, records: Sequence[Any], **env: str) -> dict[str, Any]:
        """One invocation by the event source: the records as Lambda's event, then the
        messages not reported as failures deleted (ReportBatchItemFailures). A raised
        error leaves the whole batch on the queue, as Lambda does."""
        assert len(records) <= self.batch_size, "more records than the event source's BatchSize"
        response: dict[str, Any] = self.invoke(START, {"Records": list(records)}, **env)
        failed = {item["itemIdentifier"] for item in response["batchItemFailures"]}
        ids = {r.get("messageId") for r in records if isinstance(r, dict)}
        # Lambda fails the whole batch when an identifier is empty or not in the batch.
        assert failed <= ids - {None, ""}, f"unknown itemIdentifier in {response}"
        for record in records:
            if isinstance(record, dict) and record.get("messageId") not in failed:
                with contextlib.suppress(self.sqs.exceptions.ReceiptHandleIsInvalid):
                    self.sqs.delete_message(
                        QueueUrl=self.upload_queue_url, ReceiptHandle=record["receiptHandle"]
                    )
        return response

    def deliver(self, **env: str) -> Delivery:
        """The event source until the queue shows no visible message: batch after batch."""
        delivery = Delivery()
        while records := self.receive():
            response = self.run_start(records, **env)
            delivery.responses.append(response)
            delivery.failures += [item["itemIdentifier"] for item in response["batchItemFailures"]]
        return delivery

    def start(
        self, *bodies: dict[str, Any] | str, origin: str | None = None, **env: str
    ) -> Delivery:
        """Each S3 record (or whole notification, or raw body) as one message on the
        upload queue, then delivered to the start function in batches of BatchSize."""
        ids = [self.enqueue(as_notification(body), origin) for body in bodies]
        delivery = self.deliver(**env)
        delivery.message_ids = ids
        return delivery

    def visible_in(self, message_id: str) -> float:
        """Seconds until the message is visible again (negative: it is), read from moto."""
        message = self._queued_message(message_id)
        return (float(message.visible_at) - self.clock.now_millis()) / 1000

    def queued_ids(self) -> list[str]:
        """Every message id on the upload queue, visible or not."""
        return [message.id for message in self._queue(self.upload_queue_url)._messages]

    def dead_letter_ids(self) -> list[str]:
        return [message.id for message in self._queue(self.dead_letter_queue_url)._messages]

    def _queue(self, url: str) -> Any:
        from moto.sqs.models import sqs_backends

        backend = sqs_backends[self.template.account_id][self.template.region]
        return backend.get_queue(url.rsplit("/", 1)[-1])

    def _queued_message(self, message_id: str) -> Any:
        (message,) = [m for m in self._queue(self.upload_queue_url)._messages if m.id == message_id]
        return message

    # -- the in-flight table -----------------------------------------------------------------
    def in_flight(self) -> list[dict[str, Any]]:
        """Every item of the in-flight table, plain values, checkpoint item left out."""
        items = []
        request: dict[str, Any] = {"TableName": self.in_flight_table}
        while True:
            page = self.dynamodb.scan(**request)
            for item in page["Items"]:
                plain = {name: next(iter(value.values())) for name, value in item.items()}
                if plain["source_key"] != CHECKPOINT_PARTITION:
                    items.append(plain)
            if "LastEvaluatedKey" not in page:
                return sorted(items, key=lambda i: (i["source_key"], i["job_name"]))
            request["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def checkpoint(self) -> dict[str, Any] | None:
        """Reconciliation's checkpoint item, if it wrote one."""
        items = self.dynamodb.query(
            TableName=self.in_flight_table,
            KeyConditionExpression="source_key = :p",
            ExpressionAttributeValues={":p": {"S": CHECKPOINT_PARTITION}},
        )["Items"]
        if not items:
            return None
        (item,) = items
        return {name: next(iter(value.values())) for name, value in item.items()}

    def age_in_flight(self, minutes: float = 120) -> None:
        """Make every in-flight item look ``minutes`` older (moto stamps them 'now', and
        reconciliation looks only at items older than ReconcileMinAgeMinutes)."""
        for item in self.in_flight():
            started = int(item["started_at"]) - int(minutes * 60)
            self.dynamodb.update_item(
                TableName=self.in_flight_table,
                Key={"source_key": {"S": item["source_key"]}, "job_name": {"S": item["job_name"]}},
                UpdateExpression="SET started_at = :s",
                ExpressionAttributeValues={":s": {"N": str(started)}},
            )

    # -- Transcribe and the buckets ----------------------------------------------------------
    def job_name_of(self, key: str) -> str:
        """The job the pipeline names for the object under ``key`` now (as S3 sees it)."""
        from transcription_pipeline.aws import ObjectStore
        from transcription_pipeline.naming import S3Location, job_name_for

        head = ObjectStore(self.s3).head(S3Location(self.input_bucket, key))
        assert head is not None, f"no object {key}"
        prefix = self.template.function(START).environment["JOB_NAME_PREFIX"]
        return job_name_for(prefix, S3Location(self.input_bucket, key), head.revision)

    def revision_of(self, key: str) -> str:
        from transcription_pipeline.aws import ObjectStore
        from transcription_pipeline.naming import S3Location

        head = ObjectStore(self.s3).head(S3Location(self.input_bucket, key))
        assert head is not None, f"no object {key}"
        return head.revision

    def complete_job(self, job_name: str, transcript: bytes) -> dict[str, Any]:
        """What Transcribe does: write the transcript file(s) the job's settings call for
        (``redacted-<name>`` with PII redaction), then finish the job."""
        job = self.transcribe_backend().transcriptions[job_name]
        for key in written_keys(job, job.output_key).values():
            self.s3.put_object(Bucket=self.output_bucket, Key=key, Body=transcript)
        return self.finish_job(job_name)

    def fail_job(self, job_name: str, reason: str) -> None:
        """A job Transcribe failed (moto never fails one)."""
        job = self.transcribe_backend().transcriptions[job_name]
        job.status = "FAILED"
        job.failure_reason = reason

    def forget_job(self, job_name: str) -> None:
        """Transcribe no longer knows the job (its record is gone)."""
        del self.transcribe_backend().transcriptions[job_name]

    def transcribe_backend(self) -> Any:
        from moto.transcribe.models import transcribe_backends

        return transcribe_backends[self.template.account_id][self.template.region]

    def output(self, key: str) -> bytes:
        body: bytes = self.s3.get_object(Bucket=self.output_bucket, Key=key)["Body"].read()
        return body

    def output_keys(self) -> list[str]:
        listing = self.s3.list_objects_v2(Bucket=self.output_bucket)
        return sorted(item["Key"] for item in listing.get("Contents", []))

    def finish_job(self, job_name: str) -> dict[str, Any]:
        """moto moves a job one state per GetTranscriptionJob; step it to COMPLETED."""
        for _ in range(3):
            job: dict[str, Any] = self.transcribe.get_transcription_job(
                TranscriptionJobName=job_name
            )["TranscriptionJob"]
            if job["TranscriptionJobStatus"] == "COMPLETED":
                return job
        raise AssertionError(f"moto did not complete {job_name}")


# -- uploads and S3 events -----------------------------------------------------------------
def s3_record(bucket: str, key: str, body: bytes | None, size: int | None = None) -> dict[str, Any]:
    """A record shaped like S3's, key encoded the way S3 encodes it (space as '+')."""
    record: dict[str, Any] = copy.deepcopy(load_event("s3-put.json")["Records"][0])
    record["s3"]["bucket"]["name"] = bucket
    record["s3"]["object"]["key"] = quote_plus(key, safe="/")
    record["s3"]["object"]["size"] = len(body) if size is None and body is not None else size
    record["s3"]["object"]["eTag"] = hashlib.md5(body or b"").hexdigest()
    return record


def as_notification(body: dict[str, Any] | str) -> dict[str, Any] | str:
    """A single S3 record becomes the notification S3 sends for it ({"Records": [record]});
    a whole notification or a raw body goes on the queue as it is."""
    if isinstance(body, dict) and "s3" in body and "Records" not in body:
        return {"Records": [body]}
    return body


def put_media(stack: Stack, key: str, media_file: str) -> bytes:
    """Upload a file of tests/media to the input bucket under ``key``; returns its bytes."""
    body = (MEDIA / media_file).read_bytes()
    stack.s3.put_object(Bucket=stack.input_bucket, Key=key, Body=body)
    return body


def upload(stack: Stack, key: str, media_file: str) -> dict[str, Any]:
    """Upload a file of tests/media and return the S3 record S3 would send for it."""
    return s3_record(stack.input_bucket, key, put_media(stack, key, media_file))


def jobs(stack: Stack) -> list[dict[str, Any]]:
    """Every Transcribe job started so far, in full (GetTranscriptionJob)."""
    summaries = stack.transcribe.list_transcription_jobs()["TranscriptionJobSummaries"]
    return [
        stack.transcribe.get_transcription_job(TranscriptionJobName=s["TranscriptionJobName"])[
            "TranscriptionJob"
        ]
        for s in summaries
    ]


def job_names(stack: Stack) -> list[str]:
    """Every job name Transcribe knows, sorted (without moving moto's jobs along)."""
    return sorted(stack.transcribe_backend().transcriptions)


# -- the sample job: events/s3-put.json started, then finished by "Transcribe" -------------
def start_sample_job(stack: Stack, **env: str) -> None:
    body = (MEDIA / "video.mp4").read_bytes()
    stack.s3.put_object(Bucket=stack.input_bucket, Key=SAMPLE_KEY, Body=body)
    delivery = stack.start(load_event("s3-put.json"), **env)
    assert delivery.failures == []
    assert len(job_names(stack)) == 1


def sample_job(stack: Stack) -> str:
    """The name of the one job these tests start (it depends on the upload's time)."""
    (name,) = job_names(stack)
    return name


def job_event(stack: Stack, file_name: str = "transcribe-completed.json") -> dict[str, Any]:
    """A sample completion event from events/, for the sample job."""
    event = load_event(file_name)
    event["detail"]["TranscriptionJobName"] = sample_job(stack)
    return event


def complete_sample_job(stack: Stack, fixture: str, **env: str) -> bytes:
    """What Transcribe would do: write its JSON at the job's output key and finish."""
    raw = (TRANSCRIPTS / fixture).read_bytes()
    start_sample_job(stack, **env)
    stack.complete_job(sample_job(stack), raw)
    return raw


def outputs(stack: Stack) -> dict[str, bytes]:
    """The sample upload's outputs, as file name -> bytes."""
    return {
        key.removeprefix(OUTPUT_PREFIX): stack.output(key)
        for key in stack.output_keys()
        if key.startswith(OUTPUT_PREFIX) and not key.startswith("_transcribe/")
    }


def completion(job_name: str, status: str = "COMPLETED") -> dict[str, Any]:
    """Transcribe's Job State Change event for ``job_name``, as EventBridge delivers it."""
    event = load_event("transcribe-completed.json")
    event["detail"] = {"TranscriptionJobName": job_name, "TranscriptionJobStatus": status}
    return event


# -- the AWS resources of the template, made in moto --------------------------------------------
def _queue_attributes(template: Template, logical_id: str) -> dict[str, str]:
    """CreateQueue attributes from the queue's properties in template.yaml."""
    properties = template.resolve(template.resources[logical_id].get("Properties", {}))
    attributes = {}
    for name, value in properties.items():
        if name in ("QueueName", "Tags"):
            continue
        if isinstance(value, dict):
            attributes[name] = json.dumps(value)
        elif isinstance(value, bool):
            attributes[name] = str(value).lower()
        else:
            attributes[name] = str(value)
    return attributes


def _create_queues(template: Template, sqs: Any) -> None:
    """Every queue of the template, dead-letter queues first (a redrive policy names them)."""
    queues = template.resources_of_type("AWS::SQS::Queue")
    redriven = [q for q in queues if "RedrivePolicy" in template.resources[q]["Properties"]]
    for logical_id in [q for q in queues if q not in redriven] + redriven:
        sqs.create_queue(
            QueueName=template.physical_name(logical_id),
            Attributes=_queue_attributes(template, logical_id),
        )


def _create_tables(template: Template, dynamodb: Any) -> None:
    for logical_id in template.resources_of_type("AWS::DynamoDB::Table"):
        properties = template.resolve(template.resources[logical_id]["Properties"])
        name = template.physical_name(logical_id)
        dynamodb.create_table(
            TableName=name,
            AttributeDefinitions=properties["AttributeDefinitions"],
            KeySchema=properties["KeySchema"],
            BillingMode=properties["BillingMode"],
        )
        ttl = properties.get("TimeToLiveSpecification")
        if ttl:
            dynamodb.update_time_to_live(TableName=name, TimeToLiveSpecification=ttl)


def partition_keys(template: Template) -> dict[str, str]:
    """Table name -> its partition (HASH) key attribute, from each table's KeySchema."""
    keys = {}
    for logical_id in template.resources_of_type("AWS::DynamoDB::Table"):
        schema = template.resolve(template.resources[logical_id]["Properties"]["KeySchema"])
        (attribute,) = [k["AttributeName"] for k in schema if k["KeyType"] == "HASH"]
        keys[template.physical_name(logical_id)] = str(attribute)
    return keys


@contextlib.contextmanager
def transcribe_lists_newest_first() -> Iterator[None]:
    """ListTranscriptionJobs orders jobs "by creation date, with the newest job first"
    (API reference, ListTranscriptionJobs Status); moto lists them oldest first."""
    from moto.transcribe.models import TranscribeBackend

    moto_list = TranscribeBackend.list_transcription_jobs

    def newest_first(backend: Any, *args: Any, **kwargs: Any) -> Any:
        every = backend.transcriptions
        backend.transcriptions = dict(
            sorted(every.items(), key=lambda item: item[1].creation_time, reverse=True)
        )
        try:
            return moto_list(backend, *args, **kwargs)
        finally:
            backend.transcriptions = every

    TranscribeBackend.list_transcription_jobs = newest_first  # type: ignore[method-assign,assignment]
    try:
        yield
    finally:
        TranscribeBackend.list_transcription_jobs = moto_list  # type: ignore[method-assign]


# -- fixtures ------------------------------------------------------------------------------
@pytest.fixture(scope="session")
def _parsed_template() -> Template:
    """template.yaml parsed once (parsing it takes longer than most handler tests)."""
    return Template(REPO / "template.yaml", stack_name=STACK_NAME)


@pytest.fixture
def stack(_parsed_template: Template, monkeypatch: pytest.MonkeyPatch) -> Iterator[Stack]:
    template = copy.deepcopy(_parsed_template)  # a test may change its own copy
    account = Account(template.account_id, template.region, partition_keys=partition_keys(template))
    enforcer = RoleEnforcer(account, moto_object_exists(template.account_id))
    with mock_aws(), realistic_transcribe(), transcribe_lists_newest_first():
        # Inside the mock: moto swaps boto3's default session, which the handlers use.
        uninstall = enforcer.install(boto3._get_default_session().events)
        s3 = boto3.client("s3")
        input_bucket = template.physical_name("InputBucket")
        output_bucket = template.physical_name("OutputBucket")
        for bucket in (input_bucket, output_bucket):
            s3.create_bucket(Bucket=bucket)
        sqs, dynamodb = boto3.client("sqs"), boto3.client("dynamodb")
        _create_queues(template, sqs)
        _create_tables(template, dynamodb)
        environment = template.function(START).environment
        try:
            yield Stack(
                template=template,
                s3=s3,
                transcribe=boto3.client("transcribe"),
                sqs=sqs,
                dynamodb=dynamodb,
                input_bucket=input_bucket,
                output_bucket=output_bucket,
                upload_queue_url=environment["UPLOAD_QUEUE_URL"],
                dead_letter_queue_url=str(
                    template.resolve({"Ref": "StartTranscriptionDeadLetterQueue"})
                ),
                in_flight_table=environment["IN_FLIGHT_TABLE"],
                enforcer=enforcer,
                clock=SqsClock(monkeypatch),
            )
        finally:
            uninstall()
    # A refused call can hide behind error handling (reconciliation isolates items, the
    # start function puts a message back): every refusal a test did not take fails it,
    # naming the missing permission.
    assert not enforcer.denials, "IAM refused: " + "; ".join(map(str, enforcer.denials))


Request = dict[str, Any]


@pytest.fixture
def fake_aws_answer() -> Iterator[Any]:
    """Replace one AWS operation's answer, for what moto cannot do (FAILED jobs, throttling).

    Registered on boto3's default session before the handler creates its clients, it
    short-circuits the call: botocore then treats the answer exactly like a real one
    (standard-mode retries included). ``when`` limits it to some requests: it gets the
    API parameters of the call (``{"Key": ...}``, ``{"TranscriptionJobName": ...}``).
    """
    session = boto3._get_default_session()
    registered: list[tuple[str, Any]] = []

    def answer(
        service: str,
        operation: str,
        status: int,
        body: dict[str, Any],
        when: Callable[[Request], bool] | None = None,
    ) -> list[Request]:
        calls: list[Request] = []

        def remember(params: Request, context: dict[str, Any], **_: Any) -> None:
            context["fake_aws_answer_params"] = dict(params)

        def respond(context: dict[str, Any], **_: Any) -> tuple[AWSResponse, Request] | None:
            params = context.get("fake_aws_answer_params", {})
            if when is not None and not when(params):
                return None
            calls.append(params)
            parsed = {**body, "ResponseMetadata": {"HTTPStatusCode": status}}
            return AWSResponse("https://fake.invalid", status, HTTPHeaders(), None), parsed

        for event_name, handler in (
            (f"before-parameter-build.{service}.{operation}", remember),
            # botocore types hooks as returning None; a before-call hook may answer instead.
            (f"before-call.{service}.{operation}", respond),
        ):
            session.events.register(event_name, handler)  # type: ignore[arg-type]
            registered.append((event_name, handler))
        return calls

    yield answer
    for event_name, handler in registered:
        session.events.unregister(event_name, handler)


@dataclass(frozen=True)
class ApiCall:
    service: str
    operation: str
    params: Request


@pytest.fixture
def api_calls(stack: Stack) -> Iterator[list[ApiCall]]:
    """Every AWS API call made from now on (by the handlers and by the test), in order."""
    calls: list[ApiCall] = []

    def record(params: Request, model: Any, **_: Any) -> None:
        calls.append(ApiCall(model.service_model.service_name, model.name, dict(params)))

    session = boto3._get_default_session()
    session.events.register("before-parameter-build", record)
    yield calls
    session.events.unregister("before-parameter-build", record)


@pytest.fixture
def no_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    """botocore's retry backoff sleeps for real; the tests need not wait it out."""
    monkeypatch.setattr("botocore.endpoint.time.sleep", lambda _seconds: None)
