"""Tests for transcription_pipeline.media on real files made by tests/media/make_media.sh."""

from __future__ import annotations

import io
import random
import struct
from collections.abc import Callable
from pathlib import Path

import pytest

from transcription_pipeline.media import (
    MAX_MEDIA_BYTES,
    MAX_PROBE_BYTES,
    MediaCheck,
    MediaFormat,
    check_media,
)

MEDIA = Path(__file__).parent.parent / "media"


def media(name: str) -> bytes:
    return (MEDIA / name).read_bytes()


class Reader:
    """A range reader over ``data`` that enforces the contract and counts what was asked."""

    def __init__(self, data: bytes | Callable[[int, int], bytes], size: int) -> None:
        self._data = data
        self.size = size
        self.calls: list[tuple[int, int]] = []

    @property
    def requested(self) -> int:
        return sum(length for _, length in self.calls)

    def __call__(self, offset: int, length: int) -> bytes:
        assert offset >= 0, offset
        assert length > 0, length
        assert offset + length <= self.size, (offset, length, self.size)
        self.calls.append((offset, length))
        assert self.requested <= MAX_PROBE_BYTES
        if callable(self._data):
            return self._data(offset, length)
        return self._data[offset : offset + length]


def check(key: str, data: bytes, size: int | None = None) -> tuple[MediaCheck, Reader]:
    reader = Reader(data, len(data) if size is None else size)
    result = check_media(key, reader.size, reader)
    assert reader.requested <= MAX_PROBE_BYTES
    assert result.accepted == (result.reason is None)
    assert (result.media_format is not None) == result.accepted
    return result, reader


def accepted(key: str, data: bytes) -> MediaCheck:
    result, _ = check(key, data)
    assert result.accepted, result
    return result


def rejected(key: str, data: bytes, size: int | None = None) -> MediaCheck:
    result, _ = check(key, data, size)
    assert not result.accepted, result
    assert result.reason
    assert result.reason.endswith("."), result.reason  # a sentence, for error.json
    return result


class VirtualObject:
    """A large object that is mostly zeros, with a few byte pieces placed in it."""

    def __init__(self, size: int, pieces: list[tuple[int, bytes]]) -> None:
        self.size = size
        self.pieces = pieces

    def __call__(self, offset: int, length: int) -> bytes:
        out = bytearray(length)
        for start, piece in self.pieces:
            lo, hi = max(start, offset), min(start + len(piece), offset + length)
            if lo < hi:
                out[lo - offset : hi - offset] = piece[lo - start : hi - start]
        return bytes(out)


def check_virtual(key: str, obj: VirtualObject) -> tuple[MediaCheck, Reader]:
    reader = Reader(obj, obj.size)
    result = check_media(key, obj.size, reader)
    assert result.accepted == (result.reason is None)
    return result, reader


def syncsafe(value: int) -> bytes:
    """An ID3v2 size: four bytes of seven bits each."""
    return bytes([(value >> shift) & 0x7F for shift in (21, 14, 7, 0)])


def id3_tag(padding: int = 0) -> bytes:
    """An ID3v2.4 tag with a title frame and ``padding`` zero bytes inside its size."""
    title = b"\x03Tone"  # UTF-8 text
    body = b"TIT2" + syncsafe(len(title)) + b"\x00\x00" + title + bytes(padding)
    return b"ID3\x04\x00\x00" + syncsafe(len(body)) + body


def iso_boxes(data: bytes) -> dict[str, bytes]:
    """Top-level boxes of a small ISO-BMFF file, whole (header included)."""
    boxes: dict[str, bytes] = {}
    off = 0
    while off < len(data):
        size, kind = struct.unpack(">I4s", data[off : off + 8])
        boxes[kind.decode()] = data[off : off + size]
        off += size
    return boxes


# --- real files -----------------------------------------------------------------

ACCEPTED = [
    ("tone.mp3", MediaFormat.MP3, "mp3 (MPEG-2 layer III"),
    ("tone-noid3.mp3", MediaFormat.MP3, "mp3 (MPEG-2 layer III"),
    ("tone.mp4", MediaFormat.MP4, "mp4 (brand isom; soun:mp4a)"),
    ("video.mp4", MediaFormat.MP4, "mp4 (brand isom; vide:avc1, soun:mp4a)"),
    ("faststart.mp4", MediaFormat.MP4, "mp4 (brand isom; soun:mp4a)"),
    ("tone.m4a", MediaFormat.M4A, "mp4 (brand M4A; soun:mp4a)"),
    ("tone.wav", MediaFormat.WAV, "wav (pcm, 1 ch, 8000 Hz)"),
    ("tone.flac", MediaFormat.FLAC, "flac (1 ch, 8000 Hz)"),
    ("opus.ogg", MediaFormat.OGG, "ogg/opus"),
    ("opus.webm", MediaFormat.WEBM, "webm/opus"),
    ("tone.amr", MediaFormat.AMR, "amr-nb"),
]
ALL_FILES = sorted(p.name for p in MEDIA.iterdir() if p.suffix not in (".sh", ".md"))


