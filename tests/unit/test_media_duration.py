"""Tests for media_duration on the real files in tests/media and samples/.

The expected lengths are ffprobe's (Debian ffmpeg 5.1:
``ffprobe -v error -show_entries format=duration``), for the committed files
and for the variants the tests build from them.
"""

from __future__ import annotations

import math
import random
import struct
from pathlib import Path

import pytest

from transcription_pipeline.media.duration import MediaDuration, media_duration
from transcription_pipeline.media.probe import MAX_PROBE_BYTES

MEDIA = Path(__file__).parent.parent / "media"
SAMPLES = Path(__file__).parent.parent.parent / "samples"
EXACT_TOLERANCE = 0.010  # seconds, against ffprobe
ESTIMATE_TOLERANCE = 0.05  # relative, for the CBR estimate


def media(name: str) -> bytes:
    return (MEDIA / name).read_bytes()


class Reader:
    """A range reader over ``data`` (zeros beyond it, up to ``size``) that counts every read.

    It fails the test on a read outside the object, past the first 64 KiB, or
    over the budget.
    """

    def __init__(self, data: bytes, size: int | None = None) -> None:
        self.data = data
        self.size = len(data) if size is None else size
        self.calls: list[tuple[int, int]] = []

    @property
    def requested(self) -> int:
        return sum(length for _, length in self.calls)

    def __call__(self, offset: int, length: int) -> bytes:
        assert offset >= 0, offset
        assert length > 0, length
        assert offset + length <= self.size, (offset, length, self.size)
        assert offset + length <= MAX_PROBE_BYTES, (offset, length)  # the first 64 KiB only
        self.calls.append((offset, length))
        assert self.requested <= MAX_PROBE_BYTES
        piece = self.data[offset : offset + length]
        return piece + bytes(length - len(piece))


def duration(data: bytes, size: int | None = None) -> tuple[MediaDuration | None, Reader]:
    reader = Reader(data, size)
    result = media_duration(reader.size, reader)
    if result is not None:
        assert math.isfinite(result.seconds)
        assert result.seconds > 0
    return result, reader


def exact(data: bytes, size: int | None = None) -> tuple[float, Reader]:
    result, reader = duration(data, size)
    assert result is not None
    assert result.exact, result
    return result.seconds, reader


# ffprobe's format duration for each committed file whose header states it.
EXACT_FILES = [
    (MEDIA / "tone.wav", 1.0),
    (MEDIA / "surround.wav", 0.1),
    (MEDIA / "tone.flac", 1.0),
    (MEDIA / "surround.flac", 0.25),
    (MEDIA / "tone.mp3", 1.584),  # ID3 tag, then a LAME Info header with 44 frames
    (MEDIA / "tone-noid3.mp3", 1.584),
    (MEDIA / "tone.mp4", 1.5),  # moov at the end, but within the first 64 KiB
    (MEDIA / "faststart.mp4", 1.5),
    (MEDIA / "tone.m4a", 1.5),
    (MEDIA / "surround.m4a", 0.5),
    (MEDIA / "video.mp4", 1.6),
    (MEDIA / "noaudio.mp4", 1.6),
    (MEDIA / "video.mov", 1.6),
    (MEDIA / "opus.webm", 1.508),
    (MEDIA / "vorbis.webm", 1.532),
    (MEDIA / "surround.webm", 0.508),
    (MEDIA / "video.mkv", 1.632),
    (SAMPLES / "sample-talk.mp4", 15.4),
    (SAMPLES / "sample-talk.webm", 15.407),
]


@pytest.mark.parametrize(("path", "expected"), EXACT_FILES, ids=lambda v: getattr(v, "name", ""))
def test_header_duration_matches_ffprobe(path: Path, expected: float) -> None:
    data = path.read_bytes()
    seconds, reader = exact(data)
    assert seconds == pytest.approx(expected, abs=EXACT_TOLERANCE)
    # One ranged read: the whole file when small, else the 32 KiB head.
    assert reader.calls == [(0, min(len(data), 32 * 1024))]


