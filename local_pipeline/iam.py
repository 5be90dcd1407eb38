"""IAM as AWS enforces it, for the functions' own roles: moto enforces none of it.

Every S3 and Transcribe call a function makes (in the handler tests and in the local
cloud) is turned into the IAM request AWS would authorise — action, resource ARN and
condition keys, from the Service Authorization Reference — and evaluated against that
function's role policies as template.yaml defines them. A call the role does not allow
fails with AccessDenied, as in AWS, and is recorded so a test can name the missing
permission even where the code handles the error.

S3 also answers HeadObject/GetObject of a missing key with 403 instead of 404 when the
caller may not ``s3:ListBucket`` the bucket (S3 API reference, HeadObject and GetObject,
"Permissions"); moto always says 404, so that is modelled here too.

Why not a library: moto's own IAM code (``moto.iam.access_control``) ignores resource
ARNs for most services and treats a condition that does not match as an explicit deny,
and principalmapper 1.1.5 (NCC Group's PMapper, whose local simulator is the most complete
one on PyPI) no longer imports on Python 3.10+. The evaluator below covers the policy
grammar the template uses and refuses anything else loudly; tests/unit/test_iam.py
checks it against the evaluation rules of the IAM User Guide.
"""

from __future__ import annotations

import contextlib
import contextvars
import fnmatch
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import ClientError

Policy = Mapping[str, Any]


class PolicyNotUnderstood(ValueError):
    """The policy uses grammar this evaluator does not implement (so it cannot judge it)."""


@dataclass(frozen=True)
class IamRequest:
    action: str  # "s3:GetObject"
    resource: str  # an ARN, or "*" for actions without resource types
    context: Mapping[str, str] = field(default_factory=dict)  # condition keys present

    def describe(self) -> str:
        keys = ", ".join(f"{k}={v}" for k, v in sorted(self.context.items()))
        return f"{self.action} on {self.resource}" + (f" with {keys}" if keys else "")


# -- evaluation ------------------------------------------------------------------------
def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _wildcard(pattern: str, value: str, *, ignore_case: bool = False) -> bool:
    """IAM wildcards: ``*`` any run of characters (also across ``/`` and ``:``), ``?`` one."""
    if ignore_case:
        pattern, value = pattern.lower(), value.lower()
    # fnmatch would also read [...] as a character class; IAM has none.
    return fnmatch.fnmatchcase(value, pattern.replace("[", "[[]"))


def _string_match(operator: str, expected: str, actual: str) -> bool:
    if operator == "StringEquals":
        return expected == actual
    if operator == "StringEqualsIgnoreCase":
        return expected.lower() == actual.lower()
    if operator in ("StringLike", "ArnLike", "ArnEquals"):
        return _wildcard(expected, actual)
    if operator == "Bool":
        return expected.lower() == actual.lower()
    raise PolicyNotUnderstood(f"condition operator {operator} is not implemented")


_NEGATED = {
    "StringNotEquals": "StringEquals",
    "StringNotEqualsIgnoreCase": "StringEqualsIgnoreCase",
    "StringNotLike": "StringLike",
    "ArnNotEquals": "ArnEquals",
    "ArnNotLike": "ArnLike",
}


def _condition_holds(
    operator: str, key: str, expected: list[Any], context: Mapping[str, str]
) -> bool:
    actual = {k.lower(): v for k, v in context.items()}.get(key.lower())
    if operator.startswith(("ForAnyValue:", "ForAllValues:")):
        # Every key the model supplies holds one value. ForAllValues holds for a request
        # without the key (IAM User Guide, "Multivalued context keys"): a policy that
        # relies on it must also limit the actions, as the template does.
        qualifier, base_operator = operator.split(":", 1)
        if base_operator in _NEGATED or base_operator.endswith("IfExists"):
            raise PolicyNotUnderstood(f"set operator {operator} is not implemented")
        if actual is None:
            return qualifier == "ForAllValues"
        return any(_string_match(base_operator, str(e), actual) for e in expected)
    if_exists = operator.endswith("IfExists")
    base = operator.removesuffix("IfExists")
    if base == "Null":
        # {"Null": {"key": "true"}}: the key is absent from the request.
        return (actual is None) == (str(expected[0]).lower() == "true")
    if actual is None:
        # A missing key matches nothing, so a negated operator holds (IAM User Guide,
        # "Condition operators"); ...IfExists turns the missing key into a match.
        return if_exists or base in _NEGATED
    if base in _NEGATED:
        return not any(_string_match(_NEGATED[base], str(e), actual) for e in expected)
    return any(_string_match(base, str(e), actual) for e in expected)


