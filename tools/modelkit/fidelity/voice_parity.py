"""Parity of `lipsync voice` with FreeVC's convert.py path, on the same random weights.

Writes random-weight checkpoints with the ORIGINAL classes (WavLM with --layers layers,
SynthesizerTrn, the speaker encoder), converts them with modelkit, runs `lipsync voice`
(--no-loudness-match, --dump-embedding), then reproduces convert.py in Python: librosa trim
(top_db 20, librosa 0.8.1's reflect centring restored), the original embed_utterance, the
original WavLM features and net_g.infer with the SAME noise (the server's SplitMix64 +
Box–Muller generator re-implemented here). Reports the trim boundaries, the embedding
difference and the waveform SNR (targets: identical, ≤ 1e-4, ≥ 50 dB).

    /tmp/torchenv/bin/python tools/modelkit/fidelity/voice_parity.py --original /tmp/FreeVC \
        --lipsync .build/debug/lipsync --modelkit-python .venv/bin/python --reference REF.wav --speech SPEECH.wav
"""
import argparse
import json
import math
import os
import subprocess
import sys
import tempfile
import types

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
MASK = (1 << 64) - 1


class SeededNormal:
    """The server's VoiceConversion.SeededNormal: SplitMix64 uniforms, Box–Muller pairs."""

    def __init__(self, seed):
        self.state = seed & MASK
        self.spare = None

    def uniform(self):
        self.state = (self.state + 0x9E3779B97F4A7C15) & MASK
        z = self.state
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK
        z ^= z >> 31
        return ((z >> 11) + 0.5) / float(1 << 53)

    def next(self):
        if self.spare is not None:
            value, self.spare = self.spare, None
            return value
        u, v = self.uniform(), self.uniform()
        radius = math.sqrt(-2 * math.log(u))
        self.spare = np.float32(radius * math.sin(2 * math.pi * v))
        return np.float32(radius * math.cos(2 * math.pi * v))


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--original", required=True)
    parser.add_argument("--lipsync", required=True)
    parser.add_argument("--modelkit-python", required=True)
    parser.add_argument("--reference", required=True, help="16 kHz WAV with the target voice")
    parser.add_argument("--speech", required=True, help="16 kHz WAV to convert (shorter than 12 s: one window)")
    parser.add_argument("--layers", type=int, default=4)
    parser.add_argument("--seed", type=int, default=21)
    args = parser.parse_args()

    import librosa
    import torch
    sys.path.insert(0, os.path.dirname(HERE))
    sys.path.insert(0, args.original)
    sys.modules.setdefault("webrtcvad", types.ModuleType("webrtcvad"))
    import models
    from wavlm.WavLM import WavLM, WavLMConfig
    from speaker_encoder.voice_encoder import SpeakerEncoder
    from modelkit import speaker

    torch.manual_seed(args.seed)
    config = WavLMConfig({"extractor_mode": "layer_norm", "encoder_layers": args.layers, "encoder_embed_dim": 1024,
                          "encoder_ffn_embed_dim": 4096, "encoder_attention_heads": 16, "layer_norm_first": True, "conv_bias": False,
                          "relative_position_embedding": True, "num_buckets": 320, "max_distance": 800, "gru_rel_pos": True})
    content_model = WavLM(config).eval()
    with open(os.path.join(args.original, "configs", "freevc.json")) as handle:
        freevc_config = json.load(handle)
    net_g = models.SynthesizerTrn(641, 28, **freevc_config["model"])
    with torch.no_grad():
        net_g.dec.conv_post.weight.mul_(30)
    net_g.eval()
    speaker_state = {k: torch.from_numpy(v) for k, v in speaker.random_state_dict(seed=args.seed).items()}

    with tempfile.TemporaryDirectory() as work:
        paths = {name: os.path.join(work, name) for name in ("wavlm.pt", "freevc.pth", "speaker.pt", "models", "out.wav", "embedding.f32")}
        torch.save({"cfg": config.__dict__, "model": content_model.state_dict()}, paths["wavlm.pt"])
        torch.save({"model": net_g.state_dict()}, paths["freevc.pth"])
        torch.save({"model_state": speaker_state}, paths["speaker.pt"])
        environment = dict(os.environ, PYTHONPATH=os.path.dirname(HERE))
        subprocess.run([args.modelkit_python, "-m", "modelkit", "convert", "--wavlm", paths["wavlm.pt"], "--freevc", paths["freevc.pth"],
                        "--speaker-encoder", paths["speaker.pt"], "--out", paths["models"]], check=True, env=environment, stdout=subprocess.DEVNULL)
        run = subprocess.run([args.lipsync, "voice", "--reference", args.reference, "--speech", args.speech, "--out", paths["out.wav"],
                              "--models", paths["models"], "--seed", str(args.seed), "--no-loudness-match",
                              "--dump-embedding", paths["embedding.f32"], "--log-level", "error"], check=True, capture_output=True, text=True)
        span = [line for line in run.stdout.splitlines() if line.startswith("reference voiced span")][0]
        ours_start, ours_end = (int(v) for v in span.split("samples ")[1].split(" of ")[0].split("–"))
        ours_embedding = np.fromfile(paths["embedding.f32"], np.float32)
        ours_audio, _ = librosa.load(paths["out.wav"], sr=None)
        speaker_path = paths["speaker.pt"]

        # convert.py, with librosa 0.8.1's reflect-centred RMS restored for trim.
        rms = librosa.feature.rms
        librosa.feature.rms = lambda **kw: rms(**{"pad_mode": "reflect", **kw})
        melspectrogram = librosa.feature.melspectrogram
        librosa.feature.melspectrogram = lambda **kw: melspectrogram(**{"pad_mode": "reflect", **kw})
        try:
            target, _ = librosa.load(args.reference, sr=16000)
            trimmed, (start, end) = librosa.effects.trim(target, top_db=20)
            encoder = SpeakerEncoder(speaker_path, device="cpu", verbose=False)
            embedding = encoder.embed_utterance(trimmed)
        finally:
            librosa.feature.rms, librosa.feature.melspectrogram = rms, melspectrogram
    source, _ = librosa.load(args.speech, sr=16000)
    with torch.no_grad():
        content = content_model.extract_features(torch.from_numpy(source)[None])[0].transpose(1, 2)
        generator = SeededNormal(args.seed)
        frames = content.shape[2]
        noise = np.array([generator.next() for _ in range(192 * frames)], np.float32).reshape(1, 192, frames)
        original = models.torch.randn_like
        models.torch.randn_like = lambda tensor: torch.from_numpy(noise)
        try:
            reference = net_g.infer(content, g=torch.from_numpy(embedding)[None]).numpy().reshape(-1)
        finally:
            models.torch.randn_like = original

    print(f"trim: ours {ours_start}–{ours_end}, original {start}–{end} ({'identical' if (ours_start, ours_end) == (start, end) else 'DIFFERENT'})")
    print(f"speaker embedding: max |Δ| {np.abs(ours_embedding - embedding).max():.3e}")
    n = min(len(ours_audio), len(reference))
    error = ours_audio[:n].astype(np.float64) - reference[:n]
    snr = 10 * np.log10((reference[:n].astype(np.float64) ** 2).sum() / (error ** 2).sum())
    print(f"waveform: {len(ours_audio)} vs {len(reference)} samples, SNR {snr:.1f} dB, max |Δ| {np.abs(error).max():.2e}")
    ok = (ours_start, ours_end) == (start, end) and np.abs(ours_embedding - embedding).max() <= 1e-4 and snr >= 50
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