@pytest.mark.parametrize("name", ["opus.ogg", "vorbis.ogg", "surround.ogg", "tone.amr"])
def test_formats_without_a_length_in_the_header_give_none(name: str) -> None:
    data = media(name)
    result, reader = duration(data)
    assert result is None
    assert reader.calls == [(0, len(data))]


# --- MP4 -------------------------------------------------------------------------


def boxes(data: bytes, start: int = 0, end: int | None = None) -> dict[bytes, tuple[int, int]]:
    """(offset, size) of the first box of each type in ``data[start:end]``."""
    end = len(data) if end is None else end
    found: dict[bytes, tuple[int, int]] = {}
    off = start
    while off + 8 <= end:
        size, kind = struct.unpack_from(">I4s", data, off)
        found.setdefault(kind, (off, size))
        off += size
    return found


def box_path(data: bytes, *path: bytes) -> int:
    """Offset of the box at ``path`` (first of each type)."""
    start, end, off = 0, len(data), 0
    for kind in path:
        off, size = boxes(data, start, end)[kind]
        start, end = off + 8, off + size
    return off


def set_mvhd_duration(data: bytes, ticks: int) -> bytes:
    mvhd = box_path(data, b"moov", b"mvhd")
    assert data[mvhd + 8] == 0  # version 0: duration after flags, two times, timescale
    return data[: mvhd + 24] + struct.pack(">I", ticks) + data[mvhd + 28 :]


def test_mp4_without_faststart_beyond_64_kib_gives_none_without_reading_the_end() -> None:
    tone = media("tone.mp4")  # ftyp, free, mdat, moov
    parts = boxes(tone)
    mdat_off, mdat_size = parts[b"mdat"]
    moov_off, moov_size = parts[b"moov"]
    grown = 10 * 1024 * 1024
    data = (
        tone[:mdat_off]
        + struct.pack(">I4s", grown, b"mdat")
        + tone[mdat_off + 8 : mdat_off + mdat_size]
        + bytes(grown - mdat_size)
        + tone[moov_off : moov_off + moov_size]
    )
    result, reader = duration(data)
    assert result is None
    assert reader.requested == 32 * 1024  # the Reader fails any read past 64 KiB


def test_mp4_moov_after_the_head_but_within_64_kib() -> None:
    tone = media("tone.mp4")
    parts = boxes(tone)
    mdat_off, mdat_size = parts[b"mdat"]
    moov_off, moov_size = parts[b"moov"]
    grown = 40 * 1024
    data = (
        tone[:mdat_off]
        + struct.pack(">I4s", grown, b"mdat")
        + tone[mdat_off + 8 : mdat_off + mdat_size]
        + bytes(grown - mdat_size)
        + tone[moov_off : moov_off + moov_size]
    )
    seconds, reader = exact(data)
    assert seconds == pytest.approx(1.5, abs=EXACT_TOLERANCE)
    assert len(reader.calls) <= 3
    assert reader.requested < 32 * 1024 + 1024


def test_mp4_faststart_in_a_large_object_reads_only_the_head() -> None:
    seconds, reader = exact((SAMPLES / "sample-talk.mp4").read_bytes(), 500 * 1024 * 1024)
    assert seconds == pytest.approx(15.4, abs=EXACT_TOLERANCE)
    assert reader.calls == [(0, 32 * 1024)]


def test_mp4_zero_mvhd_uses_the_audio_tracks_mdhd() -> None:
    # video.mp4: the video track lasts 1.6 s, the audio track's mdhd 1.564 s:
    # 1.5 s plus the AAC encoder's 1024 priming samples at 16 kHz, which the
    # edit list hides (ffprobe's audio stream: 1.5 s; its format: 0, from mvhd).
    data = set_mvhd_duration(media("video.mp4"), 0)
    seconds, _ = exact(data)
    assert seconds == pytest.approx(1.5 + 1024 / 16000, abs=0.001)
    unknown = set_mvhd_duration(media("faststart.mp4"), 0xFFFFFFFF)
    assert exact(unknown)[0] == pytest.approx(1.5 + 1024 / 16000, abs=0.001)


