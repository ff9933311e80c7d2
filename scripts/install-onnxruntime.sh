#!/usr/bin/env bash
# Installs ONNX Runtime's shared library and C headers into one folder, with a
# libonnxruntime.pc. Used by scripts/setup.sh (.deps/onnxruntime) and by the Containerfile.
#
#   scripts/install-onnxruntime.sh DEST cpu|gpu PYTHON [--cuda-libs]
#
#   DEST        target folder (replaced): DEST/lib, DEST/include, DEST/lib/pkgconfig
#   cpu|gpu     the PyPI wheel the library comes from: onnxruntime or onnxruntime-gpu
#   PYTHON      a Python with pip (pip picks the wheel tag of this machine)
#   --cuda-libs also unpack the CUDA and cuDNN runtime libraries ONNX Runtime's CUDA provider
#               loads, from NVIDIA's PyPI wheels (pinned in versions.env), into DEST/lib/nvidia/
#               (the container image; a host keeps its own CUDA installation)
#
# The library comes from the wheel; the headers from Debian 13's libonnxruntime-dev, downloaded
# with a throw-away apt state and unpacked with dpkg -x (never installed). Versions: versions.env.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=versions.env
. "$here/versions.env"

[ $# -ge 3 ] || { sed -n '2,15p' "$0" >&2; exit 2; }
dest="$1" flavor="$2" python="$3" cuda_libs=no
[ "${4:-}" = --cuda-libs ] && cuda_libs=yes
case "$flavor" in cpu|gpu) ;; *) echo "install-onnxruntime: flavor must be cpu or gpu, not '$flavor'" >&2; exit 2 ;; esac

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
pip_download() {
  "$python" -m pip download -q --disable-pip-version-check --no-deps --only-binary=:all: -d "$work/wheels" "$@"
}
wheel_pkg=onnxruntime
[ "$flavor" = gpu ] && wheel_pkg=onnxruntime-gpu
pip_download "$wheel_pkg==$ONNXRUNTIME_VERSION"
(cd "$work" && "$python" -m zipfile -e wheels/*.whl unpacked)
libsrc="$work/unpacked/onnxruntime/capi"
[ -f "$libsrc/libonnxruntime.so.$ONNXRUNTIME_VERSION" ] || {
  echo "install-onnxruntime: the $wheel_pkg wheel has no libonnxruntime.so.$ONNXRUNTIME_VERSION" >&2; exit 1; }

# Headers: Debian 13's -dev package through a throw-away apt state under $work.
mkdir -p "$work/apt/lists/partial" "$work/apt/cache/archives/partial"
echo "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian $ONNXRUNTIME_HEADERS_SUITE main" \
  > "$work/apt/sources.list"
aptopts=(-o "Dir::Etc::SourceList=$work/apt/sources.list" -o Dir::Etc::SourceParts=/dev/null
         -o "Dir::State::Lists=$work/apt/lists" -o "Dir::Cache=$work/apt/cache"
         -o APT::Sandbox::User=root -qq)
apt-get "${aptopts[@]}" update
(cd "$work" && apt-get "${aptopts[@]}" download "$ONNXRUNTIME_HEADERS_PACKAGE")
dpkg -x "$work"/"$ONNXRUNTIME_HEADERS_PACKAGE"_*.deb "$work/headers"
api="$(sed -n 's/^#define ORT_API_VERSION \([0-9]*\).*/\1/p' "$work/headers/usr/include/onnxruntime/onnxruntime_c_api.h")"
[ "$api" = "$ONNXRUNTIME_HEADERS_API_VERSION" ] || {
  echo "install-onnxruntime: expected ORT_API_VERSION $ONNXRUNTIME_HEADERS_API_VERSION in the $ONNXRUNTIME_HEADERS_SUITE headers, found '$api'" >&2
  exit 1; }

rm -rf "$dest"
mkdir -p "$dest/lib/pkgconfig" "$dest/include"
# The TensorRT provider needs TensorRT, which neither a host set-up nor the image provides.
find "$libsrc" -maxdepth 1 -name 'libonnxruntime*.so*' ! -name '*tensorrt*' -exec cp {} "$dest/lib/" \;
ln -s "libonnxruntime.so.$ONNXRUNTIME_VERSION" "$dest/lib/libonnxruntime.so.1"
ln -s libonnxruntime.so.1 "$dest/lib/libonnxruntime.so"
cp "$work/headers/usr/include/onnxruntime/"*.h "$dest/include/"
# Licence texts of what was installed (the container image ships them).
copy_licences() {  # unpacked-wheel-folder
  local info name
  for info in "$1"/*.dist-info; do
    [ -d "$info" ] || continue
    name="$(basename "$info" .dist-info)"
    mkdir -p "$dest/share/licenses/$name"
    find "$info" -maxdepth 2 -type f \( -iname 'LICENSE*' -o -iname 'License*' -o -iname 'NOTICE*' -o -iname 'ThirdPartyNotices*' \) \
      -exec cp {} "$dest/share/licenses/$name/" \;
  done
}
copy_licences "$work/unpacked"
cat > "$dest/lib/pkgconfig/libonnxruntime.pc" <<EOF
prefix=$dest
libdir=\${prefix}/lib
includedir=\${prefix}/include

Name: onnxruntime
Description: ONNX Runtime $ONNXRUNTIME_VERSION ($flavor, from the PyPI wheel) with C API $api headers
Version: $ONNXRUNTIME_VERSION
Libs: -L\${libdir} -lonnxruntime
Cflags: -I\${includedir}
EOF

if [ "$cuda_libs" = yes ]; then
  # Only the shared libraries: NVIDIA's wheels keep them under nvidia/<component>/lib.
  rm -rf "$work/wheels" "$work/unpacked"
  # shellcheck disable=SC2086
  pip_download $CUDA_WHEELS
  for wheel in "$work"/wheels/*.whl; do
    "$python" -m zipfile -e "$wheel" "$work/cuda"
  done
  copy_licences "$work/cuda"
  # Not loaded by ONNX Runtime: the BLAS and FFTW drop-in wrappers.
  (cd "$work/cuda" && find nvidia -path '*/lib/*.so*' -type f ! -name 'libnvblas*' ! -name 'libcufftw*') | while read -r lib; do
    mkdir -p "$dest/lib/$(dirname "$lib")"
    cp "$work/cuda/$lib" "$dest/lib/$lib"
  done
  (cd "$dest/lib" && find nvidia -type d -name lib | sed "s|^|$dest/lib/|") > "$dest/lib/nvidia/ld.so.conf"
fi
echo "install-onnxruntime: $(cd "$dest/lib" && ls -d libonnxruntime* | tr "\n" " ")in $dest"
