#!/usr/bin/env bash
# Prepares the models folder `make demo` uses (default .deps/demo-models).
#
# If the original system's checkpoints are in checkpoints/ — wav2lip_gan.pth (or
# wav2lip.pth), s3fd.pth, freevc.pth, WavLM-Large.pt, pretrained_bak_5805000.pt — they are
# converted with tools/modelkit. Otherwise full-size stand-ins are written (random weights,
# the same sizes and FLOPs): the pipeline then runs end to end, but the mouth region and
# the voice are meaningless. BlazeFace is always fetched from the mediapipe wheel.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
out="${1:-$root/.deps/demo-models}"
ckpt="$root/checkpoints"
modelkit() { PYTHONPATH="$root/tools/modelkit" "$root/.venv/bin/python" -m modelkit "$@"; }

wav2lip=""
for name in wav2lip_gan.pth wav2lip.pth; do [ -f "$ckpt/$name" ] && { wav2lip="$ckpt/$name"; break; }; done
if [ -n "$wav2lip" ] && [ -f "$ckpt/s3fd.pth" ] && [ -f "$ckpt/freevc.pth" ] && [ -f "$ckpt/WavLM-Large.pt" ] && [ -f "$ckpt/pretrained_bak_5805000.pt" ]; then
  echo "prepare-models: converting the checkpoints in $ckpt into $out"
  modelkit convert --wav2lip "$wav2lip" --s3fd "$ckpt/s3fd.pth" --freevc "$ckpt/freevc.pth" \
    --wavlm "$ckpt/WavLM-Large.pt" --speaker-encoder "$ckpt/pretrained_bak_5805000.pt" --out "$out"
elif [ -f "$out/manifest.json" ] && grep -q '"standin": true' "$out/manifest.json"; then
  echo "prepare-models: full-size stand-ins already in $out"
else
  echo "prepare-models: no checkpoints in $ckpt — writing FULL-SIZE STAND-INS (random weights) into $out"
  modelkit standins --out "$out"
fi
[ -f "$out/blazeface.onnx" ] || modelkit blazeface --out "$out" --cache "$root/.deps/cache"
cat <<NOTE
============================================================================================
$(grep -q '"standin": true' "$out/manifest.json" && echo "NOTICE: the demo runs on STAND-IN models with random weights. Every step runs and is
timed at full size, but the generated mouth region and the converted voice are NOT meaningful.
Put the original checkpoints in checkpoints/ (see README) for a real result." || echo "Using converted checkpoints from $ckpt.")
============================================================================================
NOTE
