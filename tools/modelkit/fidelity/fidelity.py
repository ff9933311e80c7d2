"""Original PyTorch models vs modelkit's ONNX graphs on the same random weights.

Run with PyTorch available and --original pointing at a checkout of Rudrabha/Wav2Lip
(see README.md here): the Wav2Lip generator and the S3FD detector it bundles. Prints the
numbers reported in the issue note; exits non-zero when an error exceeds 1e-4.
"""
import importlib.util
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
    failed = check_wav2lip(args) | check_s3fd(args) | check_mel(args)
    if args.write_fixtures:
        import torch
        from modelkit import wav2lip
        write_fixtures(args.write_fixtures, torch, wav2lip)
    sys.exit(1 if failed else 0)


def report(label, result, reference):
    delta = np.abs(result.astype(np.float64) - reference.astype(np.float64))
    relative = delta.max() / max(np.abs(reference).max(), 1e-30)
    print(f"  {label}: max |Δ| = {delta.max():.3e}, mean |Δ| = {delta.mean():.3e}, max relative = {relative:.3e}, "
          f"reference range [{reference.min():.3g}, {reference.max():.3g}]")
    return delta.max()


def check_wav2lip(args):
    """The original models.Wav2Lip vs the ONNX generator, both checkpoint formats."""
    import torch
    import onnxruntime as ort
    from modelkit import convert

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
            if report(label, result, reference) > 1e-4:
                print("  FAIL: above the 1e-4 target")
                return True
    return False


def check_mel(args):
    """modelkit's mel graph vs librosa with the original hparams (audio.py's melspectrogram:
    lfilter pre-emphasis, stft with reflect centring, Slaney mel, dB, normalisation)."""
    import librosa
    import onnxruntime as ort
    from scipy import signal
    from modelkit import audio

    rng = np.random.default_rng(args.seed)
    t = np.arange(int(16000 * 2.3)) / 16000
    wave = (0.3 * np.sin(2 * np.pi * 220 * t) * (1 + np.sin(2 * np.pi * 3 * t)) + 0.05 * rng.standard_normal(t.size)).astype(np.float32)
    wave[8000:12000] *= 1e-4  # a near-silent stretch exercises the −100 dB floor and the clip
    emphasised = signal.lfilter([1, -0.97], [1], wave)
    spectrum = librosa.stft(y=emphasised, n_fft=800, hop_length=200, win_length=800, pad_mode="reflect")
    basis = librosa.filters.mel(sr=16000, n_fft=800, n_mels=80, fmin=55, fmax=7600)
    mel = np.dot(basis, np.abs(spectrum))
    db = 20 * np.log10(np.maximum(1e-5, mel)) - 20
    reference = np.clip((2 * 4) * ((db + 100) / 100) - 4, -4, 4)
    print(f"librosa {librosa.__version__}: mel basis max |Δ| = {np.abs(audio.mel_basis() - basis).max():.3e}")
    session = ort.InferenceSession(audio.build().SerializeToString(), providers=["CPUExecutionProvider"])
    result = session.run(["mel"], {"waveform": wave[None, :]})[0][0]
    if result.shape != reference.shape:
        print(f"  FAIL: shape {result.shape} vs librosa {reference.shape}")
        return True
    return report(f"mel {reference.shape[1]} frames", result, reference) > 1e-4


def check_s3fd(args):
    """The original net_s3fd.s3fd, fed exactly as Wav2Lip's batch_detect feeds it (RGB minus
    [104, 117, 123], NCHW float), softmax on the class maps; vs the ONNX graph on uint8 RGB."""
    import torch
    import torch.nn.functional as F
    import onnxruntime as ort
    from modelkit import convert

    spec = importlib.util.spec_from_file_location(
        "net_s3fd", os.path.join(args.original, "face_detection", "detection", "sfd", "net_s3fd.py"))
    net_s3fd = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(net_s3fd)
    torch.manual_seed(args.seed)
    model = net_s3fd.s3fd()
    with torch.no_grad():  # He init so the 16-conv trunk keeps a usable signal; random L2Norm scales
        for module in model.modules():
            if isinstance(module, torch.nn.Conv2d):
                torch.nn.init.kaiming_normal_(module.weight)
                module.bias.uniform_(-0.05, 0.05)
        for norm in (model.conv3_3_norm, model.conv4_3_norm, model.conv5_3_norm):
            norm.weight.uniform_(4, 10)
    model.eval()
    rng = np.random.default_rng(args.seed)
    rgb = rng.integers(0, 256, (2, 200, 296, 3), dtype=np.uint8)
    x = (rgb.astype(np.int64) - np.array([104, 117, 123])).astype(np.float32).transpose(0, 3, 1, 2)
    with torch.no_grad():
        outputs = model(torch.from_numpy(np.ascontiguousarray(x)))
    reference = []
    for i in range(len(outputs) // 2):
        reference += [F.softmax(outputs[2 * i], dim=1).numpy(), outputs[2 * i + 1].numpy()]
    print(f"original S3FD: {sum(p.numel() for p in model.parameters()):,} parameters, "
          f"{len(model.state_dict())} state_dict tensors; input 2×200×296 RGB")
    with tempfile.TemporaryDirectory() as work:
        path = os.path.join(work, "s3fd.pth")
        torch.save(model.state_dict(), path, _use_new_zipfile_serialization=False)  # bare, legacy, like s3fd.pth
        convert.convert_s3fd(path, work)
        session = ort.InferenceSession(os.path.join(work, "s3fd.onnx"), providers=["CPUExecutionProvider"])
        names = [o.name for o in session.get_outputs()]
        results = session.run(names, {"image": rgb})
        worst = 0.0
        for name, result, ref in zip(names, results, reference):
            worst = max(worst, report(name, result, ref) / max(1.0, np.abs(ref).max()))
        if worst > 1e-4:
            print("  FAIL: above the 1e-4 target (relative to each output's scale)")
            return True
    return False


def write_fixtures(directory, torch, wav2lip):
    """Tiny (channels ÷ 16) generator checkpoints written by torch itself in both formats,
    from the deterministic numpy weights `wav2lip.random_state_dict(16, seed=7)`."""
    os.makedirs(directory, exist_ok=True)
    state = wav2lip.random_state_dict(16, seed=7)
    tensors = collections.OrderedDict((k, torch.from_numpy(np.array(v))) for k, v in state.items())
    torch.save({"state_dict": tensors, "global_step": 3}, os.path.join(directory, "wav2lip_tiny_zip.pth"))
    prefixed = collections.OrderedDict(("module." + k, v) for k, v in tensors.items())
    torch.save({"state_dict": prefixed}, os.path.join(directory, "wav2lip_tiny_legacy.pth"), _use_new_zipfile_serialization=False)
    from modelkit import s3fd
    detector = collections.OrderedDict((k, torch.from_numpy(v)) for k, v in s3fd.random_state_dict(16, seed=7).items())
    torch.save(detector, os.path.join(directory, "s3fd_tiny_legacy.pth"), _use_new_zipfile_serialization=False)
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
