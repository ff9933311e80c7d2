#!/usr/bin/env bash
# Runs each fuzz target for a bounded time on its committed seed corpus (docs/fuzzing.md).
#
#   fuzz/run.sh [SECONDS] [TARGET...]     default: 60 s each, every target
#
# Targets: fuzz-media fuzz-wav fuzz-storage-uri fuzz-request-body (libFuzzer binaries that
# `make fuzz-build` puts in .build-fuzz/debug) and checkpoint (atheris, tools/modelkit).
# New inputs go to .build-fuzz/corpus/<target> (never into fuzz/corpus/), crash, timeout and
# out-of-memory reproducers to .build-fuzz/artifacts/<target>/, each run's log to
# .build-fuzz/logs/<target>.log. Exits non-zero when any target crashed, hung or ran out of
# memory. Environment: FUZZ_BUILD (.build-fuzz), PYTHON (.venv/bin/python), FUZZ_RSS_MB (2048),
# FUZZ_TIMEOUT (seconds per input, 10), FUZZ_ARGS (more libFuzzer flags).
set -uo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${FUZZ_BUILD:-$root/.build-fuzz}"
build="$(mkdir -p "$build" && cd "$build" && pwd)"  # the targets run from inside it
python="${PYTHON:-$root/.venv/bin/python}"
seconds="${1:-60}"
[ $# -gt 0 ] && shift
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(fuzz-media fuzz-wav fuzz-storage-uri fuzz-request-body checkpoint)

# Largest input each target is given: a little above each parser's own limit where one is
# small (a URI is at most 4096 bytes), else enough for the seeds to grow.
max_len() {
  case "$1" in
    fuzz-media) echo 16384 ;;
    fuzz-storage-uri) echo 4200 ;;
    *) echo 8192 ;;
  esac
}

# Swift's own crash backtracer reads the stack in ways AddressSanitizer reports as errors of
# their own; libFuzzer prints the stack of a Swift trap anyway.
export SWIFT_BACKTRACE=enable=no

failed=()
for target in "${targets[@]}"; do
  work="$build/corpus/$target"
  artifacts="$build/artifacts/$target/"
  log="$build/logs/$target.log"
  mkdir -p "$work" "$artifacts" "$(dirname "$log")"
  flags=(-max_total_time="$seconds" -timeout="${FUZZ_TIMEOUT:-10}" -rss_limit_mb="${FUZZ_RSS_MB:-2048}"
         -max_len="$(max_len "$target")" -print_final_stats=1 -artifact_prefix="$artifacts")
  # The request target runs Swift concurrency and NIO, whose caches outlive an input: with
  # libFuzzer's per-input leak check, LeakSanitizer scanned the heap after nearly every input
  # (60 instead of 500 inputs/s). Leaks are still reported when the process exits.
  [ "$target" = fuzz-request-body ] && flags+=(-detect_leaks=0)
  # shellcheck disable=SC2206
  flags+=(${FUZZ_ARGS:-})
  if [ "$target" = checkpoint ]; then
    command=(env PYTHONPATH="$root/tools/modelkit" "$python" "$root/tools/modelkit/fuzz/fuzz_checkpoint.py")
  else
    command=("$build/debug/$target")
    [ -x "${command[0]}" ] || { echo "fuzz: ${command[0]} is missing (make fuzz-build)" >&2; failed+=("$target"); continue; }
  fi
  echo "fuzz: $target for ${seconds}s (log: $log)"
  started="$(mktemp)"
  # Each run starts from the committed seeds plus what earlier runs found.
  (cd "$build" && "${command[@]}" "${flags[@]}" "$work" "$root/fuzz/corpus/$target") > "$log" 2>&1
  status=$?
  stats="$(grep -E '^#[0-9]+' "$log" | tail -1)"
  echo "fuzz: $target: exit $status; ${stats:-no statistics}"
  if [ $status -ne 0 ]; then
    failed+=("$target")
    grep -E -A40 'ERROR: libFuzzer|==ERROR|Uncaught Python exception|Fatal error|fuzz invariant violated' "$log" | head -60 >&2
    find "$artifacts" -type f -newer "$started" | sed "s|^|fuzz: reproducer: |" >&2
  fi
  rm -f "$started"
  # A target that crashed or was stopped leaves its input folder behind (see FuzzWorkspace).
  for stale in /dev/shm/lipsync-fuzz-* "${TMPDIR:-/tmp}"/lipsync-fuzz-*; do
    [ -e "$stale" ] || continue
    pid="${stale##*-}"; pid="${pid%.pth}"
    kill -0 "$pid" 2>/dev/null || rm -rf "$stale"
  done
done

if [ ${#failed[@]} -gt 0 ]; then
  echo "fuzz: FAILED: ${failed[*]}" >&2
  exit 1
fi
echo "fuzz: every target ran ${seconds}s without a crash"
