"""Read template.yaml the way CloudFormation would, for running it locally.

Only what a local run needs: parameters with their defaults, the intrinsics this kind
of template uses (Ref, Sub, GetAtt, Join, Select, Split, If, Equals, Not), the
Globals merged into each function, and the functions' events. Everything is derived
from the template, so a renamed function or a new variable needs no change here.

``parameter_refusals`` answers what CloudFormation checks before it creates anything:
parameter constraints and the Rules section, for a given set of parameter values.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

LOCAL_ACCOUNT_ID = "123456789012"
LOCAL_REGION = "us-east-1"
# Lambda retries a failed asynchronous invocation twice unless EventInvokeConfig says otherwise.
DEFAULT_MAXIMUM_RETRY_ATTEMPTS = 2


class TemplateError(ValueError):
    """The template uses something this local reader cannot resolve."""


class _CfnLoader(yaml.SafeLoader):
    """YAML loader that keeps CloudFormation short-form tags as {"Fn::X": ...} dicts."""


def _tag_constructor(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> dict[str, Any]:
    name = "Ref" if suffix == "Ref" else f"Fn::{suffix}"
    value: Any
    if isinstance(node, yaml.ScalarNode):
        value = loader.construct_scalar(node)
        if suffix == "GetAtt":
            value = str(value).split(".", 1)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)  # type: ignore[arg-type]
    return {name: value}


_CfnLoader.add_multi_constructor("!", _tag_constructor)


def load_template(path: Path) -> dict[str, Any]:
    with path.open(encoding="utf-8") as stream:
        document = yaml.load(stream, Loader=_CfnLoader)  # noqa: S506 - SafeLoader subclass
    if not isinstance(document, dict) or "Resources" not in document:
        raise TemplateError(f"{path} is not a CloudFormation template")
    return document


@dataclass(frozen=True)
class FunctionSpec:
    logical_id: str
    code_dir: Path
    handler_module: str
    handler_function: str
    layer_dirs: tuple[Path, ...]
    environment: dict[str, str]
    events: dict[str, dict[str, Any]]  # event name -> {"Type": ..., "Properties": resolved}
    # EventInvokeConfig.MaximumRetryAttempts: retries of a failed asynchronous invocation.
    maximum_retry_attempts: int = DEFAULT_MAXIMUM_RETRY_ATTEMPTS
    # EventInvokeConfig.DestinationConfig.OnFailure.Destination, resolved (an ARN), if any.
    on_failure_destination: str | None = None

    @property
    def async_attempts(self) -> int:
        """How often Lambda runs an asynchronous event at most: the first try and retries."""
        return 1 + self.maximum_retry_attempts


class Template:
    """A template with its parameters bound, able to resolve values and list functions."""

    def __init__(
        self,
        path: Path,
        *,
        stack_name: str,
        parameter_overrides: Mapping[str, str] | None = None,
        account_id: str = LOCAL_ACCOUNT_ID,
        region: str = LOCAL_REGION,
    ) -> None:
        self.path = path
        self.root = path.parent
        self.account_id = account_id
        self.region = region
        self.document = load_template(path)
        self.resources: dict[str, Any] = self.document["Resources"]
        self.pseudo = {
            "AWS::StackName": stack_name,
            "AWS::AccountId": account_id,
            "AWS::Region": region,
            "AWS::Partition": "aws",
            "AWS::URLSuffix": "amazonaws.com",
            "AWS::NoValue": None,
        }
        self.parameters: dict[str, str] = {}
        for name, spec in self.document.get("Parameters", {}).items():
            if parameter_overrides and name in parameter_overrides:
                self.parameters[name] = str(parameter_overrides[name])
            elif "Default" in spec:
                self.parameters[name] = str(spec["Default"])
            else:
                raise TemplateError(f"parameter {name} has no default and no override")
        unknown = set(parameter_overrides or {}) - set(self.parameters)
        if unknown:
            raise TemplateError(f"unknown parameter(s): {', '.join(sorted(unknown))}")

    # -- intrinsic functions -------------------------------------------------------------
    def _ref(self, name: str) -> Any:
        if name in self.pseudo:
            return self.pseudo[name]
        if name in self.parameters:
            spec = self.document.get("Parameters", {}).get(name, {})
            if spec.get("Type") == "CommaDelimitedList":
                return [item.strip() for item in self.parameters[name].split(",")]
            return self.parameters[name]
        resource = self.resources.get(name)
        if resource is None:
            raise TemplateError(f"Ref to unknown name {name}")
        if resource["Type"] == "AWS::SQS::Queue":
            # A queue's Ref is its URL; SQS (and moto) find the queue by its last segment.
            region, account = self.pseudo["AWS::Region"], self.pseudo["AWS::AccountId"]
            return f"https://sqs.{region}.amazonaws.com/{account}/{self.physical_name(name)}"
        return self.physical_name(name)

    def physical_name(self, logical_id: str) -> str:
        """The name a resource gets: its explicit name property, else a stack-derived one."""
        properties = self.resources[logical_id].get("Properties", {})
        for key in ("BucketName", "FunctionName", "QueueName", "TopicName", "TableName", "Name"):
            if key in properties:
                return str(self.resolve(properties[key]))
        return f"{self.pseudo['AWS::StackName']}-{logical_id}"

    def _get_att(self, logical_id: str, attribute: str) -> str:
        resource_type = self.resources[logical_id]["Type"]
        name = self.physical_name(logical_id)
        region, account = self.pseudo["AWS::Region"], self.pseudo["AWS::AccountId"]
        if attribute == "Arn":
            if resource_type == "AWS::S3::Bucket":
                return f"arn:aws:s3:::{name}"
            if resource_type in ("AWS::Serverless::Function", "AWS::Lambda::Function"):
                return f"arn:aws:lambda:{region}:{account}:function:{name}"
            if resource_type == "AWS::SQS::Queue":
                return f"arn:aws:sqs:{region}:{account}:{name}"
            if resource_type == "AWS::KMS::Key":
                return f"arn:aws:kms:{region}:{account}:key/{name}"
            if resource_type == "AWS::DynamoDB::Table":
                return f"arn:aws:dynamodb:{region}:{account}:table/{name}"
            if resource_type == "AWS::IAM::Role":
                return f"arn:aws:iam::{account}:role/{name}"
            if resource_type == "AWS::Events::ApiDestination":
                return f"arn:aws:events:{region}:{account}:api-destination/{name}"
        if attribute == "QueueName":
            return name
        raise TemplateError(f"GetAtt {logical_id}.{attribute} is not supported locally")

    def _sub(self, argument: Any) -> str:
        if isinstance(argument, list):
            text, variables = argument[0], {k: self.resolve(v) for k, v in argument[1].items()}
        else:
            text, variables = argument, {}

        def replace(match: re.Match[str]) -> str:
            expression = match.group(1)
            if expression.startswith("!"):
                return "${" + expression[1:] + "}"
            if expression in variables:
                return str(variables[expression])
            if "." in expression:
                logical_id, attribute = expression.split(".", 1)
                return self._get_att(logical_id, attribute)
            return str(self._ref(expression))

        return re.sub(r"\$\{([^}]+)\}", replace, str(text))

    def condition(self, name: str) -> bool:
        """Whether the template's condition ``name`` holds for these parameters."""
        return self._condition(name)

    def _condition(self, name: str) -> bool:
        conditions = self.document.get("Conditions", {})
        if name not in conditions:
            raise TemplateError(f"unknown condition {name}")
        return bool(self.resolve(conditions[name]))

    def resolve(self, value: Any) -> Any:
        """Resolve intrinsic functions in ``value`` recursively."""
        if isinstance(value, list):
            # CloudFormation drops a list member that resolves to AWS::NoValue.
            return [item for item in map(self.resolve, value) if item is not None]
        if not isinstance(value, dict):
            return value
        if len(value) == 1:
            (name, argument), *_ = value.items()
            if name == "Ref":
                return self._ref(argument)
            if name == "Fn::Sub":
                return self._sub(argument)
            if name == "Fn::GetAtt":
                parts = argument if isinstance(argument, list) else str(argument).split(".", 1)
                return self._get_att(parts[0], parts[1])
            if name == "Fn::Join":
                values = self.resolve(argument[1])  # a list, or a Ref to a list parameter
                return str(argument[0]).join(str(v) for v in values)
            if name == "Fn::Select":
                return self.resolve(argument[1])[int(self.resolve(argument[0]))]
            if name == "Fn::Split":
                return str(self.resolve(argument[1])).split(str(argument[0]))
            if name == "Fn::Equals":
                return self.resolve(argument[0]) == self.resolve(argument[1])
            if name == "Fn::Not":
                return not self.resolve(argument[0])
            if name == "Fn::And":
                return all(self.resolve(item) for item in argument)
            if name == "Fn::Or":
                return any(self.resolve(item) for item in argument)
            if name == "Fn::If":
                branch = argument[1] if self._condition(argument[0]) else argument[2]
                return self.resolve(branch)
            if name == "Condition":
                return self._condition(argument)
        return {key: self.resolve(item) for key, item in value.items()}

    # -- resources ---------------------------------------------------------------------
    def resources_of_type(self, resource_type: str) -> list[str]:
        return [lid for lid, res in self.resources.items() if res.get("Type") == resource_type]

    def function(self, logical_id: str) -> FunctionSpec:
        resource = self.resources.get(logical_id)
        if resource is None or resource.get("Type") != "AWS::Serverless::Function":
            raise TemplateError(f"{logical_id} is not an AWS::Serverless::Function")
        globals_ = self.document.get("Globals", {}).get("Function", {})
        properties = {**globals_, **resource.get("Properties", {})}
        variables = {
            **globals_.get("Environment", {}).get("Variables", {}),
            **resource.get("Properties", {}).get("Environment", {}).get("Variables", {}),
        }
        handler = str(properties["Handler"])
        module, _, function_name = handler.rpartition(".")
        layer_dirs = []
        for layer in properties.get("Layers", []):
            layer_id = layer.get("Ref") if isinstance(layer, dict) else None
            if layer_id is None or layer_id not in self.resources:
                raise TemplateError(
                    f"{logical_id}: only layers defined in the template run locally"
                )
            layer_dirs.append(self.root / self.resources[layer_id]["Properties"]["ContentUri"])
        events = {
            name: {"Type": spec["Type"], "Properties": self.resolve(spec.get("Properties", {}))}
            for name, spec in properties.get("Events", {}).items()
        }
        environment = {
            name: "" if resolved is None else str(resolved)
            for name, resolved in ((n, self.resolve(v)) for n, v in variables.items())
        }
        return FunctionSpec(
            logical_id=logical_id,
            code_dir=self.root / str(properties["CodeUri"]),
            handler_module=module,
            handler_function=function_name,
            layer_dirs=tuple(layer_dirs),
            environment=environment,
            events=events,
            maximum_retry_attempts=int(
                self.resolve(
                    properties.get("EventInvokeConfig", {}).get(
                        "MaximumRetryAttempts", DEFAULT_MAXIMUM_RETRY_ATTEMPTS
                    )
                )
            ),
            on_failure_destination=self.resolve(
                properties.get("EventInvokeConfig", {})
                .get("DestinationConfig", {})
                .get("OnFailure", {})
                .get("Destination")
            ),
        )

    def functions(self) -> list[FunctionSpec]:
        return [self.function(lid) for lid in self.resources_of_type("AWS::Serverless::Function")]

    def partition_keys(self) -> dict[str, str]:
        """Table name -> its partition (HASH) key attribute, for every AWS::DynamoDB::Table."""
        keys = {}
        for logical_id in self.resources_of_type("AWS::DynamoDB::Table"):
            schema = self.resolve(self.resources[logical_id]["Properties"]["KeySchema"])
            (hash_key,) = [k["AttributeName"] for k in schema if k["KeyType"] == "HASH"]
            keys[self.physical_name(logical_id)] = str(hash_key)
        return keys


