"""The layout of the tests: no test module imports another test module.

What several test modules share lives in a conftest.py (tests/conftest.py, or the one of
their folder) as a fixture or a plain function; importing a test module instead would
collect its tests twice under another name and tie one module's helpers to another's tests.
"""

from __future__ import annotations

import ast

import pytest

from tests.conftest import REPO

TESTS = REPO / "tests"


def is_test_module(dotted: str) -> bool:
    return dotted.rsplit(".", 1)[-1].startswith("test_")


def imported_test_modules(source: str) -> list[str]:
    """The test modules ``source`` imports, however it spells the import."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [alias.name for alias in node.names if is_test_module(alias.name)]
        elif isinstance(node, ast.ImportFrom):
            module = "." * node.level + (node.module or "")
            if is_test_module(module):
                found.append(module)
            else:  # from tests.handlers import test_start_handler
                prefix = module if module.endswith(".") else module + "."
                found += [prefix + a.name for a in node.names if is_test_module(a.name)]
    return found


@pytest.mark.parametrize(
    "source",
    [
        "from tests.handlers.test_start_handler import s3_record",
        "import tests.static.test_static_checks",
        "from tests.handlers import test_process_handler",
        "from .test_start_handler import jobs",
        "from . import test_start_handler",
        "import test_redrive",
        "def f():\n    from tests.unit.test_media import x",
    ],
)
def test_every_spelling_of_a_test_module_import_is_found(source: str) -> None:
    assert imported_test_modules(source)


@pytest.mark.parametrize(
    "source",
    [
        "from tests.conftest import REPO",
        "from tests.handlers.conftest import Stack",
        "from local_pipeline.template import Template",
        "import pytest",
    ],
)
def test_conftest_and_library_imports_are_allowed(source: str) -> None:
    assert imported_test_modules(source) == []


def test_no_test_module_imports_another_test_module() -> None:
    offenders = {
        str(path.relative_to(REPO)): imported
        for path in sorted(TESTS.rglob("*.py"))
        if (imported := imported_test_modules(path.read_text(encoding="utf-8")))
    }

    assert offenders == {}, "move what they share into a conftest.py"