_STATEMENT_ELEMENTS = {
    "Sid",
    "Effect",
    "Action",
    "NotAction",
    "Resource",
    "NotResource",
    "Condition",
}


def statement_applies(statement: Mapping[str, Any], request: IamRequest) -> bool:
    """Whether one statement's Action, Resource and Condition all cover ``request``."""
    unknown = set(statement) - _STATEMENT_ELEMENTS
    if unknown:
        raise PolicyNotUnderstood(f"statement elements {sorted(unknown)} are not implemented")
    if "Action" in statement:
        actions = _as_list(statement["Action"])
        if not any(_wildcard(str(a), request.action, ignore_case=True) for a in actions):
            return False
    else:
        not_actions = _as_list(statement["NotAction"])
        if any(_wildcard(str(a), request.action, ignore_case=True) for a in not_actions):
            return False
    resources = _as_list(statement.get("Resource", statement.get("NotResource", [])))
    covered = any(_wildcard(str(r), request.resource) for r in resources)
    if covered != ("Resource" in statement):
        return False
    for operator, keys in statement.get("Condition", {}).items():
        for key, expected in keys.items():
            if not _condition_holds(operator, key, _as_list(expected), request.context):
                return False
    return True


def is_allowed(policies: Sequence[Policy], request: IamRequest) -> bool:
    """IAM's rule for identity policies: an explicit Deny wins, then any Allow, else deny."""
    allowed = False
    for policy in policies:
        for statement in _as_list(policy["Statement"]):
            if not statement_applies(statement, request):
                continue
            if statement["Effect"] == "Deny":
                return False
            allowed = True
    return allowed


# -- what AWS authorises for each call ---------------------------------------------------
@dataclass(frozen=True)
class Account:
    account_id: str
    region: str
    partition: str = "aws"
    # table name -> partition key attribute, for the dynamodb:LeadingKeys condition key
    partition_keys: Mapping[str, str] = field(default_factory=dict)


def _sqs_queue(account: Account, queue_url: str) -> str:
    name = queue_url.rstrip("/").rsplit("/", 1)[-1]
    return f"arn:{account.partition}:sqs:{account.region}:{account.account_id}:{name}"


def _dynamodb_table(account: Account, table: str) -> str:
    return f"arn:{account.partition}:dynamodb:{account.region}:{account.account_id}:table/{table}"


def _leading_key(account: Account, table: str, item: Mapping[str, Any]) -> dict[str, str]:
    """The dynamodb:LeadingKeys context of a request for one item."""
    attribute = account.partition_keys.get(table)
    if attribute is None:
        raise PolicyNotUnderstood(f"the partition key of table {table} is not known")
    value = item.get(attribute, {})
    return {"dynamodb:LeadingKeys": str(next(iter(value.values()), ""))}


_SQS_ACTIONS = {
    "SendMessage": "sqs:SendMessage",
    "SendMessageBatch": "sqs:SendMessage",
    "ChangeMessageVisibility": "sqs:ChangeMessageVisibility",
    "ChangeMessageVisibilityBatch": "sqs:ChangeMessageVisibility",
    "ReceiveMessage": "sqs:ReceiveMessage",
    "DeleteMessage": "sqs:DeleteMessage",
    "DeleteMessageBatch": "sqs:DeleteMessage",
    "GetQueueAttributes": "sqs:GetQueueAttributes",
}
_DYNAMODB_ITEM_ACTIONS = {
    "PutItem": "Item",
    "GetItem": "Key",
    "DeleteItem": "Key",
    "UpdateItem": "Key",
}


def _s3_bucket(account: Account, bucket: str) -> str:
    return f"arn:{account.partition}:s3:::{bucket}"


def _s3_object(account: Account, bucket: str, key: str) -> str:
    return f"{_s3_bucket(account, bucket)}/{key}"