def test_mp4_zero_mvhd_without_audio_gives_none() -> None:
    assert duration(set_mvhd_duration(media("noaudio.mp4"), 0))[0] is None


def test_mp4_zero_mvhd_and_zero_mdhd_gives_none() -> None:
    data = set_mvhd_duration(media("faststart.mp4"), 0)
    mdhd = box_path(data, b"moov", b"trak", b"mdia", b"mdhd")
    data = data[: mdhd + 24] + bytes(4) + data[mdhd + 28 :]
    assert duration(data)[0] is None


def test_mp4_mvhd_version_1() -> None:
    data = media("faststart.mp4")
    moov = box_path(data, b"moov")
    mvhd = box_path(data, b"moov", b"mvhd")
    timescale, ticks = struct.unpack_from(">II", data, mvhd + 20)
    mvhd_size = struct.unpack_from(">I", data, mvhd)[0]
    rest = data[mvhd + 28 : mvhd + mvhd_size]  # after the duration
    # Version 1: 64-bit creation and modification times and duration.
    mvhd_v1 = (
        struct.pack(">I4sB3sQQIQ", mvhd_size + 12, b"mvhd", 1, b"\0\0\0", 0, 0, timescale, ticks)
        + rest
    )
    moov_size = struct.unpack_from(">I", data, moov)[0]
    moov_v1 = (
        struct.pack(">I4s", moov_size + 12, b"moov")
        + data[moov + 8 : mvhd]
        + mvhd_v1
        + data[mvhd + mvhd_size : moov + moov_size]
    )
    seconds, _ = exact(data[:moov] + moov_v1 + data[moov + moov_size :])
    assert seconds == pytest.approx(1.5, abs=EXACT_TOLERANCE)


def test_mp4_truncated_inside_mvhd_gives_none() -> None:
    data = media("faststart.mp4")
    mvhd = box_path(data, b"moov", b"mvhd")
    assert duration(data[: mvhd + 20])[0] is None


# --- FLAC ------------------------------------------------------------------------


def test_flac_with_unknown_total_samples_gives_none() -> None:
    data = bytearray(media("tone.flac"))
    info = 8  # fLaC, block header, STREAMINFO
    data[info + 13] &= 0xF0
    data[info + 14 : info + 18] = bytes(4)
    assert duration(bytes(data))[0] is None


def test_flac_behind_an_id3_tag() -> None:
    body = b"TIT2" + struct.pack(">I", 5) + b"\0\0" + b"\0Tone"
    tag = b"ID3\x04\x00\x00" + bytes([0, 0, 0, len(body)]) + body
    seconds, _ = exact(tag + media("tone.flac"))
    assert seconds == pytest.approx(1.0, abs=EXACT_TOLERANCE)


def test_flac_truncated_inside_streaminfo_gives_none() -> None:
    assert duration(media("tone.flac")[:30])[0] is None


# --- WebM / Matroska ---------------------------------------------------------------

_DURATION_ELEMENT = b"\x44\x89\x88"  # id, size 8, then a 64-bit float
_TIMECODE_SCALE_ELEMENT = b"\x2a\xd7\xb1\x83\x0f\x42\x40"  # 1,000,000 in three bytes


def test_webm_without_duration_gives_none() -> None:
    data = media("opus.webm")
    at = data.index(_DURATION_ELEMENT)
    # Same length as a Void element (id, size 9, nine bytes), as a live muxer leaves it.
    data = data[:at] + b"\xec\x89" + bytes(9) + data[at + 11 :]
    assert duration(data)[0] is None


def test_webm_duration_is_scaled_by_timecode_scale() -> None:
    data = media("opus.webm")
    at = data.index(_TIMECODE_SCALE_ELEMENT)
    doubled = data[:at] + b"\x2a\xd7\xb1\x83" + (2_000_000).to_bytes(3, "big") + data[at + 7 :]
    assert exact(doubled)[0] == pytest.approx(2 * 1.508, abs=EXACT_TOLERANCE)
    # Without TimecodeScale the default (1 ms ticks) applies.
    default = data[:at] + b"\xec\x85" + bytes(5) + data[at + 7 :]
    assert exact(default)[0] == pytest.approx(1.508, abs=EXACT_TOLERANCE)


