#!/usr/bin/env bash
# Recreates meeting-talk.m4a, a long spoken recording of three topics (a harbour
# renovation, hiring for a support team, moving recordings to a transcription
# service), about 14 minutes in all, for showing offline chapters:
#   make demo FILE=samples/meeting-talk.m4a
# from the exact text in meeting-talk.txt (one sentence a line; the blank lines between
# the topics are not spoken and add no pause), spoken by text-to-speech one sentence at
# a time as make_sample.sh does: flite voice slt, 0.5 s of silence before, 0.6 s between
# sentences and 0.7 s after. Audio only: AAC mono 16 kHz, 24 kbit/s.
# The output is not committed (.gitignore); run this to make it. Needs Debian's
# packages: apt-get install -y flite ffmpeg
# Prints the length of the recording and the time each topic starts, to compare with
# the chapters in summary.md and chapters.vtt.
set -euo pipefail
cd "$(dirname "$0")"

VOICE=slt
LEAD_MS=500     # silence before the speech
GAP_S=0.6       # silence between sentences: tiny.en then ends each with a full stop
TAIL_S=0.7      # silence after the speech
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

duration() { ffprobe -v error -show_entries format=duration -of csv=p=0 "$1"; }

# One sentence per line; a blank line starts a new topic (noted, not spoken).
sed -E 's/([.?!]) +/\1\n/g' meeting-talk.txt > "$tmp/lines.txt"
n=0 inputs=() labels="" topic_firsts=(0) new_topic=0
while IFS= read -r sentence; do
  if [[ -z "${sentence//[[:space:]]/}" ]]; then
    new_topic=1
    continue
  fi
  if ((new_topic && n > 0)); then topic_firsts+=("$n"); fi
  new_topic=0
  flite -voice "$VOICE" -t "$sentence" -o "$tmp/s$n.wav"
  inputs+=(-i "$tmp/s$n.wav")
  labels+="[s$n]"
  n=$((n + 1))
done < "$tmp/lines.txt"
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
ffmpeg -hide_banner -loglevel error -y -i "$tmp/speech.wav" -vn -ac 1 -ar 16000 \
  -c:a aac -b:a 24k -movflags +faststart \
  -map_metadata -1 -fflags +bitexact -flags:a +bitexact meeting-talk.m4a

# Where each topic starts: the lead, then every earlier sentence and its gap.
for ((i = 0; i < n; i++)); do duration "$tmp/s$i.wav"; done > "$tmp/durations.txt"
echo "$n sentences, $(wc -w < meeting-talk.txt) words"
for t in "${!topic_firsts[@]}"; do
  first=${topic_firsts[$t]}
  awk -v first="$first" -v lead="$LEAD_MS" -v gap="$GAP_S" -v topic=$((t + 1)) '
    NR <= first { s += $1 + gap }
    END { printf "topic %d starts at sentence %d, %d:%05.2f\n", topic, first + 1,
          int((s + lead / 1000) / 60), (s + lead / 1000) % 60 }' "$tmp/durations.txt"
done
total="$(duration meeting-talk.m4a)"
awk -v t="$total" 'BEGIN { printf "meeting-talk.m4a: %.1f s (%d:%04.1f)\n", t, int(t / 60), t % 60 }'
ls -l meeting-talk.m4a