# Geographic prefixes of Bedrock's system-defined cross-Region inference profiles.
_PROFILE_PREFIXES = ("us.", "eu.", "apac.", "us-gov.", "global.", "jp.", "au.", "ca.")


def _bedrock_requests(model_id: str, account: Account) -> list[IamRequest]:
    """Converse is authorised as bedrock:InvokeModel on the model, or on the inference
    profile and then on the model in the Region the profile routes to, with
    bedrock:InferenceProfileArn set (Bedrock user guide, inference profile prerequisites).
    The routed Region is modelled as this one."""
    if model_id.startswith("arn:"):
        return [IamRequest("bedrock:InvokeModel", model_id)]
    model_arn = f"arn:{account.partition}:bedrock:{account.region}::foundation-model/"
    if not model_id.startswith(_PROFILE_PREFIXES):
        return [IamRequest("bedrock:InvokeModel", model_arn + model_id)]
    profile = (
        f"arn:{account.partition}:bedrock:{account.region}:{account.account_id}:"
        f"inference-profile/{model_id}"
    )
    routed = model_arn + model_id.split(".", 1)[1]
    return [
        IamRequest("bedrock:InvokeModel", profile),
        IamRequest("bedrock:InvokeModel", routed, {"bedrock:InferenceProfileArn": profile}),
    ]


def iam_requests(
    service: str, operation: str, params: Mapping[str, Any], account: Account
) -> list[IamRequest]:
    """The IAM requests AWS evaluates for one API call (Service Authorization Reference)."""
    bucket = str(params.get("Bucket", ""))
    if service == "s3":
        if operation in ("GetObject", "HeadObject"):
            # HeadObject is authorised as s3:GetObject; a versioned read as GetObjectVersion.
            action = "s3:GetObjectVersion" if params.get("VersionId") else "s3:GetObject"
            return [IamRequest(action, _s3_object(account, bucket, str(params["Key"])))]
        if operation == "PutObject":
            return [IamRequest("s3:PutObject", _s3_object(account, bucket, str(params["Key"])))]
        if operation == "DeleteObject":
            return [IamRequest("s3:DeleteObject", _s3_object(account, bucket, str(params["Key"])))]
        if operation == "DeleteObjects":
            return [
                IamRequest("s3:DeleteObject", _s3_object(account, bucket, str(item["Key"])))
                for item in params["Delete"]["Objects"]
            ]
        if operation in ("ListObjectsV2", "ListObjects"):
            context = {"s3:prefix": str(params.get("Prefix", ""))}
            if "Delimiter" in params:
                context["s3:delimiter"] = str(params["Delimiter"])
            return [IamRequest("s3:ListBucket", _s3_bucket(account, bucket), context)]
    if service == "transcribe":
        if operation == "StartTranscriptionJob":
            context = {
                name: str(params[field_name])
                for name, field_name in (
                    ("transcribe:OutputBucketName", "OutputBucketName"),
                    ("transcribe:OutputKey", "OutputKey"),
                    ("transcribe:OutputEncryptionKMSKeyId", "OutputEncryptionKMSKeyId"),
                )
                if params.get(field_name)
            }
            # No resource types for this action: "*" is what AWS evaluates.
            requests = [IamRequest("transcribe:StartTranscriptionJob", "*", context)]
            role = params.get("JobExecutionSettings", {}).get("DataAccessRoleArn")
            if role:
                # Passing a role is authorised as iam:PassRole, for the service it goes to.
                context = {"iam:PassedToService": "transcribe.amazonaws.com"}
                requests.append(IamRequest("iam:PassRole", str(role), context))
            return requests
        if operation == "GetTranscriptionJob":
            arn = (
                f"arn:{account.partition}:transcribe:{account.region}:{account.account_id}:"
                f"transcription-job/{params['TranscriptionJobName']}"
            )
            return [IamRequest("transcribe:GetTranscriptionJob", arn)]
        if operation == "ListTranscriptionJobs":
            return [IamRequest("transcribe:ListTranscriptionJobs", "*")]
        if operation == "DeleteTranscriptionJob":
            arn = (
                f"arn:{account.partition}:transcribe:{account.region}:{account.account_id}:"
                f"transcription-job/{params['TranscriptionJobName']}"
            )
            return [IamRequest("transcribe:DeleteTranscriptionJob", arn)]
    if service == "events" and operation == "PutEvents":
        # One request per entry: the bus it goes to, its source and detail-type
        # (events:source, events:detail-type).
        requests = []
        for entry in params["Entries"]:
            bus = str(entry.get("EventBusName") or "default")
            arn = (
                bus
                if bus.startswith("arn:")
                else f"arn:{account.partition}:events:{account.region}:{account.account_id}:"
                f"event-bus/{bus}"
            )
            context = {
                "events:source": str(entry.get("Source", "")),
                "events:detail-type": str(entry.get("DetailType", "")),
            }
            requests.append(IamRequest("events:PutEvents", arn, context))
        return requests
    if service == "bedrock-runtime" and operation in ("Converse", "InvokeModel"):
        return _bedrock_requests(str(params["modelId"]), account)
    if service == "translate" and operation == "TranslateText":
        # No resource type for TranslateText (only terminologies are resources).
        return [IamRequest("translate:TranslateText", "*")]
    if service == "sqs" and operation in _SQS_ACTIONS:
        return [IamRequest(_SQS_ACTIONS[operation], _sqs_queue(account, str(params["QueueUrl"])))]
    if service == "dynamodb":
        table = str(params.get("TableName", ""))
        if operation in _DYNAMODB_ITEM_ACTIONS:
            item = params[_DYNAMODB_ITEM_ACTIONS[operation]]
            context = _leading_key(account, table, item)
            return [IamRequest(f"dynamodb:{operation}", _dynamodb_table(account, table), context)]
        if operation in ("Scan", "Query"):
            return [IamRequest(f"dynamodb:{operation}", _dynamodb_table(account, table))]
    raise PolicyNotUnderstood(
        f"no IAM mapping for {service}:{operation}; add it to local_pipeline/iam.py "
        "from the Service Authorization Reference"
    )


