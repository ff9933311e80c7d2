"""FreeVC SynthesizerTrn.infer (the original class, random weights) vs modelkit's ONNX graph
with the same injected prior noise. Needs torch in the scratch venv and a checkout of
OlaWod/FreeVC (--original)."""
import argparse
import json
import os
import sys
import tempfile

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--original", required=True)
    parser.add_argument("--frames", type=int, default=49, help="content frames (49 = 1 s of speech)")
    parser.add_argument("--seed", type=int, default=5)
    parser.add_argument("--write-fixtures", help="also write a tiny torch-written checkpoint + reference output for the CI tests")
    args = parser.parse_args()

    import torch
    import onnxruntime as ort
    from modelkit import freevc
    from modelkit.checkpoint import load_state_dict

    sys.path.insert(0, args.original)
    import models
    with open(os.path.join(args.original, "configs", "freevc.json")) as handle:
        config = json.load(handle)
    torch.manual_seed(args.seed)
    net_g = models.SynthesizerTrn(config["data"]["filter_length"] // 2 + 1,
                                  config["train"]["segment_size"] // config["data"]["hop_length"], **config["model"])
    with torch.no_grad():  # weight-norm magnitudes away from their init so folding is exercised
        for name, parameter in net_g.named_parameters():
            if name.endswith("weight_g"):
                parameter.mul_(torch.empty_like(parameter).uniform_(0.5, 1.5))
        net_g.dec.conv_post.weight.mul_(30)  # default init leaves the output near 0; widen it into tanh's range
    net_g.eval()

    rng = np.random.default_rng(args.seed)
    content = rng.standard_normal((1, 1024, args.frames)).astype(np.float32)
    speaker = rng.standard_normal((1, 256)).astype(np.float32)
    speaker /= np.linalg.norm(speaker)
    noise = rng.standard_normal((1, 192, args.frames)).astype(np.float32)
    original_randn = models.torch.randn_like
    models.torch.randn_like = lambda tensor: torch.from_numpy(noise)
    try:
        with torch.no_grad():
            reference = net_g.infer(torch.from_numpy(content), g=torch.from_numpy(speaker)).numpy()
    finally:
        models.torch.randn_like = original_randn

    with tempfile.TemporaryDirectory() as work:
        path = os.path.join(work, "freevc.pth")
        torch.save({"model": net_g.state_dict(), "iteration": 1, "learning_rate": 2e-4}, path)
        model = freevc.build(load_state_dict(path))
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    result = session.run(["audio"], {"content": content, "speaker": speaker, "noise": noise})[0]
    print(f"original SynthesizerTrn: {sum(p.numel() for p in net_g.parameters()):,} parameters; {args.frames} frames → {reference.shape[-1]} samples")
    if result.shape != reference.shape:
        print(f"FAIL: shape {result.shape} vs {reference.shape}")
        sys.exit(1)
    delta = result.astype(np.float64) - reference.astype(np.float64)
    snr = 10 * np.log10((reference.astype(np.float64) ** 2).sum() / max((delta ** 2).sum(), 1e-300))
    print(f"  audio: max |Δ| {np.abs(delta).max():.3e}, SNR {snr:.1f} dB, reference range [{reference.min():.3f}, {reference.max():.3f}]")
    speaker_ok = check_speaker_encoder(args, torch)
    if args.write_fixtures:
        write_fixture(args.write_fixtures, models, config, torch)
    sys.exit(0 if snr >= 60 and speaker_ok else 1)


def check_speaker_encoder(args, torch):
    """The original speaker_encoder (voice_encoder.SpeakerEncoder, audio.wav_to_mel_spectrogram)
    vs modelkit's two graphs. webrtcvad (used only by training-time preprocessing) is stubbed;
    librosa's melspectrogram gets librosa 0.8.1's reflect centring back."""
    import types
    import librosa
    import onnxruntime as ort
    from modelkit import speaker
    from modelkit.checkpoint import load_state_dict

    sys.modules.setdefault("webrtcvad", types.ModuleType("webrtcvad"))
    melspectrogram = librosa.feature.melspectrogram
    librosa.feature.melspectrogram = lambda **kw: melspectrogram(**{"pad_mode": "reflect", **kw})
    try:
        from speaker_encoder import audio as speaker_audio
        from speaker_encoder.voice_encoder import SpeakerEncoder
        rng = np.random.default_rng(args.seed)
        t = np.arange(16000 * 2) / 16000
        wave = (0.3 * np.sin(2 * np.pi * 150 * t) + 0.05 * rng.standard_normal(t.size)).astype(np.float32)
        reference_mel = speaker_audio.wav_to_mel_spectrogram(wave)
    finally:
        librosa.feature.melspectrogram = melspectrogram
    session = ort.InferenceSession(speaker.build_mel().SerializeToString(), providers=["CPUExecutionProvider"])
    mel = session.run(["mel"], {"waveform": wave[None, :]})[0][0]
    relative_mel = np.abs(mel - reference_mel).max() / np.abs(reference_mel).max()
    print(f"speaker mel vs the original (librosa {librosa.__version__}): {mel.shape} vs {reference_mel.shape}, "
          f"max |Δ| relative to the peak {relative_mel:.3e}")

    with tempfile.TemporaryDirectory() as work:
        torch.manual_seed(args.seed)
        state = {k: torch.from_numpy(v) for k, v in speaker.random_state_dict(seed=args.seed).items()}
        path = os.path.join(work, "pretrained.pt")
        torch.save({"model_state": state, "step": 1}, path)
        encoder = SpeakerEncoder(path, device="cpu", verbose=False).eval()
        mels = np.stack([reference_mel[s:s + 160] for s in (0, 40)]).astype(np.float32)
        with torch.no_grad():
            reference = encoder(torch.from_numpy(mels)).numpy()
        graph = speaker.build_encoder(load_state_dict(path))
    result = ort.InferenceSession(graph.SerializeToString(), providers=["CPUExecutionProvider"]).run(["embedding"], {"mels": mels})[0]
    delta = np.abs(result - reference).max()
    print(f"speaker encoder (original class, random weights, 2 partials): max |Δ| {delta:.3e}")
    return delta < 1e-4 and relative_mel < 1e-4


def write_fixture(directory, models, config, torch):
    """A tiny SynthesizerTrn (widths 32/8/8/16/32) from the original class, its checkpoint in
    the original format, and its `infer` output on fixed inputs with fixed noise."""
    settings = dict(config["model"], ssl_dim=32, hidden_channels=8, inter_channels=8, gin_channels=16, upsample_initial_channel=32)
    torch.manual_seed(11)
    net_g = models.SynthesizerTrn(17, 28, **settings)
    with torch.no_grad():
        net_g.dec.conv_post.weight.mul_(30)
    net_g.eval()
    rng = np.random.default_rng(11)
    content = rng.standard_normal((1, 32, 12)).astype(np.float32)
    speaker = rng.standard_normal((1, 16)).astype(np.float32)
    speaker /= np.linalg.norm(speaker)
    noise = rng.standard_normal((1, 8, 12)).astype(np.float32)
    original = models.torch.randn_like
    models.torch.randn_like = lambda tensor: torch.from_numpy(noise)
    try:
        with torch.no_grad():
            audio = net_g.infer(torch.from_numpy(content), g=torch.from_numpy(speaker)).numpy()
    finally:
        models.torch.randn_like = original
    os.makedirs(directory, exist_ok=True)
    torch.save({"model": net_g.state_dict(), "iteration": 7, "learning_rate": 2e-4}, os.path.join(directory, "freevc_tiny.pth"))
    np.savez(os.path.join(directory, "freevc_tiny_reference.npz"), content=content, speaker=speaker, noise=noise, audio=audio)
    print(f"wrote the tiny FreeVC fixture to {directory}")


if __name__ == "__main__":
    main()