def test_media_files_are_present_and_small() -> None:
    assert len(ALL_FILES) == 21
    for name in ALL_FILES:
        assert 0 < (MEDIA / name).stat().st_size < 40_000, name


@pytest.mark.parametrize(("name", "media_format", "detected"), ACCEPTED)
def test_real_file_accepted(name: str, media_format: MediaFormat, detected: str) -> None:
    result = accepted(f"uploads/{name}", media(name))
    assert result.media_format is media_format
    assert result.reason is None
    assert result.detected.startswith(detected), result.detected


def test_media_format_values_are_transcribes() -> None:
    assert {f.value for f in MediaFormat} == {
        "mp3",
        "mp4",
        "wav",
        "flac",
        "ogg",
        "amr",
        "webm",
        "m4a",
    }
    assert MAX_MEDIA_BYTES == 2 * 1024**3
    assert MAX_PROBE_BYTES == 64 * 1024


@pytest.mark.parametrize(
    ("name", "key", "media_format"),
    [
        ("tone.m4a", "a.mp4", MediaFormat.MP4),
        ("tone.mp4", "a.m4a", MediaFormat.M4A),
        ("video.mp4", "a.m4v", MediaFormat.MP4),
        ("opus.ogg", "a.opus", MediaFormat.OGG),
    ],
)
def test_iso_and_ogg_extension_aliases(name: str, key: str, media_format: MediaFormat) -> None:
    assert accepted(key, media(name)).media_format is media_format


@pytest.mark.parametrize(
    "key",
    [
        "inbox/Mein Häuschen 🎵 take 2.MP3",
        "x/y/TONE.Mp3",
        "with.dots.in.name/and spaces.v2.mp3",
    ],
)
def test_unicode_spaces_and_uppercase_extension(key: str) -> None:
    assert accepted(key, media("tone.mp3")).media_format is MediaFormat.MP3


# --- formats Transcribe refuses -----------------------------------------------------


def test_matroska_rejected() -> None:
    result = rejected("video.mkv", media("video.mkv"))
    assert result.detected.startswith("matroska")
    assert result.reason is not None
    assert result.reason.startswith(
        "The file is a Matroska (.mkv) video; Amazon Transcribe accepts WebM but not Matroska."
    )
    assert ".webm" in result.reason  # lists the supported extensions


def test_matroska_named_webm_rejected() -> None:
    result = rejected("video.webm", media("video.mkv"))
    assert (
        result.reason
        == "The file is a Matroska (.mkv) video; Amazon Transcribe accepts WebM but not Matroska."
    )


@pytest.mark.parametrize("key", ["video.mov", "video.mp4", "video.MOV"])
def test_quicktime_rejected(key: str) -> None:
    result = rejected(key, media("video.mov"))
    assert result.detected == "quicktime mov (brand qt)"
    assert result.reason is not None
    assert "QuickTime (.mov)" in result.reason
    assert "not QuickTime" in result.reason


@pytest.mark.parametrize(("name", "container"), [("vorbis.ogg", "Ogg"), ("vorbis.webm", "WebM")])
def test_vorbis_rejected(name: str, container: str) -> None:
    result = rejected(name, media(name))
    assert result.detected in ("ogg/vorbis", "webm/vorbis")
    assert result.reason == (
        f"The {container} file's audio is Vorbis; "
        f"Amazon Transcribe accepts {container} only with Opus audio."
    )


def test_mp4_without_audio_rejected() -> None:
    result = rejected("noaudio.mp4", media("noaudio.mp4"))
    assert result.detected == "mp4 (brand isom; vide:avc1)"
    assert result.reason == "The MP4 file has no audio track."


def test_webm_without_audio_rejected() -> None:
    # Turn the only track into a video track (TrackType 0x83 = 2 -> 1).
    data = media("opus.webm")
    at = data.index(b"\x83\x81\x02")
    result = rejected("a.webm", data[:at] + b"\x83\x81\x01" + data[at + 3 :])
    assert result.reason == "The WebM file has no audio track."


def test_webm_other_codec_rejected() -> None:
    data = media("opus.webm").replace(b"\x86\x86A_OPUS", b"\x86\x86A_AAC\x00")
    result = rejected("a.webm", data)
    assert "A_AAC" in (result.reason or "")
    assert "only with Opus" in (result.reason or "")


def test_more_than_two_channels_rejected() -> None:
    wav = bytearray(media("tone.wav"))
    wav[22:24] = (6).to_bytes(2, "little")  # fmt chunk: channel count
    assert "6 audio channels" in (rejected("a.wav", bytes(wav)).reason or "")
    ogg = bytearray(media("opus.ogg"))
    ogg[ogg.index(b"OpusHead") + 9] = 6  # CRC not checked by the sniffer
    assert "6 audio channels" in (rejected("a.ogg", bytes(ogg)).reason or "")


