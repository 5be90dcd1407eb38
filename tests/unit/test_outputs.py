"""The six outputs of every fixture, byte for byte, as process.render_outputs writes them.

tests/unit/golden/<fixture>/<output> holds the expected bytes (transcript.json is the
fixture itself). When an output changes on purpose, rewrite them and review the diff:

    UPDATE_GOLDEN=1 .venv/bin/pytest tests/unit/test_outputs.py
"""

from __future__ import annotations

import ast
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import REPO
from tests.unit.conftest import ALL_FIXTURES, fixture_bytes, parsed
from transcription_pipeline import outputs as outputs_module
from transcription_pipeline import render, words
from transcription_pipeline.naming import (
    CHAPTERS_VTT,
    SUBTITLES_SRT,
    SUBTITLES_VTT,
    SUMMARY_JSON,
    SUMMARY_MARKDOWN,
    TRANSCRIPT_DOCX,
    TRANSCRIPT_HTML,
    TRANSCRIPT_JSON,
    TRANSCRIPT_TEXT,
    S3Location,
)
from transcription_pipeline.outputs import RenderedOutputs, render_outputs
from transcription_pipeline.summary import Summary
from transcription_pipeline.summary import offline as summary_offline

GOLDEN = Path(__file__).resolve().parent / "golden"
GENERATED = [
    TRANSCRIPT_TEXT,
    SUBTITLES_SRT,
    SUBTITLES_VTT,
    CHAPTERS_VTT,
    SUMMARY_JSON,
    SUMMARY_MARKDOWN,
]
SOURCE = S3Location("in", "talk.mp4")
CREATED = "2026-01-01T00:00:00Z"


def outputs(name: str) -> RenderedOutputs:
    return render_outputs(fixture_bytes(name), parsed(name), SOURCE, CREATED)


@pytest.mark.parametrize("output", GENERATED)
@pytest.mark.parametrize("name", ALL_FIXTURES)
def test_output_is_byte_identical_to_golden(name: str, output: str) -> None:
    content = outputs(name).files[output]
    golden = GOLDEN / name / output
    if os.environ.get("UPDATE_GOLDEN"):
        golden.parent.mkdir(parents=True, exist_ok=True)
        golden.write_bytes(content)
    assert content == golden.read_bytes()


@pytest.mark.parametrize("name", ALL_FIXTURES)
def test_every_output_and_the_transcript_as_received(name: str) -> None:
    files = outputs(name).files
    # The page and the document are checked by their own tests (test_transcript_page.py,
    # tests/browser, test_transcript_docx.py), not byte for byte.
    assert set(files) == {TRANSCRIPT_JSON, *GENERATED, TRANSCRIPT_HTML, TRANSCRIPT_DOCX}
    assert files[TRANSCRIPT_JSON] == fixture_bytes(name)


@pytest.mark.parametrize("name", ALL_FIXTURES)
def test_golden_summary_round_trips(name: str) -> None:
    golden = (GOLDEN / name / SUMMARY_JSON).read_bytes()
    summary = Summary.from_dict(json.loads(golden))
    assert summary.to_json() == golden
    assert summary == outputs(name).summary


def test_process_result_reads_the_typed_summary() -> None:
    typed = outputs("03-speaker-identification.json").summary
    assert isinstance(typed, Summary)
    assert typed.word_count == 354
    assert typed.duration_seconds == 141.54


def counting(monkeypatch: pytest.MonkeyPatch, name: str) -> list[int]:
    """Count the calls of outputs.<name>, which render_outputs uses."""
    calls: list[int] = []
    original: Callable[..., Any] = getattr(outputs_module, name)

    def counted(*args: Any, **kwargs: Any) -> Any:
        calls.append(1)
        return original(*args, **kwargs)

    monkeypatch.setattr(outputs_module, name, counted)
    return calls


def test_words_and_cues_are_computed_once(monkeypatch: pytest.MonkeyPatch) -> None:
    grouped = counting(monkeypatch, "group_words")
    built = counting(monkeypatch, "build_cues")
    turned = counting(monkeypatch, "turns_of")
    # Any other grouping (a renderer grouping again) would go through these modules.
    monkeypatch.setattr(words, "group_words", None)
    monkeypatch.setattr(render, "group_words", None)
    monkeypatch.setattr(summary_offline, "group_words", None)
    outputs("03-speaker-identification.json")
    assert (len(grouped), len(built), len(turned)) == (1, 1, 1)


def imported_modules(module: str) -> set[str]:
    """Modules imported by ``module`` (a file, or every file of a package folder)."""
    path = REPO / "layers" / "transcription_pipeline" / "transcription_pipeline" / module
    files = sorted(path.glob("*.py")) if path.is_dir() else [path]
    return {
        node.module
        for file in files
        for node in ast.walk(ast.parse(file.read_text(encoding="utf-8")))
        if isinstance(node, ast.ImportFrom) and node.module is not None
    }


def test_render_and_summary_are_siblings() -> None:
    assert not any(
        m.startswith("transcription_pipeline.summary") for m in imported_modules("render")
    )
    assert "transcription_pipeline.render" not in imported_modules("summary")
    assert "transcription_pipeline.words" in imported_modules("render")
    assert "transcription_pipeline.words" in imported_modules("summary")
