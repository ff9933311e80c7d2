"""WavLM content extractor: a tiny model written by the ORIGINAL class with torch
(fixtures/wavlm_tiny.pt + its PyTorch features in wavlm_tiny_reference.npz, made by
fidelity/wavlm_fidelity.py --write-fixtures), checked without torch; frame counts; key errors;
the mixed float16 variant (wavlm_fp16) against float32 and the PyTorch features."""
import json
import os
import tempfile
import unittest

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto

from modelkit import convert, wavlm
from modelkit.checkpoint import load_state_dict

FIXTURES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fixtures")


class WavLM(unittest.TestCase):
    def test_tiny_original_checkpoint_matches_pytorch(self):
        reference = np.load(os.path.join(FIXTURES, "wavlm_tiny_reference.npz"))
        with tempfile.TemporaryDirectory() as out:
            entry = convert.convert_wavlm(os.path.join(FIXTURES, "wavlm_tiny.pt"), out)
            self.assertEqual(entry["outputs"][0]["shape"], [1, 64, "frames"])
            session = ort.InferenceSession(os.path.join(out, "wavlm.onnx"), providers=["CPUExecutionProvider"])
            content = session.run(["content"], {"waveform": reference["waveform"][None]})[0]
        expected = reference["content"]
        self.assertEqual(content.shape, expected.shape)
        self.assertLess(np.abs(content - expected).max() / np.abs(expected).max(), 1e-4)

    def test_frame_count_formula(self):
        session = ort.InferenceSession(wavlm.build(load_state_dict(os.path.join(FIXTURES, "wavlm_tiny.pt"))).SerializeToString(),
                                       providers=["CPUExecutionProvider"])
        for samples in (400, 719, 720, 16000, 16319, 16320):
            content = session.run(["content"], {"waveform": np.zeros((1, samples), np.float32)})[0]
            self.assertEqual(content.shape[2], (samples - 400) // 320 + 1, samples)

    def test_building_can_consume_the_state_dict(self):
        state = load_state_dict(os.path.join(FIXTURES, "wavlm_tiny.pt"))
        keys = set(state)
        wavlm.build(state)
        self.assertEqual(set(state), keys)  # by default the caller's dict is left alone
        wavlm.build(state, consume=True)
        self.assertLessEqual(set(state), {"mask_emb", "label_embs_concat"})  # only what the graph does not use remains

    def test_missing_key_is_named(self):
        state = load_state_dict(os.path.join(FIXTURES, "wavlm_tiny.pt"))
        del state["encoder.layers.1.fc2.bias"]
        with self.assertRaisesRegex(wavlm.StateDictError, "encoder.layers.1.fc2.bias"):
            wavlm.build(state)


class WavLMFloat16(unittest.TestCase):
    """wavlm_fp16: float16 Conv/Gemm/MatMul weights and arithmetic, float32 elsewhere and at the I/O."""

    @classmethod
    def setUpClass(cls):
        cls.directory = tempfile.TemporaryDirectory()
        cls.entry = convert.convert_wavlm(os.path.join(FIXTURES, "wavlm_tiny.pt"), cls.directory.name)
        with open(os.path.join(cls.directory.name, "manifest.json")) as handle:
            cls.manifest = json.load(handle)["models"]
        cls.sessions = {kind: ort.InferenceSession(os.path.join(cls.directory.name, kind + ".onnx"), providers=["CPUExecutionProvider"])
                        for kind in ("wavlm", "wavlm_fp16")}

    @classmethod
    def tearDownClass(cls):
        cls.directory.cleanup()

    def run_both(self, waveform):
        return [self.sessions[kind].run(["content"], {"waveform": waveform})[0] for kind in ("wavlm", "wavlm_fp16")]

    def test_manifest_entry(self):
        entry = self.manifest["wavlm_fp16"]
        self.assertEqual((entry["file"], entry["precision"], entry["standin"]), ("wavlm_fp16.onnx", "float16", False))
        self.assertEqual(entry["inputs"], self.manifest["wavlm"]["inputs"])
        self.assertEqual(entry["outputs"], self.manifest["wavlm"]["outputs"])
        self.assertEqual(entry["inputs"][0]["dtype"], "float32")
        self.assertEqual(entry["source"], self.manifest["wavlm"]["source"])
        self.assertEqual(len(convert.verify(self.directory.name)), 2)

    def test_close_to_float32_and_to_pytorch(self):
        reference = np.load(os.path.join(FIXTURES, "wavlm_tiny_reference.npz"))
        full, half = self.run_both(reference["waveform"][None])
        self.assertEqual(half.dtype, np.float32)
        self.assertEqual(half.shape, full.shape)
        for expected in (full, reference["content"]):
            # Measured 1.1e-3 here (tiny stand-in) and 8e-4 on full-size WavLM-Large; a float16 ulp is 9.8e-4 at 1–2.
            self.assertLess(np.abs(half - expected).max() / np.abs(expected).max(), 5e-3)
        self.assertGreater(np.abs(half - full).max(), 0)  # really computed in float16

    def test_dynamic_length(self):
        rng = np.random.default_rng(5)
        for samples in (400, 720, 16320):
            full, half = self.run_both((0.3 * rng.standard_normal((1, samples))).astype(np.float32))
            self.assertEqual(half.shape, (1, 64, (samples - 400) // 320 + 1))
            self.assertLess(np.abs(half - full).max() / np.abs(full).max(), 5e-3, samples)

    def test_what_runs_in_float16(self):
        model = onnx.load(os.path.join(self.directory.name, "wavlm_fp16.onnx"))
        types = {t.name: t.data_type for t in model.graph.initializer}
        weighted = [n for n in model.graph.node if n.op_type in ("Conv", "Gemm", "MatMul") and n.input[1] in types]
        self.assertEqual(len(weighted), 7 + 1 + 1 + 2 * 7)  # extractor convs, projection, pos_conv; per layer q/k/v/out/fc1/fc2 and the gate
        for node in weighted:
            self.assertTrue(all(types[name] == TensorProto.FLOAT16 for name in node.input if name in types), node.name)
        for node in model.graph.node:
            if node.op_type == "LayerNormalization":
                self.assertEqual(types[node.input[1]], TensorProto.FLOAT, node.name)
        self.assertEqual(types["relative_attention_bias"], TensorProto.FLOAT)
        # The bucket logarithm stays float32: its input is cast to float, not float16.
        producers = {output: node for node in model.graph.node for output in node.output}
        log = next(n for n in model.graph.node if n.op_type == "Log")
        cast = producers[producers[log.input[0]].input[0]]
        self.assertEqual((cast.op_type, cast.attribute[0].i), ("Cast", TensorProto.FLOAT))
        half_bytes = sum(len(t.raw_data) for t in model.graph.initializer)
        full_bytes = sum(len(t.raw_data) for t in onnx.load(os.path.join(self.directory.name, "wavlm.onnx")).graph.initializer)
        self.assertLess(half_bytes, 0.52 * full_bytes)


if __name__ == "__main__":
    unittest.main()
