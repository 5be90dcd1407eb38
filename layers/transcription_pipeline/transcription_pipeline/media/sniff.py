"""What the bytes are: the magic at the start picks the container module that looks closer.

The one module that knows every container. The containers import only
``probe``, never each other; where one format can sit behind another (FLAC
behind an ID3 tag), the choice is made here.
"""

from __future__ import annotations

from transcription_pipeline.media.amr import sniff_amr
from transcription_pipeline.media.ebml import sniff_ebml
from transcription_pipeline.media.flac import sniff_flac
from transcription_pipeline.media.id3 import skip_id3
from transcription_pipeline.media.iso import sniff_bare_quicktime, sniff_iso
from transcription_pipeline.media.mpeg import scan_mpeg_audio, sniff_after_id3, sniff_mpeg_audio
from transcription_pipeline.media.ogg import sniff_ogg
from transcription_pipeline.media.other import sniff_other, sniff_text
from transcription_pipeline.media.probe import MAX_PROBE_BYTES, Content, Probe
from transcription_pipeline.media.riff import sniff_riff

__all__ = ["sniff_safely"]


def sniff_safely(probe: Probe) -> Content:
    try:
        return _sniff(probe)
    except Exception:
        if probe.read_failed:
            raise  # the reader's own error: let the caller retry
        # Hostile or odd bytes must never crash the pipeline.
        return Content(None, "unknown", noun="data that could not be parsed")


def _sniff(probe: Probe) -> Content:
    head = probe.head
    if not head:
        return Content(None, "unknown", noun="unreadable (no bytes could be read)")
    if head[:4] in (b"RIFF", b"RF64"):
        return sniff_riff(probe)
    if head[:4] == b"fLaC":
        return sniff_flac(probe)
    if head[:4] == b"OggS":
        return sniff_ogg(probe)
    if head[:4] == b"\x1a\x45\xdf\xa3":
        return sniff_ebml(probe)
    if head[4:8] == b"ftyp":
        return sniff_iso(probe)
    if head.startswith(b"#!AMR"):
        amr = sniff_amr(probe)
        return amr if amr is not None else sniff_text(head)
    if head[:3] == b"ID3":
        return _sniff_id3(probe)
    other = sniff_other(head)
    if other is not None:
        return other
    quicktime = sniff_bare_quicktime(head)
    if quicktime is not None:
        return quicktime
    mp3 = sniff_mpeg_audio(probe, 0)
    if mp3 is None:
        # Stream dumps start mid-frame or with zero padding: search as far as the
        # budget lets us, as ffmpeg also searches for the first frame.
        mp3 = scan_mpeg_audio(probe.at(0, MAX_PROBE_BYTES), 0)
    if mp3 is not None:
        return mp3
    return sniff_text(head)


def _sniff_id3(probe: Probe) -> Content:
    after = skip_id3(probe)
    if isinstance(after, Content):
        return after
    # Taggers put ID3v2 in front of FLAC too, and ffmpeg skips it. Four bytes
    # first, so that a big tag leaves the budget for the FLAC headers.
    if probe.at(after, 4) == b"fLaC":
        return sniff_flac(probe, after)
    return sniff_after_id3(probe, after)