@pytest.mark.parametrize(
    ("name", "container", "detected"),
    [
        ("surround.wav", "WAV", "wav (extensible, 6 ch, 8000 Hz)"),
        ("surround.flac", "FLAC", "flac (6 ch, 8000 Hz)"),
        ("surround.m4a", "MP4", "mp4 (brand M4A; soun:mp4a)"),
        ("surround.ogg", "Ogg", "ogg/opus"),
        ("surround.webm", "WebM", "webm/opus"),
    ],
    ids=["wav", "flac", "m4a", "ogg", "webm"],
)
def test_surround_audio_rejected(name: str, container: str, detected: str) -> None:
    result = rejected(name, media(name))
    assert result.detected == detected
    assert result.reason == (
        f"The {container} file has 6 audio channels; Amazon Transcribe accepts mono or stereo."
    )


def _mp4a_channelcount_at(data: bytes | bytearray) -> int:
    # mp4a sample entry: 6 reserved, data_reference_index, version, revision, vendor
    return data.index(b"mp4a") + 4 + 16


def test_mp4_channels_come_from_esds_first() -> None:
    # Writers may leave channelcount at its template value 2: the AAC
    # AudioSpecificConfig in esds still says 5.1.
    surround = bytearray(media("surround.m4a"))
    at = _mp4a_channelcount_at(surround)
    assert surround[at : at + 2] == b"\x00\x06"
    surround[at : at + 2] = b"\x00\x02"
    assert "6 audio channels" in (rejected("a.m4a", bytes(surround)).reason or "")
    # The decoder goes by esds, so a wrong channelcount alone does not count.
    mono = bytearray(media("tone.m4a"))
    at = _mp4a_channelcount_at(mono)
    mono[at : at + 2] = b"\x00\x06"
    assert accepted("a.m4a", bytes(mono)).detected == "mp4 (brand M4A; soun:mp4a)"
    # Without esds (here: renamed away), the sample entry's own count is used.
    no_esds = media("surround.m4a").replace(b"esds", b"xsds")
    assert "6 audio channels" in (rejected("a.m4a", no_esds).reason or "")


def test_webm_channels_from_track_or_opus_head() -> None:
    mono = media("opus.webm")
    # Audio > Channels (0x9F) says 6, the OpusHead still says 1: refuse.
    six = mono.replace(b"\x9f\x81\x01", b"\x9f\x81\x06", 1)
    assert six != mono
    assert "6 audio channels" in (rejected("a.webm", six).reason or "")
    # Channels element says 2, the OpusHead in CodecPrivate says 6: refuse.
    surround = media("surround.webm")
    two = surround.replace(b"\x9f\x81\x06", b"\x9f\x81\x02", 1)
    assert two != surround
    assert "6 audio channels" in (rejected("a.webm", two).reason or "")


# --- content that does not match the name -----------------------------------------

PNG = (
    b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR"
    b"\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f\x15\xc4\x89"
)


