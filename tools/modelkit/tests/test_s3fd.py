"""S3FD graph builder: architecture facts, key checks, the bare legacy checkpoint format
s3fd.pth uses (torch-written tiny fixture), and the map sizes of the reference."""
import os
import tempfile
import unittest

import numpy as np
import onnxruntime as ort

from modelkit import convert, s3fd

FIXTURES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fixtures")


class Architecture(unittest.TestCase):
    def test_matches_the_reference_counts(self):
        shapes = s3fd.expected_shapes()
        self.assertEqual(len(shapes), 65)
        self.assertEqual(sum(int(np.prod(s)) for s in shapes.values()), 22_459_110)
        self.assertEqual(s3fd.macs(360, 640), 73_037_008_896)

    def test_key_errors(self):
        state = s3fd.random_state_dict(16)
        del state["fc7.bias"]
        with self.assertRaisesRegex(s3fd.StateDictError, "missing key 'fc7.bias'"):
            s3fd.check_state_dict(state, 16)


class Conversion(unittest.TestCase):
    def test_tiny_legacy_checkpoint_converts_and_gives_reference_map_sizes(self):
        with tempfile.TemporaryDirectory() as out:
            entry = convert.convert_s3fd(os.path.join(FIXTURES, "s3fd_tiny_legacy.pth"), out)
            self.assertEqual(entry["inputs"], [{"name": "image", "dtype": "uint8", "shape": ["batch", "height", "width", 3]}])
            self.assertEqual(entry["preprocessing"]["score_threshold"], 0.5)
            session = ort.InferenceSession(os.path.join(out, "s3fd.onnx"), providers=["CPUExecutionProvider"])
            image = np.random.default_rng(1).integers(0, 256, (1, 360, 640, 3), dtype=np.uint8)
            outputs = dict(zip([o.name for o in session.get_outputs()], session.run(None, {"image": image})))
            sizes = [outputs[f"scores{i}"].shape[2:] for i in range(1, 7)]
            self.assertEqual(sizes, [(90, 160), (45, 80), (22, 40), (15, 24), (8, 12), (4, 6)])
            np.testing.assert_allclose(outputs["scores1"].sum(axis=1), 1, rtol=1e-5)
            self.assertEqual(len(convert.verify(out)), 1)


if __name__ == "__main__":
    unittest.main()
