"""transcript.html: one self-contained page per upload (page.py; its style and script
are the package's page.css and page.js, inlined)."""

from transcription_pipeline.transcript_page.page import (
    CONTENT_SECURITY_POLICY,
    SPEAKER_COLOURS,
    render_transcript_page,
)

__all__ = ["CONTENT_SECURITY_POLICY", "SPEAKER_COLOURS", "render_transcript_page"]
