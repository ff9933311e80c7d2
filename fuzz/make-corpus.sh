#!/usr/bin/env bash
# Regenerates the committed seed corpus in fuzz/corpus/ (docs/fuzzing.md): media and WAV seeds
# from the Media module's own encoder (fuzz-corpus-writer, built without sanitizers in
# .build-fuzz-corpus), the rest from fuzz/make_corpus.py (Python standard library).
# Needs what `make setup` installs. Reproducers of fixed crashes (fuzz/corpus/*/regression-*)
# are kept.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export PKG_CONFIG_PATH="$root/.deps/onnxruntime/lib/pkgconfig${PKG_CONFIG_PATH:+:$PKG_CONFIG_PATH}"
corpus="$root/fuzz/corpus"

swift build --package-path "$root/fuzz" --scratch-path "$root/.build-fuzz-corpus" --product fuzz-corpus-writer
for target in media wav storage-uri request-body checkpoint; do
  find "$corpus/fuzz-$target" "$corpus/$target" -maxdepth 1 -type f ! -name 'regression-*' -delete 2>/dev/null || true
done
staging="$(mktemp -d)"
trap 'rm -rf "$staging"' EXIT
mkdir -p "$staging/media" "$staging/wav"
"$root/.build-fuzz-corpus/debug/fuzz-corpus-writer" "$staging/media" "$staging/wav"
python3 "$root/fuzz/make_corpus.py" "$staging"
# Directory names are the targets' names (fuzz/run.sh runs <target> on fuzz/corpus/<target>).
for pair in media:fuzz-media wav:fuzz-wav storage-uri:fuzz-storage-uri request-body:fuzz-request-body checkpoint:checkpoint; do
  mkdir -p "$corpus/${pair#*:}"
  cp "$staging/${pair%%:*}"/* "$corpus/${pair#*:}/"
done
du -sh "$corpus"/*
