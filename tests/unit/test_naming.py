from __future__ import annotations

import hashlib
import re
import unicodedata
from datetime import UTC, datetime

import pytest

from transcription_pipeline.naming import (
    ERROR_RECORD,
    MAX_JOB_NAME_LENGTH,
    OUTPUT_FILES,
    TRANSLATED_FILES,
    S3Location,
    is_transcribe_check_file,
    job_name_for,
    output_key,
    parse_s3_uri,
    parse_transcript_uri,
    raw_output_key,
    revision_of,
    translation_name,
)

PREFIX = "transcription-pipeline."
JOB_NAME = re.compile(r"^[0-9a-zA-Z._-]+$")
OUTPUT_KEY = re.compile(r"^[a-zA-Z0-9\-_.!*'()/]+$")


def test_job_name_is_readable_and_deterministic() -> None:
    source = S3Location("in", "uploads/My Talk.mp4")

    name = job_name_for(PREFIX, source, "etag-1")

    assert name.startswith("transcription-pipeline.My-Talk.")
    assert name == job_name_for(PREFIX, source, "etag-1")
    assert len(name.rsplit(".", 1)[1]) == 16


@pytest.mark.parametrize(
    ("other_bucket", "other_key", "other_revision"),
    [
        ("in2", "uploads/My Talk.mp4", "etag-1"),
        ("in", "uploads/My Talk.mp3", "etag-1"),
        ("in", "uploads/My Talk.mp4", "etag-2"),
        ("in", "other/My Talk.mp4", "etag-1"),
    ],
)
def test_job_name_changes_with_bucket_key_and_revision(
    other_bucket: str, other_key: str, other_revision: str
) -> None:
    base = job_name_for(PREFIX, S3Location("in", "uploads/My Talk.mp4"), "etag-1")
    other = job_name_for(PREFIX, S3Location(other_bucket, other_key), other_revision)
    assert base != other


@pytest.mark.parametrize(
    "key",
    [
        "café/naïve talk ✓.m4a",
        "x" * 1024,
        "日本語の会議.mp4",
        "a+b=c&d%20e \"quoted\" 'single'.wav",
        "no-extension",
        ".hidden.mp3",
        "---.mp3",
    ],
)
def test_job_name_is_valid_for_transcribe(key: str) -> None:
    name = job_name_for(PREFIX, S3Location("bucket", key), "v" * 64)

    assert JOB_NAME.match(name)
    assert 0 < len(name) <= MAX_JOB_NAME_LENGTH
    assert name.startswith(PREFIX)
    assert OUTPUT_KEY.match(raw_output_key("_transcribe/", name))


def test_job_name_keeps_folded_unicode_letters() -> None:
    name = job_name_for(PREFIX, S3Location("b", "café/Naïve Résumé.m4a"), "e")
    assert ".Naive-Resume." in name


def test_long_prefix_still_fits() -> None:
    prefix = "s" * 128 + "."
    name = job_name_for(prefix, S3Location("b", "y" * 500 + ".mp3"), "e")
    assert len(name) <= MAX_JOB_NAME_LENGTH
    assert JOB_NAME.match(name)


def test_outputs_live_under_the_decoded_input_key() -> None:
    assert output_key("uploads/My Talk.mp4", "summary.md") == "uploads/My Talk.mp4/summary.md"


@pytest.mark.parametrize(
    ("key", "expected"),
    [
        ("_transcribe/.write_access_check_file.temp", True),
        ("uploads/.write_access_check_file.temp", True),
        (".write_access_check_file.temp", True),
        ("_transcribe/job.json", False),
        ("uploads/talk.mp4", False),
        ("uploads/write_access_check_file.temp", False),
    ],
)
def test_transcribe_check_files(key: str, expected: bool) -> None:
    assert is_transcribe_check_file(key) is expected


def test_parse_s3_uri_keeps_the_key_verbatim() -> None:
    location = parse_s3_uri("s3://bucket/uploads/My Talk + more%20.mp4")
    assert location == S3Location("bucket", "uploads/My Talk + more%20.mp4")


@pytest.mark.parametrize("uri", ["https://bucket/key", "s3://bucket", "s3:///key"])
def test_parse_s3_uri_rejects_nonsense(uri: str) -> None:
    with pytest.raises(ValueError, match="URI"):
        parse_s3_uri(uri)


@pytest.mark.parametrize(
    "uri",
    [
        "https://s3.us-east-1.amazonaws.com/out-bucket/_transcribe/job%20x.json",
        "https://out-bucket.s3.us-east-1.amazonaws.com/_transcribe/job%20x.json",
        "https://s3.amazonaws.com/out-bucket/_transcribe/job%20x.json",
        "http://127.0.0.1:5000/out-bucket/_transcribe/job%20x.json",
        "s3://out-bucket/_transcribe/job x.json",
    ],
)
def test_parse_transcript_uri_styles(uri: str) -> None:
    assert parse_transcript_uri(uri) == S3Location("out-bucket", "_transcribe/job x.json")


# --- output keys at S3's 1024-byte limit -------------------------------------------

ALL_OUTPUTS = (
    *OUTPUT_FILES,
    ERROR_RECORD,
    *(translation_name(code, name) for code in ("de-DE", "ckb-IQ") for name in TRANSLATED_FILES),
)
# translations/ckb-IQ/transcript.txt
LONGEST_OUTPUT = max(ALL_OUTPUTS, key=lambda name: len(name.encode()))
FITS = 1024 - 1 - len(LONGEST_OUTPUT.encode())  # longest key whose outputs fit: 989 bytes
FOLDER_SUFFIX = re.compile(r"~[0-9a-f]{16}$")


def utf8_len(text: str) -> int:
    return len(text.encode("utf-8"))


