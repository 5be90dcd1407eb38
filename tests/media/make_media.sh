#!/usr/bin/env bash
# Regenerates the small real media files that tests/unit/test_media.py sniffs.
# Their output is committed, so the tests need neither ffmpeg nor PyAV; run this
# only to change or add a file. Idempotent: every file is rewritten from scratch
# with bit-exact flags, so a rerun with the same tools gives the same bytes.
#
# Needs: ffmpeg (Debian: apt-get install -y ffmpeg) and, for tone.amr and the
# surround.* files, a Python with PyAV (pip install av==18.1.0; its wheel bundles
# libopencore_amrnb, which Debian's ffmpeg lacks). Set AV_PYTHON to that
# interpreter (default: python3).
set -euo pipefail
cd "$(dirname "$0")"

AV_PYTHON="${AV_PYTHON:-python3}"
# -bitexact and no copied metadata keep output stable across runs.
# ff ARGS... OUTPUT: output options go right before the output file name.
ff() {
  ffmpeg -hide_banner -loglevel error -y "${@:1:$#-1}" \
    -map_metadata -1 -fflags +bitexact -flags:a +bitexact -flags:v +bitexact "${@: -1}"
}
TONE=(-f lavfi -i "sine=frequency=440:duration=1.5:sample_rate=16000")
VIDEO=(-f lavfi -i "testsrc=size=64x64:rate=5:duration=1.5")
X264=(-c:v libx264 -preset veryslow -crf 45 -pix_fmt yuv420p -g 10)

# MP3, with an ID3v2 tag (the title forces one) and without any.
ff "${TONE[@]}" -ac 1 -c:a libmp3lame -b:a 32k -metadata title=Tone tone.mp3
ff "${TONE[@]}" -ac 1 -c:a libmp3lame -b:a 32k -id3v2_version 0 tone-noid3.mp3

# MP4 / M4A (ISO-BMFF). tone.mp4 keeps moov at the end (ffmpeg's default);
# faststart.mp4 and noaudio.mp4 move it to the front so a probe can see it.
ff "${TONE[@]}" -ac 1 -c:a aac -b:a 24k tone.mp4
ff "${VIDEO[@]}" "${TONE[@]}" -map 0:v -map 1:a "${X264[@]}" -c:a aac -b:a 24k -shortest video.mp4
ff "${TONE[@]}" -ac 1 -c:a aac -b:a 24k -movflags +faststart faststart.mp4
ff "${VIDEO[@]}" -an "${X264[@]}" -movflags +faststart noaudio.mp4
ff "${TONE[@]}" -ac 1 -c:a aac -b:a 24k tone.m4a

# Lossless and Ogg / WebM (Opus is accepted, Vorbis is not).
ff -f lavfi -i "sine=frequency=440:duration=1:sample_rate=8000" -ac 1 -c:a pcm_s16le tone.wav
ff -f lavfi -i "sine=frequency=440:duration=1:sample_rate=8000" -ac 1 -c:a flac tone.flac
ff "${TONE[@]}" -ac 1 -c:a libopus -b:a 16k opus.ogg
ff "${TONE[@]}" -ac 1 -c:a libvorbis -q:a 0 vorbis.ogg
ff "${TONE[@]}" -ac 1 -c:a libopus -b:a 16k opus.webm
ff "${TONE[@]}" -ac 1 -c:a libvorbis -q:a 0 vorbis.webm

# Containers Transcribe rejects: Matroska (not WebM) and QuickTime.
ff "${VIDEO[@]}" "${TONE[@]}" -map 0:v -map 1:a "${X264[@]}" -c:a libvorbis -q:a 0 -shortest video.mkv
ff "${VIDEO[@]}" "${TONE[@]}" -map 0:v -map 1:a "${X264[@]}" -c:a aac -b:a 24k -shortest video.mov

# AMR-NB (8 kHz, 12.2 kbit/s) through PyAV's bundled libopencore_amrnb.
"$AV_PYTHON" - <<'PY'
import array
import math

import av

with av.open("tone.amr", "w", format="amr") as out:
    stream = out.add_stream("libopencore_amrnb", rate=8000, layout="mono")
    stream.bit_rate = 12200
    for start in range(0, 12000, 160):  # 1.5 s, one 20 ms AMR frame each
        pcm = array.array("h", (int(9830 * math.sin(2 * math.pi * 440 * (start + i) / 8000)) for i in range(160)))
        frame = av.AudioFrame(format="s16", layout="mono", samples=160)
        frame.planes[0].update(pcm.tobytes())
        frame.sample_rate = 8000
        frame.pts = start
        for packet in stream.encode(frame):
            out.mux(packet)
    for packet in stream.encode(None):
        out.mux(packet)
PY

# 5.1 surround (6 channels, which Transcribe refuses) in every container whose
# header states the channel count, through PyAV so the layout and encoders are
# the same everywhere.
"$AV_PYTHON" - <<'PY'
import array
import math

import av

# (file, muxer, encoder, sample rate, seconds, bit rate)
SURROUND = [
    ("surround.wav", "wav", "pcm_s16le", 8000, 0.1, None),
    ("surround.flac", "flac", "flac", 8000, 0.25, None),
    ("surround.m4a", "ipod", "aac", 8000, 0.5, 48000),
    ("surround.ogg", "ogg", "libopus", 48000, 0.5, 48000),
    ("surround.webm", "webm", "libopus", 48000, 0.5, 48000),
]
for name, muxer, encoder, rate, seconds, bit_rate in SURROUND:
    bitexact = {"fflags": "+bitexact"}
    with av.open(name, "w", format=muxer, container_options=bitexact) as out:
        stream = out.add_stream(encoder, rate=rate, layout="5.1", options={"flags": "+bitexact"})
        if bit_rate:
            stream.bit_rate = bit_rate
        codec = stream.codec_context
        planar = codec.format.is_planar
        step = codec.frame_size or 1024
        total = int(rate * seconds)
        for start in range(0, total, step):
            count = min(step, total - start)
            tone = [0.3 * math.sin(2 * math.pi * 440 * (start + i) / rate) for i in range(count)]
            frame = av.AudioFrame(format=codec.format.name, layout="5.1", samples=count)
            for plane, channels in zip(frame.planes, [1] * 6 if planar else [6]):
                if codec.format.name.startswith("s16"):
                    pcm = array.array("h", (int(32767 * x) for x in tone for _ in range(channels)))
                else:
                    pcm = array.array("f", (x for x in tone for _ in range(channels)))
                plane.update(pcm.tobytes())
            frame.sample_rate = rate
            frame.pts = start
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
PY

ls -l tone.mp3 tone-noid3.mp3 tone.mp4 video.mp4 faststart.mp4 noaudio.mp4 tone.m4a \
  tone.wav tone.flac opus.ogg vorbis.ogg opus.webm vorbis.webm video.mkv video.mov tone.amr \
  surround.wav surround.flac surround.m4a surround.ogg surround.webm
