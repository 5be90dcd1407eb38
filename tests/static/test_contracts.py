"""Contracts with one source: what other code reads from template.yaml or from a pin must
be what template.yaml and the pins say (only .venv needed: YAML and the code's own names).

- The stack outputs ``operations/redrive.py``, ``smoke.py`` and ``regenerate.py`` read are
  template.yaml's Outputs, each naming the kind of resource the command expects.
- The dead-letter queues the commands handle are every dead-letter queue of the template,
  and redrive sends each back where its messages came from (a queue, or a function).
- The environment variables the code reads are the ones template.yaml declares, and
  every declared one is read by someone (the code, Powertools or botocore).
- aws-lambda-powertools has one version: the layer's and the development environment's.

(The local cloud's retry count per function, read from EventInvokeConfig, is tested in
tests/local/test_cloud_retries.py.)
"""

from __future__ import annotations

import ast
import importlib.metadata
import re
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from local_pipeline.template import Template, load_template
from operations import redrive, regenerate, smoke
from tests.conftest import REPO

TEMPLATE = REPO / "template.yaml"
STACK = "transcription-pipeline"

# The names a command reads from the stack, as it declares them.
DECLARED_OUTPUTS: dict[str, set[str]] = {
    "redrive": {
        *redrive.QUEUE_OUTPUTS.values(),
        redrive.PROCESS_FUNCTION_OUTPUT,
        redrive.UPLOAD_QUEUE_OUTPUT,
    },
    "smoke": {*smoke.REQUIRED_OUTPUTS, *smoke.DEAD_LETTER_OUTPUTS, *smoke.FUNCTION_OUTPUTS},
    "regenerate": set(regenerate.REQUIRED_OUTPUTS),
}
COMMANDS: dict[str, ModuleType] = {"redrive": redrive, "smoke": smoke, "regenerate": regenerate}
# A string in a command that names a stack output, by the kinds of output the template has
# (bucket names, queue URLs, function and topic ARNs, the job name prefix).
OUTPUT_LIKE = re.compile(r"[A-Z][A-Za-z]*(BucketName|QueueUrl|FunctionArn|TopicArn|NamePrefix)")


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    return load_template(TEMPLATE)


def output_like_strings(module: ModuleType) -> set[str]:
    """Every string literal of the module's source that looks like a stack output name."""
    assert module.__file__ is not None
    tree = ast.parse(Path(module.__file__).read_text(encoding="utf-8"))
    return {
        node.value
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant)
        and isinstance(node.value, str)
        and OUTPUT_LIKE.fullmatch(node.value)
    }


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_the_outputs_a_command_reads_are_the_templates_outputs(
    document: dict[str, Any], command: str
) -> None:
    outputs = set(document["Outputs"])
    declared = DECLARED_OUTPUTS[command]
    spelled_out = output_like_strings(COMMANDS[command])

    assert declared <= outputs, f"not in template.yaml Outputs: {sorted(declared - outputs)}"
    # A name written out anywhere else in the command is one of its declared names, so the
    # constants above are the whole list (and smoke's check for missing outputs covers it).
    assert spelled_out <= declared, f"read but not declared: {sorted(spelled_out - declared)}"
    assert spelled_out, "the command no longer spells out any output name: update this test"


def test_every_output_the_commands_read_names_the_resource_they_expect(
    document: dict[str, Any],
) -> None:
    resources = document["Resources"]
    for name in set().union(*DECLARED_OUTPUTS.values()):
        value = document["Outputs"][name]["Value"]
        if name.endswith("QueueUrl"):
            # Both commands name a queue by its output without "Url": its logical id.
            queue = name.removesuffix("Url")
            assert value == {"Ref": queue}, name
            assert resources[queue]["Type"] == "AWS::SQS::Queue", name
        elif name.endswith("FunctionArn"):
            # smoke names a function's log group by its output without "Arn".
            function = name.removesuffix("Arn")
            assert value == {"Fn::GetAtt": [function, "Arn"]}, name
            assert resources[function]["Type"] == "AWS::Serverless::Function", name
        elif name.endswith("BucketName"):
            assert resources[value["Ref"]]["Type"] == "AWS::S3::Bucket", name
        elif name in ("JobNamePrefix", "RequestSource"):
            pass  # below: what the functions name jobs with, and listen to
        else:
            pytest.fail(f"{name}: a kind of output this test does not know yet")

    template = Template(TEMPLATE, stack_name=STACK)
    prefix = template.resolve(document["Outputs"]["JobNamePrefix"]["Value"])
    start = template.function("StartTranscriptionFunction")
    assert prefix == start.environment["JOB_NAME_PREFIX"]
    # make regenerate sends with this source; the process function's rule listens to it.
    request_source = template.resolve(document["Outputs"]["RequestSource"]["Value"])
    rule = template.function("ProcessTranscriptFunction").events["RegenerateRequested"]
    assert rule["Properties"]["Pattern"]["source"] == [request_source]


