"""Tests for transcription_pipeline.model_summary: lines, tokens, chunks, the plan, answers,
the map-reduce use case (with an in-memory fake model) and the Markdown lines."""

from __future__ import annotations

import itertools
import json
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest

from transcription_pipeline.languages import BATCH_LANGUAGE_CODES
from transcription_pipeline.model_summary import (
    PROMPT_VERSION,
    ActionItem,
    AnswerError,
    Chunk,
    ModelChapter,
    ModelFailed,
    ModelReply,
    ModelSummary,
    ModelSummaryResult,
    ModelThrottled,
    SummaryPlan,
    TranscriptLine,
    chunk_lines,
    clock,
    estimate_tokens,
    json_object_text,
    language_name,
    line_tokens,
    load_prompts,
    model_summary_markdown,
    parse_answer,
    parse_clock,
    plan_model_summary,
    stated_owner,
    summarise_with_model,
    transcript_lines,
    valid_chapters,
)
from transcription_pipeline.model_summary.prompts import fill
from transcription_pipeline.words import Word

LINE = re.compile(r"^\[(\d+):(\d\d):(\d\d)\] ")
SENTENCE = "the team looked at the numbers for the quarter and agreed on the plan"


def make_words(
    count: int,
    *,
    speakers: tuple[str | None, ...] = ("spk_0", "spk_1"),
    sentence_words: int = 12,
    turn_sentences: int = 3,
    seconds_per_word: float = 0.4,
    vocabulary: str = SENTENCE,
) -> tuple[Word, ...]:
    """``count`` words of sentences of ``sentence_words``, speakers taking turns."""
    pool = vocabulary.split()
    words = []
    for n in range(count):
        sentence, position = divmod(n, sentence_words)
        speaker = speakers[(sentence // turn_sentences) % len(speakers)]
        last = position == sentence_words - 1 or n == count - 1
        content = pool[n % len(pool)]
        text = content + ("." if last else "")
        start = n * seconds_per_word
        end = start + seconds_per_word * 0.9
        words.append(Word(text, content, start, end, 0.9, speaker, last, last))
    return tuple(words)


def summary_json(**fields: object) -> str:
    document: dict[str, object] = {
        "summary": "A summary.",
        "key_points": [],
        "action_items": [],
        "chapters": [],
    }
    document.update(fields)
    return json.dumps(document)


@dataclass
class FakeModel:
    """Answers from ``respond`` (default: a JSON object describing the prompt), records
    every call; ``script`` replaces the next answers (a string, or an exception)."""

    respond: Callable[[str], str] | None = None
    script: list[str | Exception] = field(default_factory=list)
    calls: list[tuple[str, str, int]] = field(default_factory=list)
    stop_reason: str = "end_turn"
    lock: threading.Lock = field(default_factory=threading.Lock)

    def converse(self, *, system: str, prompt: str, max_output_tokens: int) -> ModelReply:
        with self.lock:
            self.calls.append((system, prompt, max_output_tokens))
            scripted = self.script.pop(0) if self.script else None
        if isinstance(scripted, Exception):
            raise scripted
        text = scripted if scripted is not None else (self.respond or default_answer)(prompt)
        # About four characters a token, as models count English.
        return ModelReply(text, fake_tokens(system + prompt), fake_tokens(text), self.stop_reason)

    @property
    def prompts(self) -> list[str]:
        return [prompt for _, prompt, _ in self.calls]


def fake_tokens(text: str) -> int:
    return len(text) // 4


def transcript_block(prompt: str) -> list[str]:
    if "<transcript>" not in prompt:
        return []
    inner = prompt.split("<transcript>\n", 1)[1].split("\n</transcript>", 1)[0]
    return inner.split("\n")


def partial_block(prompt: str) -> list[dict[str, Any]]:
    if "<partial_summaries>" not in prompt:
        return []
    inner = prompt.split("<partial_summaries>\n", 1)[1].split("\n</partial_summaries>", 1)[0]
    return [json.loads(line) for line in inner.split("\n")]


def default_answer(prompt: str) -> str:
    """Map: a chapter at the first line's time. Reduce: the parts' chapters together."""
    lines = transcript_block(prompt)
    if lines:
        first = LINE.match(lines[0])
        assert first is not None
        start = first.group(0).strip()[1:-1]
        return summary_json(
            summary=f"{len(lines)} lines from {start}.",
            key_points=[f"point at {start}"],
            chapters=[{"start": start, "title": f"From {start}"}],
        )
    parts = partial_block(prompt)
    chapters = [c for p in parts for c in p["chapters"]]
    return summary_json(
        summary=f"{len(parts)} parts combined.",
        key_points=[p["summary"] for p in parts],
        chapters=chapters,
    )


def summary_of(result: ModelSummaryResult) -> ModelSummary:
    assert result.summary is not None, result.fallback_reason
    return result.summary


def reason_of(result: ModelSummaryResult) -> str:
    assert result.fallback_reason is not None, "expected a fallback"
    return result.fallback_reason


def summarise(words: tuple[Word, ...], model: FakeModel, **options: Any) -> ModelSummaryResult:
    settings: dict[str, Any] = {
        "model_id": "test.model-v1:0",
        "language_code": "en-US",
        "output_language": None,
        "joiner": " ",
        "instructions": None,
        "token_budget": 1_000_000,
    }
    settings.update(options)
    return summarise_with_model(words, model, **settings)


# -- lines ------------------------------------------------------------------------------
def test_a_line_per_speaker_turn_with_time_and_speaker() -> None:
    words = make_words(24, sentence_words=6, turn_sentences=2)
    lines = transcript_lines(words)
    assert [line.speaker for line in lines] == ["spk_0", "spk_1"]
    assert lines[0].render() == (
        "[0:00:00] spk_0: the team looked at the numbers. for the quarter and agreed on."
    )
    assert lines[1].render().startswith("[0:00:04] spk_1: the plan the team")


def test_without_speakers_a_line_has_no_label_and_ends_after_a_sentence() -> None:
    words = make_words(100, speakers=(None,), sentence_words=20)
    lines = transcript_lines(words)
    # 30 words at least, then the first sentence end: 40 words a line.
    assert [len(line.words) for line in lines] == [40, 40, 20]
    assert lines[1].render().startswith("[0:00:16] the plan the team")
    assert ": " not in lines[1].render()[:12]


def test_unpunctuated_speech_is_cut_at_the_longest_line() -> None:
    words = make_words(200, speakers=(None,), sentence_words=1000)
    assert [len(line.words) for line in transcript_lines(words)] == [80, 80, 40]


def test_the_joiner_goes_between_words() -> None:
    words = (
        Word("今日は", "今日は", 0.0, 0.5, 0.9, None, False, False),
        Word("晴れ。", "晴れ", 0.5, 1.0, 0.9, None, True, True),
    )
    (line,) = transcript_lines(words, joiner="")
    assert line.render() == "[0:00:00] 今日は晴れ。"


def test_hours_in_line_times_and_clock_round_trip() -> None:
    assert clock(3 * 3600 + 62.9) == "3:01:02"
    assert parse_clock("3:01:02") == 3 * 3600 + 62
    assert parse_clock("[01:05]") == 65
    assert parse_clock("42.5") == 42.5
    assert parse_clock("1:75") is None
    assert parse_clock("soon") is None


# -- tokens -----------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "tokens"),
    [
        ("", 0),
        ("abc", 1),
        ("abcd", 2),
        ("0:01:05", 6),  # five digits (one token each) and two colons
        ("你好", 2),  # CJK: one a character
        ("สวัสดี", 6),  # Thai: one a character
        ("привет", 4),  # Cyrillic: two bytes, 2/3 of a token a letter
    ],
)
def test_token_estimate(text: str, tokens: int) -> None:
    assert estimate_tokens(text) == tokens


def test_a_lines_tokens_are_its_rendered_texts_plus_the_line_break() -> None:
    for line in transcript_lines(make_words(300)):
        assert line_tokens(line) == estimate_tokens(line.render()) + 1


# -- chunks -----------------------------------------------------------------------------
def new_lines(chunks: tuple[Chunk, ...]) -> list[TranscriptLine]:
    return [line for c in chunks for line in c.lines[c.overlap_lines :]]


def test_chunks_fit_overlap_and_cover_every_line_once() -> None:
    lines = transcript_lines(make_words(6000))
    chunks = chunk_lines(lines, max_tokens=1500, overlap_tokens=200)
    assert len(chunks) > 5
    for chunk in chunks:
        assert chunk.tokens == sum(line_tokens(line) for line in chunk.lines) <= 1500
        assert estimate_tokens(chunk.text) <= chunk.tokens
    for before, after in itertools.pairwise(chunks):
        repeated = after.lines[: after.overlap_lines]
        assert repeated == before.lines[len(before.lines) - after.overlap_lines :]
        assert 0 < sum(line_tokens(line) for line in repeated) <= 200
    assert chunks[0].overlap_lines == 0
    assert new_lines(chunks) == list(lines)


def test_no_overlap_when_asked_for_none() -> None:
    lines = transcript_lines(make_words(2000))
    chunks = chunk_lines(lines, max_tokens=1000, overlap_tokens=0)
    assert all(chunk.overlap_lines == 0 for chunk in chunks)
    assert [line for chunk in chunks for line in chunk.lines] == list(lines)


def test_a_line_longer_than_a_chunk_is_split_between_words() -> None:
    words = make_words(80, speakers=("spk_0",), sentence_words=1000)
    (line,) = transcript_lines(words)
    chunks = chunk_lines([line], max_tokens=60, overlap_tokens=0)
    pieces = [piece for chunk in chunks for piece in chunk.lines]
    assert len(pieces) > 2
    assert all(line_tokens(piece) <= 60 for piece in pieces)
    assert [w for piece in pieces for w in piece.words] == list(words)
    assert [piece.start for piece in pieces] == [piece.words[0].start for piece in pieces]
    assert pieces[1].render().startswith(f"[{clock(pieces[1].words[0].start)}] spk_0: ")


def test_a_word_longer_than_a_chunk_is_cut_between_characters() -> None:
    giant = Word("x" * 600, "x" * 600, 1.0, 2.0, 0.9, None, False, False)
    (line,) = transcript_lines([giant])
    chunks = chunk_lines([line], max_tokens=50, overlap_tokens=0)
    pieces = [piece for chunk in chunks for piece in chunk.lines]
    assert all(line_tokens(piece) <= 50 for piece in pieces)
    assert "".join(w.text for piece in pieces for w in piece.words) == "x" * 600


def test_an_overlap_over_half_a_chunk_is_refused() -> None:
    with pytest.raises(ValueError, match="overlap_tokens"):
        chunk_lines([], max_tokens=100, overlap_tokens=51)


# -- plan -------------------------------------------------------------------------------
def plan(words: tuple[Word, ...], **options: int) -> SummaryPlan:
    return plan_model_summary(
        words, language_code="en-US", output_language=None, joiner=" ", instructions=None,
        **options,
    )  # fmt: skip


def test_a_short_transcript_takes_one_call() -> None:
    p = plan(make_words(500))
    assert (p.map_calls, p.reduce_calls, p.reduce_levels) == (1, 0, 0)
    chunk = p.chunks[0]
    assert p.estimated_output_tokens == 1024
    assert p.estimated_input_tokens > chunk.tokens  # the prompt counts


def test_the_plan_reduces_in_a_tree_when_the_partials_do_not_fit_one_call() -> None:
    one_hour = plan(make_words(9000))
    assert (one_hour.reduce_levels, one_hour.reduce_calls) == (1, 1)
    four_hours = plan(make_words(36_000))
    # Four partials of up to 1024 output tokens (1.5 times that by the estimate) fit in
    # one 8000-token request beside the reduce prompt.
    groups = -(-four_hours.map_calls // 4)
    assert four_hours.reduce_levels == 2
    assert four_hours.reduce_calls == groups + 1
    assert four_hours.calls == four_hours.map_calls + groups + 1
    assert four_hours.estimated_output_tokens == four_hours.calls * 1024
    chunk_tokens = sum(chunk.tokens for chunk in four_hours.chunks)
    assert four_hours.estimated_input_tokens > chunk_tokens + four_hours.calls * 1000


def test_custom_instructions_take_room_from_the_transcript() -> None:
    words = make_words(9000)
    default = plan(words)
    long = plan_model_summary(
        words, language_code="en-US", output_language=None, joiner=" ",
        instructions="Be thorough. " * 300,
    )  # fmt: skip
    assert long.map_calls > default.map_calls


def test_a_prompt_that_leaves_no_room_is_refused() -> None:
    with pytest.raises(ValueError, match="no room for the transcript"):
        plan(make_words(100), chunk_tokens=600)


# -- answers ----------------------------------------------------------------------------
def test_fences_and_text_around_the_object_are_taken_off() -> None:
    fenced = '```json\n{"summary": "S", "key_points": ["a"]}\n```'
    assert json_object_text(fenced) == '{"summary": "S", "key_points": ["a"]}'
    chatty = 'Here you go:\n{"summary": "S", "x": {"y": 1}}\nHope it helps.'
    assert json_object_text(chatty) == '{"summary": "S", "x": {"y": 1}}'
    assert parse_answer(fenced, language="en").key_points == ("a",)


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("I cannot do that.", "no JSON object"),
        ('{"summary": "S",}', "not valid JSON"),
        ("[1, 2]", "no JSON object"),
        ('{"key_points": []}', '"summary" was missing'),
        ('{"summary": "   "}', '"summary" was missing'),
    ],
)
def test_unusable_answers_say_why(text: str, problem: str) -> None:
    with pytest.raises(AnswerError, match=problem):
        parse_answer(text, language=None)


