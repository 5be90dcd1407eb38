"""A local cloud built from template.yaml: moto server, resources, event wiring, functions.

From the template it creates every bucket (with its NotificationConfiguration), every
SQS queue (with its RedrivePolicy: moto moves a message to the dead-letter queue when it
would be received once more after maxReceiveCount receives, as SQS does — SQS Developer
Guide, "Using dead-letter queues"; tests/local/test_sqs_event_source.py checks it) and
every DynamoDB table, under the names CloudFormation would give them, so the functions'
environment points at them. Queue policies and IAM roles are not resources here: the
functions' roles and Transcribe's data-access role are enforced by ``iam.RoleEnforcer``.

Then the functions' events, as Lambda runs them:

- ``Type: SQS`` (an event source mapping): a poller receives up to BatchSize messages
  of the queue and invokes the handler with them, in Lambda's SQS event shape. On
  success it deletes the messages — all but those named in ``batchItemFailures`` when the
  event has ``FunctionResponseTypes: [ReportBatchItemFailures]``; those stay in flight
  with whatever visibility timeout the function gave them. A handler that raises (or an
  unusable partial batch response) leaves the whole batch, which comes back after the
  queue's visibility timeout; the queue's redrive policy ends the retries (Lambda
  Developer Guide, "Using Lambda with Amazon SQS" and "Handling errors for an SQS event
  source").
- ``Type: EventBridgeRule``: moto cannot invoke a function from a rule, so the rule (the
  template's own pattern) targets an internal queue, and a dispatcher invokes the
  function asynchronously with every event. A failed invocation is retried as often as
  Lambda would retry that asynchronous event — the function's
  ``EventInvokeConfig.MaximumRetryAttempts`` (Lambda's default of two retries without
  one) — and then goes to its ``DestinationConfig.OnFailure`` queue as Lambda's
  invocation record.
- ``Type: Schedule`` is not fired on a clock: ``invoke()`` runs it on demand.

The completion events the functions put on the default bus (``Transcript Published``,
``Transcription Failed``, ``Upload Rejected``, with the source ``EVENT_SOURCE`` of their
environment) are what another team would subscribe to: the local cloud does so the
documented way, a rule ``{"source": ["transcription-pipeline.<stack>"]}`` on moto's default
bus targeting a queue of its own, and reports each event through ``on_activity`` (one
line: detail-type, key, and the word count or the reason) and in ``completion_events``.

One dispatcher thread runs every invocation, one at a time (a MaximumConcurrency of 1).
"""

from __future__ import annotations

import base64
import contextlib
import io
import json
import logging
import os
import threading
import time
import urllib.request
import uuid
from collections import deque
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

import boto3
from moto.server import ThreadedMotoServer

from local_pipeline.iam import RoleEnforcer, account_of, moto_object_exists, role_of_function
from local_pipeline.invoke import (
    Handler,
    LocalLambdaContext,
    add_layers_to_path,
    function_environment,
    load_handler,
)
from local_pipeline.template import FunctionSpec, Template

Activity = Callable[[str], None]

# What a local run must set that AWS would: credentials for moto, no X-Ray daemon.
LOCAL_ENVIRONMENT = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
}
FUNCTION_OVERRIDES = {"POWERTOOLS_TRACE_DISABLED": "true"}
# The template's queues get this visibility timeout locally instead of theirs (the upload
# queue's is 360 s, six times the function's timeout, as Lambda advises): a batch whose
# handler raised comes back after half a minute, not six, so a local run is not held up.
# A delay the function sets itself (ChangeMessageVisibility) is kept as it is.
LOCAL_VISIBILITY_TIMEOUT = 30
# The internal queue between an EventBridge rule and its function: the pause before
# Lambda's next asynchronous attempt (about a minute in AWS).
ASYNC_RETRY_SECONDS = 2
# The rule and queue through which the local cloud hears the stack's completion events.
COMPLETION_EVENTS = "local-completion-events"
# How many completion events a long-running cloud keeps (completion_events).
KEPT_COMPLETION_EVENTS = 1000
# os.environ is the process's: the dispatcher sets a function's variables around each
# invocation and removes them after, while other threads (the engine, the runner) create
# clients, which read the whole environment (botocore's proxy settings); a variable removed
# during that read raised KeyError in the reading thread. Both hold this lock.
_ENVIRONMENT_LOCK = threading.RLock()
# What the SQS event source reads of each message (Lambda's event shape, below).
_SQS_RECEIVE = {"AttributeNames": ["All"], "MessageAttributeNames": ["All"]}


