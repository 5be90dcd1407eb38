"""Import a function's handler exactly as Lambda would and call it with a context."""

from __future__ import annotations

import importlib.util
import os
import sys
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

from local_pipeline.template import FunctionSpec

Handler = Callable[[dict[str, Any], Any], Any]


@dataclass
class LocalLambdaContext:
    """The attributes of Lambda's context object that Powertools reads."""

    function_name: str
    memory_limit_in_mb: int = 128
    invoked_function_arn: str = ""
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    log_group_name: str = ""
    log_stream_name: str = ""

    def get_remaining_time_in_millis(self) -> int:
        return 300_000


@contextmanager
def function_environment(spec: FunctionSpec, overrides: dict[str, str]) -> Iterator[None]:
    """The template's variables for this function (plus overrides), restored afterwards."""
    wanted = {**spec.environment, **overrides}
    saved = {name: os.environ.get(name) for name in wanted}
    os.environ.update(wanted)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def add_layers_to_path(spec: FunctionSpec) -> None:
    """Make the function's layers importable, as Lambda does with /opt/python."""
    for layer_dir in spec.layer_dirs:
        if str(layer_dir) not in sys.path:
            sys.path.insert(0, str(layer_dir))


def load_handler_module(spec: FunctionSpec) -> ModuleType:
    """A fresh import of the handler module from its CodeUri, with its layers importable.

    The module gets a name unique to the function: every function's file is ``app.py``.
    """
    add_layers_to_path(spec)
    path = spec.code_dir / f"{spec.handler_module}.py"
    module_name = f"lambda_{spec.logical_id}_{spec.handler_module}"
    module_spec = importlib.util.spec_from_file_location(module_name, path)
    if module_spec is None or module_spec.loader is None:
        raise ImportError(f"cannot import {path}")
    module = importlib.util.module_from_spec(module_spec)
    sys.modules[module_name] = module
    module_spec.loader.exec_module(module)
    return module


def load_handler(spec: FunctionSpec) -> Handler:
    handler: Handler = getattr(load_handler_module(spec), spec.handler_function)
    return handler