def test_an_answer_cut_at_the_output_limit_says_so() -> None:
    with pytest.raises(AnswerError, match="cut off at the output limit"):
        parse_answer('{"summary": "The meeting', language=None, stop_reason="max_tokens")


def test_fields_are_read_leniently() -> None:
    text = summary_json(
        summary="  Two   spaces. ",
        key_points=["One", {"text": "Two"}, "one", 3, ""],
        action_items=[
            {"text": "Send the deck", "owner": "Ana"},
            {"task": "Book a room", "owner": "unknown"},
            "Call the vendor",
            {"text": "Send the deck", "owner": "Bo"},
        ],
        chapters=[
            {"start": "0:01:05", "title": "Intro"},
            {"start": 90, "title": "Numbers"},
            {"start": "later", "title": "Dropped"},
            {"start": "2:00", "title": ""},
        ],
    )
    summary = parse_answer(text, language="en-US")
    assert summary.summary == "Two   spaces."  # as written: only the ends are trimmed
    assert summary.key_points == ("One", "Two")
    assert summary.action_items == (
        ActionItem("Send the deck", "Ana"),
        ActionItem("Book a room", None),
        ActionItem("Call the vendor", None),
    )
    assert summary.chapters == (ModelChapter(65, "Intro"), ModelChapter(90, "Numbers"))
    assert summary.language == "en-US"


