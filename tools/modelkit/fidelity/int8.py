"""Int8 choices, measured: which settings `modelkit quantize` uses for the Wav2Lip generator,
and whether int8 pays for WavLM and FreeVC's synthesizer. No PyTorch; runs in the project's
virtualenv on a models folder of full-size stand-ins (`modelkit standins`), never writing
into it (everything goes to a scratch folder).

    PYTHONPATH=tools/modelkit .venv/bin/python tools/modelkit/fidelity/int8.py --models DIR \\
        --face .fixtures/faces/astronaut.png --speech speech.wav [--speech2 other.wav] \\
        [--part wav2lip|voice|all] [--runs 5] [--threads 2]

wav2lip: static QDQ variants of `wav2lip.onnx` calibrated as `modelkit quantize` does (96
inputs), compared on 84 held-out inputs: uint8 vs int8 activations, reduce_range, the
sigmoid and its 1×1 convolution kept float32, MinMax vs Percentile calibration. Fidelity on
the 8-bit faces (PSNR, max/mean |Δ| in grey levels), relative error of the pre-sigmoid
logits, and "tempered" PSNR: the random stand-in's logits span ±600, so its sigmoid output is
nearly binary and any flip near 0 costs 255 grey levels; dividing both models' logits by
30/60/120 (exactly what an output convolution with weights and bias ÷k would give, since that
convolution is float32 in both) shows the error at trained-like output ranges. Speed:
interleaved medians at batch 16 and 42, and the kernels ONNX Runtime picks (fused QLinearConv
count in the optimised graph).

voice: WavLM-Large with every weight MatMul (its Gemms rewritten as MatMul + Add) dynamically
quantised (int8 weights per tensor or per channel; uint8 activations quantised per call),
and subsets of them; FreeVC's synthesizer statically quantised (QDQ, calibrated on WavLM
features of --speech2) or dynamically (ConvInteger). Timed on 1.5 s of --speech. Fidelity:
WavLM feature ‖Δ‖/‖ref‖ and frame cosines, and the SNR of the final waveform through a
content-sensitive float32 synthesizer (fidelity/wavlm_fp16.py's: weight-norm gains ≈ 1 per
channel, conv_post × 0.25 — the stand-in's own synthesizer barely depends on its content).
"""
import argparse
import collections
import os
import sys
import tempfile
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", required=True, help="full-size stand-in folder (read only)")
    parser.add_argument("--face", required=True)
    parser.add_argument("--speech", required=True, help="speech WAV: wav2lip calibration and held-out; voice held-out")
    parser.add_argument("--speech2", help="another speech WAV for FreeVC calibration (default: --speech)")
    parser.add_argument("--part", choices=("wav2lip", "voice", "all"), default="all")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    import onnxruntime
    print(f"onnxruntime {onnxruntime.__version__}, {os.cpu_count()} CPUs, {args.threads} intra-op threads")
    with tempfile.TemporaryDirectory(prefix="modelkit-int8-") as work:
        if args.part in ("wav2lip", "all"):
            wav2lip_choices(args, work)
        if args.part in ("voice", "all"):
            voice(args, work)


def _logits_session(path, threads):
    import onnx
    import onnxruntime as ort
    from onnx import TensorProto, helper

    model = onnx.load(path)
    sigmoid = next(node for node in model.graph.node if node.op_type == "Sigmoid")
    model.graph.output.append(helper.make_tensor_value_info(sigmoid.input[0], TensorProto.FLOAT, None))
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    return ort.InferenceSession(model.SerializeToString(), options, providers=["CPUExecutionProvider"])


def _fused(path):
    import onnx
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.optimized_model_filepath = path + ".optimised.onnx"
    options.log_severity_level = 3
    ort.InferenceSession(path, options, providers=["CPUExecutionProvider"])
    counts = collections.Counter(node.op_type for node in onnx.load(options.optimized_model_filepath).graph.node)
    os.unlink(options.optimized_model_filepath)
    return counts