@dataclass
class Invocation:
    function: str
    attempt: int
    seconds: float
    result: Any = None
    error: str | None = None


@dataclass
class _Subscription:
    spec: FunctionSpec
    queue_url: str
    kind: str = "async"  # "async": EventBridge rule -> internal queue; "sqs": event source
    queue_arn: str = ""
    batch_size: int = 1
    reports_item_failures: bool = False  # FunctionResponseTypes: [ReportBatchItemFailures]
    handler: Handler | None = None
    attempts: dict[str, int] = field(default_factory=dict)


@contextlib.contextmanager
def _environment_of(spec: FunctionSpec, overrides: dict[str, str]) -> Iterator[None]:
    """function_environment, its changes to os.environ made under _ENVIRONMENT_LOCK."""
    environment = function_environment(spec, overrides)
    with _ENVIRONMENT_LOCK:
        environment.__enter__()
    try:
        yield
    finally:
        with _ENVIRONMENT_LOCK:
            environment.__exit__(None, None, None)


@contextlib.contextmanager
def one_event_per_multipart_upload() -> Iterator[None]:
    """S3 announces a completed multipart upload once (s3:ObjectCreated:CompleteMultipartUpload);
    moto 5.2 also sends s3:ObjectCreated:Put for it, so a large upload (boto3 switches to
    multipart at 8 MB) reached the start function twice. This drops moto's extra event."""
    from moto.s3.models import S3Backend

    moto_complete = S3Backend.complete_multipart_upload
    moto_put = S3Backend.put_object
    completing = threading.local()

    def complete_multipart_upload(self: Any, *args: Any, **kwargs: Any) -> Any:
        completing.active = True
        try:
            return moto_complete(self, *args, **kwargs)
        finally:
            completing.active = False

    def put_object(self: Any, *args: Any, **kwargs: Any) -> Any:
        if getattr(completing, "active", False):
            kwargs["disable_notification"] = True
        return moto_put(self, *args, **kwargs)

    S3Backend.complete_multipart_upload = complete_multipart_upload  # type: ignore[method-assign]
    S3Backend.put_object = put_object  # type: ignore[method-assign]
    try:
        yield
    finally:
        S3Backend.complete_multipart_upload = moto_complete  # type: ignore[method-assign]
        S3Backend.put_object = moto_put  # type: ignore[method-assign]


@contextlib.contextmanager
def s3_event_keys_as_s3_writes_them() -> Iterator[None]:
    """S3 URL-encodes the key in an event with its slashes kept ("uploads/My+Talk.mp4");
    moto 5.2 encodes them too ("uploads%2FMy+Talk.mp4")."""
    from moto.s3 import notifications

    moto_quote_plus: Callable[..., str] = getattr(notifications, "quote_plus")  # noqa: B009

    def quote_plus(key: str, *args: Any, **kwargs: Any) -> str:
        return moto_quote_plus(key, *args, **{"safe": "/", **kwargs})

    setattr(notifications, "quote_plus", quote_plus)  # noqa: B010 - not exported by moto
    try:
        yield
    finally:
        setattr(notifications, "quote_plus", moto_quote_plus)  # noqa: B010


