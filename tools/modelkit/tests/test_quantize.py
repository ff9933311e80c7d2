"""`modelkit quantize`: the int8 Wav2Lip variant written into a tiny stand-in folder from a
synthetic face photo and a synthetic voiced WAV (no .fixtures needed), and the PNG/WAV
readers its calibration data comes from."""
import contextlib
import io
import json
import os
import struct
import tempfile
import unittest
import wave
import zlib

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper

from modelkit import convert, graph, quantize, wav2lip
from modelkit.__main__ import main


def png_bytes(rgb, filters=(0, 1, 2, 3, 4)):
    """An RGB PNG whose rows use `filters` in turn (an encoder written independently of the reader)."""
    height, width, _ = rgb.shape
    data = rgb.astype(np.int32)
    rows = []
    for y in range(height):
        kind = filters[y % len(filters)]
        line = data[y].reshape(-1)
        up = data[y - 1].reshape(-1) if y else np.zeros_like(line)
        left = np.concatenate([np.zeros(3, np.int32), line[:-3]])
        corner = np.concatenate([np.zeros(3, np.int32), up[:-3]])
        if kind == 0:
            predictor = np.zeros_like(line)
        elif kind == 1:
            predictor = left
        elif kind == 2:
            predictor = up
        elif kind == 3:
            predictor = (left + up) // 2
        else:
            estimate = left + up - corner
            pa, pb, pc = np.abs(estimate - left), np.abs(estimate - up), np.abs(estimate - corner)
            predictor = np.where((pa <= pb) & (pa <= pc), left, np.where(pb <= pc, up, corner))
        rows.append(bytes([kind]) + ((line - predictor) & 255).astype(np.uint8).tobytes())

    def chunk(kind, body):
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(b"".join(rows))) + chunk(b"IEND", b""))


def synthetic_face(height=200, width=160):
    """A face-like picture: skin ellipse, darker eyes and mouth, hair, a gradient background."""
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    image = np.stack([60 + 80 * x / width, 90 + 40 * y / height, 150 - 50 * x / width], axis=2)
    inside = ((x - width / 2) / (width * 0.36)) ** 2 + ((y - height * 0.55) / (height * 0.4)) ** 2 < 1
    image[inside] = [224, 172, 140]
    image[(y < height * 0.3) & inside] = [90, 60, 40]
    for cx in (width * 0.38, width * 0.62):
        image[((x - cx) / 9) ** 2 + ((y - height * 0.48) / 5) ** 2 < 1] = [40, 30, 30]
    image[((x - width / 2) / 22) ** 2 + ((y - height * 0.75) / 6) ** 2 < 1] = [150, 50, 60]
    noise = np.random.default_rng(1).normal(0, 4, image.shape)
    return np.clip(np.round(image + noise), 0, 255).astype(np.uint8)


def voiced_signal(seconds=1.3, rate=16000):
    """Speech-like: a harmonic tone with a gliding pitch, syllable-rate envelope and some noise."""
    t = np.arange(int(seconds * rate)) / rate
    phase = 2 * np.pi * np.cumsum(120 + 40 * np.sin(2 * np.pi * 1.5 * t)) / rate
    tone = sum(np.sin(k * phase) / k for k in range(1, 12))
    envelope = np.clip(np.sin(2 * np.pi * 3.5 * t), 0, None) ** 0.5
    return 0.25 * tone * envelope + 0.01 * np.random.default_rng(2).standard_normal(t.size)


def write_wav(path, signal, rate=16000, channels=1):
    pcm = np.round(np.clip(signal, -1, 1) * 32767).astype("<i2")
    with wave.open(path, "wb") as handle:
        handle.setnchannels(channels)
        handle.setsampwidth(2)
        handle.setframerate(rate)
        handle.writeframes(np.repeat(pcm[:, None], channels, axis=1).tobytes())