def test_chapters_are_kept_within_the_transcript_ascending_one_per_second() -> None:
    chapters = [
        ModelChapter(300, "Late"),
        ModelChapter(10, "Start"),
        ModelChapter(10.5, "Same second"),
        ModelChapter(-1, "Before"),
        ModelChapter(9999, "After"),
    ]
    assert valid_chapters(chapters, end_seconds=600) == (
        ModelChapter(10, "Start"),
        ModelChapter(300, "Late"),
    )


def test_owners_only_when_the_transcript_names_them() -> None:
    stated = "ana\nbo\nwe asked maria to send it.".casefold()
    assert stated_owner("Maria", stated) == "Maria"
    assert stated_owner("Ana", stated) == "Ana"
    assert stated_owner("Mar", stated) is None  # not a whole word
    assert stated_owner("Carlos", stated) is None
    assert stated_owner(None, stated) is None
    assert stated_owner("田中", "田中さんが送ります", spaced=False) == "田中"


# -- the use case -----------------------------------------------------------------------
def test_an_empty_transcript_makes_no_call() -> None:
    model = FakeModel()
    result = summarise((), model)
    assert model.calls == []
    assert result.summary is None
    assert "no words" in reason_of(result)
    assert result.usage.calls == 0


def test_a_short_transcript_is_summarised_in_one_call_with_the_prompt_files() -> None:
    model = FakeModel()
    words = make_words(300)
    result = summarise(words, model, language_code="fr-FR")
    (system, prompt, max_tokens) = model.calls[0]
    assert len(model.calls) == 1
    assert max_tokens == 1024
    assert "Write every text value in French." in system
    assert '"action_items"' in system  # the JSON contract
    assert "part 1 of 1" in prompt
    assert load_prompts().instructions in prompt
    assert transcript_block(prompt) == [line.render() for line in transcript_lines(words)]
    summary = summary_of(result)
    assert summary.summary == f"{len(transcript_lines(words))} lines from 0:00:00."
    assert summary.chapters == (ModelChapter(0, "From 0:00:00"),)
    assert summary.language == "fr-FR"
    usage = result.usage
    assert (usage.calls, usage.chunks, usage.prompt_version) == (1, 1, PROMPT_VERSION)
    assert usage.input_tokens == fake_tokens(system + prompt)
    assert usage.custom_instructions is False


