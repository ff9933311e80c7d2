"""Original PyTorch Wav2Lip vs modelkit's ONNX graph on the same random weights.

Run with PyTorch available and --original pointing at a checkout of Rudrabha/Wav2Lip
(see README.md here). Prints the numbers reported in the issue note.
"""
import argparse
import collections
import os
import sys
import tempfile

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))  # tools/modelkit


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--original", required=True, help="checkout of Rudrabha/Wav2Lip")
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--seed", type=int, default=1234)
    parser.add_argument("--write-fixtures", help="also write the tiny torch checkpoints used by the CI tests here")
    args = parser.parse_args()

    import torch
    import onnxruntime as ort
    from modelkit import convert, wav2lip

    sys.path.insert(0, args.original)
    from models import Wav2Lip  # the original class, from the user's checkout

    torch.manual_seed(args.seed)
    model = Wav2Lip()
    with torch.no_grad():  # random BatchNorm statistics so that folding is really tested
        for module in model.modules():
            if isinstance(module, torch.nn.BatchNorm2d):
                module.running_mean.uniform_(-0.2, 0.2)
                module.running_var.uniform_(0.5, 1.5)
                module.weight.uniform_(0.8, 1.2)
                module.bias.uniform_(-0.1, 0.1)
        # PyTorch's default init leaves the sigmoid near 0.5; widen the last 1×1 conv so the
        # comparison covers the whole (0, 1) output range.
        model.output_block[1].weight.mul_(40)
    model.eval()

    rng = np.random.default_rng(args.seed)
    mel = rng.uniform(-4, 4, (args.batch, 1, 80, 16)).astype(np.float32)
    face = rng.uniform(0, 1, (args.batch, 6, 96, 96)).astype(np.float32)
    face[:, :3, 48:, :] = 0  # masked lower half, as inference.py feeds it
    with torch.no_grad():
        reference = model(torch.from_numpy(mel), torch.from_numpy(face)).numpy()

    with tempfile.TemporaryDirectory() as work:
        zip_path = os.path.join(work, "wav2lip_zip.pth")
        legacy_path = os.path.join(work, "wav2lip_legacy.pth")
        torch.save({"state_dict": model.state_dict(), "global_step": 1}, zip_path)
        prefixed = collections.OrderedDict(("module." + k, v) for k, v in model.state_dict().items())
        torch.save({"state_dict": prefixed, "optimizer": {"state": {}}, "global_epoch": 1}, legacy_path,
                   _use_new_zipfile_serialization=False)
        print(f"original Wav2Lip: {sum(p.numel() for p in model.parameters()):,} parameters, "
              f"{len(model.state_dict())} state_dict tensors; batch {args.batch}")
        for label, path in (("zip format", zip_path), ("legacy format + module. prefix", legacy_path)):
            out = os.path.join(work, "out-" + label.split()[0])
            convert.convert_wav2lip(path, out)
            session = ort.InferenceSession(os.path.join(out, "wav2lip.onnx"), providers=["CPUExecutionProvider"])
            result = session.run(["prediction"], {"mel": mel, "face": face})[0]
            delta = np.abs(result.astype(np.float64) - reference.astype(np.float64))
            relative = delta.max() / np.abs(reference).max()
            print(f"  {label}: max |Δ| = {delta.max():.3e}, mean |Δ| = {delta.mean():.3e}, "
                  f"max relative = {relative:.3e}, output range [{reference.min():.3f}, {reference.max():.3f}]")
            if delta.max() > 1e-4:
                print("  FAIL: above the 1e-4 target")
                sys.exit(1)

    if args.write_fixtures:
        write_fixtures(args.write_fixtures, torch, wav2lip)


def write_fixtures(directory, torch, wav2lip):
    """Tiny (channels ÷ 16) generator checkpoints written by torch itself in both formats,
    from the deterministic numpy weights `wav2lip.random_state_dict(16, seed=7)`."""
    os.makedirs(directory, exist_ok=True)
    state = wav2lip.random_state_dict(16, seed=7)
    tensors = collections.OrderedDict((k, torch.from_numpy(np.array(v))) for k, v in state.items())
    torch.save({"state_dict": tensors, "global_step": 3}, os.path.join(directory, "wav2lip_tiny_zip.pth"))
    prefixed = collections.OrderedDict(("module." + k, v) for k, v in tensors.items())
    torch.save({"state_dict": prefixed}, os.path.join(directory, "wav2lip_tiny_legacy.pth"), _use_new_zipfile_serialization=False)
    half = collections.OrderedDict((k, v.half() if v.is_floating_point() else v) for k, v in tensors.items())
    torch.save(half, os.path.join(directory, "wav2lip_tiny_half.pth"))
    # Strided and offset views, stored as views (the storage is shared and larger).
    base = torch.arange(60, dtype=torch.float32).reshape(6, 10)
    torch.save(collections.OrderedDict(transposed=base.t(), window=base[1:4, 2:7], scalar=torch.tensor(2.5)),
               os.path.join(directory, "views_zip.pth"))
    torch.save(collections.OrderedDict(transposed=base.t(), window=base[1:4, 2:7], scalar=torch.tensor(2.5)),
               os.path.join(directory, "views_legacy.pth"), _use_new_zipfile_serialization=False)
    print(f"wrote torch fixtures to {directory}")


if __name__ == "__main__":
    main()
