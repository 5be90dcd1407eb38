"""The Amazon Translate adapter and the translation use case against the local stand-in.

The real boto3 client (standard retries, JSON 1.1, SigV4) talks to
local_pipeline.standins.translate over HTTP, so these tests see what would be sent to AWS:
the operation, the body, the size of every request, and what retries and failures do.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from local_pipeline.standins import serving
from local_pipeline.standins.translate import (
    OPERATION_TARGET,
    TranslateStandIn,
    reverse_translation,
)
from tests.conftest import TRANSCRIPTS
from transcription_pipeline.aws.translate import AmazonTranslator
from transcription_pipeline.render import Cue, build_cues, srt_from_cues, text_from_words
from transcription_pipeline.transcript import parse_transcript
from transcription_pipeline.translation import (
    MAX_REQUEST_BYTES,
    TranslationFailed,
    TranslationOutcome,
    TranslationThrottled,
    translate_outputs,
)
from transcription_pipeline.words import Word, group_words

SRT_TIME = r"\d{2}:\d{2}:\d{2},\d{3}"
SRT_BLOCK = re.compile(rf"^(\d+)\n({SRT_TIME}) --> ({SRT_TIME})\n((?:.+\n?)+)", re.M)


@dataclass(frozen=True)
class SrtBlock:
    index: int
    start: str
    end: str
    lines: tuple[str, ...]


def parse_srt(srt: str) -> list[SrtBlock]:
    return [
        SrtBlock(
            int(m.group(1)), m.group(2), m.group(3), tuple(m.group(4).rstrip("\n").split("\n"))
        )
        for m in SRT_BLOCK.finditer(srt)
    ]


def words_of(name: str) -> tuple[Word, ...]:
    return group_words(parse_transcript((TRANSCRIPTS / name).read_bytes()).items)


def long_words(name: str, times: int) -> list[Word]:
    """The fixture's words ``times`` over, each copy after the previous one."""
    words = words_of(name)
    span = words[-1].end + 2.0
    return [
        w._replace(start=w.start + i * span, end=w.end + i * span)
        for i in range(times)
        for w in words
    ]


@pytest.fixture
def standin() -> Iterator[TranslateStandIn]:
    with serving(TranslateStandIn()) as running:
        assert isinstance(running, TranslateStandIn)
        yield running


@pytest.fixture
def translator(standin: TranslateStandIn, monkeypatch: pytest.MonkeyPatch) -> AmazonTranslator:
    # boto3 reads AWS_ENDPOINT_URL_<service id>: the adapter builds its own client, as in Lambda.
    monkeypatch.setenv("AWS_ENDPOINT_URL_TRANSLATE", standin.url)
    return AmazonTranslator()


def check_subtitles(cues: tuple[Cue, ...], outcome: TranslationOutcome, target: str) -> None:
    """The translated SRT parses back to the source's cue count and times, each cue holding
    its own text translated."""
    result = next(r for r in outcome.languages if r.target == target)
    code = result.translate_code or ""
    source_blocks = parse_srt(srt_from_cues(cues))
    blocks = parse_srt(result.files["subtitles.srt"].decode())
    assert len(blocks) == len(cues) == len(source_blocks)
    assert [(b.index, b.start, b.end) for b in blocks] == [
        (b.index, b.start, b.end) for b in source_blocks
    ]
    for block, cue in zip(blocks, cues, strict=True):
        assert 1 <= len(block.lines) <= 2
        text = " ".join(block.lines)
        if cue.speaker and text.startswith(f"{cue.speaker}: "):
            text = text[len(cue.speaker) + 2 :]
        assert reverse_translation(text, code) == " ".join(cue.lines)


def test_requests_are_translate_text_in_json_1_1(
    standin: TranslateStandIn, translator: AmazonTranslator
) -> None:
    answer = translator.translate_text("Guten Morgen.\nWie geht's?", "de", "en")
    assert [reverse_translation(line, "en") for line in answer.split("\n")] == [
        "Guten Morgen.",
        "Wie geht's?",
    ]
    (request,) = standin.requests
    assert (request.method, request.path) == ("POST", "/")
    assert request.headers["x-amz-target"] == OPERATION_TARGET
    assert request.headers["content-type"] == "application/x-amz-json-1.1"
    assert (request.signing_service, request.region) == ("translate", "us-east-1")
    assert request.json() == {
        "Text": "Guten Morgen.\nWie geht's?",
        "SourceLanguageCode": "de",
        "TargetLanguageCode": "en",
    }


def test_whole_outputs_translate_in_requests_under_the_byte_limit(
    standin: TranslateStandIn, translator: AmazonTranslator
) -> None:
    words = long_words("03-speaker-identification.json", 12)
    cues = build_cues(words)
    text = text_from_words(words, "speaker")
    outcome = translate_outputs(
        cues,
        text,
        source_language="en-US",
        target_languages=["de-DE", "fr-FR"],
        translator=translator,
        summary_texts={"overview": "A talk about pipelines."},
    )
    assert [r.status for r in outcome.languages] == ["translated", "translated"]
    bodies = standin.translate_requests()
    assert len(bodies) == outcome.requests > 4  # several batches per language
    assert all(len(b["Text"].encode("utf-8")) <= MAX_REQUEST_BYTES for b in bodies)
    assert outcome.characters == sum(len(b["Text"]) for b in bodies)
    assert {(b["SourceLanguageCode"], b["TargetLanguageCode"]) for b in bodies} == {
        ("en", "de"),
        ("en", "fr"),
    }
    assert standin.problems == []
    for target in ("de-DE", "fr-FR"):
        check_subtitles(cues, outcome, target)
    de = outcome.languages[0].files
    assert set(de) == {"subtitles.srt", "subtitles.vtt", "transcript.txt", "summary.json"}
    assert de["subtitles.vtt"].decode().count(" --> ") == len(cues)
    first = de["transcript.txt"].decode().split("\n")[0]
    assert re.match(r"^\[00:\d{2}\] spk_\d: \[de\] ", first)