def test_custom_instructions_replace_the_default_ones_and_the_contract_stays() -> None:
    model = FakeModel()
    summarise(make_words(300), model, instructions="List every number said. {transcript}")
    system, prompt, _ = model.calls[0]
    assert "List every number said. {transcript}" in prompt  # filled once, never again
    assert load_prompts().instructions not in prompt
    assert '"key_points"' in system


def test_the_output_language_wins_over_the_transcripts() -> None:
    model = FakeModel()
    result = summarise(make_words(100), model, language_code="en-US", output_language="de")
    assert "in German." in model.calls[0][0]
    assert summary_of(result).language == "de"


def test_map_then_reduce_in_order() -> None:
    model = FakeModel()
    words = make_words(9000)
    expected = plan(words)
    result = summarise(words, model)
    chunks = expected.chunks
    maps, reduces = model.prompts[: len(chunks)], model.prompts[len(chunks) :]
    assert len(chunks) > 2
    assert len(reduces) == 1
    for chunk, prompt in zip(chunks, maps, strict=True):
        assert f"part {chunk.position + 1} of {len(chunks)}" in prompt
        assert transcript_block(prompt) == chunk.text.split("\n")
    parts = partial_block(reduces[0])
    assert [p["part"] for p in parts] == list(range(1, len(chunks) + 1))
    assert [p["from"] for p in parts] == [clock(c.start_seconds) for c in chunks]
    summary = summary_of(result)
    assert summary.summary == f"{len(chunks)} parts combined."
    starts = [c.start_seconds for c in summary.chapters]
    assert starts == sorted(starts)
    assert len(starts) == len(chunks)
    assert result.usage.calls == len(chunks) + 1