@pytest.mark.parametrize(
    ("key", "data", "detected", "phrase"),
    [
        ("tone.mp3", media("tone.wav"), "wav (pcm, 1 ch, 8000 Hz)", "Rename it to .wav"),
        ("tone.wav", media("tone.flac"), "flac", "Rename it to .flac"),
        ("tone.ogg", media("opus.webm"), "webm/opus", "Rename it to .webm"),
        ("tone.webm", media("opus.ogg"), "ogg/opus", "Rename it to .ogg"),
        ("tone.amr", media("tone.m4a"), "mp4 (brand M4A", "Rename it to .mp4 or .m4a"),
        ("tone.mp4", media("tone.mp3"), "mp3", "Rename it to .mp3"),
        ("cover.mp3", PNG, "png image", "a PNG image"),
        (
            "photo.m4a",
            b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + bytes(100),
            "jpeg image",
            "a JPEG image",
        ),
        ("doc.wav", b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n", "pdf document", "a PDF document"),
        ("arch.flac", b"PK\x03\x04\x14\x00\x00\x00" + bytes(40), "zip archive", "ZIP archive"),
        ("notes.mp4", "Meeting notes — Montag\nline two\n".encode() * 20, "text", "plain text"),
        (
            "page.wav",
            b"<!DOCTYPE html>\n<html><body>Not found</body></html>",
            "html",
            "an HTML page",
        ),
        (
            "error.mp3",
            b'<?xml version="1.0"?><Error><Code>AccessDenied</Code></Error>',
            "xml",
            "XML",
        ),
        ("pic.amr", b"GIF89a" + bytes(30), "gif image", "a GIF image"),
        (
            "raw.mp3",
            bytes([0xFF, 0xF1, 0x50, 0x80, 0x02, 0x1F, 0xFC]) + bytes(500),
            "aac (adts)",
            "ADTS",
        ),
    ],
)
def test_content_mismatch_rejected(key: str, data: bytes, detected: str, phrase: str) -> None:
    result = rejected(key, data)
    assert result.detected.startswith(detected), result.detected
    assert result.reason is not None
    assert f"named '.{key.rsplit('.', 1)[1]}'" in result.reason
    assert phrase in result.reason, result.reason


def test_random_bytes_are_not_mp3() -> None:
    rng = random.Random(3)
    result = rejected("noise.mp3", bytes([0xFF, 0xFB, 0x90, 0x64]) + rng.randbytes(5000))
    assert result.detected == "unknown"


def test_id3_tag_without_audio_rejected() -> None:
    tag = b"ID3\x04\x00\x00\x00\x00\x00\x0a" + bytes(10)
    assert "no audio" in (rejected("a.mp3", tag).reason or "")
    assert "no MPEG audio frame" in (rejected("a.mp3", tag + b"garbage!" * 300).reason or "")


@pytest.mark.parametrize(
    ("key", "shown"),
    [
        ("notes.txt", "The file extension '.txt' is not supported"),
        ("folder/README", "The file name has no extension"),
        ("dir.v2/file", "The file name has no extension"),
        ("a.mp3.zip", "The file extension '.zip' is not supported"),
    ],
)
def test_unsupported_extension_lists_supported_ones(key: str, shown: str) -> None:
    result = rejected(key, media("tone.mp3"))
    assert result.detected.startswith("mp3")  # still sniffed
    assert result.reason is not None
    assert result.reason.startswith(shown)
    assert "name it .mp3" in result.reason
    assert result.reason.endswith(
        "Supported extensions are .amr, .flac, .m4a, .m4v, .mp3, .mp4, .ogg, .opus, .wav and .webm."
    )


# --- size limits -----------------------------------------------------------------


def _must_not_read(offset: int, length: int) -> bytes:
    pytest.fail(f"read({offset}, {length}) called")


def test_empty_upload_rejected_without_reading() -> None:
    result = check_media("empty.mp3", 0, _must_not_read)
    assert not result.accepted
    assert result.detected == "empty"
    assert result.reason is not None
    assert "empty" in result.reason


def test_too_large_rejected_without_reading() -> None:
    size = MAX_MEDIA_BYTES + 1
    result = check_media("huge.wav", size, _must_not_read)
    assert not result.accepted
    assert result.reason is not None
    assert "2 GB" in result.reason
    assert str(size) in result.reason


def test_negative_size_rejected_without_reading() -> None:
    assert not check_media("a.wav", -1, _must_not_read).accepted


def test_exactly_two_gb_is_allowed() -> None:
    wav = media("tone.wav")
    header = wav[:4] + (MAX_MEDIA_BYTES - 8).to_bytes(4, "little") + wav[8:44]
    result, reader = check_virtual("big.wav", VirtualObject(MAX_MEDIA_BYTES, [(0, header)]))
    assert result.accepted, result
    assert reader.calls == [(0, 32 * 1024)]


# --- truncated uploads ------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "cut", "claimed"),
    [
        ("tone.wav", 8000, 16044),  # RIFF size + 8
        ("tone.wav", 44, 16044),
        ("tone.mp4", 3000, 5028),  # ftyp + free + mdat end
        ("tone.mp4", 5100, 5874),  # moov cut
        ("tone.m4a", 20, 28),  # inside ftyp
        ("faststart.mp4", 500, 874),  # moov cut
        ("video.mp4", 7000, 7796),
        ("opus.webm", 2000, 4343),  # Segment size
        ("vorbis.webm", 100, 5168),
        ("opus.webm", 4000, 4343),
        ("tone.flac", 30, 42),  # STREAMINFO incomplete
        ("tone.mp3", 20, 36),  # ID3 tag cut
        ("tone-noid3.mp3", 50, 180),  # first frame (40 kbit/s Info frame) cut
        ("opus.ogg", 40, 47),  # first page cut
        ("tone.amr", 20, 38),  # first frame cut
    ],
)
def test_truncated_upload_rejected(name: str, cut: int, claimed: int) -> None:
    data = media(name)[:cut]
    result = rejected(name, data)
    assert result.reason is not None
    assert f"appears truncated: header says {claimed} bytes, object has {cut}." in result.reason, (
        result.reason
    )


def test_flac_without_audio_frames_rejected() -> None:
    data = media("tone.flac")
    audio_start = data.index(b"\xff\xf8")
    result = rejected("a.flac", data[:audio_start])
    assert "no audio after its header" in (result.reason or "")