def test_webm_truncated_before_info_ends_gives_none() -> None:
    data = media("opus.webm")
    at = data.index(_DURATION_ELEMENT)
    assert duration(data[: at + 5])[0] is None


# --- MP3 -------------------------------------------------------------------------

_INFO_FRAME = 180  # tone-noid3.mp3's first frame: LAME's Info header (40 kbit/s)


def test_mp3_without_vbr_header_is_an_estimate_within_5_percent() -> None:
    cbr = media("tone-noid3.mp3")[_INFO_FRAME:]  # ffprobe: 1.584 s
    result, reader = duration(cbr)
    assert result is not None
    assert not result.exact
    assert result.seconds == pytest.approx(1.584, rel=ESTIMATE_TOLERANCE)
    assert reader.calls == [(0, len(cbr))]


def test_mp3_estimate_counts_only_the_audio_after_the_id3_tag() -> None:
    tagged = media("tone.mp3")
    audio = tagged.index(b"\xff\xf3")
    cbr = tagged[:audio] + tagged[audio + _INFO_FRAME :]
    result, _ = duration(cbr)
    assert result is not None
    assert not result.exact
    assert result.seconds == pytest.approx(1.584, rel=ESTIMATE_TOLERANCE)


def test_mp3_estimate_in_a_large_object() -> None:
    # 32 kbit/s: 4000 bytes a second, so 40 MB of frames is 10,000 s.
    frames = media("tone-noid3.mp3")[_INFO_FRAME:]
    size = 40_000_000
    result, reader = duration(frames, size)
    assert result is not None
    assert not result.exact
    assert result.seconds == pytest.approx(size / 4000, rel=ESTIMATE_TOLERANCE)
    assert reader.calls == [(0, 32 * 1024)]


def test_mp3_vbri_header() -> None:
    data = media("tone-noid3.mp3")
    frame = bytearray(data[:_INFO_FRAME])
    frame[4:] = bytes(_INFO_FRAME - 4)
    # VBRI 32 bytes after the header: version, delay, quality, bytes, frames.
    frame[36:54] = b"VBRI" + struct.pack(">HHHII", 1, 0, 75, len(data) - _INFO_FRAME, 43)
    seconds, _ = exact(bytes(frame) + data[_INFO_FRAME:])  # ffprobe: 1.548 s
    assert seconds == pytest.approx(1.548, abs=EXACT_TOLERANCE)


@pytest.mark.parametrize(
    ("header", "frame_length", "side_info", "expected"),
    [
        # MPEG-1 layer III 128 kbit/s 44.1 kHz: 1152 samples a frame.
        (b"\xff\xfb\x90\xc0", 417, 17, 100 * 1152 / 44100),  # mono
        (b"\xff\xfb\x90\x00", 417, 32, 100 * 1152 / 44100),  # stereo
        # MPEG-2 layer III 32 kbit/s 16 kHz: 576 samples a frame.
        (b"\xff\xf3\x48\xc0", 144, 9, 100 * 576 / 16000),  # mono
        (b"\xff\xf3\x48\x00", 144, 17, 100 * 576 / 16000),  # stereo
    ],
)
def test_mp3_xing_header_after_the_side_information(
    header: bytes, frame_length: int, side_info: int, expected: float
) -> None:
    # The Xing header says 100 frames; only 20 follow, so a miss would estimate
    # a much shorter length. ffprobe reads the same files as 2.612245 s and 3.6 s.
    first = bytearray(frame_length)
    first[:4] = header
    first[4 + side_info : 4 + side_info + 12] = b"Xing" + struct.pack(">II", 1, 100)
    audio = header + bytes(frame_length - 4)
    seconds, _ = exact(bytes(first) + audio * 20)
    assert seconds == pytest.approx(expected, abs=EXACT_TOLERANCE)


