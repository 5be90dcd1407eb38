"""SubRip (SRT) and WebVTT from cues, with speaker names and right-to-left marks."""

from __future__ import annotations

from collections.abc import Sequence

from transcription_pipeline.render.cues import Cue
from transcription_pipeline.scripts import LATIN, RIGHT_TO_LEFT_MARK, WritingSystem


def timestamp(seconds: float, separator: str) -> str:
    """hh:mm:ss<separator>mmm: "," in SubRip, "." in WebVTT."""
    ms = round(seconds * 1000)
    hours, rest = divmod(ms, 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    secs, millis = divmod(rest, 1000)
    return f"{hours:02d}:{minutes:02d}:{secs:02d}{separator}{millis:03d}"


def _srt_lines(cues: Sequence[Cue]) -> list[tuple[str, ...]]:
    """SubRip has no speaker markup: the speaker's name (or label) leads the first line of
    a cue where the speaker changes, as broadcast subtitles do."""
    shown: list[tuple[str, ...]] = []
    previous: str | None = None
    for cue in cues:
        lines = cue.lines
        if cue.speaker is not None and cue.speaker != previous:
            lines = (f"{cue.speaker}: {lines[0]}", *lines[1:])
        previous = cue.speaker
        shown.append(lines)
    return shown


def _line_start(writing: WritingSystem) -> str:
    """What starts every subtitle line: U+200F RIGHT-TO-LEFT MARK in right-to-left text.

    Players lay a line out in the direction of its first strong character (Unicode bidi
    rules P2/P3, https://www.unicode.org/reports/tr9/#P2; WebVTT treats each line of a
    cue as its own paragraph, https://www.w3.org/TR/webvtt1/#cue-text-rendering-rules).
    An Arabic or Hebrew line that starts with a number, a Latin word ("AWS"), a speaker
    label (spk_0) or punctuation would otherwise be laid out left to right, its words
    in the wrong order on screen. The mark is invisible and a strong right-to-left
    character, so the line is right to left whatever comes first.
    """
    return RIGHT_TO_LEFT_MARK if writing.right_to_left else ""


def srt_from_cues(cues: Sequence[Cue], *, writing: WritingSystem = LATIN) -> str:
    """SubRip; every line of right-to-left text starts with a right-to-left mark, the
    line led by a speaker's name too (before the name)."""
    mark = _line_start(writing)
    blocks = [
        f"{index}\n{timestamp(cue.start, ',')} --> {timestamp(cue.end, ',')}\n"
        + "\n".join([mark + line for line in lines] if mark else lines)
        + "\n"
        for index, (cue, lines) in enumerate(zip(cues, _srt_lines(cues), strict=True), start=1)
    ]
    return "\n".join(blocks)


def vtt_escape(text: str) -> str:
    # WebVTT cue text treats & and < as markup; escaping > also rules out "-->".
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _voice(speaker: str | None) -> str:
    """A WebVTT voice span start (``<v Ana>``); the name may not hold '>' or a newline."""
    if speaker is None:
        return ""
    name = " ".join(vtt_escape(speaker).split())
    return f"<v {name}>"


def vtt_from_cues(cues: Sequence[Cue], *, writing: WritingSystem = LATIN) -> str:
    """WebVTT; in right-to-left text every line starts with a right-to-left mark (after
    the ``<v name>`` tag, which is markup, not text)."""
    mark = _line_start(writing)
    blocks = [
        f"{timestamp(start, '.')} --> {timestamp(end, '.')}\n"
        + _voice(speaker)
        + "\n".join(mark + vtt_escape(line) for line in lines)
        + "\n"
        for start, end, lines, speaker in cues
    ]
    if not blocks:
        return "WEBVTT\n"
    return "WEBVTT\n\n" + "\n".join(blocks)


# One output of one transcript, for callers that want only that (tests, local tools).
# process.render_outputs groups the words and builds the cues once for all outputs.
