"""Hostile and odd input through the real handlers under moto.

Every case says exactly what happened: the messages put back (none: nothing here is worth
a retry), the jobs started (or not), the objects written (or not), and for a refusal an
``error.json`` whose reason names what is wrong with the upload.
"""

from __future__ import annotations

import json
import logging
import struct
import unicodedata
import zlib
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from tests.conftest import MEDIA, TRANSCRIPTS, load_event
from tests.handlers.conftest import Delivery, Stack, jobs, put_media, s3_record
from transcription_pipeline.naming import ERROR_RECORD, OUTPUT_FILES, output_key

PROCESS = "ProcessTranscriptFunction"
PREFIX = "transcription-pipeline."  # this stack's job-name prefix
S3_MAX_KEY_BYTES = 1024


@pytest.fixture(autouse=True)
def s3_refuses_keys_over_1024_bytes(stack: Stack) -> Iterator[None]:
    """Real S3 answers KeyTooLongError for a key over 1024 UTF-8 bytes; moto 5.2 accepts it.

    Emulated for every S3 client created afterwards (the handlers' own), so a too-long
    output key fails here as it would in AWS. mock_aws replaces boto3's default session,
    hence registering only once ``stack`` is up.
    """

    def refuse_long_keys(params: dict[str, Any], model: Any, **_: Any) -> None:
        keys = [params.get("Key")] + [
            item.get("Key") for item in params.get("Delete", {}).get("Objects", [])
        ]
        for key in keys:
            if isinstance(key, str) and len(key.encode("utf-8")) > S3_MAX_KEY_BYTES:
                raise ClientError(
                    {"Error": {"Code": "KeyTooLongError", "Message": "Your key is too long"}},
                    model.name,
                )

    session = boto3._get_default_session()
    session.events.register("before-parameter-build.s3", refuse_long_keys)
    yield
    session.events.unregister("before-parameter-build.s3", refuse_long_keys)


def test_the_s3_key_limit_is_emulated(stack: Stack) -> None:
    s3 = boto3.client("s3")  # created as the handlers create theirs
    s3.put_object(Bucket=stack.input_bucket, Key="k" * S3_MAX_KEY_BYTES, Body=b"")
    with pytest.raises(ClientError, match="KeyTooLongError"):
        s3.put_object(Bucket=stack.input_bucket, Key="é" * 513, Body=b"")  # 1026 bytes
    with pytest.raises(ClientError, match="KeyTooLongError"):
        s3.delete_objects(Bucket=stack.input_bucket, Delete={"Objects": [{"Key": "k" * 1025}]})


# --- media builders ----------------------------------------------------------------