def test_size_larger_than_bytes_reported_by_reader() -> None:
    # The event says more than the reader delivers: still no exception.
    data = media("tone.mp4")
    reader = Reader(data, len(data) + 100_000)
    result = check_media("a.mp4", reader.size, reader)
    assert reader.requested <= MAX_PROBE_BYTES
    assert isinstance(result, MediaCheck)


# --- real media that ffmpeg decodes, in shapes the first checks refused ----------------

TONE_MP3 = media("tone-noid3.mp3")  # a 180-byte Info frame, then 144-byte frames


def _riff_size_plus(extra: int) -> bytes:
    wav = bytearray(media("tone.wav"))
    wav[4:8] = (int.from_bytes(wav[4:8], "little") + extra).to_bytes(4, "little")
    return bytes(wav)


def test_id3_tag_before_flac_accepted() -> None:
    data = id3_tag() + media("tone.flac")
    assert accepted("a.flac", data).detected == "flac (1 ch, 8000 Hz)"
    result = rejected("a.mp3", data)
    assert "Rename it to .flac" in (result.reason or "")


def test_big_id3_tag_before_flac_leaves_budget_for_streaminfo() -> None:
    # Cover art in the tag: STREAMINFO is far beyond the first read.
    tag = id3_tag(padding=300_000)
    for name, detected in [("tone.flac", "flac (1 ch"), ("surround.flac", "flac (6 ch")]:
        flac = media(name)
        obj = VirtualObject(len(tag) + len(flac), [(0, tag), (len(tag), flac)])
        result, reader = check_virtual("a.flac", obj)
        assert result.detected.startswith(detected), result
        assert result.accepted == (name == "tone.flac"), result
        assert reader.requested <= MAX_PROBE_BYTES


@pytest.mark.parametrize("cut", [1, 2, 100, 179, 181, 333, 1000])
def test_mp3_stream_dump_starting_mid_frame_accepted(cut: int) -> None:
    result = accepted("dump.mp3", TONE_MP3[cut:])
    assert result.detected.startswith("mp3 (MPEG-2 layer III, 16000 Hz; first frame at byte")


@pytest.mark.parametrize("zeros", [1, 417, 5000, 40_000])
def test_mp3_with_leading_zero_padding_accepted(zeros: int) -> None:
    result = accepted("padded.mp3", bytes(zeros) + TONE_MP3)
    assert result.detected == f"mp3 (MPEG-2 layer III, 16000 Hz; first frame at byte {zeros})"


@pytest.mark.parametrize("zeros", [2100, 5000, 30_000])
def test_id3_tag_followed_by_padding_accepted(zeros: int) -> None:
    tag = id3_tag()
    result = accepted("a.mp3", tag + bytes(zeros) + TONE_MP3)
    first = len(tag) + zeros
    assert result.detected == f"mp3 (MPEG-2 layer III, 16000 Hz; first frame at byte {first})"
    # Padding inside the tag's own size, and a cut stream after it.
    assert accepted("b.mp3", id3_tag(padding=zeros) + TONE_MP3[333:]).media_format is (
        MediaFormat.MP3
    )


def test_mp3_search_stays_within_budget() -> None:
    # A 1 GB stream dump: zero padding, then frames, as far as the budget sees.
    pieces = [(50_000, TONE_MP3)]
    result, reader = check_virtual("dump.mp3", VirtualObject(1024**3, pieces))
    assert result.accepted, result
    assert reader.requested <= MAX_PROBE_BYTES
    # Frames only beyond the budget: nothing to go on.
    result, reader = check_virtual("dump.mp3", VirtualObject(1024**3, [(70_000, TONE_MP3)]))
    assert not result.accepted
    assert reader.requested <= MAX_PROBE_BYTES


@pytest.mark.parametrize("extra", [1, 4, 8])
def test_wav_riff_size_a_few_bytes_too_large_accepted(extra: int) -> None:
    result = accepted("a.wav", _riff_size_plus(extra))
    assert result.detected == "wav (pcm, 1 ch, 8000 Hz)"


def test_wav_riff_size_far_too_large_still_truncated() -> None:
    result = rejected("a.wav", _riff_size_plus(1000))
    assert result.reason == (
        "The WAV file appears truncated: header says 17044 bytes, object has 16044."
    )


def test_random_bytes_hold_no_mp3_frames() -> None:
    # The search for a first frame must not find MP3 in noise: every candidate
    # needs a second frame exactly where its length says.
    rng = random.Random(11)
    for _ in range(50):
        result = rejected("noise.mp3", rng.randbytes(60_000))
        assert result.detected == "unknown"
        assert result.reason is not None
        assert "unrecognised data" in result.reason