class Readers(unittest.TestCase):
    def test_png_round_trip_through_every_row_filter(self):
        image = synthetic_face(37, 29)
        with tempfile.TemporaryDirectory() as directory:
            path = os.path.join(directory, "face.png")
            with open(path, "wb") as handle:
                handle.write(png_bytes(image))
            np.testing.assert_array_equal(quantize.read_png(path), image)
            with open(path, "wb") as handle:
                handle.write(b"not a png")
            with self.assertRaisesRegex(quantize.QuantizeError, "not a PNG"):
                quantize.read_png(path)

    def test_wav_pcm16_stereo_and_resampling(self):
        signal = voiced_signal(0.5, 22050)
        with tempfile.TemporaryDirectory() as directory:
            path = os.path.join(directory, "speech.wav")
            write_wav(path, signal, 22050, channels=2)
            samples, rate = quantize.read_wav(path)
            self.assertEqual(rate, 22050)
            np.testing.assert_allclose(samples, signal, atol=1 / 32767)
            self.assertEqual(len(quantize.speech_16k(path)), round(len(signal) * 16000 / 22050))

    def test_chunk_starts_follow_the_server(self):
        # MelSpectrogram.chunkStarts: ⌊i·80/25⌋, then the last full window once one would run past the end.
        self.assertEqual(quantize.chunk_starts(40), [0, 3, 6, 9, 12, 16, 19, 22, 24])
        self.assertEqual(quantize.chunk_starts(15), [])

    def test_face_input_layout(self):
        crop = np.random.default_rng(0).integers(0, 256, (96, 96, 3), dtype=np.uint8)
        face = quantize.face_tensor(crop)
        self.assertEqual(face.shape, (6, 96, 96))
        np.testing.assert_array_equal(face[3:], crop.transpose(2, 0, 1) / np.float32(255))
        np.testing.assert_array_equal(face[:3, :48], face[3:, :48])
        self.assertFalse(face[:3, 48:].any())


class SubpixelConvTranspose(unittest.TestCase):
    """graph.convtranspose_as_subpixel computes what the ConvTranspose it replaces computes."""

    @staticmethod
    def model(c_in, c_out, kernel, stride, pads, output_padding, relu, group=1, size=(5, 7), seed=0):
        rng = np.random.default_rng(seed)
        weight = rng.standard_normal((c_in, c_out // group, kernel, kernel)).astype(np.float32)
        bias = rng.standard_normal(c_out).astype(np.float32)
        nodes = [helper.make_node("ConvTranspose", ["x", "w", "b"], ["t"], name="up", kernel_shape=[kernel, kernel],
                                  strides=[stride, stride], pads=pads, output_padding=[output_padding] * 2, group=group)]
        nodes.append(helper.make_node("Relu" if relu else "Identity", ["t"], ["y"]))
        graph = helper.make_graph(
            nodes, "up", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [None, c_in, *size])],
            [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
            [onnx.numpy_helper.from_array(weight, "w"), onnx.numpy_helper.from_array(bias, "b")])
        return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])

    @staticmethod
    def infer(model, x):
        return ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"]).run(None, {"x": x})[0]

    def test_same_output_for_the_strided_cases(self):
        cases = [  # kernel, stride, pads (begin y, x, end y, x), output padding
            (3, 2, [1, 1, 1, 1], 1),  # Wav2Lip's face decoder
            (4, 2, [1, 1, 1, 1], 0),
            (2, 2, [0, 0, 0, 0], 0),
            (3, 3, [0, 0, 0, 0], 0),
            (5, 2, [2, 2, 2, 2], 1),
            (3, 2, [0, 0, 1, 1], 0),  # asymmetric pads
        ]
        x = np.random.default_rng(1).standard_normal((2, 6, 5, 7)).astype(np.float32)
        for kernel, stride, pads, output_padding in cases:
            for relu in (False, True):
                with self.subTest(kernel=kernel, stride=stride, pads=pads, output_padding=output_padding, relu=relu):
                    original = self.model(6, 4, kernel, stride, pads, output_padding, relu)
                    rewritten = self.model(6, 4, kernel, stride, pads, output_padding, relu)
                    self.assertEqual(graph.convtranspose_as_subpixel(rewritten), 1)
                    ops = [node.op_type for node in rewritten.graph.node]
                    self.assertNotIn("ConvTranspose", ops)
                    self.assertEqual(ops[-1], "DepthToSpace" if relu else "Identity")
                    if relu:
                        self.assertEqual(ops, ["Conv", "Relu", "DepthToSpace"])  # Relu before the shuffle
                    self.assertEqual({t.name for t in rewritten.graph.initializer}, {"w/subpixel", "b/subpixel"})
                    expected, actual = self.infer(original, x), self.infer(rewritten, x)
                    self.assertEqual(actual.shape, expected.shape)
                    np.testing.assert_allclose(actual, expected, rtol=1e-5, atol=1e-4)

    def test_leaves_what_it_cannot_rewrite(self):
        for kwargs in (dict(kernel=3, stride=1, pads=[0, 0, 0, 0], output_padding=0),  # stride 1
                       dict(kernel=3, stride=2, pads=[1, 1, 1, 1], output_padding=0),  # odd output length: would need a crop
                       dict(kernel=3, stride=2, pads=[1, 1, 1, 1], output_padding=1, group=2)):
            with self.subTest(**kwargs):
                model = self.model(4, 4, relu=True, **kwargs)
                self.assertEqual(graph.convtranspose_as_subpixel(model), 0)
                self.assertEqual([node.op_type for node in model.graph.node], ["ConvTranspose", "Relu"])


