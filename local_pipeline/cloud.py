"""A local cloud built from template.yaml: moto server, buckets, event wiring, functions.

moto cannot invoke Lambda functions from S3 notifications or EventBridge rules, so each
function event in the template becomes an SQS queue in moto (S3 notification -> queue,
EventBridge rule with the template's own pattern -> queue) and a dispatcher thread
invokes the function's handler, imported from its CodeUri, with every message. A failed
invocation is retried as often as Lambda would retry that asynchronous event: the
function's ``EventInvokeConfig.MaximumRetryAttempts`` in the template (Lambda's default of
two retries when it has none).
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import os
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

import boto3
from moto.server import ThreadedMotoServer

from local_pipeline.iam import Account, RoleEnforcer, moto_object_exists, role_of_function
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
    handler: Handler | None = None
    attempts: dict[str, int] = field(default_factory=dict)


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
    ) -> None:
        self.template = template
        self._host = host
        self._port = port
        self._function_log = function_log or io.StringIO()
        self._on_activity = on_activity or (lambda _message: None)
        self._server: ThreadedMotoServer | None = None
        self._subscriptions: list[_Subscription] = []
        self._stop = threading.Event()
        self._dispatcher: threading.Thread | None = None
        self._saved_environment: dict[str, str | None] = {}
        self.invocations: list[Invocation] = []
        self.endpoint_url = ""
        # Each function may do only what its role in template.yaml allows, as in AWS.
        self.enforcer = RoleEnforcer(
            Account(template.account_id, template.region), moto_object_exists(template.account_id)
        )
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
        self._server = ThreadedMotoServer(ip_address=self._host, port=self._port, verbose=False)
        self._server.start()
        host, port = self._server.get_host_and_port()
        self.endpoint_url = f"http://{host}:{port}"
        for spec in self.template.functions():
            add_layers_to_path(spec)
        self._uninstall_enforcer = self.enforcer.install(boto3._get_default_session().events)
        self._create_buckets()
        self._wire_functions()
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
        return boto3.client(service, endpoint_url=self.endpoint_url)  # type: ignore[call-overload]

    # -- resources ------------------------------------------------------------------
    def bucket_name(self, logical_id: str) -> str:
        return self.template.physical_name(logical_id)

    def _create_buckets(self) -> None:
        s3 = self.client("s3")
        for logical_id in self.template.resources_of_type("AWS::S3::Bucket"):
            s3.create_bucket(Bucket=self.bucket_name(logical_id))

    def _queue(self, name: str) -> tuple[str, str]:
        sqs = self.client("sqs")
        url = sqs.create_queue(QueueName=name, Attributes={"VisibilityTimeout": "2"})["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
            "QueueArn"
        ]
        return str(url), str(arn)

    def _wire_functions(self) -> None:
        s3 = self.client("s3")
        events = self.client("events")
        notifications: dict[str, list[dict[str, Any]]] = {}
        for spec in self.template.functions():
            for event_name, event in spec.events.items():
                properties = event["Properties"]
                if event["Type"] == "Schedule":
                    # Not fired locally on a clock; run it on demand with invoke().
                    continue
                queue_url, queue_arn = self._queue(f"local-{spec.logical_id}-{event_name}")
                if event["Type"] == "S3":
                    bucket = str(properties["Bucket"])  # the Ref, resolved to the bucket name
                    kinds = properties["Events"]
                    configuration: dict[str, Any] = {
                        "QueueArn": queue_arn,
                        "Events": kinds if isinstance(kinds, list) else [kinds],
                    }
                    if "Filter" in properties:
                        configuration["Filter"] = properties["Filter"]
                    notifications.setdefault(bucket, []).append(configuration)
                elif event["Type"] == "EventBridgeRule":
                    rule = f"local-{spec.logical_id}-{event_name}"
                    events.put_rule(Name=rule, EventPattern=json.dumps(properties["Pattern"]))
                    events.put_targets(Rule=rule, Targets=[{"Id": "function", "Arn": queue_arn}])
                else:
                    raise NotImplementedError(
                        f"{spec.logical_id}: event type {event['Type']} does not run locally"
                    )
                self._subscriptions.append(_Subscription(spec, queue_url))
        for bucket, configurations in notifications.items():
            s3.put_bucket_notification_configuration(
                Bucket=bucket, NotificationConfiguration={"QueueConfigurations": configurations}
            )

    def wait_for_final_record(self, source_key: str, timeout: float) -> dict[str, bytes] | None:
        """An upload's final record once complete (error.json, or all six outputs), as
        file name -> bytes; None when nothing complete appeared within ``timeout`` seconds."""
        # The pipeline's own naming (importable: start() put the layers on the path), so a
        # long key's shortened output folder is found too.
        from transcription_pipeline.naming import ERROR_RECORD, OUTPUT_FILES, output_key

        bucket = self.bucket_name("OutputBucket")
        folder = output_key(source_key, ERROR_RECORD).removesuffix(ERROR_RECORD)
        s3 = self.client("s3")
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            listing = s3.list_objects_v2(Bucket=bucket, Prefix=folder).get("Contents", [])
            names = {item["Key"].removeprefix(folder) for item in listing}
            names = {name for name in names if "/" not in name}  # not a deeper upload's
            if ERROR_RECORD in names or set(OUTPUT_FILES) <= names:
                return {
                    name: s3.get_object(Bucket=bucket, Key=folder + name)["Body"].read()
                    for name in sorted(names)
                }
            time.sleep(0.05)
        return None

    # -- invoking functions -----------------------------------------------------------
    @contextlib.contextmanager
    def _function_output(self) -> Iterator[None]:
        # Function logs (JSON, one line each) go to the log file, not the user's terminal.
        with contextlib.redirect_stdout(self._function_log):
            yield
        self._function_log.flush()

    def _invoke(self, subscription: _Subscription, event: dict[str, Any], attempt: int) -> bool:
        spec = subscription.spec
        overrides = {**FUNCTION_OVERRIDES, "AWS_ENDPOINT_URL": self.endpoint_url}
        started = time.monotonic()
        invocation = Invocation(spec.logical_id, attempt, 0.0)
        role = role_of_function(self.template, spec.logical_id)
        with (
            self._function_output(),
            function_environment(spec, overrides),
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
        if invocation.error:
            self._on_activity(
                f"{spec.logical_id} failed (attempt {attempt} of {spec.async_attempts}): "
                f"{invocation.error}"
            )
        else:
            self._on_activity(f"{spec.logical_id}: {_describe(invocation.result)}")
        return invocation.error is None

    def invoke(self, logical_id: str, event: dict[str, Any]) -> Invocation:
        """Run one function now with ``event`` (e.g. a scheduled one), like `sam local invoke`."""
        subscription = next(
            (sub for sub in self._subscriptions if sub.spec.logical_id == logical_id), None
        )
        if subscription is None:
            subscription = _Subscription(self.template.function(logical_id), queue_url="")
            self._subscriptions.append(subscription)
        self._invoke(subscription, event, attempt=1)
        return self.invocations[-1]

    def _dispatch_forever(self) -> None:
        sqs = self.client("sqs")
        while not self._stop.is_set():
            idle = True
            for subscription in [sub for sub in self._subscriptions if sub.queue_url]:
                messages = sqs.receive_message(
                    QueueUrl=subscription.queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=0
                ).get("Messages", [])
                for message in messages:
                    idle = False
                    event = json.loads(message["Body"])
                    message_id = message["MessageId"]
                    attempt = subscription.attempts.get(message_id, 0) + 1
                    subscription.attempts[message_id] = attempt
                    succeeded = self._invoke(subscription, event, attempt)
                    if succeeded or attempt >= subscription.spec.async_attempts:
                        sqs.delete_message(
                            QueueUrl=subscription.queue_url,
                            ReceiptHandle=message["ReceiptHandle"],
                        )
                        subscription.attempts.pop(message_id, None)
                    # else: the message becomes visible again after the visibility timeout
            if idle:
                self._stop.wait(0.1)


def _describe(result: Any) -> str:
    """One line for a handler's return value: outcome counts, or the outcome."""
    if isinstance(result, dict):
        return ", ".join(f"{key}={value}" for key, value in result.items()) or "nothing to do"
    return repr(result)


def default_template(root: Path | None = None, **kwargs: Any) -> Template:
    root = root or Path(__file__).resolve().parent.parent
    return Template(root / "template.yaml", stack_name="transcription-pipeline", **kwargs)