# -- enforcing it on a boto3 session ------------------------------------------------------
@dataclass(frozen=True)
class Role:
    name: str  # the function's logical id
    policies: tuple[Policy, ...]


@dataclass(frozen=True)
class Denial:
    role: str
    operation: str
    request: IamRequest

    def __str__(self) -> str:
        return f"{self.role} may not {self.request.describe()} (called {self.operation})"


ObjectExists = Callable[[str, str, str | None], bool]  # bucket, key, versionId

_current_role: contextvars.ContextVar[Role | None] = contextvars.ContextVar(
    "current_role", default=None
)


class RoleEnforcer:
    """Checks every call made while a role is current (``with enforcer.acting_as(role)``).

    Calls made with no current role (a test's own setup, the local engine) are not
    checked: they stand for the user and for AWS itself, not for a function.
    """

    def __init__(self, account: Account, object_exists: ObjectExists) -> None:
        self._account = account
        self._object_exists = object_exists
        self._lock = threading.Lock()
        self.denials: list[Denial] = []
        self.checked = 0

    @contextlib.contextmanager
    def acting_as(self, role: Role) -> Iterator[None]:
        token = _current_role.set(role)
        try:
            yield
        finally:
            _current_role.reset(token)

    def install(self, events: Any) -> Callable[[], None]:
        """Register on a botocore event emitter (before clients are made); returns undo."""
        events.register("before-parameter-build", self._check)
        return lambda: events.unregister("before-parameter-build", self._check)

    def _check(self, params: Mapping[str, Any], model: Any, **_: Any) -> None:
        role = _current_role.get()
        if role is None:
            return
        service = model.service_model.service_name
        operation = model.name
        for request in iam_requests(service, operation, params, self._account):
            with self._lock:
                self.checked += 1
            if not is_allowed(role.policies, request):
                with self._lock:
                    self.denials.append(Denial(role.name, operation, request))
                raise _client_error(
                    operation,
                    "AccessDenied",
                    f"User: {role.name} is not authorized to perform: {request.action} "
                    f"on resource: {request.resource}",
                )
        if service == "s3" and operation in ("GetObject", "HeadObject"):
            self._forbid_missing_without_list(role, operation, params)

    def _forbid_missing_without_list(
        self, role: Role, operation: str, params: Mapping[str, Any]
    ) -> None:
        bucket, key = str(params["Bucket"]), str(params["Key"])
        version = params.get("VersionId")
        if self._object_exists(bucket, key, str(version) if version else None):
            return
        listing = IamRequest("s3:ListBucket", _s3_bucket(self._account, bucket))
        if is_allowed(role.policies, listing):
            return  # the caller may list: S3 says 404, as moto does
        # HeadObject has no body, so its error code is the bare status.
        head = operation == "HeadObject"
        code, message = ("403", "Forbidden") if head else ("AccessDenied", "Access Denied")
        raise _client_error(operation, code, message)


