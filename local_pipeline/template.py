"""Read template.yaml the way CloudFormation would, for running it locally.

Only what a local run needs: parameters with their defaults, the intrinsics this kind
of template uses (Ref, Sub, GetAtt, Join, Select, Split, If, Equals, Not), the
Globals merged into each function, and the functions' events. Everything is derived
from the template, so a renamed function or a new variable needs no change here.
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
            return self.parameters[name]
        resource = self.resources.get(name)
        if resource is None:
            raise TemplateError(f"Ref to unknown name {name}")
        return self.physical_name(name)

    def physical_name(self, logical_id: str) -> str:
        """The name a resource gets: its explicit name property, else a stack-derived one."""
        properties = self.resources[logical_id].get("Properties", {})
        for key in ("BucketName", "FunctionName", "QueueName", "TopicName", "Name"):
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

    def _condition(self, name: str) -> bool:
        conditions = self.document.get("Conditions", {})
        if name not in conditions:
            raise TemplateError(f"unknown condition {name}")
        return bool(self.resolve(conditions[name]))

    def resolve(self, value: Any) -> Any:
        """Resolve intrinsic functions in ``value`` recursively."""
        if isinstance(value, list):
            return [self.resolve(item) for item in value]
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
                return str(argument[0]).join(str(self.resolve(v)) for v in argument[1])
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
        )

    def functions(self) -> list[FunctionSpec]:
        return [self.function(lid) for lid in self.resources_of_type("AWS::Serverless::Function")]
