"""Speaker names given for an upload replace the labels in every output, consistently."""

from __future__ import annotations

import io
import json
import zipfile

from tests.unit.conftest import fixture_json, parsed
from transcription_pipeline.naming import (
    SUBTITLES_SRT,
    SUBTITLES_VTT,
    SUMMARY_JSON,
    SUMMARY_MARKDOWN,
    TRANSCRIPT_TEXT,
    S3Location,
)
from transcription_pipeline.outputs import render_outputs

FIXTURE = "03-speaker-identification.json"
SOURCE = S3Location("in", "talks/panel.mp4")


def outputs(**options: object) -> dict[str, str]:
    raw = json.dumps(fixture_json(FIXTURE)).encode()
    rendered = render_outputs(raw, parsed(FIXTURE), SOURCE, "2026-01-01T00:00:00Z", **options)  # type: ignore[arg-type]
    return {name: readable(name, body) for name, body in rendered.files.items()}


def readable(name: str, body: bytes) -> str:
    """A file's text; for transcript.docx its document part (a zip holds it)."""
    if name.endswith(".docx"):
        with zipfile.ZipFile(io.BytesIO(body)) as package:
            return package.read("word/document.xml").decode()
    return body.decode()


def test_names_in_order_of_first_appearance_reach_every_output() -> None:
    named = outputs(speaker_names=("Ana", "Ben", "Cleo"))
    plain = outputs()
    # The fixture's speakers first speak in the order spk_0, spk_1, spk_2.
    for label, name in (("spk_0", "Ana"), ("spk_1", "Ben"), ("spk_2", "Cleo")):
        assert f"{label}: " in plain[SUBTITLES_SRT]
        assert f"{name}: " in named[SUBTITLES_SRT]
        assert f"<v {label}>" in plain[SUBTITLES_VTT]
        assert f"<v {name}>" in named[SUBTITLES_VTT]
        assert f"] {label}: " in plain[TRANSCRIPT_TEXT]
        assert f"] {name}: " in named[TRANSCRIPT_TEXT]
        assert (
            f"{label}" not in named[SUBTITLES_SRT] + named[SUBTITLES_VTT] + named[TRANSCRIPT_TEXT]
        )
        assert (
            f"**{name}**" in named[SUMMARY_MARKDOWN]
            or f"| {name} |" in named[SUMMARY_MARKDOWN]
            or name in named[SUMMARY_MARKDOWN]
        )
    summary = json.loads(named[SUMMARY_JSON])
    assert summary["speaker_names"] == {"spk_0": "Ana", "spk_1": "Ben", "spk_2": "Cleo"}
    assert {s["label"] for s in summary["speakers"]} == {"Ana", "Ben", "Cleo"}
    assert "speaker_names" not in json.loads(plain[SUMMARY_JSON])


def test_a_label_map_names_only_who_it_names() -> None:
    named = outputs(speaker_names=(("spk_1", "Ben"),))
    assert "Ben: " in named[SUBTITLES_SRT]
    assert "spk_0: " in named[SUBTITLES_SRT]  # unnamed speakers keep their label
    assert json.loads(named[SUMMARY_JSON])["speaker_names"] == {"spk_1": "Ben"}


def test_a_title_heads_the_summary() -> None:
    named = outputs(title="Quarterly panel")
    assert named[SUMMARY_MARKDOWN].startswith("# Transcript summary: Quarterly panel\n")
    assert json.loads(named[SUMMARY_JSON])["title"] == "Quarterly panel"
    assert outputs()[SUMMARY_MARKDOWN].startswith("# Transcript summary: panel.mp4\n")


def test_without_names_or_title_the_outputs_are_unchanged_bytes() -> None:
    assert outputs() == outputs(speaker_names=(), title=None)