def _client_error(operation: str, code: str, message: str) -> ClientError:
    """The error botocore raises for a 403 answer."""
    response: Any = {
        "Error": {"Code": code, "Message": message},
        "ResponseMetadata": {"HTTPStatusCode": 403},
    }
    return ClientError(response, operation)


def role_of_function(template: Any, logical_id: str) -> Role:
    """The inline policies SAM puts on a function's role (its ``Policies``), resolved."""
    policies: list[Policy] = []
    for policy in template.resources[logical_id]["Properties"].get("Policies", []):
        document = template.resolve(policy)
        if document is None:  # an !If that resolved to AWS::NoValue
            continue
        if not isinstance(document, dict) or "Statement" not in document:
            raise PolicyNotUnderstood(f"{logical_id}: only inline policy documents are modelled")
        policies.append(document)
    return Role(logical_id, tuple(policies))


def role_of_resource(template: Any, logical_id: str) -> Role:
    """The inline policies of an ``AWS::IAM::Role`` (its ``Policies[].PolicyDocument``),
    resolved; a statement that resolved to AWS::NoValue is left out, as CloudFormation does."""
    resource = template.resources[logical_id]
    if resource.get("Type") != "AWS::IAM::Role":
        raise PolicyNotUnderstood(f"{logical_id} is not an AWS::IAM::Role")
    properties = resource.get("Properties", {})
    if properties.get("ManagedPolicyArns") or properties.get("PermissionsBoundary"):
        raise PolicyNotUnderstood(f"{logical_id}: only inline policies are modelled")
    policies: list[Policy] = []
    for policy in properties.get("Policies", []):
        document = template.resolve(policy.get("PolicyDocument"))
        if document is None:
            continue
        if not isinstance(document, dict) or "Statement" not in document:
            raise PolicyNotUnderstood(f"{logical_id}: a policy without a Statement")
        statements = [s for s in _as_list(document["Statement"]) if s is not None]
        policies.append({**document, "Statement": statements})
    return Role(logical_id, tuple(policies))


def role_logical_id(template: Any, arn: str) -> str | None:
    """The template's AWS::IAM::Role whose ARN is ``arn``; None when no role has it."""
    for logical_id in template.resources_of_type("AWS::IAM::Role"):
        if template.resolve({"Fn::GetAtt": [logical_id, "Arn"]}) == arn:
            return str(logical_id)
    return None


def trusts_service(template: Any, logical_id: str, service: str) -> bool:
    """Whether the role's trust policy lets ``service`` (e.g. transcribe.amazonaws.com)
    assume it. Only the principal is checked, not the trust policy's conditions."""
    document = template.resolve(
        template.resources[logical_id].get("Properties", {}).get("AssumeRolePolicyDocument", {})
    )
    for statement in _as_list(document.get("Statement", [])):
        if not statement or statement.get("Effect") != "Allow":
            continue
        actions = [str(a).lower() for a in _as_list(statement.get("Action", []))]
        services = _as_list((statement.get("Principal") or {}).get("Service", []))
        if "sts:assumerole" in actions and service in services:
            return True
    return False


def account_of(template: Any) -> Account:
    """The account a local run stands for, with the partition key of each of the template's
    tables (for dynamodb:LeadingKeys): what every RoleEnforcer of a template should get."""
    return Account(template.account_id, template.region, partition_keys=template.partition_keys())


def moto_object_exists(account_id: str) -> ObjectExists:
    """Ask moto's S3 backend directly whether an object (version) exists."""

    def exists(bucket: str, key: str, version_id: str | None) -> bool:
        from moto.s3.models import s3_backends

        backend = s3_backends[account_id]["aws"]
        try:
            found = backend.get_object(bucket, key, version_id=version_id)
        except Exception:  # noqa: BLE001 - moto raises its own errors for missing buckets/keys
            return False
        return found is not None

    return exists