# -- what CloudFormation refuses before it creates anything ----------------------------------
# Parameter constraints and the Rules section, evaluated the way CloudFormation documents
# them, so that tests can say which parameter values `sam deploy` would refuse, and why.

_MAX_CONDITIONS = 10  # Fn::And and Fn::Or take 2 to 10 conditions (rule functions reference)


def _list_members(value: str) -> list[str]:
    """A CommaDelimitedList value as CloudFormation splits it: on commas, each member trimmed."""
    return [member.strip() for member in value.split(",")]


def _constraint_refusals(name: str, spec: Mapping[str, Any], value: str) -> list[str]:
    kind = str(spec.get("Type", "String"))
    why = f" ({spec['ConstraintDescription']})" if "ConstraintDescription" in spec else ""
    allowed = [str(v) for v in spec.get("AllowedValues", [])]
    pattern = spec.get("AllowedPattern")
    refusals: list[str] = []
    if kind == "CommaDelimitedList":
        for member in _list_members(value):  # both constraints apply to each member
            if allowed and member not in allowed:
                refusals.append(f"Parameter {name}: {member!r} is not an allowed value{why}")
            if pattern is not None and re.fullmatch(str(pattern), member) is None:
                refusals.append(f"Parameter {name}: {member!r} must match pattern {pattern}{why}")
        return refusals
    if kind == "Number":
        try:
            number = float(value)
        except ValueError:
            return [f"Parameter {name}: {value!r} is not a number"]
        if "MinValue" in spec and number < float(spec["MinValue"]):
            refusals.append(f"Parameter {name}: {value} is below MinValue {spec['MinValue']}{why}")
        if "MaxValue" in spec and number > float(spec["MaxValue"]):
            refusals.append(f"Parameter {name}: {value} is above MaxValue {spec['MaxValue']}{why}")
        if allowed and number not in {float(v) for v in allowed}:
            refusals.append(f"Parameter {name}: {value} is not an allowed value{why}")
        return refusals
    if kind != "String":
        raise TemplateError(f"parameter {name}: type {kind} is not supported locally")
    if "MinLength" in spec and len(value) < int(spec["MinLength"]):
        refusals.append(f"Parameter {name}: shorter than MinLength {spec['MinLength']}{why}")
    if "MaxLength" in spec and len(value) > int(spec["MaxLength"]):
        refusals.append(f"Parameter {name}: longer than MaxLength {spec['MaxLength']}{why}")
    if allowed and value not in allowed:
        refusals.append(f"Parameter {name}: {value!r} is not an allowed value{why}")
    if pattern is not None and re.fullmatch(str(pattern), value) is None:
        refusals.append(f"Parameter {name}: {value!r} must match pattern {pattern}{why}")
    return refusals