class LocalCloud:
    """Start with ``with LocalCloud(template) as cloud:``; stops everything on exit."""

    def __init__(
        self,
        template: Template,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        function_log: TextIO | None = None,
        on_activity: Activity | None = None,
        visibility_timeout: int = LOCAL_VISIBILITY_TIMEOUT,
        function_overrides: Mapping[str, str] | None = None,
    ) -> None:
        """``visibility_timeout``: what the template's queues get locally (see
        LOCAL_VISIBILITY_TIMEOUT); ``function_overrides``: environment variables every
        function gets on top of its own (e.g. a Bedrock or Translate endpoint)."""
        self.template = template
        self._function_overrides = dict(function_overrides or {})
        self._host = host
        self._port = port
        self._function_log = function_log or io.StringIO()
        self._on_activity = on_activity or (lambda _message: None)
        self._visibility_timeout = visibility_timeout
        self._server: ThreadedMotoServer | None = None
        self._subscriptions: list[_Subscription] = []
        self._stop = threading.Event()
        self._dispatcher: threading.Thread | None = None
        self._saved_environment: dict[str, str | None] = {}
        self._queue_urls: dict[str, str] = {}  # queue ARN -> URL, of the template's queues
        self.invocations: list[Invocation] = []
        # The stack's completion events as EventBridge delivered them, oldest first.
        self.completion_events: deque[dict[str, Any]] = deque(maxlen=KEPT_COMPLETION_EVENTS)
        self._completion_queue_url = ""
        self._completion_seen = threading.Condition()
        self.endpoint_url = ""
        # Each function may do only what its role in template.yaml allows, as in AWS.
        self.enforcer = RoleEnforcer(account_of(template), moto_object_exists(template.account_id))
        self._uninstall_enforcer: Callable[[], None] | None = None
        self._moto_fixes = contextlib.ExitStack()

    # -- lifecycle ------------------------------------------------------------------
    def __enter__(self) -> LocalCloud:
        self.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stop()

    def start(self) -> None:
        self._saved_environment = {name: os.environ.get(name) for name in LOCAL_ENVIRONMENT}
        os.environ.update(LOCAL_ENVIRONMENT)
        logging.getLogger("werkzeug").setLevel(logging.ERROR)  # one line per request otherwise
        self._moto_fixes.enter_context(one_event_per_multipart_upload())
        self._moto_fixes.enter_context(s3_event_keys_as_s3_writes_them())
        self._server = ThreadedMotoServer(ip_address=self._host, port=self._port, verbose=False)
        self._server.start()
        host, port = self._server.get_host_and_port()
        self.endpoint_url = f"http://{host}:{port}"
        # moto keeps its state per process: a cloud started after another one (tests) starts
        # empty, as a new account would (moto's documented reset endpoint).
        reset = urllib.request.Request(f"{self.endpoint_url}/moto-api/reset", method="POST")  # noqa: S310
        with urllib.request.urlopen(reset, timeout=10):  # noqa: S310 - our own server, http
            pass
        for spec in self.template.functions():
            add_layers_to_path(spec)
        self._uninstall_enforcer = self.enforcer.install(boto3._get_default_session().events)
        self._create_queues()
        self._create_tables()
        self._create_buckets()
        self._wire_functions()
        self._subscribe_to_completion_events()
        self._dispatcher = threading.Thread(
            target=self._dispatch_forever, name="local-lambda-dispatcher", daemon=True
        )
        self._dispatcher.start()

    def stop(self) -> None:
        self._stop.set()
        if self._dispatcher is not None:
            self._dispatcher.join(timeout=30)
            self._dispatcher = None
        if self._server is not None:
            self._server.stop()
            self._server = None
        if self._uninstall_enforcer is not None:
            self._uninstall_enforcer()
            self._uninstall_enforcer = None
        self._moto_fixes.close()
        for name, value in self._saved_environment.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value

    def client(self, service: str) -> Any:
        """A boto3 client for the local cloud (for the runner's own use, not the functions')."""
        with _ENVIRONMENT_LOCK:
            return boto3.client(service, endpoint_url=self.endpoint_url)  # type: ignore[call-overload]

    # -- resources ------------------------------------------------------------------
    def bucket_name(self, logical_id: str) -> str:
        return self.template.physical_name(logical_id)

    def queue_url(self, logical_id: str) -> str:
        """The URL of one of the template's queues (its Ref, as the functions see it)."""
        return str(self.template.resolve({"Ref": logical_id}))

    def table_name(self, logical_id: str) -> str:
        return self.template.physical_name(logical_id)

    def _properties(self, logical_id: str) -> dict[str, Any]:
        resolved = self.template.resolve(self.template.resources[logical_id].get("Properties", {}))
        return dict(resolved or {})

    def _create_queues(self) -> None:
        """The template's queues, dead-letter queues first (a redrive policy must name an
        existing queue)."""
        sqs = self.client("sqs")
        pending = {
            logical_id: self._properties(logical_id)
            for logical_id in self.template.resources_of_type("AWS::SQS::Queue")
        }
        while pending:
            ready = [
                logical_id
                for logical_id, properties in pending.items()
                if "RedrivePolicy" not in properties
                or properties["RedrivePolicy"]["deadLetterTargetArn"] in self._queue_urls
            ]
            if not ready:
                raise NotImplementedError(
                    f"queues {sorted(pending)}: their dead-letter queues are not in the template"
                )
            for logical_id in ready:
                properties = pending.pop(logical_id)
                attributes: dict[str, str] = {
                    name: str(properties[name])
                    for name in (
                        "DelaySeconds",
                        "MaximumMessageSize",
                        "MessageRetentionPeriod",
                        "ReceiveMessageWaitTimeSeconds",
                    )
                    if name in properties
                }
                attributes["VisibilityTimeout"] = str(self._visibility_timeout)
                if "RedrivePolicy" in properties:
                    attributes["RedrivePolicy"] = json.dumps(properties["RedrivePolicy"])
                if properties.get("FifoQueue"):
                    raise NotImplementedError(f"{logical_id}: FIFO queues do not run locally")
                name = self.template.physical_name(logical_id)
                url = sqs.create_queue(QueueName=name, Attributes=attributes)["QueueUrl"]
                arn = self.template.resolve({"Fn::GetAtt": [logical_id, "Arn"]})
                actual = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])
                if actual["Attributes"]["QueueArn"] != arn:  # the functions use the template's
                    raise NotImplementedError(f"{logical_id}: moto made {actual}, not {arn}")
                self._queue_urls[arn] = str(url)

    def _create_tables(self) -> None:
        dynamodb = self.client("dynamodb")
        for logical_id in self.template.resources_of_type("AWS::DynamoDB::Table"):
            properties = self._properties(logical_id)
            name = self.table_name(logical_id)
            request: dict[str, Any] = {
                "TableName": name,
                "KeySchema": properties["KeySchema"],
                "AttributeDefinitions": properties["AttributeDefinitions"],
                "BillingMode": properties.get("BillingMode", "PROVISIONED"),
            }
            for optional in (
                "ProvisionedThroughput",
                "GlobalSecondaryIndexes",
                "LocalSecondaryIndexes",
            ):
                if optional in properties:
                    request[optional] = properties[optional]
            dynamodb.create_table(**request)
            ttl = properties.get("TimeToLiveSpecification")
            if ttl and ttl.get("Enabled"):
                # moto records it but removes nothing: items outlive expires_at locally.
                dynamodb.update_time_to_live(
                    TableName=name,
                    TimeToLiveSpecification={
                        "AttributeName": ttl["AttributeName"],
                        "Enabled": True,
                    },
                )

    def _create_buckets(self) -> None:
        s3 = self.client("s3")
        for logical_id in self.template.resources_of_type("AWS::S3::Bucket"):
            name = self.bucket_name(logical_id)
            s3.create_bucket(Bucket=name)
            notifications = self._properties(logical_id).get("NotificationConfiguration")
            if notifications:
                # S3 sends an s3:TestEvent to each queue now, as in AWS.
                s3.put_bucket_notification_configuration(
                    Bucket=name,
                    NotificationConfiguration=_s3_notification_configuration(
                        logical_id, notifications
                    ),
                )

    def _internal_queue(self, name: str) -> tuple[str, str]:
        sqs = self.client("sqs")
        attributes = {"VisibilityTimeout": str(ASYNC_RETRY_SECONDS)}
        url = sqs.create_queue(QueueName=name, Attributes=attributes)["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
            "QueueArn"
        ]
        return str(url), str(arn)

    def _wire_functions(self) -> None:
        events = self.client("events")
        for spec in self.template.functions():
            for event_name, event in spec.events.items():
                properties = event["Properties"]
                if event["Type"] == "Schedule":
                    # Not fired locally on a clock; run it on demand with invoke().
                    continue
                if event["Type"] == "SQS":
                    arn = str(properties["Queue"])
                    if arn not in self._queue_urls:
                        raise NotImplementedError(
                            f"{spec.logical_id}: queue {arn} is not one of the template's"
                        )
                    self._subscriptions.append(
                        _Subscription(
                            spec,
                            self._queue_urls[arn],
                            kind="sqs",
                            queue_arn=arn,
                            batch_size=int(properties.get("BatchSize", 10)),
                            reports_item_failures="ReportBatchItemFailures"
                            in properties.get("FunctionResponseTypes", []),
                        )
                    )
                elif event["Type"] == "EventBridgeRule":
                    queue_url, queue_arn = self._internal_queue(
                        f"local-{spec.logical_id}-{event_name}"
                    )
                    rule = f"local-{spec.logical_id}-{event_name}"
                    events.put_rule(Name=rule, EventPattern=json.dumps(properties["Pattern"]))
                    events.put_targets(Rule=rule, Targets=[{"Id": "function", "Arn": queue_arn}])
                    self._subscriptions.append(_Subscription(spec, queue_url))
                else:
                    raise NotImplementedError(
                        f"{spec.logical_id}: event type {event['Type']} does not run locally"
                    )

    def event_sources(self) -> list[str]:
        """The ``source`` of the completion events: the functions' EVENT_SOURCE."""
        return sorted(
            {
                spec.environment["EVENT_SOURCE"]
                for spec in self.template.functions()
                if spec.environment.get("EVENT_SOURCE")
            }
        )

    def _subscribe_to_completion_events(self) -> None:
        """A rule with the documented pattern on the default bus -> a queue of our own."""
        sources = self.event_sources()
        if not sources:
            return  # a template whose functions emit no completion events
        url, arn = self._internal_queue(COMPLETION_EVENTS)
        events = self.client("events")
        events.put_rule(Name=COMPLETION_EVENTS, EventPattern=json.dumps({"source": sources}))
        events.put_targets(Rule=COMPLETION_EVENTS, Targets=[{"Id": "local", "Arn": arn}])
        self._completion_queue_url = url

    def _poll_completion_events(self, sqs: Any) -> bool:
        if not self._completion_queue_url:
            return False
        messages = sqs.receive_message(
            QueueUrl=self._completion_queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=0
        ).get("Messages", [])
        for message in messages:
            event = json.loads(message["Body"])
            with self._completion_seen:
                self.completion_events.append(event)
                self._completion_seen.notify_all()
            self._on_activity(describe_completion_event(event))
            sqs.delete_message(
                QueueUrl=self._completion_queue_url, ReceiptHandle=message["ReceiptHandle"]
            )
        return bool(messages)

    def wait_for_completion_event(self, source_key: str, timeout: float) -> dict[str, Any] | None:
        """The latest completion event about ``source_key`` (the input key), waiting up to
        ``timeout`` seconds for one; None if none came."""
        deadline = time.monotonic() + timeout

        def latest() -> dict[str, Any] | None:
            about = [event for event in self.completion_events if _input_key(event) == source_key]
            return about[-1] if about else None

        with self._completion_seen:
            while (found := latest()) is None:
                left = deadline - time.monotonic()
                if left <= 0:
                    return None
                self._completion_seen.wait(left)
            return found

    def wait_for_final_record(self, source_key: str, timeout: float) -> dict[str, bytes] | None:
        """An upload's final record once complete (error.json, or all the outputs), as
        file name -> bytes; None when nothing complete appeared within ``timeout`` seconds."""
        return wait_for_final_record(
            self.client("s3"), self.bucket_name("OutputBucket"), source_key, timeout
        )

    # -- invoking functions -----------------------------------------------------------
    @contextlib.contextmanager
    def _function_output(self, spec: FunctionSpec) -> Iterator[None]:
        """Function logs (JSON, one line each) go to the log file, not the user's terminal.

        Powertools' Logger writes to the stdout it found when the layer was first imported
        — in a process that runs more than one cloud (tests), an earlier cloud's log. As
        Lambda sends every invocation's stdout to the function's log group, its handlers
        write to this cloud's log during the invocation."""
        service = spec.environment.get("POWERTOOLS_SERVICE_NAME", "")
        handlers = [
            handler
            for handler in (logging.getLogger(service).handlers if service else [])
            if isinstance(handler, logging.StreamHandler)
        ]
        with contextlib.redirect_stdout(self._function_log):
            streams = [handler.setStream(self._function_log) for handler in handlers]
            try:
                yield
            finally:
                for handler, stream in zip(handlers, streams, strict=True):
                    if stream is not None:
                        handler.setStream(stream)
        self._function_log.flush()

    def _invoke(
        self, subscription: _Subscription, event: dict[str, Any], attempt: int
    ) -> Invocation:
        spec = subscription.spec
        overrides = {
            **FUNCTION_OVERRIDES,
            "AWS_ENDPOINT_URL": self.endpoint_url,
            **self._function_overrides,
        }
        started = time.monotonic()
        invocation = Invocation(spec.logical_id, attempt, 0.0)
        role = role_of_function(self.template, spec.logical_id)
        with (
            self._function_output(spec),
            _environment_of(spec, overrides),
            self.enforcer.acting_as(role),
        ):
            try:
                if subscription.handler is None:
                    subscription.handler = load_handler(spec)
                invocation.result = subscription.handler(
                    event, LocalLambdaContext(function_name=spec.logical_id)
                )
            except Exception as error:  # noqa: BLE001 - reported and retried like Lambda does
                invocation.error = f"{type(error).__name__}: {error}"
        invocation.seconds = time.monotonic() - started
        self.invocations.append(invocation)
        return invocation

    def invoke(self, logical_id: str, event: dict[str, Any]) -> Invocation:
        """Run one function now with ``event`` (e.g. a scheduled one), like `sam local invoke`."""
        subscription = next(
            (sub for sub in self._subscriptions if sub.spec.logical_id == logical_id), None
        )
        if subscription is None:
            subscription = _Subscription(self.template.function(logical_id), queue_url="")
            self._subscriptions.append(subscription)
        invocation = self._invoke(subscription, event, attempt=1)
        self._report(invocation)
        return invocation

    def _report(self, invocation: Invocation, failure: str = "") -> None:
        if invocation.error:
            self._on_activity(f"{invocation.function} failed{failure}: {invocation.error}")
        else:
            self._on_activity(f"{invocation.function}: {_describe(invocation.result)}")

    def _dispatch_forever(self) -> None:
        sqs = self.client("sqs")
        while not self._stop.is_set():
            idle = not self._poll_completion_events(sqs)
            for subscription in [sub for sub in self._subscriptions if sub.queue_url]:
                if self._stop.is_set():
                    return
                if subscription.kind == "sqs":
                    busy = self._poll_event_source(sqs, subscription)
                else:
                    busy = self._poll_async(sqs, subscription)
                idle = idle and not busy
            if idle:
                self._stop.wait(0.1)

    # An EventBridge rule: Lambda's asynchronous invocation, its retries, its destination.
    def _poll_async(self, sqs: Any, subscription: _Subscription) -> bool:
        spec = subscription.spec
        messages = sqs.receive_message(
            QueueUrl=subscription.queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=0
        ).get("Messages", [])
        for message in messages:
            event = json.loads(message["Body"])
            message_id = message["MessageId"]
            attempt = subscription.attempts.get(message_id, 0) + 1
            subscription.attempts[message_id] = attempt
            invocation = self._invoke(subscription, event, attempt)
            self._report(invocation, f" (attempt {attempt} of {spec.async_attempts})")
            if invocation.error and attempt >= spec.async_attempts:
                self._send_to_on_failure_destination(sqs, spec, event, invocation)
            if not invocation.error or attempt >= spec.async_attempts:
                sqs.delete_message(
                    QueueUrl=subscription.queue_url, ReceiptHandle=message["ReceiptHandle"]
                )
                subscription.attempts.pop(message_id, None)
            # else: the message becomes visible again after the visibility timeout
        return bool(messages)

    def _send_to_on_failure_destination(
        self, sqs: Any, spec: FunctionSpec, event: dict[str, Any], invocation: Invocation
    ) -> None:
        """Lambda's invocation record, to the function's OnFailure queue (Lambda Developer
        Guide, "Capturing records of Lambda asynchronous invocations")."""
        destination = spec.on_failure_destination
        if not destination:
            return  # Lambda drops the event
        if destination not in self._queue_urls:
            raise NotImplementedError(
                f"{spec.logical_id}: destination {destination} is not a queue"
            )
        function_arn = self.template.resolve({"Fn::GetAtt": [spec.logical_id, "Arn"]})
        error_type, _, error_message = (invocation.error or "").partition(": ")
        record = {
            "version": "1.0",
            "timestamp": datetime.now(UTC)
            .isoformat(timespec="milliseconds")
            .replace("+00:00", "Z"),
            "requestContext": {
                "requestId": str(uuid.uuid4()),
                "functionArn": f"{function_arn}:$LATEST",
                "condition": "RetriesExhausted",
                "approximateInvokeCount": invocation.attempt,
            },
            "requestPayload": event,
            "responseContext": {
                "statusCode": 200,
                "executedVersion": "$LATEST",
                "functionError": "Unhandled",
            },
            "responsePayload": {"errorMessage": error_message, "errorType": error_type},
        }
        sqs.send_message(QueueUrl=self._queue_urls[destination], MessageBody=json.dumps(record))

    # An SQS event source mapping: batches, partial batch responses, the queue's redrive.
    def _poll_event_source(self, sqs: Any, subscription: _Subscription) -> bool:
        messages: list[dict[str, Any]] = []
        while len(messages) < subscription.batch_size:
            received = sqs.receive_message(
                QueueUrl=subscription.queue_url,
                MaxNumberOfMessages=min(10, subscription.batch_size - len(messages)),
                WaitTimeSeconds=0,
                **_SQS_RECEIVE,
            ).get("Messages", [])
            if not received:
                break
            messages += received
        if not messages:
            return False
        event = {
            "Records": [
                _sqs_record(message, subscription.queue_arn, self.template.region)
                for message in messages
            ]
        }
        receives = max(int(m["Attributes"]["ApproximateReceiveCount"]) for m in messages)
        invocation = self._invoke(subscription, event, attempt=receives)
        kept, problem = _failed_items(invocation, messages, subscription.reports_item_failures)
        done = [message for message in messages if message["MessageId"] not in kept]
        for start in range(0, len(done), 10):
            sqs.delete_message_batch(
                QueueUrl=subscription.queue_url,
                Entries=[
                    {"Id": str(index), "ReceiptHandle": message["ReceiptHandle"]}
                    for index, message in enumerate(done[start : start + 10])
                ],
            )
        self._report_batch(invocation, len(messages), len(kept), problem)
        return True

    def _report_batch(self, invocation: Invocation, messages: int, kept: int, problem: str) -> None:
        batch = f"{messages} message{'s' if messages != 1 else ''}"
        name = invocation.function
        if invocation.error:
            self._on_activity(
                f"{name} failed on {batch}: {invocation.error}; "
                "back in the queue after its visibility timeout"
            )
        elif problem:
            self._on_activity(f"{name}: {problem}; the {batch} go back to the queue")
        elif kept:
            self._on_activity(f"{name}: {batch}, {messages - kept} done, {kept} back to the queue")
        else:
            self._on_activity(f"{name}: {batch} done")


