"""The ``error.json`` record: why a file produced no transcript, in plain words."""

from __future__ import annotations

from typing import Any

from transcription_pipeline.naming import S3Location

# Transcribe's FailureReason texts (documented and observed) and what they mean to a person;
# the most specific marker first.
_FAILURE_EXPLANATIONS: tuple[tuple[str, str], ...] = (
    (
        "does not match the detected media format",
        "The file's content is not the format its name says.",
    ),
    ("no audio", "The file has no audio track to transcribe (a video without sound?)."),
    (
        "failed to parse audio",
        "Amazon Transcribe found no audio it could read: the file may be damaged, "
        "or be a video without a sound track.",
    ),
    (
        # The pipeline sets MediaFormat from the file's own bytes, so a format Transcribe
        # calls unsupported almost always means a container without a usable audio track.
        "unsupported media format",
        "Amazon Transcribe found no audio it could read in this file: it may be a video "
        "without a sound track, or use an audio codec Transcribe does not support.",
    ),
    ("invalid sample rate", "The audio's sample rate is outside what Amazon Transcribe accepts."),
    ("file size too large", "The file is larger than Amazon Transcribe's 2 GB limit."),
    (
        "number of channels too large",
        "The audio has more than 2 channels; Amazon Transcribe accepts mono or stereo.",
    ),
    ("too small", "The recording is too short: Amazon Transcribe needs at least 0.5 s of audio."),
    ("too long", "The recording is longer than Amazon Transcribe's 4-hour limit."),
)


def explain_failure(failure_reason: str | None) -> str:
    """A plain-words sentence for a Transcribe FailureReason (kept verbatim beside it)."""
    if not failure_reason:
        return "Amazon Transcribe could not transcribe the file and gave no reason."
    lowered = failure_reason.lower()
    for marker, explanation in _FAILURE_EXPLANATIONS:
        if marker in lowered:
            return explanation
    return f"Amazon Transcribe could not transcribe the file: {failure_reason}"


def rejection_record(
    source: S3Location,
    *,
    size: int,
    reason: str,
    detected: str,
    occurred_at: str,
    revision: str | None,
) -> dict[str, Any]:
    """The record for an upload we refused before starting any job."""
    return {
        "status": "REJECTED",
        "stage": "validation",
        "reason": reason,
        "detected": detected,
        "source": {"bucket": source.bucket, "key": source.key, "revision": revision},
        "size_bytes": size,
        "created_at": occurred_at,
    }


def failure_record(
    source: S3Location,
    *,
    job_name: str,
    failure_reason: str | None,
    stage: str,
    occurred_at: str,
) -> dict[str, Any]:
    """The record for a job Transcribe failed or refused."""
    return {
        "status": "FAILED",
        "stage": stage,
        "reason": explain_failure(failure_reason),
        "transcribe_failure_reason": failure_reason,
        "job_name": job_name,
        "source": {"bucket": source.bucket, "key": source.key},
        "created_at": occurred_at,
    }
