"""Per-upload options: what may be set for one file, where it comes from, and its checks.

Four sources, each a partial ``FileOptions``; for every option the first source that
sets it wins:

1. the sidecar ``<key>.options.json``, uploaded before (or with) the media;
2. S3 user metadata on the upload (``--metadata language=es-US,speakers=3``), read from
   the ranged GET the start function makes anyway;
3. the longest matching per-prefix profile (the ``OptionProfiles`` parameter);
4. the stack's parameters.

``resolve`` merges them and checks the result as Transcribe would, before any job is
started: an invalid option raises ``OptionError`` naming the option, its source, the
value and what is allowed. The options that change the transcription have a
``fingerprint``: it is part of the job name, so the same file uploaded again with other
options gets a new job.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from transcription_pipeline.languages import (
    BATCH_LANGUAGE_CODES,
    REDACTION_LANGUAGE_CODES,
    language_part,
)

SIDECAR_SUFFIX = ".options.json"
AUTO = "auto"
MIN_SPEAKERS, MAX_SPEAKERS = 2, 30
_NAME_PATTERN = re.compile(r"^[0-9a-zA-Z._-]{1,200}$")  # vocabulary and filter names
_SPEAKER_LABEL = re.compile(r"^spk_\d+$")
_FILTER_METHODS = ("mask", "remove", "tag")
MAX_TITLE_CHARACTERS = 200
MAX_NAME_CHARACTERS = 100
MAX_PROMPT_CHARACTERS = 4000
MAX_TARGET_LANGUAGES = 10


class OptionError(ValueError):
    """One option is not allowed; the message says which, from where, and what is."""

    def __init__(self, option: str, source: str, value: object, allowed: str) -> None:
        self.option, self.source, self.allowed = option, source, allowed
        shown = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
        super().__init__(f"option {option!r} from {source} is {shown!r}: {allowed}")


SpeakerNames = tuple[str, ...] | tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class FileOptions:
    """Options one source sets; None means "not set here"."""

    language: str | None = None  # a batch language code, or "auto"
    language_options: tuple[str, ...] | None = None  # candidates for "auto"
    speakers: int | None = None  # at most this many speakers, told apart
    channels: bool | None = None  # a speaker per channel instead
    vocabulary: str | None = None
    vocabulary_filter: str | None = None
    vocabulary_filter_method: str | None = None
    redaction: bool | None = None
    title: str | None = None
    # In order of first appearance (Ana, Ben), or labels to names ((spk_1, Ben), ...).
    speaker_names: SpeakerNames | None = None
    summary_prompt: str | None = None
    # The language the model-written summary is in (default: the transcript's own).
    summary_language: str | None = None
    target_languages: tuple[str, ...] | None = None

    def over(self, base: FileOptions) -> FileOptions:
        """These options, with ``base`` filling what they leave unset."""
        return FileOptions(
            **{
                f.name: getattr(self, f.name)
                if getattr(self, f.name) is not None
                else getattr(base, f.name)
                for f in dataclasses.fields(self)
            }
        )


@dataclass(frozen=True)
class Source:
    name: str  # for messages: "the sidecar uploads/a.mp4.options.json", "S3 metadata", ...
    options: FileOptions


# -- reading each source -------------------------------------------------------------
def _text(option: str, source: str, value: Any, limit: int) -> str:
    if not isinstance(value, str) or not value.strip() or len(value) > limit:
        raise OptionError(option, source, value, f"give a text of 1 to {limit} characters")
    return value.strip()


def _flag(option: str, source: str, value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    raise OptionError(option, source, value, "give true or false")


def _count(option: str, source: str, value: Any) -> int:
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value.strip())
    if isinstance(value, bool) or not isinstance(value, int):
        raise OptionError(option, source, value, f"give a whole number, {MIN_SPEAKERS} to 30")
    if not MIN_SPEAKERS <= value <= MAX_SPEAKERS:
        raise OptionError(option, source, value, f"give a whole number, {MIN_SPEAKERS} to 30")
    return value


def _codes(option: str, source: str, value: Any, *, limit: int) -> tuple[str, ...]:
    items = value.split(",") if isinstance(value, str) else value
    if not isinstance(items, list | tuple) or not all(isinstance(i, str) for i in items):
        raise OptionError(option, source, value, "give language codes such as en-US,es-US")
    codes = tuple(item.strip() for item in items if item.strip())
    if not 1 <= len(codes) <= limit:
        raise OptionError(option, source, value, f"give 1 to {limit} language codes")
    return codes


def _speaker_names(source: str, value: Any) -> SpeakerNames:
    option = "speaker_names"
    allowed = (
        "give names in order of first appearance (Ana,Ben) or a map of labels to names "
        f'({{"spk_0": "Ana"}}), each 1 to {MAX_NAME_CHARACTERS} characters'
    )
    if isinstance(value, str):
        value = [part for part in value.split(",")]
    if isinstance(value, Mapping):
        pairs = []
        for label, name in value.items():
            if not _SPEAKER_LABEL.match(str(label)):
                raise OptionError(option, source, value, allowed)
            pairs.append((str(label), _text(option, source, name, MAX_NAME_CHARACTERS)))
        if not pairs:
            raise OptionError(option, source, value, allowed)
        return tuple(sorted(pairs, key=lambda pair: int(pair[0][4:])))
    if isinstance(value, list) and value:
        try:
            return tuple(_text(option, source, name, MAX_NAME_CHARACTERS) for name in value)
        except OptionError:
            raise OptionError(option, source, value, allowed) from None
    raise OptionError(option, source, value, allowed)


def _parse(entries: Mapping[str, Any], source: str, *, strict: bool) -> FileOptions:
    """Options from ``entries`` (names with - or _); unknown names raise when ``strict``."""
    values: dict[str, Any] = {}
    for raw_name, value in entries.items():
        name = raw_name.strip().lower().replace("-", "_")
        if name in ("language", "summary_language"):
            values[name] = _text(name, source, value, 20)
        elif name in ("language_options", "target_languages"):
            limit = 5 if name == "language_options" else MAX_TARGET_LANGUAGES
            values[name] = _codes(name, source, value, limit=limit)
        elif name == "speakers":
            values[name] = _count(name, source, value)
        elif name in ("channels", "redaction"):
            values[name] = _flag(name, source, value)
        elif name in ("vocabulary", "vocabulary_filter"):
            text = _text(name, source, value, 200)
            if not _NAME_PATTERN.match(text):
                raise OptionError(name, source, value, "give a name of letters, digits, . _ -")
            values[name] = text
        elif name == "vocabulary_filter_method":
            method = _text(name, source, value, 10).lower()
            if method not in _FILTER_METHODS:
                raise OptionError(name, source, value, f"give one of {', '.join(_FILTER_METHODS)}")
            values[name] = method
        elif name == "title":
            values[name] = _text(name, source, value, MAX_TITLE_CHARACTERS)
        elif name == "speaker_names":
            values[name] = _speaker_names(source, value)
        elif name == "summary_prompt":
            values[name] = _text(name, source, value, MAX_PROMPT_CHARACTERS)
        elif strict:
            known = ", ".join(f.name for f in dataclasses.fields(FileOptions))
            raise OptionError(raw_name, source, value, f"not an option; the options are {known}")
    return FileOptions(**values)


def options_from_metadata(metadata: Mapping[str, str]) -> FileOptions:
    """From S3 user metadata (S3 lower-cases the names); other metadata is left alone."""
    names = {f.name for f in dataclasses.fields(FileOptions)}
    ours = {k: v for k, v in metadata.items() if k.lower().replace("-", "_") in names}
    return _parse(ours, "the upload's S3 metadata", strict=False)


def options_from_sidecar(body: bytes, sidecar_key: str) -> FileOptions:
    source = f"the sidecar {sidecar_key}"
    try:
        document = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as error:
        raise OptionError("(file)", source, "not JSON", f"give a JSON object ({error})") from None
    if not isinstance(document, Mapping):
        raise OptionError("(file)", source, document, "give a JSON object of options")
    return _parse(document, source, strict=True)


def parse_profiles(text: str) -> tuple[tuple[str, FileOptions], ...]:
    """The OptionProfiles parameter: {"interviews/es/": {"language": "es-US"}, ...}."""
    if not text.strip():
        return ()
    try:
        document = json.loads(text)
    except ValueError as error:
        raise OptionError("OptionProfiles", "the stack", text, f"give JSON ({error})") from None
    if not isinstance(document, Mapping):
        raise OptionError("OptionProfiles", "the stack", text, "give a JSON object")
    profiles = []
    for prefix, entries in document.items():
        if not isinstance(entries, Mapping):
            raise OptionError(prefix, "OptionProfiles", entries, "give an object of options")
        profiles.append((str(prefix), _parse(entries, f"the profile {prefix!r}", strict=True)))
    return tuple(sorted(profiles, key=lambda profile: -len(profile[0])))


def profile_for(key: str, profiles: Sequence[tuple[str, FileOptions]]) -> Source | None:
    """The longest profile prefix that ``key`` starts with."""
    for prefix, options in profiles:  # longest first
        if key.startswith(prefix):
            return Source(f"the profile {prefix!r}", options)
    return None


# -- the merged, checked result ----------------------------------------------------------
@dataclass(frozen=True)
class ResolvedOptions:
    """Every option decided and checked: what the job request and the outputs use."""

    language_code: str | None  # None: identify among language_options
    language_options: tuple[str, ...]
    max_speakers: int | None  # None: speakers not told apart
    channel_identification: bool
    vocabulary: str | None
    vocabulary_filter: str | None
    vocabulary_filter_method: str | None
    redaction: bool
    title: str | None
    speaker_names: SpeakerNames
    summary_prompt: str | None
    summary_language: str | None
    target_languages: tuple[str, ...]

    def transcription_fingerprint(self, stack: ResolvedOptions) -> str:
        """'' when the job is the one the stack would start; else 8 hex characters that set
        this variant's job apart (options that change what Transcribe does, only)."""
        fields = (
            "language_code",
            "language_options",
            "max_speakers",
            "channel_identification",
            "vocabulary",
            "vocabulary_filter",
            "vocabulary_filter_method",
            "redaction",
        )
        mine = {name: getattr(self, name) for name in fields}
        if mine == {name: getattr(stack, name) for name in fields}:
            return ""
        canonical = json.dumps(mine, sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(canonical.encode()).hexdigest()[:8]


def _source_of(option: str, sources: Sequence[Source]) -> str:
    return next((s.name for s in sources if getattr(s.options, option) is not None), "the stack")


def resolve(sources: Sequence[Source], stack: FileOptions) -> ResolvedOptions:
    """Merge ``sources`` (highest precedence first) over the stack's options and check the
    result as Transcribe would; raises OptionError."""
    merged = stack
    for source in reversed(sources):
        merged = source.options.over(merged)

    def fail(option: str, allowed: str) -> OptionError:
        return OptionError(option, _source_of(option, sources), getattr(merged, option), allowed)

    language = merged.language or "en-US"
    candidates = merged.language_options or ()
    if language != AUTO and language not in BATCH_LANGUAGE_CODES:
        raise fail("language", "give a Transcribe batch language code such as en-US, or auto")
    for code in (*candidates, *(merged.target_languages or ())):
        if code not in BATCH_LANGUAGE_CODES:
            option = "language_options" if code in candidates else "target_languages"
            raise fail(option, f"{code!r} is not a Transcribe language code such as en-US")
    if merged.summary_language and merged.summary_language not in BATCH_LANGUAGE_CODES:
        raise fail("summary_language", "give a Transcribe language code such as de-DE")
    if language == AUTO:
        parts = [language_part(code) for code in candidates]
        if len(set(parts)) < 2 or len(parts) != len(set(parts)):
            raise fail(
                "language_options",
                "language identification needs 2 to 5 codes of different languages, "
                "one dialect each (en-US,es-US)",
            )
    if merged.vocabulary and language == AUTO:
        raise fail("vocabulary", "a custom vocabulary needs a fixed language, not auto")
    if merged.vocabulary_filter_method and not merged.vocabulary_filter:
        raise fail("vocabulary_filter_method", "set vocabulary_filter too")
    if merged.redaction and language not in REDACTION_LANGUAGE_CODES:
        raise fail("redaction", "Transcribe redacts PII only for language en-US or es-US")
    channels = bool(merged.channels)
    if channels and merged.speakers is not None and _source_of("speakers", sources) != "the stack":
        raise fail("channels", "set either speakers or channels, not both")
    return ResolvedOptions(
        language_code=None if language == AUTO else language,
        language_options=tuple(candidates) if language == AUTO else (),
        max_speakers=None if channels else merged.speakers,
        channel_identification=channels,
        vocabulary=merged.vocabulary,
        vocabulary_filter=merged.vocabulary_filter,
        vocabulary_filter_method=(
            (merged.vocabulary_filter_method or "mask") if merged.vocabulary_filter else None
        ),
        redaction=bool(merged.redaction),
        title=merged.title,
        speaker_names=merged.speaker_names or (),
        summary_prompt=merged.summary_prompt,
        summary_language=merged.summary_language,
        target_languages=merged.target_languages or (),
    )


def names_by_label(names: SpeakerNames, labels_in_order: Sequence[str]) -> dict[str, str]:
    """Label -> name: a map as given, or names in the order the labels first speak."""
    if not names:
        return {}
    if isinstance(names[0], tuple):
        return {label: name for label, name in names}
    return dict(zip(labels_in_order, names, strict=False))
