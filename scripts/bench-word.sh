#!/usr/bin/env bash
# The word case as separate processes (docs/pipeline.md, "Word case"): the reference clip
# (1920×1080, 30 fps, 159 frames with a voice track, made by `lipsync clip`), the word
# "안녕하세요" spoken by espeak-ng (`lipsync say`, ~1.5 s → 42 output frames), then per
# precision, side by side, RUNS times each: `lipsync voice` (its steps: speaker embedding,
# WavLM content, synthesis) and `lipsync sync` as a whole process (start-up, model loading and
# the render, wall clock). Prints every run and the medians; the figure the speed goal counts
# is voice's steps + sync's process.
#
#   scripts/bench-word.sh [MODELS_DIR]      environment: LIPSYNC (.build/release/lipsync),
#                                           PRECISIONS ("float32 int8"), RUNS (5), FACE, SYNC_ARGS
set -euo pipefail
# The word is spoken at 110 words per minute: ~1.57 s, 42–47 output frames at 30 fps (espeak-ng's
# default 175 gives ~1.0 s); this machine has no GPU, so the CPU provider is asked for directly.
export ESPEAK_RATE="${ESPEAK_RATE:-110}" EXECUTION_PROVIDERS="${EXECUTION_PROVIDERS:-cpu}"
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bin="${LIPSYNC:-$root/.build/release/lipsync}"
models="${1:-$root/.deps/demo-models}"
runs="${RUNS:-5}"
read -r -a precisions <<<"${PRECISIONS:-float32 int8}"
face="${FACE:-$root/.fixtures/faces/astronaut.png}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

"$bin" clip --face "$face" --frames 159 --size 1920x1080 --out "$work/clip.mp4" --log-level error >/dev/null
"$bin" say --text "안녕하세요" --lang ko --out "$work/word.wav" --log-level error >/dev/null
now() { date +%s.%N; }
median() { sort -n | awk '{ v[NR] = $1 } END { print (NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2) }'; }

echo "word case — $(uname -m), $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')"
echo "models $models; clip 1920×1080 @ 30 fps, 159 frames; word \"안녕하세요\" (ko, espeak-ng); $runs runs each, alternating"
printf '%-9s %4s %10s %10s %10s %10s %12s\n' precision run embedding content synthesis "sync proc" "total (s)"
declare -A totals syncs voices
for run in $(seq 1 "$runs"); do
  for precision in "${precisions[@]}"; do
    "$bin" voice --reference "$work/clip.mp4" --speech "$work/word.wav" --out "$work/voice-$precision.wav" \
      --models "$models" --precision "$precision" --log-level error >"$work/voice.txt"
    steps="$(awk '/^speaker embedding/ { e = $NF } /^content/ { c = $NF } /^synthesis/ { s = $NF } END { print e, c, s }' "$work/voice.txt")"
    read -r embedding content synthesis <<<"$steps"
    start="$(now)"
    # shellcheck disable=SC2086
    "$bin" sync --video "$work/clip.mp4" --audio "$work/voice-$precision.wav" --out "$work/out-$precision.mp4" \
      --models "$models" --precision "$precision" --log-level error ${SYNC_ARGS:-} >"$work/sync.txt"
    sync_seconds="$(awk "BEGIN { print $(now) - $start }")"
    voice_seconds="$(awk "BEGIN { print $embedding + $content + $synthesis }")"
    total="$(awk "BEGIN { print $voice_seconds + $sync_seconds }")"
    printf '%-9s %4d %10.3f %10.3f %10.3f %10.3f %12.3f\n' "$precision" "$run" "$embedding" "$content" "$synthesis" "$sync_seconds" "$total"
    voices[$precision]+="$voice_seconds "
    syncs[$precision]+="$sync_seconds "
    totals[$precision]+="$total "
  done
done
echo "medians:"
for precision in "${precisions[@]}"; do
  printf '%-9s voice steps %.3f s + sync process %.3f s = %.3f s (frames: %s)\n' "$precision" \
    "$(tr ' ' '\n' <<<"${voices[$precision]}" | grep . | median)" \
    "$(tr ' ' '\n' <<<"${syncs[$precision]}" | grep . | median)" \
    "$(tr ' ' '\n' <<<"${totals[$precision]}" | grep . | median)" \
    "$(grep -m1 -o 'output [0-9]* frames\|[0-9]* frames' "$work/sync.txt" | head -1 || echo '?')"
done