def _failed_items(
    invocation: Invocation, messages: list[dict[str, Any]], reports_item_failures: bool
) -> tuple[set[str], str]:
    """The message ids Lambda leaves in the queue after an invocation, and why all of them
    when it is the whole batch. Lambda Developer Guide, "Handling errors for an SQS event
    source in Lambda": a partial batch response that is empty or null is a success; one
    that is not JSON, or names an item that is empty, null or not in the batch, fails the
    whole batch."""
    ids = {str(message["MessageId"]) for message in messages}
    if invocation.error:
        return ids, ""
    if not reports_item_failures:
        return set(), ""
    response = invocation.result
    if response is None or response == {}:
        return set(), ""
    if not isinstance(response, dict):
        return ids, f"a partial batch response that is not an object ({type(response).__name__})"
    failures = response.get("batchItemFailures")
    if failures is None:
        return set(), ""
    if not isinstance(failures, list):
        return ids, "batchItemFailures is not a list"
    named: set[str] = set()
    for failure in failures:
        identifier = failure.get("itemIdentifier") if isinstance(failure, dict) else None
        if not isinstance(identifier, str) or identifier not in ids:
            return ids, f"batchItemFailures names {identifier!r}, not a message of the batch"
        named.add(identifier)
    return named, ""


def _sqs_record(message: dict[str, Any], queue_arn: str, region: str) -> dict[str, Any]:
    """One record of the event Lambda's SQS event source sends (Lambda Developer Guide,
    "Using Lambda with Amazon SQS", example standard queue message event)."""
    attributes = {}
    for name, value in message.get("MessageAttributes", {}).items():
        attribute: dict[str, Any] = {}
        if "StringValue" in value:
            attribute["stringValue"] = value["StringValue"]
        if "BinaryValue" in value:
            attribute["binaryValue"] = base64.b64encode(value["BinaryValue"]).decode()
        attribute["stringListValues"] = list(value.get("StringListValues", []))
        attribute["binaryListValues"] = [
            base64.b64encode(item).decode() for item in value.get("BinaryListValues", [])
        ]
        attribute["dataType"] = value["DataType"]
        attributes[name] = attribute
    record: dict[str, Any] = {
        "messageId": message["MessageId"],
        "receiptHandle": message["ReceiptHandle"],
        "body": message["Body"],
        "attributes": dict(message.get("Attributes", {})),
        "messageAttributes": attributes,
        "md5OfBody": message["MD5OfBody"],
        "eventSource": "aws:sqs",
        "eventSourceARN": queue_arn,
        "awsRegion": region,
    }
    if "MD5OfMessageAttributes" in message:
        record["md5OfMessageAttributes"] = message["MD5OfMessageAttributes"]
    return record