def _rule_value(expression: Any, parameters: Mapping[str, Any]) -> Any:
    """Evaluate a RuleCondition or Assert with the rule functions this template uses."""
    if isinstance(expression, list):
        return [_rule_value(item, parameters) for item in expression]
    if isinstance(expression, bool):  # YAML true/false, as the strings CloudFormation sees
        return str(expression).lower()
    if not isinstance(expression, dict):
        return str(expression)  # CloudFormation compares parameter values as strings
    if len(expression) != 1:
        raise TemplateError(f"not a rule function: {expression!r}")
    (name, argument), *_ = expression.items()
    if name == "Ref":
        if argument not in parameters:
            raise TemplateError(f"rule refers to unknown parameter {argument}")
        return parameters[argument]
    arguments = _rule_value(argument, parameters)
    if name in ("Fn::And", "Fn::Or"):
        if not 2 <= len(arguments) <= _MAX_CONDITIONS:
            raise TemplateError(f"{name} takes 2 to {_MAX_CONDITIONS} conditions")
        truths = [_truth(item) for item in arguments]
        return all(truths) if name == "Fn::And" else any(truths)
    if name == "Fn::Not":
        (condition,) = arguments
        return not _truth(condition)
    if name == "Fn::Equals":
        left, right = arguments
        return bool(left == right)
    if name == "Fn::Contains":  # [list_of_strings, string]
        strings, string = arguments
        return string in _as_list(strings)
    if name == "Fn::EachMemberEquals":  # [list_of_strings, string]
        strings, string = arguments
        return all(member == string for member in _as_list(strings))
    if name == "Fn::EachMemberIn":  # [strings_to_check, strings_to_match]
        to_check, to_match = arguments
        return set(_as_list(to_check)) <= set(_as_list(to_match))
    raise TemplateError(f"rule function {name} is not supported locally")


