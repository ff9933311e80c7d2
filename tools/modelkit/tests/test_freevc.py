"""FreeVC SynthesizerTrn graph: a tiny net_g written by the ORIGINAL class with torch
(fixtures/freevc_tiny.pth, with its PyTorch `infer` output on fixed inputs and noise in
freevc_tiny_reference.npz, made by fidelity/freevc_fidelity.py --write-fixtures), so CI
checks fidelity without torch; plus key errors and the released sizes."""
import os
import tempfile
import unittest

import numpy as np
import onnxruntime as ort

from modelkit import convert, freevc
from modelkit.checkpoint import load_state_dict

FIXTURES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fixtures")


class FreeVC(unittest.TestCase):
    def test_tiny_original_checkpoint_matches_pytorch(self):
        reference = np.load(os.path.join(FIXTURES, "freevc_tiny_reference.npz"))
        with tempfile.TemporaryDirectory() as out:
            entry = convert.convert_freevc(os.path.join(FIXTURES, "freevc_tiny.pth"), out)
            self.assertEqual([i["name"] for i in entry["inputs"]], ["content", "speaker", "noise"])
            session = ort.InferenceSession(os.path.join(out, "freevc.onnx"), providers=["CPUExecutionProvider"])
            audio = session.run(["audio"], {"content": reference["content"], "speaker": reference["speaker"],
                                            "noise": reference["noise"]})[0]
        expected = reference["audio"]
        self.assertEqual(audio.shape, expected.shape)
        self.assertEqual(audio.shape[-1], 320 * reference["content"].shape[-1])
        error = audio.astype(np.float64) - expected
        snr = 10 * np.log10((expected.astype(np.float64) ** 2).sum() / (error ** 2).sum())
        self.assertGreater(snr, 60)

    def test_float16_variant_is_written(self):
        with tempfile.TemporaryDirectory() as out:
            convert.convert_freevc(os.path.join(FIXTURES, "freevc_tiny.pth"), out)
            self.assertIn("freevc_fp16.onnx", os.listdir(out))
            self.assertEqual(len(convert.verify(out)), 2)

    def test_released_sizes(self):
        state = freevc.random_state_dict()
        self.assertEqual(sum(v.size for v in state.values()), 30_491_968)  # reference/freevc.md §9, inference path

    def test_missing_key_is_named(self):
        state = load_state_dict(os.path.join(FIXTURES, "freevc_tiny.pth"))
        del state["dec.ups.2.weight_v"]
        with self.assertRaisesRegex(freevc.StateDictError, "dec.ups.2.weight_v"):
            freevc.build(state)

    def test_wav2lip_checkpoint_is_not_a_freevc_one(self):
        with tempfile.TemporaryDirectory() as out:
            with self.assertRaisesRegex(convert.ConversionError, "missing key 'enc_p.pre.weight'"):
                convert.convert_freevc(os.path.join(FIXTURES, "wav2lip_tiny_zip.pth"), out)
            self.assertEqual(os.listdir(out), [])


if __name__ == "__main__":
    unittest.main()
