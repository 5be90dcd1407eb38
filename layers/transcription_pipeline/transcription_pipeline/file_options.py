"""The options of one upload, gathered from its sources (see options.py for the rules).

Used by the start function (to build the job) and by the process function (speaker
names and title for the outputs, and to tell whether a job is still the current one).
The S3 metadata comes from a read the caller makes anyway: the ranged GET of the start
function, the HEAD of the process function. The sidecar costs one GET.
"""

from __future__ import annotations

from collections.abc import Mapping

from transcription_pipeline.aws import ObjectGone, ObjectStore
from transcription_pipeline.config import Settings
from transcription_pipeline.naming import MAX_S3_KEY_BYTES, S3Location
from transcription_pipeline.options import (
    SIDECAR_SUFFIX,
    ResolvedOptions,
    Source,
    options_from_metadata,
    options_from_sidecar,
    profile_for,
    resolve,
)


def sidecar_of(media: S3Location) -> S3Location:
    return S3Location(media.bucket, media.key + SIDECAR_SUFFIX)


def is_sidecar(key: str) -> bool:
    return key.endswith(SIDECAR_SUFFIX)


def media_of(sidecar_key: str) -> str:
    return sidecar_key.removesuffix(SIDECAR_SUFFIX)


def options_of_upload(
    media: S3Location, metadata: Mapping[str, str], settings: Settings, store: ObjectStore
) -> ResolvedOptions:
    """Sidecar > S3 metadata > prefix profile > stack; raises OptionError."""
    sources: list[Source] = []
    sidecar = sidecar_of(media)
    body: bytes | None = None
    # A key too long for a sidecar beside it (S3 keys end at 1024 bytes) has none.
    if len(sidecar.key.encode("utf-8")) <= MAX_S3_KEY_BYTES:
        try:
            body = store.read_all(sidecar)
        except ObjectGone:
            body = None
    if body is not None:
        sources.append(
            Source(f"the sidecar {sidecar.key}", options_from_sidecar(body, sidecar.key))
        )
    sources.append(Source("the upload's S3 metadata", options_from_metadata(metadata)))
    profile = profile_for(media.key, settings.option_profiles)
    if profile is not None:
        sources.append(profile)
    return resolve(sources, settings.stack_options())


def stack_resolved(settings: Settings) -> ResolvedOptions:
    """The options of an upload that sets none (for fingerprints)."""
    return resolve([], settings.stack_options())
