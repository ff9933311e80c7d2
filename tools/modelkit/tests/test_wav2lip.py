"""Wav2Lip graph builder: architecture facts, state_dict checks, BatchNorm folding, and a
stand-in round trip through onnxruntime and the models folder (convert → verify)."""
import json
import os
import tempfile
import unittest

import numpy as np
import onnxruntime as ort

from modelkit import convert, wav2lip
from modelkit.graph import fold_batchnorm

FIXTURES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fixtures")


class Architecture(unittest.TestCase):
    def test_matches_the_reference_counts(self):
        shapes = wav2lip.expected_shapes()
        self.assertEqual(len(shapes), 352)
        trainable = sum(int(np.prod(s)) for k, s in shapes.items() if "running" not in k and "num_batches" not in k)
        self.assertEqual(trainable, 36_298_035)
        self.assertEqual(wav2lip.flops_per_item(), 2 * 3_966_984_192)

    def test_state_dict_errors_name_the_key(self):
        state = wav2lip.random_state_dict(16)
        missing = dict(state)
        del missing["audio_encoder.3.conv_block.0.bias"]
        with self.assertRaisesRegex(wav2lip.StateDictError, "missing key 'audio_encoder.3.conv_block.0.bias'"):
            wav2lip.check_state_dict(missing, 16)
        extra = dict(state, **{"discriminator.weight": np.zeros(3)})
        with self.assertRaisesRegex(wav2lip.StateDictError, "unexpected key 'discriminator.weight'"):
            wav2lip.check_state_dict(extra, 16)
        wrong = dict(state)
        wrong["output_block.1.weight"] = np.zeros((3, 5, 1, 1), np.float32)
        with self.assertRaisesRegex(wav2lip.StateDictError, r"'output_block.1.weight' has shape \(3, 5, 1, 1\), expected \(3, 2, 1, 1\)"):
            wav2lip.check_state_dict(wrong, 16)


class Folding(unittest.TestCase):
    def test_batchnorm_folding_equals_the_explicit_formula(self):
        rng = np.random.default_rng(3)
        weight, bias = rng.standard_normal((4, 3, 1, 1)), rng.standard_normal(4)
        gamma, beta, mean, var = rng.uniform(0.5, 2, 4), rng.standard_normal(4), rng.standard_normal(4), rng.uniform(0.5, 2, 4)
        x = rng.standard_normal(3)
        conv = weight[:, :, 0, 0] @ x + bias
        expected = gamma * (conv - mean) / np.sqrt(var + 1e-5) + beta
        folded_weight, folded_bias = fold_batchnorm(weight, bias, gamma, beta, mean, var)
        np.testing.assert_allclose(folded_weight[:, :, 0, 0] @ x + folded_bias, expected, rtol=1e-5, atol=1e-6)

    def test_transposed_folding_scales_axis_one(self):
        weight = np.ones((2, 3, 3, 3))
        folded, _ = fold_batchnorm(weight, np.zeros(3), np.array([1.0, 2.0, 3.0]), np.zeros(3), np.zeros(3), np.ones(3) - 1e-5,
                                   transposed=True)
        np.testing.assert_allclose(folded[0, :, 0, 0], [1, 2, 3], rtol=1e-5)


class ModelsFolder(unittest.TestCase):
    def setUp(self):
        self.directory = tempfile.TemporaryDirectory()
        self.out = os.path.join(self.directory.name, "models")

    def tearDown(self):
        self.directory.cleanup()

    def test_convert_torch_checkpoint_then_verify(self):
        entry = convert.convert_wav2lip(os.path.join(FIXTURES, "wav2lip_tiny_legacy.pth"), self.out)
        self.assertFalse(entry["standin"])
        self.assertEqual([i["name"] for i in entry["inputs"]], ["mel", "face"])
        self.assertEqual(entry["inputs"][1]["shape"], ["batch", 6, 96, 96])
        self.assertEqual(entry["preprocessing"]["n_mels"], 80)
        self.assertEqual(len(convert.verify(self.out)), 3)  # generator (float32, float16) and its mel front end
        with open(os.path.join(self.out, "manifest.json")) as handle:
            manifest = json.load(handle)
        self.assertEqual(manifest["models"]["wav2lip"]["source"]["checkpoint"], "wav2lip_tiny_legacy.pth")
        self.assertEqual(sorted(os.listdir(self.out)), ["manifest.json", "wav2lip.onnx", "wav2lip_fp16.onnx", "wav2lip_mel.onnx"])
        self.assertEqual(manifest["models"]["wav2lip_fp16"]["precision"], "float16")

    def test_float16_variant_keeps_float32_io_and_stays_close(self):
        convert.convert_wav2lip(os.path.join(FIXTURES, "wav2lip_tiny_zip.pth"), self.out)
        rng = np.random.default_rng(2)
        feeds = {"mel": rng.uniform(-4, 4, (2, 1, 80, 16)).astype(np.float32),
                 "face": rng.uniform(0, 1, (2, 6, 96, 96)).astype(np.float32)}
        full = ort.InferenceSession(os.path.join(self.out, "wav2lip.onnx"), providers=["CPUExecutionProvider"]).run(None, feeds)[0]
        half = ort.InferenceSession(os.path.join(self.out, "wav2lip_fp16.onnx"), providers=["CPUExecutionProvider"]).run(None, feeds)[0]
        self.assertEqual(half.dtype, np.float32)
        self.assertLess(np.abs(full - half).max(), 0.05)

    def test_converted_graph_runs_a_batch(self):
        # (Numerical agreement with the original PyTorch model is checked by
        # fidelity/wav2lip_fidelity.py, which needs torch; here: shapes and range.)
        convert.convert_wav2lip(os.path.join(FIXTURES, "wav2lip_tiny_zip.pth"), self.out)
        session = ort.InferenceSession(os.path.join(self.out, "wav2lip.onnx"), providers=["CPUExecutionProvider"])
        rng = np.random.default_rng(0)
        out = session.run(None, {"mel": rng.uniform(-4, 4, (2, 1, 80, 16)).astype(np.float32),
                                 "face": rng.uniform(0, 1, (2, 6, 96, 96)).astype(np.float32)})[0]
        self.assertEqual(out.shape, (2, 3, 96, 96))
        self.assertTrue(((out > 0) & (out < 1)).all())

    def test_standins_are_marked(self):
        convert.standins(self.out, tiny=True)
        with open(os.path.join(self.out, "manifest.json")) as handle:
            entry = json.load(handle)["models"]["wav2lip"]
        self.assertTrue(entry["standin"])
        self.assertEqual(entry["flops_per_item"], wav2lip.flops_per_item(16))
        self.assertEqual(len(convert.verify(self.out)), 11)  # generator ×2, detector, mel, WavLM ×2, FreeVC ×2, speaker encoder ×2 + mel

    def test_failed_conversion_leaves_nothing(self):
        bad = os.path.join(self.directory.name, "bad.pth")
        with open(bad, "wb") as handle:
            handle.write(b"\x80\x02not really")
        with self.assertRaises(convert.ConversionError):
            convert.convert_wav2lip(bad, self.out)
        self.assertEqual(os.listdir(self.out) if os.path.exists(self.out) else [], [])

    def test_verify_detects_a_changed_file(self):
        convert.standins(self.out, tiny=True)
        with open(os.path.join(self.out, "wav2lip.onnx"), "ab") as handle:
            handle.write(b"\0")
        with self.assertRaisesRegex(convert.ConversionError, "does not match its manifest hash"):
            convert.verify(self.out)


if __name__ == "__main__":
    unittest.main()
