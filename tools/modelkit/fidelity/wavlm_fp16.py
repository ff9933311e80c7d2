"""wavlm_fp16 (mixed float16: Conv/Gemm/MatMul in float16, the rest float32) against wavlm
(float32) on full-size random weights and espeak-ng speech, end to end through FreeVC's
synthesizer, and the CPU speed of both. No PyTorch: the float32 graph is the one checked
against the original by wavlm_fidelity.py, so the float32 pair is the reference here.

    PYTHONPATH=tools/modelkit .venv/bin/python tools/modelkit/fidelity/wavlm_fp16.py [--threads 2] [--speech WAV]
        [--wavlm WavLM-Large.pt] [--freevc freevc.pth]   # released weights instead of random ones

Speech: `espeak-ng -v en -w` of a fixed sentence (22.05 kHz), resampled to 16 kHz by FFT
(band-limited), or a WAV given with --speech. The same speaker vector and prior noise go to
both chains. Sessions are created from files, as the server does.

The synthesizer is freevc.random_state_dict with its weight-norm gains set to ~1 per output
channel (each layer then roughly keeps its input's scale, as torch's weight_norm
initialisation does) and conv_post × 0.25 (output peak below tanh saturation). The stand-in
as `modelkit standins` writes it attenuates every weight-normed layer, so its audio hardly
depends on the content (zero content: SNR > 120 dB) and cannot show content errors; the
script prints the zero-content SNR of the synthesizer it uses as a check.

ONNX Runtime's CPU provider has no float16 Gemm/Conv on x86: it widens the float16 weights
to float32 once and drops the Cast pairs around each operator, so on CPU wavlm_fp16 computes
float32 arithmetic with float16-rounded weights. A GPU also rounds each float16 operator's
activation inputs and its output to float16 (accumulating in float32, the cuBLAS/cuDNN
default). The "float16 arithmetic, emulated" rows model that on CPU: every Cast to float16
of an activation, and every widening Cast after a float16 operator, is replaced by rounding
to 11 significant bits in float32 (Veltkamp split: c·x − (c·x − x), c = 2¹³ + 1), which the
runtime cannot fold away. (Range is not modelled: values over 65 504 would overflow.)
"""
import argparse
import os
import subprocess
import sys
import tempfile
import time
import wave

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

SENTENCE = ("The quick brown fox jumps over the lazy dog, while five wizards quietly box "
            "and judge the vexing puzzle of the morning.")


def read_wav(path):
    with wave.open(path, "rb") as handle:
        rate, width, channels = handle.getframerate(), handle.getsampwidth(), handle.getnchannels()
        data = handle.readframes(handle.getnframes())
    if width != 2:
        raise SystemExit(f"{path}: expected 16-bit PCM")
    samples = np.frombuffer(data, "<i2").reshape(-1, channels).mean(axis=1) / 32768.0
    return samples, rate


def resample(samples, rate, target=16000):
    """Band-limited resampling by truncating the spectrum (fine for a test signal)."""
    if rate == target:
        return samples.astype(np.float32)
    count = int(round(len(samples) * target / rate))
    spectrum = np.fft.rfft(samples)
    bins = count // 2 + 1
    kept = np.zeros(bins, complex)
    kept[:min(bins, spectrum.size)] = spectrum[:min(bins, spectrum.size)]
    return (np.fft.irfft(kept, count) * count / len(samples)).astype(np.float32)


def speech(path=None):
    if path is None:
        with tempfile.TemporaryDirectory(prefix="espeak-") as work:
            path = os.path.join(work, "speech.wav")
            subprocess.run(["espeak-ng", "-v", "en", "-w", path, SENTENCE], check=True)
            samples, rate = read_wav(path)
    else:
        samples, rate = read_wav(path)
    return resample(samples, rate), rate


def sensitive_synthesizer(seed):
    """FreeVC weights whose output depends on the content (see the module notes)."""
    from modelkit import freevc
    state = freevc.random_state_dict(seed=seed)
    for key in [k for k in state if k.endswith(".weight_g")]:
        fan_in = np.prod(state[key[:-1] + "v"].shape[1:])
        state[key] = (state[key] * np.sqrt(fan_in)).astype(np.float32)
    state["dec.conv_post.weight"] *= 0.25
    return state