def _s3_notification_configuration(
    logical_id: str, configuration: dict[str, Any]
) -> dict[str, Any]:
    """A bucket's NotificationConfiguration as CloudFormation writes it -> as the S3 API
    takes it (Event -> Events, Queue -> QueueArn, Filter.S3Key.Rules -> Filter.Key.FilterRules)."""
    unsupported = set(configuration) - {"QueueConfigurations"}
    if unsupported:
        raise NotImplementedError(
            f"{logical_id}: notifications {sorted(unsupported)} do not run locally"
        )
    queues = []
    for item in configuration["QueueConfigurations"]:
        queue: dict[str, Any] = {"QueueArn": item["Queue"], "Events": [item["Event"]]}
        rules = item.get("Filter", {}).get("S3Key", {}).get("Rules")
        if rules:
            queue["Filter"] = {"Key": {"FilterRules": rules}}
        queues.append(queue)
    return {"QueueConfigurations": queues}


def _input_key(event: dict[str, Any]) -> str | None:
    key = ((event.get("detail") or {}).get("input") or {}).get("key")
    return str(key) if key is not None else None


def describe_completion_event(event: dict[str, Any]) -> str:
    """One line for a completion event: what happened to which key, and the figures or the
    reason (events carry no transcript text)."""
    detail = event.get("detail") or {}
    key = _input_key(event) or "?"
    if "reason" in detail:
        facts = str(detail["reason"])
    else:
        parts = []
        if detail.get("word_count") is not None:
            parts.append(f"{detail['word_count']} words")
        if detail.get("duration_seconds") is not None:
            parts.append(f"{float(detail['duration_seconds']):.1f} s")
        if detail.get("language_code"):
            parts.append(str(detail["language_code"]))
        facts = ", ".join(parts)
    line = f"EventBridge: {event.get('detail-type', '?')} {key}"
    return f"{line}: {facts}" if facts else line