def wav2lip_choices(args, work):
    import onnx
    from modelkit import quantize as Q

    float_path = os.path.join(args.models, "wav2lip.onnx")
    calibration, box = Q.generator_inputs(args.models, args.face, args.speech, 96)
    held, _ = Q.generator_inputs(args.models, args.face, args.speech, 84, held_out=True)
    tail = Q._float_tail(onnx.load(float_path))
    # What `quantize` writes since 2026-12-05: the strided ConvTransposes as sub-pixel convolutions first.
    from modelkit import graph
    rewritten = onnx.load(float_path)
    graph.convtranspose_as_subpixel(rewritten)
    subpixel_path = os.path.join(work, "wav2lip_subpixel.onnx")
    onnx.save(rewritten, subpixel_path)
    del rewritten
    configs = {
        "sub-pixel ConvTransposes, uint8 act, float tail (chosen)": dict(activation="QUInt8", nodes_to_exclude=tail, source=subpixel_path),
        "uint8 act": dict(activation="QUInt8"),
        "int8 act": dict(activation="QInt8"),
        "uint8 act, reduce_range": dict(activation="QUInt8", reduce_range=True),
        "int8 act, reduce_range": dict(activation="QInt8", reduce_range=True),
        "uint8 act, float tail (chosen before 2026-12-05)": dict(activation="QUInt8", nodes_to_exclude=tail),
        "uint8 act, float tail, Percentile 99.999": dict(activation="QUInt8", nodes_to_exclude=tail, method="Percentile"),
    }
    print(f"\nWav2Lip generator: 96 calibration inputs, 84 held-out (face box {box})")
    paths = {}
    for name, config in configs.items():
        paths[name] = os.path.join(work, f"wav2lip_{len(paths)}.onnx")
        start = time.perf_counter()
        config = dict(config)
        Q.quantize_static_model(config.pop("source", float_path), paths[name], calibration, **config)
        if name.endswith("(chosen)"):  # as `quantize` writes it: its shuffles channels-last too
            chosen = onnx.load(paths[name])
            graph.pixel_shuffles_as_nhwc(chosen)
            onnx.save(chosen, paths[name])
            del chosen
        print(f"  {name}: quantised in {time.perf_counter() - start:.0f} s", flush=True)

    def run(path):
        session = _logits_session(path, args.threads)
        outputs = [session.run(None, feeds) for feeds in Q._batches(held, 42)]
        return np.concatenate([o[0] for o in outputs]), np.concatenate([o[1] for o in outputs])

    def sigmoid(z):
        return 1 / (1 + np.exp(-z.astype(np.float64)))

    reference, reference_logits = run(float_path)
    print(f"  float32 logits: 1st/50th/99th percentile {np.percentile(reference_logits, [1, 50, 99]).round(1).tolist()}, "
          f"8-bit face mean {Q.to_grey_levels(reference).mean():.1f}")
    print("  | settings | fused QLinearConv | PSNR dB | max |Δ| | mean |Δ| | logits ‖Δ‖/‖ref‖ | tempered ÷30 / ÷60 / ÷120: PSNR dB (max |Δ|) |")
    for name, path in paths.items():
        output, logits = run(path)
        faces = Q.compare_faces(reference, output)
        tempered = [Q.compare_faces(sigmoid(reference_logits / k), sigmoid(logits / k)) for k in (30, 60, 120)]
        relative = np.linalg.norm(logits - reference_logits) / np.linalg.norm(reference_logits)
        print(f"  | {name} | {_fused(path)['QLinearConv']} | {faces['psnr_db']:.2f} | {faces['max_abs']:.0f} | {faces['mean_abs']:.2f} | "
              f"{relative:.4f} | " + " / ".join(f"{t['psnr_db']:.1f} ({t['max_abs']:.0f})" for t in tempered) + " |", flush=True)
    sessions = {"float32": Q.session(float_path, args.threads)}
    sessions.update({name: Q.session(path, args.threads) for name, path in paths.items()})
    for batch in (16, 42):
        timing = Q.time_sessions(sessions, held, batch, args.runs)
        print(f"  batch {batch}, median (min) ms of {args.runs}: " +
              ", ".join(f"{name} {t['median_ms']:.0f} ({t['min_ms']:.0f})" for name, t in timing.items()), flush=True)


