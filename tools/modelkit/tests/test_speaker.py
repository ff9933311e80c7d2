"""FreeVC speaker encoder graphs against independent numpy implementations (a PyTorch-order
LSTM and an FFT power mel); the comparison with the original class is in
fidelity/freevc_fidelity.py. The float16 variant (speaker_encoder_fp16) against float32."""
import json
import os
import tempfile
import unittest
from unittest import mock

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto

from modelkit import audio, convert, speaker

FIXTURES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fixtures")


def numpy_lstm(state, mels, layers=3):
    def sigmoid(x):
        return 1 / (1 + np.exp(-x))
    x = mels.astype(np.float64)
    for k in range(layers):
        w, r = state[f"lstm.weight_ih_l{k}"], state[f"lstm.weight_hh_l{k}"]
        b = state[f"lstm.bias_ih_l{k}"] + state[f"lstm.bias_hh_l{k}"]
        hidden = r.shape[1]
        h = np.zeros((x.shape[0], hidden))
        c = np.zeros((x.shape[0], hidden))
        outputs = []
        for t in range(x.shape[1]):
            gates = x[:, t] @ w.T + h @ r.T + b
            i, f, g, o = (gates[:, j * hidden:(j + 1) * hidden] for j in range(4))  # PyTorch order
            c = sigmoid(f) * c + sigmoid(i) * np.tanh(g)
            h = sigmoid(o) * np.tanh(c)
            outputs.append(h)
        x = np.stack(outputs, axis=1)
    embedding = np.maximum(0, h @ state["linear.weight"].T + state["linear.bias"])
    return embedding / np.linalg.norm(embedding, axis=1, keepdims=True)


class SpeakerEncoder(unittest.TestCase):
    def test_lstm_graph_matches_numpy(self):
        state = speaker.random_state_dict(hidden=16, embedding=16, seed=3)
        session = ort.InferenceSession(speaker.build_encoder(state).SerializeToString(), providers=["CPUExecutionProvider"])
        mels = np.random.default_rng(0).uniform(0, 2, (2, 30, 40)).astype(np.float32)
        result = session.run(["embedding"], {"mels": mels})[0]
        np.testing.assert_allclose(result, numpy_lstm(state, mels), atol=1e-5)

    def test_released_size(self):
        self.assertEqual(sum(v.size for v in speaker.random_state_dict().values()), 1_423_616)

    def test_mel_matches_numpy_fft(self):
        wave = (0.3 * np.sin(2 * np.pi * 200 * np.arange(8000) / 16000)).astype(np.float32)
        session = ort.InferenceSession(speaker.build_mel().SerializeToString(), providers=["CPUExecutionProvider"])
        mel = session.run(["mel"], {"waveform": wave[None, :]})[0][0]
        padded = np.pad(wave.astype(np.float64), 200, mode="reflect")
        window = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(400) / 400)
        frames = 1 + len(wave) // 160
        power = np.stack([np.abs(np.fft.rfft(padded[i * 160:i * 160 + 400] * window)) ** 2 for i in range(frames)])
        expected = power @ audio.mel_basis(16000, 400, 40, 0.0, 8000).astype(np.float64).T
        self.assertEqual(mel.shape, (frames, 40))
        self.assertLess(np.abs(mel - expected).max() / expected.max(), 1e-5)

    def test_missing_tensor_is_an_error(self):
        with tempfile.TemporaryDirectory() as out:
            with self.assertRaisesRegex(convert.ConversionError, "missing key 'linear.weight'.*strict=False"):
                convert.convert_speaker_encoder(os.path.join(FIXTURES, "wav2lip_tiny_zip.pth"), out)


