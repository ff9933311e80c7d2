#!/usr/bin/env bash
# Container images with podman, no Docker daemon (docs/deploy.md).
#
#   scripts/image.sh build [cpu|gpu]   build lipsync:cpu (default) or lipsync:gpu from the Containerfile
#   scripts/image.sh test              build both, run the CPU image end to end, check the GPU one
#   scripts/image.sh base              only the local base image (debootstrap), if it is missing
#   scripts/image.sh podman ARGS…      podman with the project's settings (e.g. `images`, `rmi`)
#
# Settings kept here rather than on the machine: vfs storage in its own root, the runc runtime
# (crun cannot start containers on a hybrid-cgroup host), chroot isolation for builds and raised
# ulimits. Base images: pulled from the registry when one answers (IMAGE_BASES=registry), else
# built locally (IMAGE_BASES=local): a Debian root filesystem by `debootstrap --variant=minbase`
# from the apt mirror this machine is configured with, imported as localhost/lipsync-debian, and
# the build stage lent this machine's Swift toolchain (and its package mirror, if git has one)
# through read-only volumes. IMAGE_BASES=auto (default) tries the registry for 20 s.
#
# Environment: IMAGE_NAME (lipsync), IMAGE_STORAGE (/var/lib/containers/lipsync-vfs),
# IMAGE_BASES (auto|registry|local), IMAGE_LAYERS (false: no intermediate layers, which vfs
# would store as full copies), IMAGE_TEST_PORT (18080), IMAGE_MAX_MB (450, the CPU image's limit).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=versions.env
. "$root/scripts/versions.env"

name="${IMAGE_NAME:-lipsync}"
work=""
storage="${IMAGE_STORAGE:-/var/lib/containers/lipsync-vfs}"
local_base="localhost/lipsync-debian:$IMAGE_DEBIAN_SUITE"
ulimits=(--ulimit nofile=20000:20000 --ulimit nproc=32768:32768)
say() { printf 'image: %s\n' "$*" >&2; }

pm() {
  podman --root "$storage" --runroot "${storage}-run" --storage-driver vfs --runtime runc \
    --cgroup-manager cgroupfs --events-backend file "$@"
}

require_podman() {
  command -v podman >/dev/null || { say "podman is not installed (make setup installs it)"; exit 3; }
  [ "$(id -u)" -eq 0 ] || { say "building images needs root here (vfs storage, chroot isolation)"; exit 3; }
}

# Which base images to use: prints "registry" or "local".
bases() {
  case "${IMAGE_BASES:-auto}" in
    registry|local) echo "${IMAGE_BASES}" ;;
    auto)
      if timeout 20 podman --root "$storage" --runroot "${storage}-run" --storage-driver vfs \
          pull -q docker.io/library/debian:bookworm-slim >/dev/null 2>&1; then
        echo registry
      else
        echo local
      fi ;;
    *) say "IMAGE_BASES must be auto, registry or local"; exit 2 ;;
  esac
}

# The local Debian base: debootstrap minbase from this machine's apt mirror, trimmed, imported.
local_base() {
  if pm image exists "$local_base"; then return; fi
  command -v debootstrap >/dev/null || { say "debootstrap is not installed (make setup installs it)"; exit 3; }
  local mirror work started
  mirror="$(apt-get indextargets --format '$(REPO_URI)' 'Created-By: Packages' 2>/dev/null \
    | grep -v security | head -1)"
  mirror="${mirror:-http://deb.debian.org/debian/}"
  work="$(mktemp -d)"
  started=$SECONDS
  say "debootstrap --variant=minbase $IMAGE_DEBIAN_SUITE from $mirror"
  debootstrap --variant=minbase "$IMAGE_DEBIAN_SUITE" "$work/rootfs" "$mirror" >"$work/debootstrap.log" 2>&1 || {
    tail -20 "$work/debootstrap.log" >&2; rm -rf "$work"; exit 1; }
  # The same trimming as the official slim image: no documentation, manuals or apt caches.
  rm -rf "$work"/rootfs/var/cache/apt/archives/*.deb "$work"/rootfs/var/lib/apt/lists/* \
    "$work"/rootfs/usr/share/man/* "$work"/rootfs/usr/share/info/* "$work"/rootfs/usr/share/locale/*
  # Documentation goes, the licences stay.
  find "$work/rootfs/usr/share/doc" -mindepth 1 ! -type d ! -name copyright -delete
  cat > "$work/rootfs/etc/apt/sources.list" <<EOF
deb $mirror $IMAGE_DEBIAN_SUITE main
deb $mirror $IMAGE_DEBIAN_SUITE-updates main
deb http://deb.debian.org/debian-security $IMAGE_DEBIAN_SUITE-security main
EOF
  cat > "$work/rootfs/etc/dpkg/dpkg.cfg.d/lipsync-slim" <<'EOF'
path-exclude /usr/share/doc/*
path-exclude /usr/share/man/*
path-exclude /usr/share/info/*
path-exclude /usr/share/locale/*
path-include /usr/share/doc/*/copyright
EOF
  tar -C "$work/rootfs" --numeric-owner -c . | pm import --change 'CMD ["/bin/bash"]' - "$local_base" >/dev/null
  rm -rf "$work"
  say "base image $local_base imported ($((SECONDS - started)) s)"
}