def _describe(result: Any) -> str:
    """One line for a handler's return value: outcome counts, or the outcome."""
    if isinstance(result, dict):
        return ", ".join(f"{key}={value}" for key, value in result.items()) or "nothing to do"
    return repr(result)


def default_template(root: Path | None = None, **kwargs: Any) -> Template:
    root = root or Path(__file__).resolve().parent.parent
    return Template(root / "template.yaml", stack_name="transcription-pipeline", **kwargs)


def wait_for_final_record(
    s3: Any, bucket: str, source_key: str, timeout: float
) -> dict[str, bytes] | None:
    """The final record of ``source_key`` in ``bucket`` once complete (error.json, or every
    output written on each run), as file name -> bytes; None after ``timeout`` seconds."""
    # The pipeline's own naming (importable: the layer is on the path), so a long key's
    # shortened output folder is found too.
    from transcription_pipeline.naming import ERROR_RECORD, RECORD_FILES, SUMMARY_JSON, output_key

    folder = output_key(source_key, ERROR_RECORD).removesuffix(ERROR_RECORD)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        listing = s3.list_objects_v2(Bucket=bucket, Prefix=folder).get("Contents", [])
        names = {item["Key"].removeprefix(folder) for item in listing}
        names = {name for name in names if "/" not in name}  # not a deeper upload's
        # summary.json is written last: with it, every output of the record is there.
        if ERROR_RECORD in names or (SUMMARY_JSON in names and set(RECORD_FILES) <= names):
            return {
                name: s3.get_object(Bucket=bucket, Key=folder + name)["Body"].read()
                for name in sorted(names)
            }
        time.sleep(0.05)
    return None