def test_a_thread_pool_gives_the_same_result() -> None:
    words = make_words(9000)
    sequential = summarise(words, FakeModel())
    parallel_model = FakeModel()
    parallel = summarise(words, parallel_model, max_parallel_calls=4)
    assert parallel == sequential
    assert len(parallel_model.calls) == sequential.usage.calls


def test_partials_that_do_not_fit_one_call_are_reduced_in_a_tree() -> None:
    def long_answers(prompt: str) -> str:
        answer = json.loads(default_answer(prompt))
        answer["summary"] += " and more" * 150  # about 1,400 characters
        return json.dumps(answer)

    model = FakeModel(respond=long_answers)
    words = make_words(36_000)
    options = {"chunk_tokens": 4000, "max_output_tokens": 512}
    expected = plan(words, **options)
    result = summarise(words, model, **options)
    reduces = [p for p in model.prompts if "<partial_summaries>" in p]
    assert len(reduces) >= expected.map_calls // 6 + 1  # groups, then the groups' summaries
    assert result.summary is not None
    assert result.usage.calls <= expected.calls
    for prompt in reduces:
        starts = [parse_clock(p["from"]) or 0.0 for p in partial_block(prompt)]
        assert starts == sorted(starts)
    final = partial_block(reduces[-1])
    assert final[0]["from"] == "0:00:00"
    assert len(final) < expected.map_calls


