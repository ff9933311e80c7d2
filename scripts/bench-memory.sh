#!/usr/bin/env bash
# Peak memory of whole jobs (docs/memory.md, issue 15): `lipsync generate` as a process under
# /usr/bin/time, on clips made by `lipsync clip` (1080p and 4K, 30 fps, 159 frames, with a
# voice track), the short word "안녕하세요" against a 10.6 s Korean phrase (four sentences,
# 317 output frames, ping-pong over the clip). Prints each run's peak RSS and wall time, the
# differences the goals count (long − short at 1080p ≤ 160 MB; 4K long ≤ 1080p short + 400 MB)
# and two 4K long jobs at once (each one's peak and the machine's lowest available memory).
#
#   scripts/bench-memory.sh [MODELS_DIR]     environment: LIPSYNC (.build/release/lipsync),
#                                            MODES ("fast lean": MODEL_MEMORY), TIMELINE=1 (an
#                                            RSS sample every 50 ms of each run, to $work/*.rss)
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bin="${LIPSYNC:-$root/.build/release/lipsync}"
models="${1:-$root/.deps/demo-models}"
read -r -a modes <<<"${MODES:-fast lean}"
face="${FACE:-$root/.fixtures/faces/astronaut.png}"
work="$(mktemp -d)"
[[ -n "${KEEP:-}" ]] || trap 'rm -rf "$work"' EXIT
export EXECUTION_PROVIDERS="${EXECUTION_PROVIDERS:-cpu}"
short="안녕하세요"
long="안녕하세요. 오늘은 날씨가 정말 좋네요. 우리는 공원에서 산책을 하고 점심을 먹었습니다. 저녁에는 친구들과 영화를 봐요."

"$bin" clip --face "$face" --frames 159 --size 1920x1080 --out "$work/1080p.mp4" --log-level error >/dev/null
"$bin" clip --face "$face" --frames 159 --size 3840x2160 --out "$work/4k.mp4" --log-level error >/dev/null

# run NAME MODE CLIP TEXT: one job; prints "peak_kB wall_s" and keeps its RSS timeline when asked.
run() {
  local name="$1" mode="$2" clip="$3" text="$4"
  MODEL_MEMORY="$mode" /usr/bin/time -f '%M %e' -o "$work/$name.time" \
    "$bin" generate --video "$work/$clip.mp4" --text "$text" --lang ko --out "$work/$name.mp4" \
    --models "$models" --log-level error >"$work/$name.log" 2>&1 &
  local pid=$!
  if [[ -n "${TIMELINE:-}" ]]; then
    while kill -0 "$pid" 2>/dev/null; do
      local child
      child="$(pgrep -P "$pid" lipsync || true)"
      [[ -n "$child" ]] && awk -v t="$(date +%s.%N)" '/VmRSS/ { print t, $2 }' "/proc/$child/status" >>"$work/$name.rss" 2>/dev/null
      sleep 0.05
    done
  fi
  wait "$pid" || { echo "$name failed:" >&2; cat "$work/$name.log" >&2; return 1; }
  cat "$work/$name.time"
}
mb() { awk "BEGIN { printf \"%.0f\", $1 / 1024 }"; }

echo "memory — $(uname -m), $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//'), $(awk '/MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo)"
echo "models $models; short \"$short\", long \"$long\""
printf '%-6s %-22s %10s %8s\n' mode job "peak (MB)" "wall (s)"
for mode in "${modes[@]}"; do
  declare -A peak=()
  for job in "1080p short" "1080p long" "4k long"; do
    read -r clip length <<<"$job"
    text="$short"; [[ "$length" == long ]] && text="$long"
    result="$(run "$mode-$clip-$length" "$mode" "$clip" "$text")"  # a failed job stops the script (set -e)
    read -r kb seconds <<<"$result"
    peak[$job]="$kb"
    printf '%-6s %-22s %10s %8s\n' "$mode" "$clip $length" "$(mb "$kb")" "$seconds"
  done
  printf '%-6s long − short at 1080p: %+d MB (goal ≤ 160); 4K long − 1080p short: %+d MB (goal ≤ 400)\n' "$mode" \
    "$(mb $((peak["1080p long"] - peak["1080p short"])))" "$(mb $((peak["4k long"] - peak["1080p short"])))"
  # Two 4K long jobs at once; the machine's lowest MemAvailable while they run.
  lowest="$(awk '/MemAvailable/ { print $2 }' /proc/meminfo)"
  run "$mode-twin-a" "$mode" 4k "$long" >"$work/twin-a.out" & a=$!
  run "$mode-twin-b" "$mode" 4k "$long" >"$work/twin-b.out" & b=$!
  while kill -0 "$a" 2>/dev/null || kill -0 "$b" 2>/dev/null; do
    now="$(awk '/MemAvailable/ { print $2 }' /proc/meminfo)"
    ((now < lowest)) && lowest="$now"
    sleep 0.1
  done
  wait "$a" || exit 1
  wait "$b" || exit 1
  read -r ka sa <"$work/twin-a.out"; read -r kb2 sb <"$work/twin-b.out"
  printf '%-6s two 4K long jobs at once: %s MB (%s s) and %s MB (%s s); lowest available memory %s MB\n' "$mode" \
    "$(mb "$ka")" "$sa" "$(mb "$kb2")" "$sb" "$(mb "$lowest")"
done
[[ -n "${KEEP:-}" ]] && echo "files kept in $work"
true