def _truth(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if value in ("true", "false"):
        return bool(value == "true")
    raise TemplateError(f"a rule condition evaluated to {value!r}, not true or false")


def _as_list(value: Any) -> list[Any]:
    if not isinstance(value, list):
        raise TemplateError(f"a rule function wants a list of strings, got {value!r}")
    return value


def parameter_refusals(document: Mapping[str, Any], values: Mapping[str, str]) -> list[str]:
    """Why CloudFormation would refuse these parameter values; empty if it would accept them.

    ``values`` are overrides as `sam deploy --parameter-overrides` passes them; parameters
    left out take their Default. Checks each parameter's Type, AllowedValues,
    AllowedPattern, MinLength/MaxLength and MinValue/MaxValue, then every rule: its
    RuleCondition (true when absent) and, if that holds, each Assertion, reporting the
    AssertDescription of every assertion that is false.
    """
    specs: Mapping[str, Any] = document.get("Parameters", {})
    refusals = [f"Parameter {name} is not in the template" for name in values if name not in specs]
    bound: dict[str, Any] = {}
    for name, spec in specs.items():
        if name in values:
            value = str(values[name])
        elif "Default" in spec:
            value = str(spec["Default"])
        else:
            refusals.append(f"Parameter {name} needs a value")
            continue
        refusals += _constraint_refusals(name, spec, value)
        is_list = spec.get("Type") == "CommaDelimitedList"
        bound[name] = _list_members(value) if is_list else value
    if len(bound) < len(specs):
        return refusals  # CloudFormation stops at a missing value before any rule
    for rule_name, rule in document.get("Rules", {}).items():
        condition = rule.get("RuleCondition")
        if condition is not None and not _truth(_rule_value(condition, bound)):
            continue
        for assertion in rule.get("Assertions", []):
            if not _truth(_rule_value(assertion["Assert"], bound)):
                description = assertion.get("AssertDescription", "assertion failed")
                refusals.append(f"Rule {rule_name}: {description}")
    return refusals