class PixelShufflesAsNHWC(unittest.TestCase):
    """graph.pixel_shuffles_as_nhwc gives the DepthToSpace's values, bit for bit."""

    @staticmethod
    def model(channels, height, width, block=2, mode="DCR", output_scale=0.05):
        nodes = [helper.make_node("QuantizeLinear", ["x", "s", "z"], ["xq"]),
                 helper.make_node("DequantizeLinear", ["xq", "s", "z"], ["xd"]),
                 helper.make_node("DepthToSpace", ["xd"], ["y"], name="shuffle", blocksize=block, mode=mode),
                 helper.make_node("QuantizeLinear", ["y", "s2", "z"], ["yq"]),
                 helper.make_node("DequantizeLinear", ["yq", "s2", "z"], ["out"])]
        graph = helper.make_graph(
            nodes, "shuffle", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", channels, height, width])],
            [helper.make_tensor_value_info("out", TensorProto.FLOAT, None)],
            [onnx.numpy_helper.from_array(np.array(0.05, np.float32), "s"),
             onnx.numpy_helper.from_array(np.array(output_scale, np.float32), "s2"),
             onnx.numpy_helper.from_array(np.array(128, np.uint8), "z")])
        return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])

    def test_same_values(self):
        rng = np.random.default_rng(3)
        for channels, height, width, block in ((8, 3, 5, 2), (36, 4, 4, 3), (256, 6, 6, 2)):
            with self.subTest(channels=channels, height=height, width=width, block=block):
                original, rewritten = self.model(channels, height, width, block), self.model(channels, height, width, block)
                self.assertEqual(graph.pixel_shuffles_as_nhwc(rewritten), 1)
                ops = [node.op_type for node in rewritten.graph.node]
                self.assertNotIn("DepthToSpace", ops)
                self.assertEqual([op for op in ops if op in ("Transpose", "Reshape")],
                                 ["Transpose", "Reshape", "Transpose", "Reshape", "Transpose"])
                x = rng.uniform(-6, 6, (3, channels, height, width)).astype(np.float32)
                expected = SubpixelConvTranspose.infer(original, x)
                np.testing.assert_array_equal(SubpixelConvTranspose.infer(rewritten, x), expected)

    def test_leaves_what_it_cannot_rewrite(self):
        for kwargs in (dict(mode="CRD"), dict(output_scale=0.04)):  # another order; a requantisation
            with self.subTest(**kwargs):
                model = self.model(8, 3, 5, **kwargs)
                self.assertEqual(graph.pixel_shuffles_as_nhwc(model), 0)
                self.assertIn("DepthToSpace", [node.op_type for node in model.graph.node])


