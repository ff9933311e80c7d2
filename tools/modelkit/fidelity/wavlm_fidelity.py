"""WavLM (the copy in OlaWod/FreeVC, Large configuration, random weights) vs modelkit's
ONNX content extractor on the same waveform. Needs torch and a FreeVC checkout (--original).

    /tmp/torchenv/bin/python tools/modelkit/fidelity/wavlm_fidelity.py --original /tmp/FreeVC [--layers 24]
"""
import argparse
import os
import sys
import tempfile

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--original", required=True)
    parser.add_argument("--layers", type=int, default=24)
    parser.add_argument("--seconds", type=float, default=1.0)
    parser.add_argument("--seed", type=int, default=3)
    parser.add_argument("--write-fixtures", help="also write a tiny torch-written WavLM + reference output for the CI tests")
    args = parser.parse_args()

    import torch
    import onnxruntime as ort
    from modelkit import wavlm
    from modelkit.checkpoint import load_state_dict

    sys.path.insert(0, args.original)
    from wavlm.WavLM import WavLM, WavLMConfig
    config = WavLMConfig({
        "extractor_mode": "layer_norm", "encoder_layers": args.layers, "encoder_embed_dim": 1024,
        "encoder_ffn_embed_dim": 4096, "encoder_attention_heads": 16, "layer_norm_first": True, "conv_bias": False,
        "feature_grad_mult": 1.0, "conv_feature_layers": "[(512,10,5)] + [(512,3,2)] * 4 + [(512,2,2)] * 2",
        "relative_position_embedding": True, "num_buckets": 320, "max_distance": 800, "gru_rel_pos": True, "normalize": True,
    })
    torch.manual_seed(args.seed)
    model = WavLM(config)
    with torch.no_grad():  # gates and LayerNorm affines away from their init values
        for name, parameter in model.named_parameters():
            if name.endswith("grep_a"):
                parameter.uniform_(0.5, 1.5)
            if "layer_norm" in name and name.endswith("weight"):
                parameter.uniform_(0.8, 1.2)
    model.eval()
    print(f"original WavLM ({args.layers} layers): {sum(p.numel() for p in model.parameters()):,} parameters")

    rng = np.random.default_rng(args.seed)
    t = np.arange(int(16000 * args.seconds)) / 16000
    wave = (0.3 * np.sin(2 * np.pi * 170 * t) * (1 + np.sin(2 * np.pi * 4 * t)) + 0.03 * rng.standard_normal(t.size)).astype(np.float32)
    with torch.no_grad():
        reference = model.extract_features(torch.from_numpy(wave)[None])[0].transpose(1, 2).numpy()  # as utils.get_content

    with tempfile.TemporaryDirectory() as work:
        path = os.path.join(work, "WavLM-Large.pt")
        torch.save({"cfg": config.__dict__, "model": model.state_dict()}, path)
        graph = wavlm.build(load_state_dict(path))
        session = ort.InferenceSession(graph.SerializeToString(), providers=["CPUExecutionProvider"])
    result = session.run(["content"], {"waveform": wave[None]})[0]
    if result.shape != reference.shape:
        print(f"FAIL: shape {result.shape} vs {reference.shape}")
        sys.exit(1)
    delta = np.abs(result.astype(np.float64) - reference)
    print(f"  content {reference.shape}: max |Δ| {delta.max():.3e}, mean {delta.mean():.3e}, "
          f"max relative {delta.max() / np.abs(reference).max():.3e}, reference range [{reference.min():.2f}, {reference.max():.2f}]")
    if args.write_fixtures:
        write_fixture(args.write_fixtures, WavLM, WavLMConfig, torch)
    sys.exit(0 if delta.max() / np.abs(reference).max() < 1e-4 else 1)


def write_fixture(directory, WavLM, WavLMConfig, torch):
    """A tiny WavLM (dim 64, 4 heads, 2 layers, 32 conv channels) from the original class, its
    checkpoint ({'cfg', 'model'}) and its features for a fixed 0.4 s waveform."""
    config = WavLMConfig({
        "extractor_mode": "layer_norm", "encoder_layers": 2, "encoder_embed_dim": 64, "encoder_ffn_embed_dim": 128,
        "encoder_attention_heads": 4, "layer_norm_first": True, "conv_bias": False,
        "conv_feature_layers": "[(32,10,5)] + [(32,3,2)] * 4 + [(32,2,2)] * 2", "conv_pos": 128, "conv_pos_groups": 16,
        "relative_position_embedding": True, "num_buckets": 320, "max_distance": 800, "gru_rel_pos": True,
    })
    torch.manual_seed(17)
    model = WavLM(config)
    with torch.no_grad():
        for name, parameter in model.named_parameters():
            if name.endswith("grep_a"):
                parameter.uniform_(0.5, 1.5)
    model.eval()
    wave = (0.2 * np.sin(2 * np.pi * 210 * np.arange(6400) / 16000)).astype(np.float32)
    with torch.no_grad():
        content = model.extract_features(torch.from_numpy(wave)[None])[0].transpose(1, 2).numpy()
    os.makedirs(directory, exist_ok=True)
    torch.save({"cfg": config.__dict__, "model": model.state_dict()}, os.path.join(directory, "wavlm_tiny.pt"))
    np.savez(os.path.join(directory, "wavlm_tiny_reference.npz"), waveform=wave, content=content)
    print(f"wrote the tiny WavLM fixture to {directory}")


if __name__ == "__main__":
    main()