def emulated(variant):
    """The mixed variant with float16 rounding done in float32 arithmetic (see the module notes)."""
    from onnx import NodeProto, TensorProto, helper, numpy_helper
    from modelkit import precision

    skeleton = type(variant.skeleton)()
    skeleton.CopyFrom(variant.skeleton)
    graph = skeleton.graph
    producers = {output: node.op_type for node in graph.node for output in node.output}
    split = "veltkamp_c"
    nodes = [helper.make_node("Constant", [], [split], value=numpy_helper.from_array(np.array(8193, np.float32)))]
    for node in graph.node:
        to = next((a.i for a in node.attribute if a.name == "to"), None) if node.op_type == "Cast" else None
        if to == TensorProto.FLOAT16 or (to == TensorProto.FLOAT and producers.get(node.input[0]) in precision.HALF_OPS):
            x, y = node.input[0], node.output[0]
            nodes += [helper.make_node("Mul", [x, split], [y + "_cx"]),
                      helper.make_node("Sub", [y + "_cx", x], [y + "_d"]),
                      helper.make_node("Sub", [y + "_cx", y + "_d"], [y])]
        else:
            copy = NodeProto()
            copy.CopyFrom(node)
            nodes.append(copy)
    del graph.node[:]
    graph.node.extend(nodes)

    def rounded(tensor):
        if tensor.name not in variant.dtypes:
            return tensor
        return numpy_helper.from_array(numpy_helper.to_array(tensor).astype(np.float16).astype(np.float32), tensor.name)

    return precision.Variant(skeleton, variant.source, rounded, {})


def timed(functions, runs):
    """Per function: (median, minimum) seconds over `runs` calls after one warm-up, the
    functions taking turns so that a change in machine load hits both alike."""
    for function in functions:
        function()
    times = [[] for _ in functions]
    for _ in range(runs):
        for function, record in zip(functions, times):
            start = time.perf_counter()
            function()
            record.append(time.perf_counter() - start)
    return [(float(np.median(record)), min(record)) for record in times]