def gemm_to_matmul(source, target):
    """Gemm(A, W, b, transB=1) → MatMul(A, Wᵀ) + b: onnxruntime's dynamic quantisation handles MatMul, not Gemm."""
    import onnx
    from onnx import helper, numpy_helper

    model = onnx.load(source)
    weights = {t.name: t for t in model.graph.initializer}
    nodes = []
    for node in model.graph.node:
        attributes = {a.name: helper.get_attribute_value(a) for a in node.attribute}
        if (node.op_type == "Gemm" and node.input[1] in weights and attributes.get("transB") == 1 and not attributes.get("transA")
                and attributes.get("alpha", 1.0) == 1.0 and attributes.get("beta", 1.0) == 1.0):
            weight = weights[node.input[1]]
            weight.CopyFrom(numpy_helper.from_array(np.ascontiguousarray(numpy_helper.to_array(weight).T), weight.name))
            product = node.output[0] + "_matmul" if len(node.input) > 2 else node.output[0]
            nodes.append(helper.make_node("MatMul", node.input[:2], [product], name=node.name + "_matmul"))
            if len(node.input) > 2:
                nodes.append(helper.make_node("Add", [product, node.input[2]], [node.output[0]], name=node.name + "_add"))
        else:
            nodes.append(node)
    del model.graph.node[:]
    model.graph.node.extend(nodes)
    onnx.save(model, target)