def test_mp3_xing_without_frame_count_falls_back_to_the_estimate() -> None:
    data = bytearray(media("tone-noid3.mp3"))
    xing = data.index(b"Info")
    data[xing + 4 : xing + 8] = bytes(4)  # flags: no frame count
    result, _ = duration(bytes(data))
    assert result is not None
    assert not result.exact
    assert result.seconds == pytest.approx(1.584, rel=ESTIMATE_TOLERANCE)


def id3_tag(body_size: int) -> bytes:
    """An ID3v2.4 tag of ``body_size`` bytes of padding."""
    syncsafe = bytes((body_size >> shift) & 0x7F for shift in (21, 14, 7, 0))
    return b"ID3\x04\x00\x00" + syncsafe + bytes(body_size)


def test_mp3_behind_a_large_id3_tag_within_64_kib() -> None:
    data = id3_tag(40 * 1024) + media("tone-noid3.mp3")
    seconds, reader = exact(data)
    assert seconds == pytest.approx(1.584, abs=EXACT_TOLERANCE)
    # The head, the next tag's header (skip_id3 looks for a second tag), the audio.
    assert reader.calls == [(0, 32 * 1024), (len(data) - 6516, 10), (len(data) - 6516, 6516)]


def test_mp3_behind_an_id3_tag_longer_than_64_kib_gives_none() -> None:
    data = id3_tag(100 * 1024) + media("tone-noid3.mp3")
    assert duration(data)[0] is None


def test_mp3_cut_inside_the_first_frame_gives_none() -> None:
    assert duration(media("tone-noid3.mp3")[:100])[0] is None


# --- WAV -------------------------------------------------------------------------

_TONE_WAV_DATA = 44  # tone.wav: RIFF header, 16-byte fmt chunk, then data (8 kHz 16-bit mono)


def test_wav_claiming_more_than_the_object_uses_the_objects_size() -> None:
    data = media("tone.wav")[:8044]  # ffprobe: 0.5 s
    seconds, _ = exact(data)
    assert seconds == pytest.approx(0.5, abs=EXACT_TOLERANCE)


@pytest.mark.parametrize("claimed", [0, 0xFFFFFFFF])
def test_wav_with_a_streaming_data_size_uses_the_objects_size(claimed: int) -> None:
    data = media("tone.wav")
    data = data[:40] + struct.pack("<I", claimed) + data[44:]
    assert exact(data)[0] == pytest.approx(1.0, abs=EXACT_TOLERANCE)


