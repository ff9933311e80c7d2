"""Parity of `lipsync sync` with the original Wav2Lip inference.py on the same random weights.

Runs in the scratch virtualenv of README.md (torch, librosa, opencv — mediapipe brings
opencv — and tqdm), with a checkout of the original repository:

    /tmp/torchenv/bin/python tools/modelkit/fidelity/lipsync_parity.py --original /tmp/Wav2Lip \
        --lipsync .build/debug/lipsync --modelkit-python .venv/bin/python

Both sides get the same input video (written with OpenCV, MPEG-4 part 2), the same 16 kHz
speech WAV, the same Wav2Lip weights (the original class with random weights, converted by
modelkit) and the same fixed face box (`--box`, so no detector is involved). Our side runs
in parity mode (`--composite replace --order loop`) and dumps its frames before encoding;
the original's frames are captured from its cv2.VideoWriter. Reported: frame counts, mean
and max absolute difference inside the box (generated face) and outside it (decoding).

The original needs two shims on current libraries, both restoring what its pinned
versions did: librosa.filters.mel called positionally (keyword-only since librosa 0.10),
and librosa.stft's centre padding defaulting to reflect (librosa ≤ 0.8) instead of zeros.
"""
import argparse
import collections
import os
import runpy
import subprocess
import sys
import tempfile
import wave

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
BOX = (60, 200, 90, 230)  # top, bottom, left, right
WIDTH, HEIGHT, FPS, FRAMES = 320, 240, 25, 30


def make_video(path):
    import cv2
    writer = cv2.VideoWriter(path, cv2.VideoWriter_fourcc(*"mp4v"), FPS, (WIDTH, HEIGHT))
    yy, xx = np.mgrid[0:HEIGHT, 0:WIDTH]
    for i in range(FRAMES):
        frame = np.zeros((HEIGHT, WIDTH, 3), np.uint8)
        frame[..., 0] = (40 + xx * 150 / WIDTH).astype(np.uint8)
        frame[..., 1] = (60 + yy * 140 / HEIGHT).astype(np.uint8)
        blob = np.maximum(0, 1 - ((xx - 160 - 2 * i) ** 2 + (yy - 130) ** 2) / 2500.0) * 100
        frame[..., 2] = np.clip(90 + blob, 0, 255).astype(np.uint8)
        writer.write(frame)
    writer.release()


def make_speech(path, seconds=1.6):
    t = np.arange(int(16000 * seconds)) / 16000
    signal = 0.3 * np.sin(2 * np.pi * 180 * t) * (1 + 0.5 * np.sin(2 * np.pi * 3 * t))
    with wave.open(path, "wb") as handle:
        handle.setnchannels(1)
        handle.setsampwidth(2)
        handle.setframerate(16000)
        handle.writeframes((signal * 32767).astype("<i2").tobytes())


def make_checkpoint(original, path, seed):
    import torch
    sys.path.insert(0, original)
    from models import Wav2Lip
    torch.manual_seed(seed)
    model = Wav2Lip()
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, torch.nn.BatchNorm2d):
                module.running_mean.uniform_(-0.2, 0.2)
                module.running_var.uniform_(0.5, 1.5)
        model.output_block[1].weight.mul_(40)
    torch.save({"state_dict": model.state_dict()}, path)


def run_original(original, checkpoint, video, speech, work):
    import cv2
    import librosa

    captured = []

    class CapturingWriter:
        def __init__(self, *args, **kwargs):
            pass

        def write(self, frame):
            captured.append(frame.copy())

        def release(self):
            pass

    mel = librosa.filters.mel
    stft = librosa.stft
    librosa.filters.mel = lambda sr, n_fft, n_mels=128, fmin=0.0, fmax=None, **kw: mel(sr=sr, n_fft=n_fft, n_mels=n_mels, fmin=fmin, fmax=fmax, **kw)
    librosa.stft = lambda y, **kw: stft(y=y, **{"pad_mode": "reflect", **kw})
    real_writer, real_call = cv2.VideoWriter, subprocess.call
    cv2.VideoWriter = CapturingWriter
    subprocess.call = lambda *a, **k: 0
    cwd, argv = os.getcwd(), sys.argv
    os.makedirs(os.path.join(work, "temp"), exist_ok=True)
    try:
        os.chdir(work)
        sys.argv = ["inference.py", "--checkpoint_path", checkpoint, "--face", video, "--audio", speech,
                    "--outfile", os.path.join(work, "original.mp4"), "--box", *map(str, BOX)]
        sys.path.insert(0, original)
        runpy.run_path(os.path.join(original, "inference.py"), run_name="__main__")
    finally:
        os.chdir(cwd)
        sys.argv = argv
        cv2.VideoWriter, subprocess.call = real_writer, real_call
        librosa.filters.mel, librosa.stft = mel, stft
    return captured


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--original", required=True)
    parser.add_argument("--lipsync", required=True, help="the built lipsync binary")
    parser.add_argument("--modelkit-python", required=True, help="the project virtualenv's python")
    parser.add_argument("--seed", type=int, default=99)
    args = parser.parse_args()
    modelkit = os.path.dirname(HERE)

    with tempfile.TemporaryDirectory() as work:
        video, speech = os.path.join(work, "face.mp4"), os.path.join(work, "speech.wav")
        checkpoint, models, dump = os.path.join(work, "wav2lip.pth"), os.path.join(work, "models"), os.path.join(work, "ours")
        make_video(video)
        make_speech(speech)
        make_checkpoint(os.path.abspath(args.original), checkpoint, args.seed)
        environment = dict(os.environ, PYTHONPATH=modelkit)
        for command in (["standins", "--tiny", "--out", models], ["convert", "--wav2lip", checkpoint, "--out", models]):
            subprocess.run([args.modelkit_python, "-m", "modelkit", *command], check=True, env=environment, stdout=subprocess.DEVNULL)
        subprocess.run([args.lipsync, "sync", "--video", video, "--audio", speech, "--out", os.path.join(work, "ours.mp4"),
                        "--models", models, "--detector", "s3fd", "--box", *map(str, BOX), "--composite", "replace",
                        "--order", "loop", "--dump-frames", dump, "--log-level", "error"], check=True, stdout=subprocess.DEVNULL)
        ours = [np.fromfile(os.path.join(dump, name), np.uint8).reshape(HEIGHT, WIDTH, 3) for name in sorted(os.listdir(dump))]
        theirs = run_original(os.path.abspath(args.original), checkpoint, video, speech, work)

    print(f"frames: ours {len(ours)}, original {len(theirs)}")
    if len(ours) != len(theirs):
        print("FAIL: frame counts differ")
        sys.exit(1)
    top, bottom, left, right = BOX
    inside, outside = [], []
    for a, b in zip(ours, theirs):
        delta = np.abs(a.astype(np.int16) - b.astype(np.int16))
        mask = np.zeros(delta.shape[:2], bool)
        mask[top:bottom, left:right] = True
        inside.append(delta[mask])
        outside.append(delta[~mask])
    inside, outside = np.concatenate(inside), np.concatenate(outside)
    print(f"generated face (inside the box): mean |Δ| {inside.mean():.3f}, max {inside.max()}, "
          f"{(inside <= 1).mean() * 100:.1f} % of values within 1 level")
    print(f"rest of the frame (decoding only): mean |Δ| {outside.mean():.3f}, max {outside.max()}")
    if inside.mean() > 1.0:
        print("FAIL: mean difference above 1 level")
        sys.exit(1)


if __name__ == "__main__":
    main()