def minimal_png() -> bytes:
    """A real 1x1 greyscale PNG: signature, IHDR, IDAT, IEND with correct CRCs."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(kind + data)
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)

    header = struct.pack(">IIBBBBB", 1, 1, 8, 0, 0, 0, 0)
    pixels = zlib.compress(b"\x00\x00")  # filter byte + one grey pixel
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")
    )


def half_of(media_file: str) -> bytes:
    """The first half of a real file: an upload cut off midway."""
    body = (MEDIA / media_file).read_bytes()
    return body[: len(body) // 2]


def top_level_boxes(mp4: bytes) -> dict[bytes, bytes]:
    boxes, offset = {}, 0
    while offset + 8 <= len(mp4):
        size, kind = struct.unpack_from(">I4s", mp4, offset)
        boxes[kind] = mp4[offset : offset + size]
        offset += size
    return boxes


def with_moov_out_of_reach(mp4: bytes, moov_padding: int) -> bytes:
    """The MP4 as a long recording is laid out: ftyp, mdat, then a big moov at the end.

    A long video's moov holds large sample tables (about 146 KB for 5 minutes); a
    ``free`` box inside moov stands in for them, so the moov is larger than what
    validation may still read. The chunk offsets (stco) follow the moved mdat, so the
    file stays playable.
    """
    boxes = top_level_boxes(mp4)
    ftyp, moov, mdat = boxes[b"ftyp"], bytearray(boxes[b"moov"]), boxes[b"mdat"]
    shift = len(ftyp) - mp4.index(mdat)
    stco = moov.index(b"stco")
    (entries,) = struct.unpack_from(">I", moov, stco + 8)
    for index in range(entries):
        at = stco + 12 + 4 * index
        struct.pack_into(">I", moov, at, struct.unpack_from(">I", moov, at)[0] + shift)
    free = struct.pack(">I4s", 8 + moov_padding, b"free") + bytes(moov_padding)
    moov += free
    struct.pack_into(">I", moov, 0, len(moov))
    return ftyp + mdat + bytes(moov)


# --- helpers -----------------------------------------------------------------------


def start_one(stack: Stack, key: str, body: bytes) -> Delivery:
    stack.s3.put_object(Bucket=stack.input_bucket, Key=key, Body=body)
    return stack.start(s3_record(stack.input_bucket, key, body))


def assert_started(stack: Stack, delivery: Delivery, count: int = 1) -> None:
    """Every message handled (none put back), ``count`` jobs, each tracked in flight."""
    assert delivery.failures == []
    assert len(jobs(stack)) == count
    assert len(stack.in_flight()) == count


def error_record(stack: Stack, key: str) -> dict[str, Any]:
    record: dict[str, Any] = json.loads(stack.output(output_key(key, ERROR_RECORD)))
    return record


def assert_rejected(stack: Stack, key: str, delivery: Delivery, size: int) -> dict[str, Any]:
    """Exactly one rejection: no job, only error.json written, for the whole key."""
    assert delivery.failures == []  # a rejection is an answer, not a retry
    assert jobs(stack) == []
    assert stack.in_flight() == []
    assert stack.output_keys() == [output_key(key, ERROR_RECORD)]
    record = error_record(stack, key)
    assert record["status"] == "REJECTED"
    assert record["stage"] == "validation"
    assert record["source"]["bucket"] == stack.input_bucket
    assert record["source"]["key"] == key
    assert record["size_bytes"] == size
    return record


def assert_mentions(reason: str, *fragments: str) -> None:
    missing = [f for f in fragments if f.lower() not in reason.lower()]
    assert not missing, f"reason {reason!r} does not mention {missing}"


# --- size: decided from the event alone ------------------------------------------------


def test_zero_byte_upload_is_rejected_as_empty(stack: Stack) -> None:
    delivery = start_one(stack, "uploads/empty.mp3", b"")

    record = assert_rejected(stack, "uploads/empty.mp3", delivery, 0)
    assert record["detected"] == "empty"
    assert_mentions(record["reason"], "empty", "0 bytes")


@pytest.mark.parametrize(
    ("size", "shown"),
    [(2 * 1024**3 + 1, "2.00 GB"), (3 * 1024**3, "3.00 GB"), (5 * 1024**4, "5120.00 GB")],
)
def test_upload_over_2_gb_is_rejected_without_reading_it(
    stack: Stack, size: int, shown: str
) -> None:
    # moto cannot hold 2 GB: a stand-in object, and the event says how large the upload is.
    # The decision reads no byte of it (only a HEAD for its upload time, the revision).
    stand_in = b"not really 2 GB"
    stack.s3.put_object(Bucket=stack.input_bucket, Key="uploads/huge.mp4", Body=stand_in)
    record = s3_record(stack.input_bucket, "uploads/huge.mp4", stand_in, size=size)

    delivery = stack.start(record)

    error = assert_rejected(stack, "uploads/huge.mp4", delivery, size)
    assert error["detected"] == "not inspected"
    assert_mentions(error["reason"], shown, f"({size} bytes)", "up to 2 GB")


# --- content that is not what its name says ---------------------------------------------


@pytest.mark.parametrize(
    ("key", "body", "detected", "fragments"),
    [
        pytest.param(
            "uploads/minutes.mp4",
            b"Minutes of the meeting\n\n1. Budget\n2. Hiring\n",
            "text",
            ("named '.mp4'", "plain text", "not MP4"),
            id="text-renamed-mp4",
        ),
        pytest.param(
            "uploads/photo.mp3",
            minimal_png(),
            "png image",
            ("named '.mp3'", "a PNG image", "not MP3"),
            id="png-renamed-mp3",
        ),
    ],
)
def test_content_that_is_not_media_is_rejected_by_its_bytes(
    stack: Stack, key: str, body: bytes, detected: str, fragments: tuple[str, ...]
) -> None:
    delivery = start_one(stack, key, body)

    record = assert_rejected(stack, key, delivery, len(body))
    assert record["detected"] == detected
    assert_mentions(record["reason"], *fragments, "does not match")


@pytest.mark.parametrize(
    ("key", "media_file", "detected", "claimed"),
    [
        ("cut/tone.wav", "tone.wav", "wav", 16044),
        ("cut/video.mp4", "video.mp4", "mp4 (brand isom)", 6167),  # moov at the end
        ("cut/faststart.mp4", "faststart.mp4", "mp4 (brand isom)", 5874),  # moov first
    ],
)
def test_truncated_upload_is_rejected(
    stack: Stack, key: str, media_file: str, detected: str, claimed: int
) -> None:
    body = half_of(media_file)

    delivery = start_one(stack, key, body)

    record = assert_rejected(stack, key, delivery, len(body))
    assert record["detected"] == detected
    assert_mentions(
        record["reason"], "truncated", f"header says {claimed} bytes", f"object has {len(body)}"
    )


# --- real media Transcribe refuses ------------------------------------------------------------


@pytest.mark.parametrize(
    ("key", "media_file", "detected", "fragments"),
    [
        ("in/vorbis.ogg", "vorbis.ogg", "ogg/vorbis", ("Ogg", "Vorbis", "only with Opus")),
        ("in/vorbis.webm", "vorbis.webm", "webm/vorbis", ("WebM", "Vorbis", "only with Opus")),
        ("in/video.mkv", "video.mkv", "matroska/vorbis with video", ("Matroska (.mkv)",)),
        ("in/renamed.webm", "video.mkv", "matroska/vorbis with video", ("Matroska (.mkv)",)),
        ("in/clip.mov", "video.mov", "quicktime mov (brand qt)", ("QuickTime (.mov)",)),
        ("in/renamed.mp4", "video.mov", "quicktime mov (brand qt)", ("QuickTime (.mov)",)),
    ],
)
def test_media_transcribe_cannot_take_is_rejected(
    stack: Stack, key: str, media_file: str, detected: str, fragments: tuple[str, ...]
) -> None:
    body = put_media(stack, key, media_file)

    delivery = stack.start(s3_record(stack.input_bucket, key, body))

    record = assert_rejected(stack, key, delivery, len(body))
    assert record["detected"] == detected
    assert_mentions(record["reason"], *fragments)


def test_mp4_without_audio_whose_moov_is_reachable_is_rejected(stack: Stack) -> None:
    body = put_media(stack, "in/silent film.mp4", "noaudio.mp4")

    delivery = stack.start(s3_record(stack.input_bucket, "in/silent film.mp4", body))

    record = assert_rejected(stack, "in/silent film.mp4", delivery, len(body))
    assert record["detected"] == "mp4 (brand isom; vide:avc1)"  # a video track, no sound
    assert_mentions(record["reason"], "no audio track")


# --- MP4 without audio that only Transcribe finds out -------------------------------------------


def failed_job(job_name: str, media_uri: str, reason: str) -> dict[str, Any]:
    return {
        "TranscriptionJob": {
            "TranscriptionJobName": job_name,
            "TranscriptionJobStatus": "FAILED",
            "FailureReason": reason,
            "MediaFormat": "mp4",
            "Media": {"MediaFileUri": media_uri},
            "CompletionTime": datetime(2026, 11, 24, 10, 3, tzinfo=UTC),
        }
    }


def start_silent_long_video(stack: Stack, key: str) -> str:
    body = with_moov_out_of_reach((MEDIA / "noaudio.mp4").read_bytes(), 48 * 1024)
    assert_started(stack, start_one(stack, key, body))  # validation could not tell
    (job,) = jobs(stack)
    name: str = job["TranscriptionJobName"]
    return name


NO_AUDIO_FAILURES = [
    "Failed to parse audio file.",
    "Unsupported media format",
    "Unsupported media format: the media file has no audio stream.",
]


@pytest.mark.parametrize("failure_reason", NO_AUDIO_FAILURES)
def test_mp4_without_audio_beyond_validation_ends_in_a_plain_failure(
    stack: Stack, fake_aws_answer: Any, failure_reason: str
) -> None:
    key = "in/long silent film.mp4"
    job_name = start_silent_long_video(stack, key)
    media_uri = f"s3://{stack.input_bucket}/{key}"
    fake_aws_answer(
        "transcribe", "GetTranscriptionJob", 200, failed_job(job_name, media_uri, failure_reason)
    )
    event = load_event("transcribe-failed.json")
    event["detail"]["TranscriptionJobName"] = job_name

    result = stack.invoke(PROCESS, event)

    assert result == {"outcome": "failure_recorded", "job_name": job_name}
    assert stack.output_keys() == [output_key(key, ERROR_RECORD)]
    record = error_record(stack, key)
    assert record["status"] == "FAILED"
    assert record["stage"] == "transcription"
    assert record["job_name"] == job_name
    assert record["source"] == {"bucket": stack.input_bucket, "key": key}
    assert record["transcribe_failure_reason"] == failure_reason  # verbatim
    assert record["created_at"] == "2026-11-24T10:03:00Z"
    assert_mentions(record["reason"], "no audio")


# --- awkward keys ------------------------------------------------------------------------


def key_of_bytes(prefix: str, unit: str, suffix: str, total: int = S3_MAX_KEY_BYTES) -> str:
    """``prefix + unit * n + padding + suffix`` of exactly ``total`` UTF-8 bytes."""
    room = total - len(prefix.encode()) - len(suffix.encode())
    middle = unit * (room // len(unit.encode()))
    middle += "x" * (room - len(middle.encode()))
    key = prefix + middle + suffix
    assert len(key.encode()) == total
    return key


MAX_ASCII_KEY = key_of_bytes("uploads/", "a", ".mp3")
MAX_UNICODE_KEY = key_of_bytes("uploads/会議 ", "日本語 é 🎙️ ", ".mp3")
NFC_KEY = unicodedata.normalize("NFC", "uploads/Café Müller \u2013 résumé.mp3")
NFD_KEY = unicodedata.normalize("NFD", NFC_KEY)

AWKWARD_KEYS = [
    pytest.param("uploads/my talk  with   spaces .mp3", id="spaces"),
    pytest.param("uploads/C++ + more+.mp3", id="plus"),
    pytest.param("uploads/100% sure %41%2B%20.mp3", id="percent-not-decoded-twice"),
    pytest.param('uploads/the "quoted" talk.mp3', id="double-quotes"),
    pytest.param("uploads/it's Bob's talk.mp3", id="single-quotes"),
    pytest.param(NFC_KEY, id="unicode-nfc"),
    pytest.param(NFD_KEY, id="unicode-nfd"),
    pytest.param("uploads/日本語の会議 🎙️.mp3", id="cjk-emoji"),
    pytest.param(MAX_ASCII_KEY, id="1024-bytes-ascii"),
    pytest.param(MAX_UNICODE_KEY, id="1024-bytes-unicode"),
]


def test_nfc_and_nfd_keys_really_differ() -> None:
    assert NFC_KEY != NFD_KEY
    assert len(NFD_KEY.encode()) > len(NFC_KEY.encode())


@pytest.mark.parametrize("key", AWKWARD_KEYS)
def test_awkward_key_starts_one_job_with_the_exact_key(stack: Stack, key: str) -> None:
    body = put_media(stack, key, "tone.mp3")
    record = s3_record(stack.input_bucket, key, body)
    assert record["s3"]["object"]["key"] != key or key.isascii()  # really encoded

    delivery = stack.start(record)

    assert_started(stack, delivery)
    (job,) = jobs(stack)
    assert job["Media"]["MediaFileUri"] == f"s3://{stack.input_bucket}/{key}"
    assert job["MediaFormat"] == "mp3"
    assert job["TranscriptionJobName"].startswith(PREFIX)
    assert stack.output_keys() == []


def test_nfc_and_nfd_forms_of_one_name_are_two_uploads(stack: Stack) -> None:
    records = [
        s3_record(stack.input_bucket, key, put_media(stack, key, "tone.mp3"))
        for key in (NFC_KEY, NFD_KEY)
    ]

    delivery = stack.start(*records)

    assert_started(stack, delivery, 2)
    uris = sorted(job["Media"]["MediaFileUri"] for job in jobs(stack))
    assert uris == sorted(f"s3://{stack.input_bucket}/{key}" for key in (NFC_KEY, NFD_KEY))
    assert len({job["TranscriptionJobName"] for job in jobs(stack)}) == 2


@pytest.mark.parametrize("key", [MAX_ASCII_KEY, MAX_UNICODE_KEY], ids=["ascii", "unicode"])
def test_rejected_upload_with_a_1024_byte_key_gets_its_error_json(stack: Stack, key: str) -> None:
    body = b"not audio at all, just text\n"

    delivery = start_one(stack, key, body)

    error_key = output_key(key, ERROR_RECORD)
    assert error_key != f"{key}/{ERROR_RECORD}"  # that would be over S3's limit
    assert len(error_key.encode()) <= S3_MAX_KEY_BYTES
    record = assert_rejected(stack, key, delivery, len(body))  # source.key: the full key
    assert record["detected"] == "text"
    assert_mentions(record["reason"], "named '.mp3'", "plain text")


@pytest.mark.parametrize("key", [MAX_ASCII_KEY, MAX_UNICODE_KEY], ids=["ascii", "unicode"])
def test_transcript_of_a_1024_byte_key_is_published_in_one_folder(stack: Stack, key: str) -> None:
    body = put_media(stack, key, "tone.mp3")
    assert_started(stack, stack.start(s3_record(stack.input_bucket, key, body)))
    (job,) = jobs(stack)
    name = job["TranscriptionJobName"]
    raw = (TRANSCRIPTS / "01-plain.json").read_bytes()
    stack.s3.put_object(Bucket=stack.output_bucket, Key=f"_transcribe/{name}.json", Body=raw)
    stack.finish_job(name)
    event = load_event("transcribe-completed.json")
    event["detail"]["TranscriptionJobName"] = name

    result = stack.invoke(PROCESS, event)

    assert result == {"outcome": "published", "job_name": name}
    assert stack.in_flight() == []  # answered: no longer in flight
    written = [k for k in stack.output_keys() if not k.startswith("_transcribe/")]
    assert written == sorted(output_key(key, file_name) for file_name in OUTPUT_FILES)
    assert len({k.rsplit("/", 1)[0] for k in written}) == 1
    summary = json.loads(stack.output(output_key(key, "summary.json")))
    assert summary["source"] == {"bucket": stack.input_bucket, "key": key}


# --- objects that are not uploads ---------------------------------------------------------


@pytest.mark.parametrize(
    "key",
    [
        "a/b/",
        "a/",
        ".write_access_check_file.temp",
        "_transcribe/.write_access_check_file.temp",
        "uploads/.write_access_check_file.temp",
    ],
)
def test_folder_markers_and_transcribe_check_files_are_skipped(stack: Stack, key: str) -> None:
    stack.s3.put_object(Bucket=stack.input_bucket, Key=key, Body=b"")

    delivery = stack.start(s3_record(stack.input_bucket, key, b""))

    assert delivery.failures == []
    assert stack.queued_ids() == []
    assert stack.output_keys() == []
    assert jobs(stack) == []


# --- completion events for jobs that are not ours ------------------------------------------


@pytest.mark.parametrize(
    "job_name",
    [
        "someone-elses-job",
        "other-app.talk.0123456789abcdef",
        "other-app.transcription-pipeline.talk.0123456789abcdef",  # prefix in the middle
        "xtranscription-pipeline.talk.0123456789abcdef",
        "transcription-pipeline-prod.talk.0123456789abcdef",  # another stack's prefix
        "Transcription-Pipeline.talk.0123456789abcdef",  # prefixes are case-sensitive
        "transcription-pipeline",  # the stack name without the separator
    ],
)
@pytest.mark.parametrize("status", ["COMPLETED", "FAILED"])
def test_completion_of_another_applications_job_is_ignored(
    stack: Stack, fake_aws_answer: Any, job_name: str, status: str
) -> None:
    event = load_event("transcribe-completed.json")
    event["detail"] = {"TranscriptionJobName": job_name, "TranscriptionJobStatus": status}
    looked_up = fake_aws_answer("transcribe", "GetTranscriptionJob", 200, {})

    result = stack.invoke(PROCESS, event)

    assert result == {"outcome": "foreign", "job_name": job_name}
    assert looked_up == []  # not even asked about
    assert stack.output_keys() == []


# --- malformed records beside valid ones ------------------------------------------------------


def malformed_records(stack: Stack) -> list[tuple[str, Any]]:
    """(what is wrong, the record), each broken in exactly one way."""

    def broken(change: Any) -> dict[str, Any]:
        record = s3_record(stack.input_bucket, "uploads/fine.mp3", b"abc")
        change(record)
        return record

    return [
        ("key as int", broken(lambda r: r["s3"]["object"].update(key=42))),
        ("key missing", broken(lambda r: r["s3"]["object"].pop("key"))),
        ("key empty", broken(lambda r: r["s3"]["object"].update(key=""))),
        ("size as string", broken(lambda r: r["s3"]["object"].update(size="1234"))),
        ("size missing", broken(lambda r: r["s3"]["object"].pop("size"))),
        ("size negative", broken(lambda r: r["s3"]["object"].update(size=-1))),
        ("size as bool", broken(lambda r: r["s3"]["object"].update(size=True))),
        ("bucket missing", broken(lambda r: r["s3"].pop("bucket"))),
        ("bucket name as int", broken(lambda r: r["s3"]["bucket"].update(name=7))),
        ("object as list", broken(lambda r: r["s3"].update(object=[{"key": "a.mp3"}]))),
        ("s3 missing", broken(lambda r: r.pop("s3"))),
        ("record as a list", [s3_record(stack.input_bucket, "uploads/fine.mp3", b"abc")]),
        ("record as a string", "uploads/fine.mp3"),
        ("record null", None),
        ("record empty", {}),
    ]


def test_malformed_records_do_not_stop_the_valid_ones(
    stack: Stack, caplog: pytest.LogCaptureFixture
) -> None:
    """S3 sends one record a message: each broken record is a message of its own, among
    valid ones, over more than one batch. Each is logged with its message id and let go."""
    mp3 = put_media(stack, "uploads/one.mp3", "tone.mp3")
    wav = put_media(stack, "uploads/two.wav", "tone.wav")
    bad = malformed_records(stack)
    notifications: list[Any] = [
        {"Records": [s3_record(stack.input_bucket, "uploads/one.mp3", mp3)]}
    ]
    notifications += [{"Records": [record]} for _, record in bad[: len(bad) // 2]]
    notifications.append({"Records": [s3_record(stack.input_bucket, "uploads/two.wav", wav)]})
    notifications += [{"Records": [record]} for _, record in bad[len(bad) // 2 :]]
    assert len(notifications) > stack.batch_size
    caplog.clear()

    with caplog.at_level(logging.INFO):
        delivery = stack.start(*notifications)

    assert delivery.failures == []  # none of them is worth a retry
    assert stack.queued_ids() == []
    uris = sorted(job["Media"]["MediaFileUri"] for job in jobs(stack))
    assert uris == [
        f"s3://{stack.input_bucket}/uploads/one.mp3",
        f"s3://{stack.input_bucket}/uploads/two.wav",
    ]
    assert stack.output_keys() == []
    bad_ids = [
        message_id
        for index, message_id in enumerate(delivery.message_ids)
        if index not in (0, len(bad) // 2 + 1)
    ]
    errors = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert [r.getMessage() for r in errors] == ["malformed upload message"] * len(bad)
    assert [getattr(r, "message_id", None) for r in errors] == bad_ids
    assert all(getattr(r, "error", "") for r in errors)  # each says what is wrong