def test_over_the_budget_nothing_is_sent() -> None:
    model = FakeModel()
    words = make_words(9000)
    needed = plan(words).estimated_tokens
    result = summarise(words, model, token_budget=needed - 1)
    assert model.calls == []
    assert result.fallback_reason == (
        f"the transcript needs about {needed} tokens, over the budget of {needed - 1}; "
        "raise SummaryTokenBudget"
    )
    assert summarise(words, FakeModel(), token_budget=needed).summary is not None


def test_a_bad_answer_is_asked_again_once() -> None:
    model = FakeModel(script=["Sorry, no JSON here."])
    result = summarise(make_words(300), model)
    assert len(model.calls) == 2
    first, second = model.prompts
    assert second.startswith(first)
    assert "it held no JSON object" in second[len(first) :]
    assert result.summary is not None


def test_two_bad_answers_fall_back() -> None:
    model = FakeModel(script=["Sorry.", '{"summary": ""}'])
    result = summarise(make_words(300), model)
    assert len(model.calls) == 2
    assert result.summary is None
    assert result.fallback_reason == (
        "the model's answer for part 1 of 1 was not the JSON object asked for, twice "
        '(its "summary" was missing or empty)'
    )


def test_the_re_ask_counts_against_the_budget() -> None:
    words = make_words(300)
    needed = plan(words).estimated_tokens
    model = FakeModel(script=["Sorry."])
    result = summarise(words, model, token_budget=needed)
    assert len(model.calls) == 1
    assert "over the budget" in reason_of(result)


@pytest.mark.parametrize(
    ("error", "reason"),
    [
        (ModelThrottled("ThrottlingException: slow down"), "kept throttling"),
        (
            ModelFailed("AccessDeniedException", "not allowed"),
            "failed the request for part 1 of 1: AccessDeniedException: not allowed",
        ),
    ],
)
def test_model_errors_fall_back_with_the_reason(error: Exception, reason: str) -> None:
    model = FakeModel(script=[error])
    result = summarise(make_words(300), model)
    assert result.summary is None
    assert reason in reason_of(result)
    assert "test.model-v1:0" in reason_of(result)
    assert result.usage.calls == 1


def test_a_failure_in_a_later_part_stops_the_summary() -> None:
    part = summary_json(summary="A part.")
    model = FakeModel(script=[part, part, ModelFailed("ModelErrorException", "boom")])
    result = summarise(make_words(9000), model)
    assert "part 3 of" in reason_of(result)
    assert len(model.calls) == 3


def test_a_blocked_answer_falls_back() -> None:
    model = FakeModel(stop_reason="content_filtered")
    result = summarise(make_words(100), model)
    assert result.fallback_reason == (
        "the model's answer for part 1 of 1 was blocked (content_filtered)"
    )