build() {
  local flavor="${1:-cpu}" gpu=0 mode args=() toolchain mirror cert started
  case "$flavor" in cpu) ;; gpu) gpu=1 ;; *) say "flavor must be cpu or gpu"; exit 2 ;; esac
  require_podman
  mode="$(bases)"
  if [ "$mode" = local ]; then
    local_base
    # The toolchain's root: its runtime resource folder is <root>/usr/lib/swift.
    toolchain="$(swift -print-target-info | sed -n 's/.*"runtimeResourcePath": *"\(.*\)\/usr\/lib\/swift".*/\1/p' | head -1)"
    [ -n "$toolchain" ] && [ -x "$toolchain/usr/bin/swift" ] || {
      say "cannot find the Swift toolchain's root (swift -print-target-info gave '$toolchain')"; exit 1; }
    args+=(--build-arg "BUILDER_IMAGE=$local_base" --build-arg "RUNTIME_IMAGE=$local_base"
           --volume "$toolchain:/opt/swift:ro")
    # git's url.<mirror>.insteadOf https://github.com/, if this machine has one.
    mirror="$(git config --get-regexp '^url\..*\.insteadof$' 'https://github.com/' | head -1 | awk '{print $1}' \
      | sed 's/^url\.//; s/\.insteadof$//')" || true
    if [ -n "$mirror" ] && [ -d "$mirror" ]; then
      args+=(--build-arg "GIT_MIRROR=$mirror" --volume "$mirror:$mirror:ro")
    fi
    # The CA bundle this machine's pip trusts (a TLS-inspecting proxy's CA, if any).
    cert="${PIP_CERT:-$("$root/.venv/bin/python" -m pip config get global.cert 2>/dev/null || true)}"
    if [ -n "$cert" ] && [ -f "$cert" ]; then
      args+=(--build-arg "PIP_CERT=/run/lipsync-host-ca.crt" --volume "$(readlink -f "$cert"):/run/lipsync-host-ca.crt:ro")
    fi
  fi
  say "building $name:$flavor ($mode base images)"
  started=$SECONDS
  # Without intermediate layers (IMAGE_LAYERS=true keeps them): vfs stores every layer as a full
  # copy of the file system, which for the GPU image's 5 GB of libraries means tens of GB of disk.
  pm build --format docker --isolation chroot --network host "${ulimits[@]}" --layers="${IMAGE_LAYERS:-false}" \
    --build-arg "GPU=$gpu" "${args[@]}" -t "$name:$flavor" -f "$root/Containerfile" "$root"
  # What the build left behind: the stages' images (the Swift build folder stays in its cache mount).
  pm image prune -f >/dev/null 2>&1 || true
  say "built $name:$flavor in $((SECONDS - started)) s, $(size "$name:$flavor")"
}

size() { pm image inspect --format '{{.Size}}' "$1" | awk '{printf "%.0f MB", $1 / 1e6}'; }

run() { pm run --network host "${ulimits[@]}" "$@"; }