class SpeakerEncoderFloat16(unittest.TestCase):
    """speaker_encoder_fp16: float16 Linear, float16-stored LSTM weights cast up for a float32
    recurrence, float32 ReLU, normalisation and I/O — published by convert_speaker_encoder
    (the checkpoint reader is stood in for: there is no torch-written speaker checkpoint here)."""

    @classmethod
    def setUpClass(cls):
        cls.directory = tempfile.TemporaryDirectory()
        cls.state = speaker.random_state_dict(hidden=16, embedding=16, seed=3)
        checkpoint = os.path.join(cls.directory.name, "speaker.pt")
        with open(checkpoint, "wb") as handle:
            handle.write(b"stand-in")
        out = os.path.join(cls.directory.name, "models")
        with mock.patch.object(convert, "load_state_dict", return_value=cls.state):
            convert.convert_speaker_encoder(checkpoint, out)
        cls.out = out
        with open(os.path.join(out, "manifest.json")) as handle:
            cls.manifest = json.load(handle)["models"]
        cls.sessions = {kind: ort.InferenceSession(os.path.join(out, kind + ".onnx"), providers=["CPUExecutionProvider"])
                        for kind in ("speaker_encoder", "speaker_encoder_fp16")}

    @classmethod
    def tearDownClass(cls):
        cls.directory.cleanup()

    def test_manifest_entry(self):
        entry, full = self.manifest["speaker_encoder_fp16"], self.manifest["speaker_encoder"]
        self.assertEqual((entry["file"], entry["precision"], entry["standin"]), ("speaker_encoder_fp16.onnx", "float16", False))
        self.assertEqual(full["precision"], "float32")
        self.assertEqual((entry["inputs"], entry["outputs"], entry["source"]), (full["inputs"], full["outputs"], full["source"]))
        self.assertEqual([v["dtype"] for v in entry["inputs"] + entry["outputs"]], ["float32", "float32"])
        self.assertEqual(len(convert.verify(self.out)), 3)  # encoder ×2 and the mel front end

    def test_close_to_float32(self):
        rng = np.random.default_rng(1)
        for shape in ((1, 160, 40), (3, 160, 40), (2, 37, 40)):
            mels = rng.uniform(0, 2, shape).astype(np.float32)
            full, half = (self.sessions[kind].run(["embedding"], {"mels": mels})[0]
                          for kind in ("speaker_encoder", "speaker_encoder_fp16"))
            self.assertEqual((half.dtype, half.shape), (np.float32, full.shape))
            # Measured 1.1e-4 here (unit-length embeddings of 16) and 4.9e-5 at most on the full-size 256-wide encoder.
            self.assertLess(np.abs(half - full).max(), 1e-3, shape)
            self.assertGreater((half * full).sum(axis=1).min(), 0.99999, shape)
            self.assertGreater(np.abs(half - full).max(), 0)  # really float16 weights
            np.testing.assert_allclose(np.linalg.norm(half, axis=1), 1, atol=1e-6)

    def test_what_is_float16(self):
        model = onnx.load(os.path.join(self.out, "speaker_encoder_fp16.onnx"))
        types = {t.name: t.data_type for t in model.graph.initializer}
        producers = {output: node for node in model.graph.node for output in node.output}
        lstms = [n for n in model.graph.node if n.op_type == "LSTM"]
        self.assertEqual(len(lstms), 3)
        for node in lstms:  # W, R, B: float16 initializers cast to float32 in the graph
            for name in node.input[1:4]:
                cast = producers[name]
                self.assertEqual((cast.op_type, cast.attribute[0].i, types[cast.input[0]]), ("Cast", TensorProto.FLOAT, TensorProto.FLOAT16))
        gemm = next(n for n in model.graph.node if n.op_type == "Gemm")
        self.assertEqual([types[name] for name in gemm.input[1:]], [TensorProto.FLOAT16] * 2)
        self.assertEqual(producers[gemm.input[0]].attribute[0].i, TensorProto.FLOAT16)
        self.assertEqual(set(types.values()), {TensorProto.FLOAT16, TensorProto.INT64})  # every weight (int64: squeeze axes)
        # ReLU and the L2 normalisation read the Gemm's output cast back to float32.
        relu = next(n for n in model.graph.node if n.op_type == "Relu")
        self.assertEqual((producers[relu.input[0]].op_type, producers[relu.input[0]].attribute[0].i), ("Cast", TensorProto.FLOAT))
        half_bytes = sum(len(t.raw_data) for t in model.graph.initializer)
        full_bytes = sum(len(t.raw_data) for t in onnx.load(os.path.join(self.out, "speaker_encoder.onnx")).graph.initializer)
        self.assertLess(half_bytes, 0.51 * full_bytes)


if __name__ == "__main__":
    unittest.main()