def dead_letter_queues(document: dict[str, Any]) -> dict[str, str | None]:
    """Every queue of the template that holds what failed for good -> where it came from:
    the queue whose RedrivePolicy names it, the function whose on-failure destination it
    is, or None (an EventBridge rule's DeadLetterConfig: the event names its target)."""
    queues: dict[str, str | None] = {}
    for logical_id, resource in document["Resources"].items():
        properties = resource.get("Properties", {})
        if resource["Type"] == "AWS::SQS::Queue" and "RedrivePolicy" in properties:
            target = properties["RedrivePolicy"]["deadLetterTargetArn"]
            queues[target["Fn::GetAtt"][0]] = logical_id
        if resource["Type"] != "AWS::Serverless::Function":
            continue
        destination = (
            properties.get("EventInvokeConfig", {})
            .get("DestinationConfig", {})
            .get("OnFailure", {})
            .get("Destination")
        )
        if destination is not None:
            queues[destination["Fn::GetAtt"][0]] = logical_id
        for event in properties.get("Events", {}).values():
            dead_letter = event.get("Properties", {}).get("DeadLetterConfig", {}).get("Arn")
            if dead_letter is not None:
                queues[dead_letter["Fn::GetAtt"][0]] = None
    return queues


def test_the_commands_handle_every_dead_letter_queue_of_the_template(
    document: dict[str, Any],
) -> None:
    queues = dead_letter_queues(document)
    assert queues, "template.yaml has no dead-letter queue: update this test"
    queue_outputs = {f"{queue}Url" for queue in queues}

    assert set(redrive.QUEUE_OUTPUTS.values()) == queue_outputs
    assert set(smoke.DEAD_LETTER_OUTPUTS) == queue_outputs
    resources = document["Resources"]
    sources = {source for source in queues.values() if source is not None}
    # A queue's dead letters go back to that queue (the upload queue: the same path as a
    # new upload); a function's on-failure records are replayed to that function.
    source_queues = {s for s in sources if resources[s]["Type"] == "AWS::SQS::Queue"}
    source_functions = sources - source_queues
    assert {f"{queue}Url" for queue in source_queues} == {redrive.UPLOAD_QUEUE_OUTPUT}
    assert {f"{function}Arn" for function in source_functions} <= {redrive.PROCESS_FUNCTION_OUTPUT}


def test_the_upload_queue_s_dead_letters_are_what_the_start_function_reads(
    document: dict[str, Any],
) -> None:
    """redrive moves the upload queue's dead letters back to the queue the start function
    reads: the queue of its SQS event, named by the output redrive reads."""
    (event,) = document["Resources"]["StartTranscriptionFunction"]["Properties"]["Events"].values()
    assert event["Type"] == "SQS"
    queue = event["Properties"]["Queue"]["Fn::GetAtt"][0]
    assert document["Outputs"][redrive.UPLOAD_QUEUE_OUTPUT]["Value"] == {"Ref": queue}
    dead_letters = document["Resources"][queue]["Properties"]["RedrivePolicy"]
    dead_letter_queue = dead_letters["deadLetterTargetArn"]["Fn::GetAtt"][0]
    assert f"{dead_letter_queue}Url" == redrive.QUEUE_OUTPUTS["start"]


# -- environment variables: declared where they are read -----------------------------------

CODE_DIRS = [
    REPO / "layers" / "transcription_pipeline" / "transcription_pipeline",
    REPO / "functions",
]
# Read by a library, not by our code: Powertools' logger and metrics, botocore's endpoint.
READ_BY_LIBRARIES = {
    "POWERTOOLS_SERVICE_NAME",
    "POWERTOOLS_METRICS_NAMESPACE",
    "POWERTOOLS_LOG_LEVEL",
    "AWS_ENDPOINT_URL",
}
# config.py's readers: the variable name is their second argument.
_READERS = {"_required", "_flag", "_whole_number"}
_VARIABLE = re.compile(r"^[A-Z][A-Z0-9_]+$")


def _is_environ(node: ast.AST) -> bool:
    """``os.environ`` or a parameter called ``env`` (config.py reads a Mapping of it)."""
    if isinstance(node, ast.Attribute):
        return node.attr == "environ" and isinstance(node.value, ast.Name)
    return isinstance(node, ast.Name) and node.id == "env"