def test_accepted_shapes_decode_with_ffmpeg() -> None:
    # Guards the premise of the tests above: ffmpeg (PyAV) decodes all of them.
    av = pytest.importorskip("av")
    shapes = {
        "id3 + flac": id3_tag() + media("tone.flac"),
        "riff size + 4": _riff_size_plus(4),
        "mp3 cut mid-frame": TONE_MP3[333:],
        "zeros + mp3": bytes(5000) + TONE_MP3,
        "id3 + zeros + mp3": id3_tag() + bytes(5000) + TONE_MP3,
    }
    for shape, data in shapes.items():
        with av.open(io.BytesIO(data)) as container:
            stream = container.streams.audio[0]
            samples = sum(frame.samples for frame in container.decode(stream))
        assert samples >= 4000, shape


# --- live WebM and large objects: the reads beyond the first chunk -------------------


def _unknown_size_segment(data: bytes) -> bytes:
    at = data.index(b"\x18\x53\x80\x67") + 4
    assert data[at] == 0x01  # ffmpeg writes an 8-byte size
    return data[:at] + b"\x01\xff\xff\xff\xff\xff\xff\xff" + data[at + 8 :]


def test_live_webm_with_unknown_size_segment() -> None:
    live = _unknown_size_segment(media("opus.webm"))
    assert accepted("live.webm", live).detected == "webm/opus"
    # No total size to check: a cut live stream is still fine if Tracks is whole.
    assert accepted("live.webm", live[:1000]).media_format is MediaFormat.WEBM
    vorbis = _unknown_size_segment(media("vorbis.webm"))
    assert "Vorbis" in (rejected("live.webm", vorbis).reason or "")


def test_live_webm_with_unknown_size_cluster_and_huge_object() -> None:
    live = _unknown_size_segment(media("opus.webm"))
    cluster = live.index(b"\x1f\x43\xb6\x75")
    head = live[:cluster] + b"\x1f\x43\xb6\x75\x01\xff\xff\xff\xff\xff\xff\xff"
    result, reader = check_virtual("live.webm", VirtualObject(500_000_000, [(0, head)]))
    assert result.accepted, result
    assert reader.requested <= MAX_PROBE_BYTES


def test_big_mp4_with_moov_at_the_end_is_read_with_small_reads() -> None:
    boxes = iso_boxes(media("tone.mp4"))
    mdat_size = 300_000_000
    moov_at = 28 + mdat_size
    pieces = [
        (0, boxes["ftyp"]),
        (28, struct.pack(">I4s", mdat_size, b"mdat")),
        (moov_at, boxes["moov"]),
    ]
    result, reader = check_virtual("big.mp4", VirtualObject(moov_at + len(boxes["moov"]), pieces))
    assert result.accepted, result
    assert result.detected == "mp4 (brand isom; soun:mp4a)"  # moov was reached
    assert reader.requested <= MAX_PROBE_BYTES
    assert len(reader.calls) >= 2


def test_big_surround_mp4_channels_read_only_when_moov_is_within_reach() -> None:
    boxes = iso_boxes(media("surround.m4a"))
    ftyp = boxes["ftyp"]
    moov_at = len(ftyp) + 300_000_000
    pieces = [
        (0, ftyp),
        (len(ftyp), struct.pack(">I4s", 300_000_000, b"mdat")),
        (moov_at, boxes["moov"]),
    ]
    result, reader = check_virtual("big.m4a", VirtualObject(moov_at + len(boxes["moov"]), pieces))
    assert "6 audio channels" in (result.reason or "")
    assert reader.requested <= MAX_PROBE_BYTES
    # Behind more boxes than the walk follows, moov is out of reach: Transcribe judges it.
    frees = [(len(ftyp) + i * 100_000, struct.pack(">I4s", 100_000, b"free")) for i in range(100)]
    moov_at = len(ftyp) + 100 * 100_000
    obj = VirtualObject(moov_at + len(boxes["moov"]), [(0, ftyp), *frees, (moov_at, boxes["moov"])])
    result, reader = check_virtual("big.m4a", obj)
    assert result.accepted, result
    assert result.detected == "mp4 (brand M4A)"
    assert reader.requested <= MAX_PROBE_BYTES


def test_big_mp4_without_audio_moov_at_the_end_rejected() -> None:
    boxes = iso_boxes(media("noaudio.mp4"))
    moov_at = 32 + 50_000_000
    pieces = [
        (0, boxes["ftyp"]),
        (32, struct.pack(">I4s", 50_000_000, b"mdat")),
        (moov_at, boxes["moov"]),
    ]
    result, _ = check_virtual("big.mp4", VirtualObject(moov_at + len(boxes["moov"]), pieces))
    assert result.reason == "The MP4 file has no audio track."