def of_bytes(unit: str, total: int, filler: str = "x") -> str:
    """``unit`` repeated, padded with ASCII ``filler`` to exactly ``total`` UTF-8 bytes."""
    count = total // utf8_len(unit)
    text = unit * count
    return text + filler * (total - utf8_len(text))


def folder_of(key: str) -> str:
    folders = {output_key(key, name).removesuffix("/" + name) for name in ALL_OUTPUTS}
    assert len(folders) == 1, folders
    return folders.pop()


def test_the_longest_output_name_sizes_the_folder() -> None:
    assert LONGEST_OUTPUT == "translations/ckb-IQ/transcript.txt"
    assert FITS == 989


@pytest.mark.parametrize("size", [1, 500, FITS - 1, FITS])
def test_keys_whose_outputs_fit_are_unchanged(size: int) -> None:
    key = of_bytes("k", size)
    for name in ALL_OUTPUTS:
        assert output_key(key, name) == f"{key}/{name}"


@pytest.mark.parametrize("unit", ["é", "日本", "🎙️", "\U0001f600"])
def test_multibyte_keys_that_fit_are_unchanged(unit: str) -> None:
    key = of_bytes(unit, FITS)
    assert utf8_len(key) == FITS
    assert output_key(key, LONGEST_OUTPUT) == f"{key}/{LONGEST_OUTPUT}"


@pytest.mark.parametrize("size", [FITS + 1, FITS + 2, 1015, 1023, 1024, 1024 + 16, 4096])
def test_too_long_keys_get_a_shortened_folder_that_fits(size: int) -> None:
    key = of_bytes("a", size)

    folder = folder_of(key)

    assert FOLDER_SUFFIX.search(folder)
    assert key.startswith(folder[:-17])
    for name in ALL_OUTPUTS:
        assert utf8_len(output_key(key, name)) <= 1024
    assert utf8_len(output_key(key, LONGEST_OUTPUT)) == 1024  # ASCII: uses all the room


def test_a_key_one_byte_too_long_for_the_longest_name_moves_all_its_outputs() -> None:
    key = of_bytes("a", FITS + 1)
    # error.json alone would still fit, but all outputs of a key share one folder.
    assert utf8_len(f"{key}/error.json") <= 1024
    assert output_key(key, ERROR_RECORD) != f"{key}/error.json"
    assert folder_of(key) == output_key(key, ERROR_RECORD).rsplit("/", 1)[0]


@pytest.mark.parametrize("unit", ["é", "日本", "日", "🎙️", "\U0001f600", "a\u0301"])
@pytest.mark.parametrize("offset", [0, 1, 2, 3])
def test_multibyte_keys_of_1024_bytes_are_cut_between_characters(unit: str, offset: int) -> None:
    # Shift the characters by 0-3 ASCII bytes so the cut lands on every byte of one.
    key = "z" * offset + of_bytes(unit, 1024 - offset)
    assert utf8_len(key) == 1024

    folder = folder_of(key)

    encoded = folder.encode("utf-8")
    assert encoded.decode("utf-8") == folder  # strict decode: no split character
    stem = folder[:-17]
    assert key.startswith(stem)
    assert FOLDER_SUFFIX.search(folder)
    assert 1024 - 3 <= utf8_len(output_key(key, LONGEST_OUTPUT)) <= 1024
    for name in ALL_OUTPUTS:
        output_key(key, name).encode("utf-8").decode("utf-8")


def test_the_folder_suffix_is_the_sha256_of_the_whole_key() -> None:
    key = "uploads/" + "日本" * 200 + ".mp4"
    digest = hashlib.sha256(key.encode("utf-8")).hexdigest()[:16]
    assert folder_of(key).endswith(f"~{digest}")


def test_long_keys_that_share_their_first_1000_bytes_get_different_folders() -> None:
    common = of_bytes("p", 1000)
    first, second = common + "/first.mp4", common + "/other.mp4"

    assert folder_of(first) != folder_of(second)
    assert folder_of(first)[:-17] == folder_of(second)[:-17]


def test_nfc_and_nfd_forms_of_a_long_key_get_different_folders() -> None:
    nfc = unicodedata.normalize("NFC", "é" * 600)
    nfd = unicodedata.normalize("NFD", nfc)
    assert folder_of(nfc) != folder_of(nfd)


def test_the_folder_is_deterministic() -> None:
    key = of_bytes("ü", 1024)
    assert folder_of(key) == folder_of(of_bytes("ü", 1024))


def test_an_output_name_that_cannot_fit_is_refused() -> None:
    with pytest.raises(ValueError, match="too long"):
        output_key("k" * 2000, "n" * 40)


def test_identical_bytes_uploaded_again_are_a_new_revision() -> None:
    first = revision_of("7372c15e", None, datetime(2026, 11, 24, 10, 3, 0, tzinfo=UTC))
    again = revision_of("7372c15e", None, datetime(2026, 12, 1, 9, 0, 0, tzinfo=UTC))
    location = S3Location("in", "talk.mp4")

    assert first == "7372c15e@20261124T100300Z"
    assert first != again
    assert job_name_for("p.", location, first) != job_name_for("p.", location, again)


def test_a_version_id_is_the_revision_whatever_the_time() -> None:
    moment = datetime(2026, 11, 24, 10, 3, 0, 999, tzinfo=UTC)
    assert revision_of("7372c15e", "v1", moment) == "v1"
    assert revision_of("7372c15e", None, moment) == revision_of(
        "7372c15e", None, moment.replace(microsecond=0)
    )


def test_an_unversioned_revision_needs_the_upload_time() -> None:
    with pytest.raises(ValueError, match="Last-Modified"):
        revision_of("7372c15e", None, None)
