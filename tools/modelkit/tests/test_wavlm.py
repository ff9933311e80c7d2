"""WavLM content extractor: a tiny model written by the ORIGINAL class with torch
(fixtures/wavlm_tiny.pt + its PyTorch features in wavlm_tiny_reference.npz, made by
fidelity/wavlm_fidelity.py --write-fixtures), checked without torch; frame counts; key errors."""
import os
import tempfile
import unittest

import numpy as np
import onnxruntime as ort

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

    def test_missing_key_is_named(self):
        state = load_state_dict(os.path.join(FIXTURES, "wavlm_tiny.pt"))
        del state["encoder.layers.1.fc2.bias"]
        with self.assertRaisesRegex(wavlm.StateDictError, "encoder.layers.1.fc2.bias"):
            wavlm.build(state)


if __name__ == "__main__":
    unittest.main()
