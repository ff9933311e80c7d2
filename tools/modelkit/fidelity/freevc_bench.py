"""Speed of the converted FreeVC models (onnxruntime, CPU) next to the original PyTorch code
on the same machine, for 1 s and 3 s of speech, plus an end-to-end chain check (WavLM →
SynthesizerTrn with the same noise) against the original. Random weights at full size
(same FLOPs as the released models). Needs the scratch venv and a FreeVC checkout.

    /tmp/torchenv/bin/python tools/modelkit/fidelity/freevc_bench.py --original /tmp/FreeVC --threads 2
"""
import argparse
import json
import os
import sys
import tempfile
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def timed(function, runs=3):
    function()
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return sorted(times)[len(times) // 2]


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--original", required=True)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--speech", help="a 16 kHz WAV of real speech (e.g. from `lipsync say`) for the end-to-end check; "
                                         "default: a synthetic tone")
    args = parser.parse_args()

    import torch
    import onnxruntime as ort
    from modelkit import freevc, speaker, wavlm
    from modelkit.checkpoint import load_state_dict

    torch.set_num_threads(args.threads)
    sys.path.insert(0, args.original)
    import models
    from wavlm.WavLM import WavLM, WavLMConfig
    options = ort.SessionOptions()
    options.intra_op_num_threads = args.threads

    config = WavLMConfig({"extractor_mode": "layer_norm", "encoder_layers": 24, "encoder_embed_dim": 1024, "encoder_ffn_embed_dim": 4096,
                          "encoder_attention_heads": 16, "layer_norm_first": True, "conv_bias": False,
                          "relative_position_embedding": True, "num_buckets": 320, "max_distance": 800, "gru_rel_pos": True})
    torch.manual_seed(0)
    content_model = WavLM(config).eval()
    with open(os.path.join(args.original, "configs", "freevc.json")) as handle:
        freevc_config = json.load(handle)
    net_g = models.SynthesizerTrn(641, 28, **freevc_config["model"])
    with torch.no_grad():
        net_g.dec.conv_post.weight.mul_(30)
    net_g.eval()
    with tempfile.TemporaryDirectory() as work:
        torch.save({"model": content_model.state_dict()}, os.path.join(work, "wavlm.pt"))
        torch.save({"model": net_g.state_dict()}, os.path.join(work, "freevc.pth"))
        wavlm_session = ort.InferenceSession(wavlm.build(load_state_dict(os.path.join(work, "wavlm.pt"))).SerializeToString(), options,
                                             providers=["CPUExecutionProvider"])
        synth_session = ort.InferenceSession(freevc.build(load_state_dict(os.path.join(work, "freevc.pth"))).SerializeToString(), options,
                                             providers=["CPUExecutionProvider"])
    lstm_state = speaker.random_state_dict()
    speaker_session = ort.InferenceSession(speaker.build_encoder(lstm_state).SerializeToString(), options, providers=["CPUExecutionProvider"])
    lstm = torch.nn.LSTM(40, 256, 3, batch_first=True)
    with torch.no_grad():
        for k in range(3):
            for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
                getattr(lstm, f"{name}_l{k}").copy_(torch.from_numpy(lstm_state[f"lstm.{name}_l{k}"]))

    print(f"FreeVC models, CPU, {args.threads} threads — {os.cpu_count()} cores on this machine; median of 3 runs")
    rng = np.random.default_rng(0)
    for seconds in (1, 3):
        t = np.arange(16000 * seconds) / 16000
        wave = (0.3 * np.sin(2 * np.pi * 180 * t) + 0.03 * rng.standard_normal(t.size)).astype(np.float32)
        if args.speech:
            import soundfile
            speech, rate = soundfile.read(args.speech, dtype="float32")
            assert rate == 16000, "give 16 kHz speech"
            wave = np.resize(speech, 16000 * seconds).astype(np.float32)  # repeated to the length
        frames = (len(wave) - 400) // 320 + 1
        g = rng.standard_normal((1, 256)).astype(np.float32)
        g /= np.linalg.norm(g)
        noise = rng.standard_normal((1, 192, frames)).astype(np.float32)
        partials = rng.uniform(0, 1, (max(1, int(seconds * 1.3)), 160, 40)).astype(np.float32)

        with torch.no_grad():
            torch_content = lambda: content_model.extract_features(torch.from_numpy(wave)[None])[0]
            content = torch_content().transpose(1, 2).numpy()
            original_randn = models.torch.randn_like
            models.torch.randn_like = lambda tensor: torch.from_numpy(noise)
            torch_synth = lambda: net_g.infer(torch.from_numpy(content), g=torch.from_numpy(g))
            torch_speaker = lambda: lstm(torch.from_numpy(partials))
            rows = [
                ("WavLM-Large content", timed(torch_content), timed(lambda: wavlm_session.run(None, {"waveform": wave[None]}))),
                ("speaker encoder LSTM", timed(torch_speaker), timed(lambda: speaker_session.run(None, {"mels": partials}))),
                ("SynthesizerTrn infer", timed(torch_synth),
                 timed(lambda: synth_session.run(None, {"content": content, "speaker": g, "noise": noise}))),
            ]
            # End to end with the same noise: original WavLM → original infer vs ONNX WavLM → ONNX synthesizer.
            reference = torch_synth().numpy()
            models.torch.randn_like = original_randn
        ours_content = wavlm_session.run(None, {"waveform": wave[None]})[0]
        ours = synth_session.run(None, {"content": ours_content, "speaker": g, "noise": noise})[0]
        snr = 10 * np.log10((reference.astype(np.float64) ** 2).sum() / ((ours - reference).astype(np.float64) ** 2).sum())
        print(f"{seconds} s of speech ({frames} content frames):")
        for name, torch_time, onnx_time in rows:
            print(f"  {name:22s} PyTorch {torch_time * 1e3:8.1f} ms   ONNX Runtime {onnx_time * 1e3:8.1f} ms   ×{torch_time / onnx_time:.2f}")
        print(f"  end to end (WavLM → synthesizer, same noise): SNR {snr:.1f} dB against the original, max |Δ| {np.abs(ours - reference).max():.2e}")


if __name__ == "__main__":
    main()