def test_rf64() -> None:
    tone = media("tone.wav")
    audio = tone[_TONE_WAV_DATA:]
    fmt = tone[12:36]
    ds64 = b"ds64" + struct.pack("<IQQQI", 28, 0, len(audio), len(audio) // 2, 0)
    data = b"RF64\xff\xff\xff\xffWAVE" + ds64 + fmt + b"data\xff\xff\xff\xff" + audio
    assert exact(data)[0] == pytest.approx(1.0, abs=EXACT_TOLERANCE)


def wav(codec: int, rate: int, byte_rate: int, audio_bytes: int, fact: int | None) -> bytes:
    fmt = b"fmt " + struct.pack("<IHHIIHH", 16, codec, 1, rate, byte_rate, 256, 4)
    chunks = fmt + (b"fact" + struct.pack("<II", 4, fact) if fact is not None else b"")
    chunks += b"data" + struct.pack("<I", audio_bytes) + bytes(audio_bytes)
    return b"RIFF" + struct.pack("<I", 4 + len(chunks)) + b"WAVE" + chunks


def test_compressed_wav_uses_the_fact_sample_count() -> None:
    seconds, _ = exact(wav(0x11, 8000, 4055, 8192, 16000))  # IMA ADPCM, 2 s
    assert seconds == pytest.approx(2.0, abs=EXACT_TOLERANCE)
    estimate, _ = duration(wav(0x11, 8000, 4096, 8192, None))
    assert estimate == MediaDuration(2.0, False)


def test_wav_data_chunk_after_the_head() -> None:
    tone = media("tone.wav")
    padding = b"LIST" + struct.pack("<I", 40 * 1024) + bytes(40 * 1024)
    chunks = tone[12:36] + padding + tone[36:]
    data = b"RIFF" + struct.pack("<I", 4 + len(chunks)) + b"WAVE" + chunks
    seconds, reader = exact(data)
    assert seconds == pytest.approx(1.0, abs=EXACT_TOLERANCE)
    assert len(reader.calls) == 2
    assert reader.requested == 32 * 1024 + 8  # the head, then the data chunk's header


def test_wav_data_chunk_beyond_64_kib_gives_none() -> None:
    tone = media("tone.wav")
    padding = b"LIST" + struct.pack("<I", 70 * 1024) + bytes(70 * 1024)
    chunks = tone[12:36] + padding + tone[36:]
    data = b"RIFF" + struct.pack("<I", 4 + len(chunks)) + b"WAVE" + chunks
    assert duration(data)[0] is None


def test_wav_without_fmt_and_other_riff_give_none() -> None:
    tone = media("tone.wav")
    no_fmt = b"RIFF" + struct.pack("<I", len(tone) - 32) + b"WAVE" + tone[36:]
    assert duration(no_fmt)[0] is None
    assert duration(b"RIFF\x10\x00\x00\x00WEBPVP8 " + bytes(8))[0] is None
    assert duration(tone[:30])[0] is None


# --- Robustness and budget -----------------------------------------------------------


ALL_FILES = [
    *sorted(p for p in MEDIA.iterdir() if p.suffix not in (".md", ".sh")),
    SAMPLES / "sample-talk.mp4",
    SAMPLES / "sample-talk.webm",
]


@pytest.mark.parametrize("path", ALL_FILES, ids=lambda p: p.name)
def test_truncated_files_never_raise(path: Path) -> None:
    data = path.read_bytes()
    cuts = [*range(0, 300, 3), *range(300, min(len(data), 6000), 97)]
    for cut in cuts:
        result, reader = duration(data[:cut])
        assert reader.requested <= max(cut, 0)
        if cut < 12:
            assert result is None, cut


@pytest.mark.parametrize("path", ALL_FILES, ids=lambda p: p.name)
def test_corrupted_headers_never_raise(path: Path) -> None:
    data = path.read_bytes()
    rng = random.Random(path.name)
    for _ in range(150):
        corrupt = bytearray(data)
        for _ in range(rng.randint(1, 8)):
            corrupt[rng.randrange(min(len(data), 600))] = rng.randrange(256)
        duration(bytes(corrupt), rng.choice([len(data), len(data) * 1000]))


@pytest.mark.parametrize(
    "magic",
    [b"RIFF\xff\xff\xff\x7fWAVE", b"fLaC", b"\x1a\x45\xdf\xa3", b"\0\0\0\x18ftypisom", b"ID3\x04"],
)
def test_garbage_after_a_magic_never_raises_and_stays_in_budget(magic: bytes) -> None:
    rng = random.Random(magic)
    for _ in range(30):
        data = magic + rng.randbytes(rng.randrange(0, 100_000))
        duration(data, len(data) * rng.choice([1, 1000]))


def test_riff_of_many_chunks_stays_within_the_budget() -> None:
    # A head of one big chunk, then tiny chunks: each costs a small read.
    big = b"JUNK" + struct.pack("<I", 32 * 1024) + bytes(32 * 1024)
    tiny = b"JUNK" + struct.pack("<I", 2) + bytes(2)
    data = b"RIFF\0\0\0\0WAVE" + big + tiny * 200
    result, reader = duration(data)
    assert result is None
    assert len(reader.calls) <= 65


def test_empty_and_unknown_objects_give_none() -> None:
    result, reader = duration(b"")
    assert result is None
    assert reader.calls == []
    assert duration(b"%PDF-1.7\n" + bytes(1000))[0] is None
    assert duration(bytes(70_000))[0] is None


def test_a_failing_reader_propagates() -> None:
    def read(offset: int, length: int) -> bytes:
        raise OSError("the object is gone")

    with pytest.raises(OSError, match="gone"):
        media_duration(1000, read)