def voice(args, work):
    import onnx
    from onnxruntime import quantization as q
    from modelkit import freevc, graph
    from modelkit import quantize as Q
    from wavlm_fp16 import sensitive_synthesizer, snr

    def clip(path, start, seconds=1.5):
        return Q.speech_16k(path)[start:start + int(16000 * seconds)][None].astype(np.float32)

    wavlm_path = os.path.join(args.models, "wavlm.onnx")
    matmul_path = os.path.join(work, "wavlm_matmul.onnx")
    gemm_to_matmul(wavlm_path, matmul_path)
    model = onnx.load(matmul_path, load_external_data=False)
    matmuls = [(node.name, node.input[1]) for node in model.graph.node if node.op_type == "MatMul" and node.input[1].endswith(".weight")]
    del model
    variants = {
        "all MatMul, per tensor": (None, False),
        "all MatMul, per channel": (None, True),
        "fc1, fc2, q, k per channel (v, out, input projection float32)": (("fc1", "fc2", "q_proj", "k_proj"), True),
        "fc1, fc2 per channel": (("fc1", "fc2"), True),
    }
    paths = {}
    for name, (keys, per_channel) in variants.items():
        paths[name] = os.path.join(work, f"wavlm_{len(paths)}.onnx")
        nodes = [n for n, weight in matmuls if keys is None or any(key in weight for key in keys)]
        q.quantize_dynamic(matmul_path, paths[name], op_types_to_quantize=["MatMul"], per_channel=per_channel,
                           nodes_to_quantize=nodes, weight_type=q.QuantType.QInt8, extra_options={"MatMulConstBOnly": True})
    os.unlink(matmul_path)
    synthesizer_path = os.path.join(work, "freevc_sensitive.onnx")
    graph.save_model(freevc.build(sensitive_synthesizer(0)), synthesizer_path)

    audio = clip(args.speech, 8000)
    sessions = {"float32": Q.session(wavlm_path, args.threads)}
    sessions.update({name: Q.session(path, args.threads) for name, path in paths.items()})
    content = {name: s.run(None, {"waveform": audio})[0] for name, s in sessions.items()}
    reference = content["float32"]
    synthesizer = Q.session(synthesizer_path, args.threads)
    rng = np.random.default_rng(5)
    speaker = rng.standard_normal((1, 256)).astype(np.float32)
    speaker /= np.linalg.norm(speaker)
    noise = rng.standard_normal((1, 192, reference.shape[2])).astype(np.float32)

    def speak(features):
        return synthesizer.run(None, {"content": features, "speaker": speaker, "noise": noise})[0]
    truth = speak(reference)
    print(f"\nWavLM-Large, 1.5 s of {os.path.basename(args.speech)} ({reference.shape[2]} frames); content-sensitive "
          f"synthesizer: zero content gives {snr(truth, speak(np.zeros_like(reference))):.1f} dB")
    timing = Q.time_sessions(sessions, {"waveform": audio}, 1, args.runs)
    print(f"  float32: {timing['float32']['median_ms']:.0f} ms (min {timing['float32']['min_ms']:.0f}), "
          f"{os.path.getsize(wavlm_path) / 1e6:.0f} MB")
    for name in variants:
        features = content[name]
        cosine = (features * reference).sum(1) / (np.linalg.norm(features, axis=1) * np.linalg.norm(reference, axis=1))
        print(f"  {name}: {timing[name]['median_ms']:.0f} ms (min {timing[name]['min_ms']:.0f}), "
              f"×{timing['float32']['median_ms'] / timing[name]['median_ms']:.2f} median (×{timing['float32']['min_ms'] / timing[name]['min_ms']:.2f} min), "
              f"{os.path.getsize(paths[name]) / 1e6:.0f} MB; features ‖Δ‖/‖ref‖ {np.linalg.norm(features - reference) / np.linalg.norm(reference):.4f}, "
              f"min frame cosine {cosine.min():.5f}; waveform SNR {snr(truth, speak(features)):.1f} dB", flush=True)
    del sessions

    wavlm_session = Q.session(wavlm_path, args.threads)
    calibration_speech = args.speech2 or args.speech
    length = len(Q.speech_16k(calibration_speech))
    rng = np.random.default_rng(11)
    calibration = []
    for start in range(0, max(1, length - 24000), 6000):
        features = wavlm_session.run(None, {"waveform": clip(calibration_speech, start)})[0]
        vector = rng.standard_normal((1, 256)).astype(np.float32)
        calibration.append({"content": features, "speaker": vector / np.linalg.norm(vector),
                            "noise": rng.standard_normal((1, 192, features.shape[2])).astype(np.float32)})
    del wavlm_session
    held = {"content": reference, "speaker": speaker, "noise": noise}
    model = onnx.load(synthesizer_path, load_external_data=False)
    convolutions = [(node.name, node.input[1]) for node in model.graph.node if node.op_type in ("Conv", "ConvTranspose")]
    del model
    static = {
        "static QDQ, every convolution": None,
        "static QDQ, decoder resblocks only": lambda w: w.startswith("dec.resblocks"),
        "static QDQ, enc_p and flow only": lambda w: w.startswith(("enc_p", "flow")),
    }
    paths = {}
    for name, pick in static.items():
        paths[name] = os.path.join(work, f"freevc_{len(paths)}.onnx")
        feeds = iter(calibration)

        class Reader(q.CalibrationDataReader):
            def get_next(self):
                return next(feeds, None)
        q.quantize_static(synthesizer_path, paths[name], Reader(), quant_format=q.QuantFormat.QDQ, per_channel=True,
                          activation_type=q.QuantType.QUInt8, weight_type=q.QuantType.QInt8,
                          nodes_to_quantize=[n for n, w in convolutions if pick is None or pick(w)],
                          op_types_to_quantize=["Conv", "ConvTranspose"], extra_options={"WeightSymmetric": True})
    paths["dynamic ConvInteger"] = os.path.join(work, "freevc_dynamic.onnx")
    q.quantize_dynamic(synthesizer_path, paths["dynamic ConvInteger"], op_types_to_quantize=["Conv"], per_channel=True,
                       weight_type=q.QuantType.QInt8)
    sessions = {"float32": synthesizer}
    sessions.update({name: Q.session(path, args.threads) for name, path in paths.items()})
    timing = Q.time_sessions(sessions, held, 1, args.runs)
    print(f"FreeVC synthesizer (content-sensitive weights), 1.5 s; calibration {len(calibration)} windows of "
          f"{os.path.basename(calibration_speech)}: float32 {timing['float32']['median_ms']:.0f} ms (min {timing['float32']['min_ms']:.0f})")
    for name in paths:
        print(f"  {name}: {timing[name]['median_ms']:.0f} ms (min {timing[name]['min_ms']:.0f}), "
              f"×{timing['float32']['median_ms'] / timing[name]['median_ms']:.2f}; waveform SNR "
              f"{snr(truth, sessions[name].run(None, held)[0]):.1f} dB", flush=True)


if __name__ == "__main__":
    main()
