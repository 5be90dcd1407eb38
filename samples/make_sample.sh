#!/usr/bin/env bash
# Recreates the spoken sample clip used by the local emulator and tests/local:
#   sample-talk.mp4   H.264 test pattern (160x120, 5 fps) + AAC mono 16 kHz, moov at the front
#   sample-talk.webm  VP9 test pattern (160x120, 5 fps) + Opus mono
# from the exact text in sample-talk.txt, spoken by text-to-speech one sentence at a
# time, with 0.5 s of silence before, 0.6 s between sentences and 0.7 s after
# (about 15 s in all).
# The outputs are committed, so nothing else needs flite or ffmpeg; run this only to
# change the clip. Needs Debian's packages: apt-get install -y flite ffmpeg
#
# Voice: flite "slt", not espeak-ng. Each voice was run through this very script
# and recognised with local_pipeline.speech (faster-whisper, Whisper tiny.en, beam 1,
# VAD on); word error rate against sample-talk.txt, 38 words:
#   voice               mp4     webm
#   flite slt           0 %     0 %
#   flite rms           0 %     0 %
#   flite kal16         2.6 %   2.6 %
#   flite awb           2.6 %   0 %
#   espeak-ng en-us     13 %    13 %   ("input market", "subtitle", "the short summary")
# espeak-ng's formant synthesis is what tiny.en recognises worst; slt (a recorded
# voice) had no error in either container, so the clip exercises the emulator and
# not the recogniser's weak spots. To try another voice, change VOICE (flite -lv).
set -euo pipefail
cd "$(dirname "$0")"

VOICE=slt
LEAD_MS=500     # silence before the speech
GAP_S=0.6       # silence between sentences: tiny.en then ends each with a full stop
TAIL_S=0.7      # silence after the speech
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

# One sentence per line, each spoken on its own, then joined with GAP_S of silence.
sed -E 's/([.?!]) +/\1\n/g' sample-talk.txt | grep -v '^[[:space:]]*$' > "$tmp/sentences.txt"
n=0 inputs=() labels=""
while IFS= read -r sentence; do
  flite -voice "$VOICE" -t "$sentence" -o "$tmp/s$n.wav"
  inputs+=(-i "$tmp/s$n.wav")
  labels+="[s$n]"
  n=$((n + 1))
done < "$tmp/sentences.txt"
join=""
for ((i = 0; i < n; i++)); do
  pad=$GAP_S
  if ((i == n - 1)); then pad=$TAIL_S; fi
  join+="[$i:a]apad=pad_dur=$pad[s$i];"
done
join+="${labels}concat=n=$n:v=0:a=1,adelay=$LEAD_MS:all=1"
ffmpeg -hide_banner -loglevel error -y "${inputs[@]}" -filter_complex "$join" \
  -c:a pcm_s16le "$tmp/speech.wav"

# -bitexact and no copied metadata keep the output stable across runs.
# ff ARGS... OUTPUT: output options go right before the output file name.
ff() {
  ffmpeg -hide_banner -loglevel error -y "${@:1:$#-1}" \
    -map_metadata -1 -fflags +bitexact -flags:a +bitexact -flags:v +bitexact "${@: -1}"
}
# The still test pattern runs for as long as the (already padded) speech.
total_s="$(ffprobe -v error -show_entries format=duration -of csv=p=0 "$tmp/speech.wav")"
INPUTS=(-f lavfi -i "testsrc=size=160x120:rate=5" -i "$tmp/speech.wav"
  -map 0:v -map 1:a -t "$total_s" -ac 1)

ff "${INPUTS[@]}" -c:v libx264 -preset veryslow -crf 45 -pix_fmt yuv420p -g 50 -threads 1 \
  -c:a aac -b:a 32k -ar 16000 -movflags +faststart sample-talk.mp4
ff "${INPUTS[@]}" -c:v libvpx-vp9 -b:v 0 -crf 63 -g 50 -threads 1 \
  -c:a libopus -b:a 24k sample-talk.webm

ls -l sample-talk.mp4 sample-talk.webm