def test_the_final_summary_keeps_only_valid_chapters_and_stated_owners() -> None:
    answer = summary_json(
        action_items=[
            {"text": "Check the numbers", "owner": "spk_1"},
            {"text": "Call the bank", "owner": "Carlos"},
        ],
        chapters=[
            {"start": "0:00:30", "title": "Later"},
            {"start": "0:00:00", "title": "Opening"},
            {"start": "9:00:00", "title": "Past the end"},
        ],
    )
    result = summarise(make_words(300), FakeModel(script=[answer]))
    summary = summary_of(result)
    assert summary.action_items == (
        ActionItem("Check the numbers", "spk_1"),
        ActionItem("Call the bank", None),
    )
    assert summary.chapters == (ModelChapter(0, "Opening"), ModelChapter(30, "Later"))


# -- prompts, languages, data, Markdown ---------------------------------------------------
def test_prompt_files_use_known_placeholders_only() -> None:
    prompts = load_prompts()
    assert prompts.version == PROMPT_VERSION == "summary/v1"
    for template in (prompts.system, prompts.map, prompts.reduce, prompts.correction):
        for name in re.findall(r"\{(\w+)\}", template):
            assert name in {"language", "instructions", "transcript", "partials", "part",
                            "parts", "start", "end", "problem"}  # fmt: skip
    assert "{transcript}" in prompts.map
    assert "{partials}" in prompts.reduce
    assert fill("{a} {language}", {"language": "{language}"}) == "{a} {language}"


def test_every_transcribe_language_has_a_name() -> None:
    unnamed = [code for code in BATCH_LANGUAGE_CODES if language_name(code) == code]
    assert unnamed == []
    assert language_name("fr-CA") == "Canadian French"
    assert language_name("ja-JP") == "Japanese"
    assert language_name("xx-YY") == "xx-YY"
    assert language_name("Esperanto") == "Esperanto"


def test_model_summary_round_trips_through_a_dict() -> None:
    summary = ModelSummary(
        "S.",
        ("a", "b"),
        (ActionItem("Do it", "Ana"), ActionItem("Other", None)),
        (ModelChapter(0.0, "Start"), ModelChapter(75.5, "Next")),
        "en-US",
    )
    data = json.loads(json.dumps(summary.to_dict()))
    assert ModelSummary.from_dict(data) == summary
    assert data["action_items"][1] == {"text": "Other", "owner": None}


def test_markdown_lines() -> None:
    summary = ModelSummary(
        "We agreed on *everything*.",
        ("Ship on Friday",),
        (ActionItem("Write the notes", "Ana"), ActionItem("Book a room", None)),
        (ModelChapter(0, "Opening"), ModelChapter(3725, "Budget")),
        "en-US",
    )
    assert model_summary_markdown(summary) == [
        "## Summary",
        "",
        "We agreed on \\*everything\\*.",
        "",
        "## Key points",
        "",
        "- Ship on Friday",
        "",
        "## Action items",
        "",
        "- Write the notes (Ana)",
        "- Book a room",
        "",
        "## Chapters",
        "",
        "- [00:00] Opening",
        "- [1:02:05] Budget",
        "",
    ]
    empty = ModelSummary("Short.", (), (), (), None)
    assert model_summary_markdown(empty) == ["## Summary", "", "Short.", ""]


@pytest.mark.parametrize(
    ("options", "reason"),
    [
        ({"chunk_tokens": 0}, "must be positive"),
        ({"chunk_tokens": 600}, "no room for the transcript"),
        ({"chunk_tokens": 3000, "max_output_tokens": 1024}, "cannot hold two partial summaries"),
    ],
)
def test_settings_that_cannot_work_fall_back_without_a_call(
    options: dict[str, int], reason: str
) -> None:
    model = FakeModel()
    result = summarise(make_words(9000), model, **options)
    assert model.calls == []
    assert reason in reason_of(result)