class QuantizeCommand(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.directory = tempfile.TemporaryDirectory()
        cls.models = os.path.join(cls.directory.name, "models")
        # The tiny stand-in generator and the real mel front end, as `standins --tiny` writes them.
        generator = wav2lip.build(wav2lip.random_state_dict(16, seed=0), 16)
        convert._publish(cls.models, "wav2lip", "wav2lip.onnx", generator, {"standin": "random weights, seed 0, channels ÷ 16"},
                         True, convert.WAV2LIP_PREPROCESSING, {"flops_per_item": wav2lip.flops_per_item(16)})
        convert.write_mel_frontend(cls.models)
        cls.face = os.path.join(cls.directory.name, "face.png")
        with open(cls.face, "wb") as handle:
            handle.write(png_bytes(synthetic_face()))
        cls.speech = os.path.join(cls.directory.name, "speech.wav")
        write_wav(cls.speech, voiced_signal())
        output = io.StringIO()
        with contextlib.redirect_stdout(output):
            cls.status = main(["quantize", "--models", cls.models, "--face", cls.face, "--speech", cls.speech,
                               "--samples", "24", "--held-out", "8", "--runs", "0"])
        cls.output = output.getvalue()
        with open(os.path.join(cls.models, "manifest.json"), encoding="utf-8") as handle:
            cls.manifest = json.load(handle)["models"]

    @classmethod
    def tearDownClass(cls):
        cls.directory.cleanup()

    def test_writes_the_variant_and_reports(self):
        self.assertEqual(self.status, 0, self.output)
        self.assertTrue(os.path.isfile(os.path.join(self.models, "wav2lip_int8.onnx")))
        self.assertIn("fidelity: 8 held-out inputs", self.output)
        self.assertIn("PSNR", self.output)

    def test_manifest_entry_is_a_variant_of_wav2lip(self):
        original, entry = self.manifest["wav2lip"], self.manifest["wav2lip_int8"]
        self.assertEqual((entry["kind"], entry["file"], entry["precision"], entry["version"]), ("wav2lip_int8", "wav2lip_int8.onnx", "int8", 1))
        for key in ("standin", "source", "inputs", "outputs", "preprocessing", "flops_per_item"):
            self.assertEqual(entry[key], original[key], key)
        self.assertTrue(entry["standin"])
        self.assertEqual(entry["sha256"], convert.sha256(os.path.join(self.models, "wav2lip_int8.onnx")))
        self.assertEqual(entry["quantization"]["calibration_samples"], 24)

    def test_verify_accepts_the_folder(self):
        lines = convert.verify(self.models)
        self.assertTrue(any(line.startswith("wav2lip_int8: wav2lip_int8.onnx ok (stand-in") for line in lines), lines)

    def test_graph_is_qdq_with_int8_weights_and_a_float_tail(self):
        model = onnx.load(os.path.join(self.models, "wav2lip_int8.onnx"))
        ops = [node.op_type for node in model.graph.node]
        self.assertGreater(ops.count("QuantizeLinear"), 20)
        self.assertGreater(ops.count("DequantizeLinear"), 40)
        weights = {t.name: t for t in model.graph.initializer}
        producers = {output: node for node in model.graph.node for output in node.output}
        for node in model.graph.node:
            if node.op_type in ("Conv", "ConvTranspose") and node.input[1] in producers:
                dequantize = producers[node.input[1]]
                self.assertEqual(dequantize.op_type, "DequantizeLinear")
                self.assertEqual(weights[dequantize.input[0]].data_type, TensorProto.INT8)
                self.assertEqual(len(weights[dequantize.input[1]].dims), 1)  # one scale per output channel
        sigmoid = next(node for node in model.graph.node if node.op_type == "Sigmoid")
        self.assertEqual(producers[sigmoid.input[0]].op_type, "Conv")  # the logits are not quantised
        # The five strided ConvTransposes are sub-pixel convolutions (int8 kernels) whose
        # shuffles are written channels-last; the stride-1 one on the 1×1 bottleneck stays.
        self.assertEqual(ops.count("ConvTranspose"), 1)
        self.assertEqual((ops.count("DepthToSpace"), ops.count("Transpose"), ops.count("Reshape")), (0, 15, 10))
        self.assertEqual(self.manifest["wav2lip_int8"]["quantization"]["subpixel_convtransposes"], 5)
        self.assertEqual(self.manifest["wav2lip_int8"]["quantization"]["nhwc_pixel_shuffles"], 5)
        self.assertEqual(model.graph.input[0].type.tensor_type.elem_type, TensorProto.FLOAT)

    def test_output_close_to_float32(self):
        # Pre-sigmoid logits, relative to their own size: int8 rounding adds about 1 % per
        # quantised layer (a step of a MinMax range), which accumulates over the ~45
        # quantised convolutions in series — measured 8.1 % here, 6.3 % on the full-size
        # stand-in. The bound, 15 %, leaves room for other CPUs' int8 kernels (AVX2 without
        # VNNI accumulates pairs in 16 bits); a damaged quantisation fails it — permuting one
        # convolution's per-channel weight scales alone gives 26 %. On the 8-bit faces the
        # same model gives mean |Δ| 3.6 grey levels (the damaged one 9.6): bound 8.
        inputs, _ = quantize.generator_inputs(self.models, self.face, self.speech, 4, held_out=True)

        def run(path):
            model = onnx.load(path)
            sigmoid = next(node for node in model.graph.node if node.op_type == "Sigmoid")
            model.graph.output.append(helper.make_tensor_value_info(sigmoid.input[0], TensorProto.FLOAT, None))
            session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
            return session.run(None, inputs)
        reference, reference_logits = run(os.path.join(self.models, "wav2lip.onnx"))
        candidate, logits = run(os.path.join(self.models, "wav2lip_int8.onnx"))
        relative = np.linalg.norm(logits - reference_logits) / np.linalg.norm(reference_logits)
        self.assertLess(relative, 0.15)
        self.assertLess(quantize.compare_faces(reference, candidate)["mean_abs"], 8)

    def test_unsupported_kind_is_refused(self):
        with contextlib.redirect_stderr(io.StringIO()) as errors:
            status = main(["quantize", "--models", self.models, "--face", self.face, "--speech", self.speech, "--kinds", "wavlm"])
        self.assertEqual(status, 2)
        self.assertIn("do not pay", errors.getvalue())


if __name__ == "__main__":
    unittest.main()