def test_mp4_largesize_box_and_its_truncation() -> None:
    boxes = iso_boxes(media("tone.mp4"))
    mdat_size = 3 * 1024**3 // 2  # 64-bit header
    moov_at = 28 + mdat_size
    pieces = [
        (0, boxes["ftyp"]),
        (28, struct.pack(">I4sQ", 1, b"mdat", mdat_size)),
        (moov_at, boxes["moov"]),
    ]
    result, _ = check_virtual("big.mp4", VirtualObject(moov_at + len(boxes["moov"]), pieces))
    assert result.accepted, result
    assert result.detected == "mp4 (brand isom; soun:mp4a)"
    cut = moov_at - 1000
    result, _ = check_virtual("big.mp4", VirtualObject(cut, pieces))
    assert (
        result.reason
        == f"The MP4 file appears truncated: header says {moov_at} bytes, object has {cut}."
    )
    small = 1_000_000
    pieces[1] = (28, struct.pack(">I4sQ", 1, b"mdat", small))
    pieces[2] = (28 + small, boxes["moov"])
    result, _ = check_virtual("big.mp4", VirtualObject(28 + small + len(boxes["moov"]), pieces))
    assert result.accepted, result


def test_mp4_moov_too_big_for_the_budget_is_left_to_transcribe() -> None:
    ftyp = iso_boxes(media("tone.mp4"))["ftyp"]
    mdat_size, moov_size = 10_000_000, 150_000  # a long recording's index
    pieces = [
        (0, ftyp),
        (28, struct.pack(">I4s", mdat_size, b"mdat")),
        (28 + mdat_size, struct.pack(">I4s", moov_size, b"moov")),
    ]
    result, reader = check_virtual("long.mp4", VirtualObject(28 + mdat_size + moov_size, pieces))
    assert result.accepted, result
    assert result.detected == "mp4 (brand isom)"
    assert reader.requested <= MAX_PROBE_BYTES


def test_mp4_without_moov_rejected_and_size_zero_box() -> None:
    boxes = iso_boxes(media("tone.mp4"))
    mdat_to_end = struct.pack(">I4s", 0, b"mdat")
    result, _ = check_virtual(
        "a.mp4", VirtualObject(5_000_000, [(0, boxes["ftyp"]), (28, mdat_to_end)])
    )
    assert "no 'moov' box" in (result.reason or "")
    data = boxes["ftyp"] + boxes["moov"] + mdat_to_end + bytes(1000)
    assert accepted("a.mp4", data).detected == "mp4 (brand isom; soun:mp4a)"


def test_many_boxes_stop_within_budget() -> None:
    ftyp = iso_boxes(media("tone.mp4"))["ftyp"]
    pieces = [(0, ftyp)] + [
        (28 + i * 100_000, struct.pack(">I4s", 100_000, b"free")) for i in range(10_000)
    ]
    result, reader = check_virtual("many.mp4", VirtualObject(28 + 10_000 * 100_000, pieces))
    assert result.accepted, result
    assert reader.requested <= MAX_PROBE_BYTES


def test_big_id3_tag_then_frames() -> None:
    tag_body = 200_000
    syncsafe = bytes([(tag_body >> s) & 0x7F for s in (21, 14, 7, 0)])
    frames = media("tone-noid3.mp3")
    obj = VirtualObject(
        10 + tag_body + len(frames), [(0, b"ID3\x04\x00\x00" + syncsafe), (10 + tag_body, frames)]
    )
    result, reader = check_virtual("a.mp3", obj)
    assert result.accepted, result
    assert result.detected.startswith("mp3 (MPEG-2 layer III")
    assert reader.requested <= MAX_PROBE_BYTES
    result = rejected("a.mp3", b"ID3\x04\x00\x00" + syncsafe + bytes(1000))
    assert f"header says {10 + tag_body} bytes, object has 1010." in (result.reason or "")


def test_big_flac_picture_block() -> None:
    flac = media("tone.flac")
    streaminfo = bytes([0x00]) + flac[5:42]  # not last any more
    picture_len = 150_000
    picture = bytes([0x86]) + picture_len.to_bytes(3, "big")  # last block, type PICTURE
    audio_at = 42 + 4 + picture_len
    obj = VirtualObject(
        audio_at + 5000, [(0, b"fLaC" + streaminfo), (42, picture), (audio_at, flac[42:5042])]
    )
    result, _ = check_virtual("a.flac", obj)
    assert result.accepted, result
    obj.size = audio_at - 10
    result, _ = check_virtual("a.flac", obj)
    assert (
        result.reason == f"The FLAC file appears truncated: header says {audio_at} bytes, "
        f"object has {audio_at - 10}."
    )


def test_amr_wide_band_and_multichannel() -> None:
    frame = bytes([0x44]) + bytes(60)  # FT 8: 23.85 kbit/s, 60 payload bytes
    assert accepted("a.amr", b"#!AMR-WB\n" + frame * 5).detected == "amr-wb"
    assert "multichannel" in (rejected("a.amr", b"#!AMR_MC1.0\n" + bytes(40)).reason or "")
    assert "invalid first frame" in (rejected("a.amr", b"#!AMR\n\xff" + bytes(40)).reason or "")