def variables_read(source: str) -> set[str]:
    """Environment variable names the source reads: ``env.get("X")``, ``os.environ["X"]``,
    ``os.getenv("X")``, ``_required(env, "X")`` and the like."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        arguments: list[ast.expr] = []
        if isinstance(node, ast.Call):
            function = node.func
            if isinstance(function, ast.Attribute) and function.attr == "get":
                if _is_environ(function.value):
                    arguments = node.args[:1]
            elif isinstance(function, ast.Attribute) and function.attr == "getenv":
                arguments = node.args[:1]
            elif isinstance(function, ast.Name) and function.id in _READERS:
                arguments = node.args[1:2]
        elif isinstance(node, ast.Subscript) and _is_environ(node.value):
            arguments = [node.slice]
        for argument in arguments:
            if (
                isinstance(argument, ast.Constant)
                and isinstance(argument.value, str)
                and _VARIABLE.match(argument.value)
            ):
                found.add(argument.value)
    return found


def test_the_reader_finds_every_spelling() -> None:
    source = (
        "import os\n"
        "a = env.get('ONE', '')\n"
        "b = os.environ.get('TWO')\n"
        "c = os.environ['THREE']\n"
        "d = os.getenv('FOUR')\n"
        "e = _required(env, 'FIVE')\n"
        "f = _whole_number(env, 'SIX', 1, 0, 2)\n"
        "g = settings.get('NOT_AN_ENV_READ')\n"
    )
    assert variables_read(source) == {"ONE", "TWO", "THREE", "FOUR", "FIVE", "SIX"}


def code_variables() -> set[str]:
    return {
        name
        for folder in CODE_DIRS
        for path in sorted(folder.rglob("*.py"))
        for name in variables_read(path.read_text(encoding="utf-8"))
    }


def test_every_variable_the_code_reads_is_declared_for_every_function() -> None:
    read = code_variables()
    template = Template(TEMPLATE, stack_name=STACK)

    assert {"INPUT_BUCKET", "UPLOAD_QUEUE_URL", "IN_FLIGHT_TABLE"} <= read  # the reader works
    for spec in template.functions():
        missing = read - set(spec.environment)
        assert not missing, f"{spec.logical_id} is not given {sorted(missing)}"


def test_every_declared_variable_is_read() -> None:
    """A variable no one reads is a setting that silently does nothing (a parameter that
    was removed from the code, such as ReconcileLookbackHours)."""
    read = code_variables() | READ_BY_LIBRARIES
    template = Template(TEMPLATE, stack_name=STACK)

    for spec in template.functions():
        unread = set(spec.environment) - read
        assert not unread, f"{spec.logical_id} declares {sorted(unread)}, read by nothing"


# -- one Powertools version --------------------------------------------------------------------


def pins(requirements: Path) -> dict[str, Requirement]:
    """The requirements of a pip requirements file, by canonical project name."""
    found: dict[str, Requirement] = {}
    for line in requirements.read_text(encoding="utf-8").splitlines():
        line = line.split("#", 1)[0].strip()
        if line and not line.startswith("-"):
            requirement = Requirement(line)
            found[canonicalize_name(requirement.name)] = requirement
    return found


def layer_requirements(document: dict[str, Any]) -> Path:
    """The requirements file `sam build` installs into the layer (BuildMethod: makefile)."""
    (layer,) = (
        resource
        for resource in document["Resources"].values()
        if resource["Type"] == "AWS::Serverless::LayerVersion"
    )
    assert layer["Metadata"]["BuildMethod"] == "makefile"
    folder = REPO / str(layer["Properties"]["ContentUri"])
    assert "-r requirements.txt" in (folder / "Makefile").read_text(encoding="utf-8")
    return folder / "requirements.txt"


@pytest.mark.parametrize("package", ["aws-lambda-powertools", "stopwordsiso"])
def test_the_layer_and_the_local_environment_pin_the_same_packages(
    document: dict[str, Any], package: str
) -> None:
    name = canonicalize_name(package)
    layer = pins(layer_requirements(document))[name]
    local = pins(REPO / "requirements-runtime.txt")[name]

    (layer_pin,) = layer.specifier
    assert layer_pin.operator == "=="
    assert local.specifier == layer.specifier, (
        f"requirements-runtime.txt pins {local}, the layer {layer}: the tests and the demo "
        "would not run what Lambda runs"
    )
    installed = importlib.metadata.version(name)
    assert installed == layer_pin.version, (
        f"this environment has {package} {installed}, the pin is {layer_pin.version}: "
        "run make (it reinstalls .venv when the requirements change)"
    )
