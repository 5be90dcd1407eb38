"""What the tests of the offline Transcribe share: longer recordings, made on the spot.

There is no network and no other recording of speech here: a long recording is
samples/sample-talk.mp4's 15.4 s of speech back to back (PyAV), as often as needed; what
was said is the sample's text as often.
"""

from __future__ import annotations

import wave
from pathlib import Path

import pytest

from tests.conftest import REPO

SAMPLE = REPO / "samples" / "sample-talk.mp4"
SAMPLE_TEXT = (REPO / "samples" / "sample-talk.txt").read_text(encoding="utf-8").strip()


def looped_sample(path: Path, times: int) -> Path:
    """An AAC .mp4 (audio only) of the sample's audio ``times`` times over."""
    import av
    import numpy as np

    with av.open(str(SAMPLE)) as source:
        stream = source.streams.audio[0]
        rate, layout = stream.rate, stream.layout.name
        pcm = np.concatenate([frame.to_ndarray() for frame in source.decode(stream)], axis=1)
    with av.open(str(path), "w") as out:
        encoder = out.add_stream("aac", rate=rate, layout=layout)
        pts = 0
        for _ in range(times):
            for start in range(0, pcm.shape[1], 1024):
                frame = av.AudioFrame.from_ndarray(
                    np.ascontiguousarray(pcm[:, start : start + 1024]), format="fltp", layout=layout
                )
                frame.sample_rate = rate
                frame.pts = pts
                pts += frame.samples
                out.mux(encoder.encode(frame))
        out.mux(encoder.encode(None))
    return path


def looped_text(times: int) -> str:
    return " ".join([SAMPLE_TEXT] * times)


def silent_wav(path: Path, seconds: float, *, rate: int = 16_000) -> Path:
    """Mono 16-bit silence (stdlib only), written a minute at a time."""
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        left = int(seconds * rate)
        while left > 0:
            step = min(left, 60 * rate)
            out.writeframes(b"\x00\x00" * step)
            left -= step
    return path


@pytest.fixture(scope="session")
def four_minutes(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The sample 16 times over: 4:07 of speech."""
    pytest.importorskip("av", reason="needs requirements-local.txt")
    return looped_sample(tmp_path_factory.mktemp("media") / "four-minutes.mp4", 16)