fail() { say "FAIL: $*"; exit 1; }

# Polls URL until it answers 200 (curl), at most $2 seconds.
wait_ok() {
  local deadline=$((SECONDS + $2))
  until curl -fsS -o /dev/null "$1" 2>/dev/null; do
    [ $SECONDS -lt $deadline ] || return 1
    sleep 1
  done
}

# The image test (make image-test): both images build; the CPU image passes `lipsync doctor`,
# serves a real job over HTTP on loopback with the tiny test models and a mounted folder, and
# drains on SIGTERM; the GPU image loads ONNX Runtime's CUDA build and says what is missing.
test_images() {
  # Skipped (loudly) only where podman is missing or cannot run here; make setup installs it.
  if ! command -v podman >/dev/null || [ "$(id -u)" -ne 0 ]; then
    say "SKIPPED: the image test needs podman (make setup installs it) and root; nothing was tested"
    return 0
  fi
  local fixtures="${LIPSYNC_FIXTURES:-$root/.fixtures}" port="${IMAGE_TEST_PORT:-18080}" ctr cpu_mb runpath
  [ -f "$fixtures/models/manifest.json" ] || fail "no test models in $fixtures (make fixtures)"
  build cpu
  build gpu
  work="$(mktemp -d)"  # global: the EXIT trap runs after this function has returned
  trap 'pm rm -f lipsync-image-test >/dev/null 2>&1 || true; rm -rf "${work:-/nonexistent}"' EXIT
  mkdir -p "$work/io" && chmod 0777 "$work/io"
  cp "$fixtures/faces/astronaut.png" "$work/io/"
  local mounts=(-v "$fixtures/models:/models:ro" -v "$work/io:/data")

  # Size and the binary: no path of this machine, no absolute rpath.
  cpu_mb="$(pm image inspect --format '{{.Size}}' "$name:cpu" | awk '{printf "%d", $1 / 1e6}')"
  say "sizes: $name:cpu ${cpu_mb} MB, $name:gpu $(size "$name:gpu")"
  [ "$cpu_mb" -le "${IMAGE_MAX_MB:-450}" ] || fail "$name:cpu is ${cpu_mb} MB, over ${IMAGE_MAX_MB:-450} MB"
  ctr="$(pm create "$name:cpu")"
  pm cp "$ctr:/usr/local/bin/lipsync" "$work/lipsync" && pm rm "$ctr" >/dev/null
  runpath="$(readelf -d "$work/lipsync" | sed -n 's/.*R.*PATH.*\[\(.*\)\]/\1/p')"
  if tr ':' '\n' <<<"$runpath" | grep -q '^/'; then fail "absolute rpath in the binary: $runpath"; fi
  if grep -qaF "$root" "$work/lipsync"; then fail "the binary contains this checkout's path $root"; fi
  say "binary: rpath '${runpath}', no path of this machine"

  run --rm "$name:cpu" doctor || fail "lipsync doctor failed in $name:cpu"
  run --rm "${mounts[@]}" "$name:cpu" clip --face /data/astronaut.png --frames 75 --size 640x360 \
    --out /data/in.mp4 --log-level error >/dev/null || fail "lipsync clip failed in $name:cpu"

  # serve, a real job, the image's health check.
  pm rm -f lipsync-image-test >/dev/null 2>&1 || true
  run -d --name lipsync-image-test "${mounts[@]}" -e PORT="$port" -e DRAIN_TIMEOUT_SECONDS=60 \
    -e DATA_DIR=/data/store "$name:cpu" >/dev/null
  wait_ok "http://127.0.0.1:$port/readyz" 120 || { pm logs lipsync-image-test | tail -20 >&2; fail "/readyz never answered 200"; }
  say "serve is ready"
  local body status
  body='{"word": "hello there", "tts_lang": "en", "user_video_gs": "/data/in.mp4", "output_video_gs": "/data/out1.mp4"}'
  status="$(curl -sS -o "$work/response1.json" -w '%{http_code}' -H 'Content-Type: application/json' \
    -d "$body" "http://127.0.0.1:$port/api/v1/lip-video")"
  [ "$status" = 200 ] || { cat "$work/response1.json" >&2; fail "the job answered $status"; }
  run --rm "${mounts[@]}" "$name:cpu" probe /data/out1.mp4 --log-level error | grep -q '"video"' \
    || fail "/data/out1.mp4 is not a video"
  say "a job through HTTP: 200, $(stat -c %s "$work/io/out1.mp4") bytes of MP4"
  pm exec lipsync-image-test lipsync healthcheck >/dev/null || fail "lipsync healthcheck failed in the container"
  pm healthcheck run lipsync-image-test >/dev/null || fail "the image's HEALTHCHECK failed"

  # SIGTERM while a job runs: the job finishes (200), the server exits 0, new work is refused.
  body='{"word": "this is a longer sentence, so the job is still running when the server is told to stop", "tts_lang": "en", "user_video_gs": "/data/in.mp4", "output_video_gs": "/data/out2.mp4"}'
  curl -sS -o "$work/response2.json" -w '%{http_code}' -H 'Content-Type: application/json' \
    -d "$body" "http://127.0.0.1:$port/api/v1/lip-video" >"$work/status2" &
  local client=$! deadline=$((SECONDS + 30))
  # The page is read whole first: grep -q stopping early would fail curl (and the pipeline).
  until metrics="$(curl -fsS "http://127.0.0.1:$port/metrics")" \
      && grep -Eq '^lipsync_jobs_in_flight(\{[^}]*\})? [1-9]' <<<"$metrics"; do
    [ $SECONDS -lt $deadline ] || fail "the second job never showed as running in /metrics"
    sleep 0.05
  done
  pm kill --signal TERM lipsync-image-test >/dev/null
  wait "$client" || true
  [ "$(cat "$work/status2")" = 200 ] || { cat "$work/response2.json" >&2; fail "the job in flight at SIGTERM answered $(cat "$work/status2")"; }
  [ "$(pm wait lipsync-image-test)" = 0 ] || { pm logs lipsync-image-test | tail -20 >&2; fail "serve did not exit 0 after SIGTERM"; }
  [ -s "$work/io/out2.mp4" ] || fail "no output from the job in flight at SIGTERM"
  say "SIGTERM: the job in flight finished (200), serve exited 0"

  # The GPU image on a machine without a GPU: the CUDA build is loaded and doctor says why CUDA is off.
  run --rm "$name:gpu" doctor >"$work/doctor-gpu.txt" 2>&1 || true
  cat "$work/doctor-gpu.txt" >&2
  grep -q 'CUDAExecutionProvider' "$work/doctor-gpu.txt" || fail "$name:gpu has no CUDA execution provider"
  grep -q 'NVIDIA driver (libcuda.so.1) is not visible' "$work/doctor-gpu.txt" || fail "doctor does not say what $name:gpu lacks"
  # Every library the CUDA provider needs is in the image but the driver's libcuda.so.1 (the
  # host's), and the libraries it opens at run time (cuDNN, cuFFT, NVRTC) are in the loader's cache.
  run --rm --entrypoint /bin/bash "$name:gpu" -c \
    'ldd /usr/local/lib/libonnxruntime_providers_cuda.so | grep "not found"; ldconfig -p' >"$work/ldd-gpu.txt" 2>/dev/null || true
  if grep 'not found' "$work/ldd-gpu.txt" | grep -v 'libcuda.so.1' >&2; then fail "$name:gpu lacks libraries of the CUDA provider"; fi
  for lib in libcudnn.so.9 libcudnn_cnn.so.9 libcufft.so.12 libcurand.so.10 libcublasLt.so.13 libnvrtc.so.13 libcudart.so.13; do
    grep -q "$lib " "$work/ldd-gpu.txt" || fail "$name:gpu: $lib is not in the loader's cache"
  done
  say "GPU image: CUDA provider compiled in, its libraries present (only the host's libcuda.so.1 missing)"
  say "PASS: images built and tested"
}

case "${1:-}" in
  base) require_podman; local_base ;;
  build) build "${2:-cpu}" ;;
  podman) shift; pm "$@" ;;
  test) test_images ;;
  *) sed -n '2,17p' "$0" >&2; exit 2 ;;
esac