def snr(reference, test):
    reference = reference.astype(np.float64)
    return 10 * np.log10((reference ** 2).sum() / ((test.astype(np.float64) - reference) ** 2).sum())


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--speech", help="16-bit PCM WAV of speech (default: espeak-ng)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--runs", type=int, default=5, help="timed runs per model and length")
    parser.add_argument("--wavlm", help="a WavLM-Large checkpoint to use instead of random weights")
    parser.add_argument("--freevc", help="a FreeVC checkpoint (net_g) to use instead of random weights")
    parser.add_argument("--ops", default="Conv,ConvTranspose,Gemm,MatMul",
                        help="operator types run in float16 (default: what convert writes; e.g. Gemm,MatMul keeps the convolutions float32)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="wavlm-fp16-") as work:
        compare(args, work)


def compare(args, work):
    import onnxruntime as ort
    from onnx import TensorProto
    from modelkit import freevc, graph, precision, wavlm
    from modelkit.checkpoint import load_state_dict

    paths = {name: os.path.join(work, name + ".onnx")
             for name in ("wavlm", "wavlm_fp16", "wavlm_fp16_emulated", "freevc", "freevc_fp16")}
    model = wavlm.build(load_state_dict(args.wavlm) if args.wavlm else wavlm.random_state_dict(seed=args.seed), consume=True)
    variant = precision.mixed_float16_variant(model, ops=tuple(args.ops.split(",")))
    half = sum(int(np.prod(t.dims)) for t in model.graph.initializer if t.name in variant.dtypes)
    total = sum(int(np.prod(t.dims)) for t in model.graph.initializer if t.data_type == TensorProto.FLOAT)
    graph.save_model(model, paths["wavlm"])
    variant.save(paths["wavlm_fp16"])
    emulated(variant).save(paths["wavlm_fp16_emulated"])
    del model, variant
    synthesizer = freevc.build(load_state_dict(args.freevc) if args.freevc else sensitive_synthesizer(args.seed))
    graph.save_model(synthesizer, paths["freevc"])
    precision.float16_variant(synthesizer).save(paths["freevc_fp16"])
    del synthesizer
    print(f"WavLM-Large {'from ' + args.wavlm if args.wavlm else 'stand-in'}: {total:,} float parameters, {half:,} ({100 * half / total:.3f} %) stored and multiplied in float16; "
          + ", ".join(f"{name}.onnx {os.path.getsize(path) / 1e9:.3f} GB" for name, path in paths.items()))

    options = ort.SessionOptions()
    options.intra_op_num_threads = args.threads
    sessions = {name: ort.InferenceSession(path, options, providers=["CPUExecutionProvider"]) for name, path in paths.items()}
    waveform, rate = speech(args.speech)
    print(f"speech: {len(waveform) / 16000:.2f} s ({'espeak-ng' if not args.speech else args.speech}, {rate} Hz → 16 kHz), "
          f"peak {np.abs(waveform).max():.2f}; CPU, {args.threads} threads, {os.cpu_count()} cores; ONNX Runtime {ort.__version__}")

    rng = np.random.default_rng(args.seed)
    speaker = rng.standard_normal((1, 256)).astype(np.float32)
    speaker /= np.linalg.norm(speaker)
    for seconds in (1, 3):
        clip = np.resize(waveform, 16000 * seconds)[None].astype(np.float32)
        frames = (clip.shape[1] - 400) // 320 + 1
        noise = rng.standard_normal((1, 192, frames)).astype(np.float32)
        halves = ("wavlm_fp16", "wavlm_fp16_emulated")
        content = {name: sessions[name].run(None, {"waveform": clip})[0] for name in ("wavlm",) + halves}
        reference = content["wavlm"].astype(np.float64)

        def audio(content_name, synth_name):
            return sessions[synth_name].run(None, {"content": content[content_name], "speaker": speaker, "noise": noise})[0]

        truth = audio("wavlm", "freevc")
        silent = sessions["freevc"].run(None, {"content": np.zeros_like(content["wavlm"]), "speaker": speaker, "noise": noise})[0]
        print(f"{seconds} s ({frames} frames); content range [{reference.min():.2f}, {reference.max():.2f}]; FreeVC output peak "
              f"{np.abs(truth).max():.3f}, rms {np.sqrt((truth.astype(np.float64) ** 2).mean()):.3f}, zero content gives {snr(truth, silent):.1f} dB; "
              f"wavlm + freevc_fp16: {snr(truth, audio('wavlm', 'freevc_fp16')):.1f} dB")
        for name in halves:
            delta = np.abs(content[name] - reference)
            cosine = (content[name] * reference).sum(axis=1) / (np.linalg.norm(content[name], axis=1) * np.linalg.norm(reference, axis=1))
            label = "ORT CPU" if name == "wavlm_fp16" else "float16 arithmetic, emulated"
            print(f"  {name} ({label}): content max |Δ| {delta.max():.3e}, mean |Δ| {delta.mean():.3e}, "
                  f"max |Δ| / max |ref| {delta.max() / np.abs(reference).max():.3e}, ‖Δ‖/‖ref‖ {np.linalg.norm(delta) / np.linalg.norm(reference):.3e}, "
                  f"min frame cosine {cosine.min():.6f}; end to end vs the float32 pair (same speaker and noise): "
                  f"+ freevc_fp16 SNR {snr(truth, audio(name, 'freevc_fp16')):.1f} dB, + freevc {snr(truth, audio(name, 'freevc')):.1f} dB")
        (full, full_min), (mixed, mixed_min) = timed([lambda n=name: sessions[n].run(None, {"waveform": clip})
                                                      for name in ("wavlm", "wavlm_fp16")], args.runs)
        print(f"  CPU time, median (min) of {args.runs}: wavlm {full * 1e3:.0f} ({full_min * 1e3:.0f}) ms, "
              f"wavlm_fp16 {mixed * 1e3:.0f} ({mixed_min * 1e3:.0f}) ms, ×{mixed / full:.2f} (×{mixed_min / full_min:.2f})")


if __name__ == "__main__":
    main()