# --- reader errors and hostile input ----------------------------------------------------


def test_reader_errors_propagate() -> None:
    def broken(offset: int, length: int) -> bytes:
        raise OSError("connection reset")

    with pytest.raises(OSError, match="connection reset"):
        check_media("a.mp3", 1000, broken)


def test_reader_returning_too_much_or_too_little() -> None:
    data = media("tone.mp4")
    result = check_media("a.mp4", len(data), lambda offset, length: data)
    assert isinstance(result, MediaCheck)
    result = check_media("a.mp4", len(data), lambda offset, length: b"")
    assert not result.accepted


MAGICS = [
    b"",
    b"RIFF",
    b"RIFF\x00\x00\x00\x00WAVE",
    b"fLaC",
    b"fLaC\x00\x00\x00\x22",
    b"OggS\x00\x02",
    b"\x1a\x45\xdf\xa3",
    b"\x1a\x45\xdf\xa3\x9f\x42\x86\x81\x01\x42\x82\x84webm\x18\x53\x80\x67",
    b"\x00\x00\x00\x1cftypisom",
    b"\x00\x00\x00\x1cftypqt  ",
    b"ID3\x04\x00\x00",
    b"#!AMR\n",
    b"#!AMR-WB\n",
    b"\xff\xfb\x90",
    b"\xff\xf3",
    b"\x00\x00\x00\x08moov",
]


def _assert_well_behaved(
    key: str, data_or_reader: bytes | Callable[[int, int], bytes], size: int
) -> None:
    reader = Reader(data_or_reader, size)
    result = check_media(key, size, reader)  # must not raise
    assert reader.requested <= MAX_PROBE_BYTES
    assert result.accepted == (result.reason is None)
    assert result.detected


def test_budget_and_robustness_on_random_bytes() -> None:
    rng = random.Random(20240601)
    keys = ["a.mp3", "a.mp4", "a.m4a", "a.wav", "a.flac", "a.ogg", "a.webm", "a.amr", "a.bin"]
    for _ in range(1500):
        magic = rng.choice(MAGICS)
        body = magic + rng.randbytes(rng.choice([0, 1, 7, 40, 300, 5000, 40_000, 100_000]))
        size = len(body)
        if size and rng.random() < 0.3:
            # A large object whose bytes repeat the random block.
            block = body
            size = rng.randrange(len(block), MAX_MEDIA_BYTES + 1)

            def repeat(offset: int, length: int, block: bytes = block) -> bytes:
                start = offset % len(block)
                out = (block[start:] + block * (length // len(block) + 2))[:length]
                return out

            _assert_well_behaved(rng.choice(keys), repeat, size)
        elif size:
            _assert_well_behaved(rng.choice(keys), body, size)


def test_budget_and_robustness_on_mutated_real_files() -> None:
    rng = random.Random(7)
    for name in ALL_FILES:
        original = media(name)
        _assert_well_behaved(name, original, len(original))
        for _ in range(150):
            data = bytearray(original)
            for _ in range(rng.choice([1, 3, 20])):
                # Favour the headers, where the parsers look.
                pos = (
                    rng.randrange(min(len(data), 400))
                    if rng.random() < 0.8
                    else rng.randrange(len(data))
                )
                data[pos] = rng.randrange(256)
            cut = rng.randrange(1, len(data) + 1) if rng.random() < 0.5 else len(data)
            _assert_well_behaved(name, bytes(data[:cut]), cut)


@pytest.mark.parametrize("name", ALL_FILES)
def test_budget_on_real_files_as_large_objects(name: str) -> None:
    # The real header followed by zeros, as if the file were 1 GB.
    data = media(name)
    _assert_well_behaved(name, VirtualObject(1024**3, [(0, data)]), 1024**3)


@pytest.mark.parametrize("brand", [b"mp42", b"M4B ", b"dash", b"3gp4", b"avc1", b"f4v ", b"XYZ1"])
def test_iso_brands_are_accepted_generously(brand: bytes) -> None:
    data = media("tone.mp4")
    assert accepted("a.mp4", data[:8] + brand + data[12:]).detected.startswith("mp4 (brand")


def test_heif_image_is_not_mp4() -> None:
    data = media("tone.mp4")
    result = rejected("a.mp4", data[:8] + b"heic" + data[12:])
    assert result.detected == "heif/avif image (brand heic)"


def test_parser_bugs_become_rejections(monkeypatch: pytest.MonkeyPatch) -> None:
    import transcription_pipeline.media.sniff as media_module

    def broken(probe: object) -> object:
        raise IndexError("parser bug")

    monkeypatch.setattr(media_module, "_sniff", broken)
    result = rejected("a.mp3", media("tone.mp3"))
    assert result.detected == "unknown"
    assert "could not be parsed" in (result.reason or "")