def test_japanese_source_counts_bytes_not_characters(
    standin: TranslateStandIn, translator: AmazonTranslator
) -> None:
    words = long_words("languages/ja-JP-asr-srtize-sample.json", 400)
    cues = build_cues(words)
    outcome = translate_outputs(
        cues, "", source_language="ja-JP", target_languages=["en-US"], translator=translator
    )
    assert outcome.languages[0].status == "translated"
    sizes = [len(b["Text"].encode("utf-8")) for b in standin.translate_requests()]
    assert max(sizes) <= MAX_REQUEST_BYTES
    # Kana and kanji are 3 bytes each: a full request holds about half as many characters.
    assert max(sizes) > MAX_REQUEST_BYTES * 0.8
    assert all(len(b["Text"]) < MAX_REQUEST_BYTES / 2 for b in standin.translate_requests())
    check_subtitles(cues, outcome, "en-US")


def test_throttled_twice_then_answered_is_retried_by_the_client(
    standin: TranslateStandIn, translator: AmazonTranslator
) -> None:
    cues = build_cues(words_of("01-plain.json"))
    standin.throttle_next(2)
    outcome = translate_outputs(
        cues, "", source_language="en-US", target_languages=["de-DE"], translator=translator
    )
    (result,) = outcome.languages
    assert result.status == "translated"
    assert result.requests == 1  # one request as the use case sees it, answered ...
    assert len(standin.translate_requests()) == 3  # ... after two throttled attempts
    assert len(standin.answered) == 1
    check_subtitles(cues, outcome, "de-DE")


def test_throttled_beyond_the_retries_is_reported_as_retryable(
    standin: TranslateStandIn, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL_TRANSLATE", standin.url)
    # botocore's max_attempts counts retries: 2 attempts per call keeps the backoff short.
    translator = AmazonTranslator(max_attempts=1)
    standin.throttle_next(10)
    with pytest.raises(TranslationThrottled, match="TooManyRequestsException"):
        translator.translate_text("Hallo.", "de", "en")
    outcome = translate_outputs(
        (), "Hallo.\n", source_language="de-DE", target_languages=["en-US"], translator=translator
    )
    (result,) = outcome.languages
    assert (result.status, result.error_code, result.retryable) == (
        "failed",
        "TooManyRequestsException",
        True,
    )
    assert len(standin.translate_requests()) == 4


def test_unsupported_pair_fails_that_language_and_writes_the_others(
    standin: TranslateStandIn, translator: AmazonTranslator
) -> None:
    cues = build_cues(words_of("01-plain.json"))
    standin.fail_target("ja")
    outcome = translate_outputs(
        cues,
        "Some text.\n",
        source_language="en-US",
        target_languages=["ja-JP", "de-DE"],
        translator=translator,
    )
    ja, de = outcome.languages
    assert (ja.status, ja.error_code, ja.files) == (
        "failed",
        "UnsupportedLanguagePairException",
        {},
    )
    assert "Unsupported language pair" in (ja.reason or "")
    assert ja.requests == 0  # not retried, not billed
    assert de.status == "translated"
    assert sorted(outcome.output_files()) == [
        "translations/de-DE/subtitles.srt",
        "translations/de-DE/subtitles.vtt",
        "translations/de-DE/transcript.txt",
    ]
    check_subtitles(cues, outcome, "de-DE")


def test_service_checks_surface_as_typed_failures(
    standin: TranslateStandIn, translator: AmazonTranslator
) -> None:
    with pytest.raises(TranslationFailed) as too_big:
        translator.translate_text("é" * 5001, "fr", "en")  # 10,002 bytes
    assert too_big.value.code == "TextSizeLimitExceededException"
    with pytest.raises(TranslationFailed) as unknown:
        translator.translate_text("Hallo.", "de", "xx")
    assert unknown.value.code == "UnsupportedLanguagePairException"
    assert translator.translate_text("Hello.", "en", "en") == "Hello."
    assert standin.problems == ["source equals target (en)"]
    assert len(standin.translate_requests()) == 3  # client errors are not retried


def test_merged_lines_fall_back_to_one_request_per_line(
    standin: TranslateStandIn, translator: AmazonTranslator
) -> None:
    cues = build_cues(words_of("03-speaker-identification.json"))
    standin.merge_lines_next(1)
    outcome = translate_outputs(
        cues, "", source_language="en-US", target_languages=["de-DE"], translator=translator
    )
    (result,) = outcome.languages
    assert result.status == "translated"
    assert result.fallback_requests == len(cues)  # every cue of the merged batch, alone
    bodies = standin.translate_requests()
    assert result.requests == len(bodies) == 1 + len(cues)
    assert [b["Text"] for b in bodies[1:]] == [" ".join(cue.lines) for cue in cues]
    check_subtitles(cues, outcome, "de-DE")
