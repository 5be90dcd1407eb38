"""Cut the transcript lines into chunks that fit one model call, with overlap.

Each chunk holds whole lines, at most ``max_tokens`` of them by the estimate (the caller
has taken the prompt around the transcript off already). The next chunk starts with the
previous chunk's last lines, up to ``overlap_tokens`` of them, so a topic or an action
item cut at a boundary is seen whole once. A line longer than a chunk is split between
words first (a word longer than a chunk, between characters).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import NamedTuple

from transcription_pipeline.model_summary.lines import TranscriptLine
from transcription_pipeline.model_summary.tokens import text_weight, tokens_for_weight
from transcription_pipeline.words import Word

__all__ = ["Chunk", "chunk_lines", "line_tokens"]

_NEWLINE_TOKENS = 1  # the line break before each line, rounded up


class Chunk(NamedTuple):
    position: int  # from 0
    lines: tuple[TranscriptLine, ...]
    overlap_lines: int  # how many leading lines repeat the end of the chunk before
    tokens: int  # the estimate for ``text``, line breaks included

    @property
    def text(self) -> str:
        return "\n".join(line.render() for line in self.lines)

    @property
    def start_seconds(self) -> float:
        return self.lines[0].start

    @property
    def end_seconds(self) -> float:
        return self.lines[-1].end


def line_tokens(line: TranscriptLine) -> int:
    """The estimate for the rendered line plus its line break."""
    return tokens_for_weight(_line_weight(line)) + _NEWLINE_TOKENS


def chunk_lines(
    lines: Sequence[TranscriptLine], *, max_tokens: int, overlap_tokens: int
) -> tuple[Chunk, ...]:
    """Chunks of at most ``max_tokens`` each; ``overlap_tokens`` must be at most half of it."""
    if max_tokens < 1:
        raise ValueError(f"max_tokens must be positive, not {max_tokens}")
    if not 0 <= overlap_tokens <= max_tokens // 2:
        raise ValueError(f"overlap_tokens must be 0..{max_tokens // 2}, not {overlap_tokens}")
    chunks: list[Chunk] = []
    current: list[tuple[TranscriptLine, int]] = []  # (line, its tokens)
    current_tokens = 0
    overlap = 0
    for line in _fitting_lines(lines, max_tokens):
        cost = line_tokens(line)
        if current and current_tokens + cost > max_tokens:
            chunks.append(_chunk(len(chunks), current, overlap))
            tail: list[tuple[TranscriptLine, int]] = []
            tail_tokens = 0
            for previous in reversed(current[overlap:]):  # never repeat a repeated line
                if tail_tokens + previous[1] > overlap_tokens:
                    break
                tail.insert(0, previous)
                tail_tokens += previous[1]
            # The overlap is at most half a chunk and the line at most a chunk: drop the
            # oldest overlap lines until the new line fits beside them.
            while tail and tail_tokens + cost > max_tokens:
                tail_tokens -= tail.pop(0)[1]
            current, current_tokens, overlap = tail, tail_tokens, len(tail)
        current.append((line, cost))
        current_tokens += cost
    if current:
        chunks.append(_chunk(len(chunks), current, overlap))
    return tuple(chunks)


def _chunk(index: int, lines: list[tuple[TranscriptLine, int]], overlap: int) -> Chunk:
    return Chunk(index, tuple(line for line, _ in lines), overlap, sum(c for _, c in lines))


def _line_weight(line: TranscriptLine) -> int:
    joiner = text_weight(line.joiner) * (len(line.words) - 1)
    return text_weight(line.prefix) + joiner + sum(text_weight(w.text) for w in line.words)


def _fitting_lines(lines: Sequence[TranscriptLine], max_tokens: int) -> Iterator[TranscriptLine]:
    """The lines, each longer than a chunk split between words (and characters)."""
    for line in lines:
        if line_tokens(line) <= max_tokens:
            yield line
        else:
            yield from _split_line(line, max_tokens)


def _split_line(line: TranscriptLine, max_tokens: int) -> Iterator[TranscriptLine]:
    limit = (max_tokens - _NEWLINE_TOKENS) * 3  # in weight units (thirds of a token)
    joiner = text_weight(line.joiner)
    pending = list(line.words)
    piece: list[Word] = []
    weight = 0
    while pending:
        word = pending[0]
        if piece:
            added = joiner + text_weight(word.text)
            if weight + added > limit:
                yield line._replace(start=piece[0].start, words=tuple(piece))
                piece, weight = [], 0
                continue  # the same word starts the next piece
        else:
            prefix = text_weight(line._replace(start=word.start).prefix)
            added = prefix + text_weight(word.text)
            if added > limit:
                # One word longer than a chunk: cut its text; both parts keep its times.
                head, rest = _cut(word.text, max(1, limit - prefix))
                pending[0:1] = [word._replace(text=head)] + (
                    [word._replace(text=rest)] if rest else []
                )
                word = pending[0]
                added = prefix + text_weight(word.text)
        piece.append(word)
        weight += added
        pending.pop(0)
    if piece:
        yield line._replace(start=piece[0].start, words=tuple(piece))


def _cut(text: str, weight_limit: int) -> tuple[str, str]:
    """The longest head of ``text`` within the weight (at least one character), the rest."""
    total = 0
    for position, character in enumerate(text):
        total += text_weight(character)
        if total > weight_limit and position > 0:
            return text[:position], text[position:]
    return text, ""
