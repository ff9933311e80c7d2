"""BlazeFace conversion from the real mediapipe wheel (downloaded from PyPI into
.deps/cache on first use) and the reference post-processing on crafted outputs. The
comparison with MediaPipe's own FaceDetection on photos is fidelity/blazeface_check.py."""
import io
import os
import tempfile
import unittest
import zipfile

import numpy as np
import onnxruntime as ort

from modelkit import blazeface, convert

CACHE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..", ".deps", "cache")


class Conversion(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.directory = tempfile.TemporaryDirectory()
        cls.entry = convert.convert_blazeface(cls.directory.name, CACHE)

    @classmethod
    def tearDownClass(cls):
        cls.directory.cleanup()

    def test_signature_and_manifest(self):
        self.assertEqual(self.entry["inputs"], [{"name": "input", "dtype": "float32", "shape": [1, 3, 128, 128]}])
        self.assertEqual([o["name"] for o in self.entry["outputs"]], ["regressors", "classificators"])
        self.assertEqual(self.entry["source"]["sha256"], blazeface.TFLITE_SHA256)
        self.assertEqual(self.entry["preprocessing"]["num_boxes"], 896)
        self.assertEqual(len(convert.verify(self.directory.name)), 1)

    def test_blank_image_has_no_face(self):
        session = ort.InferenceSession(os.path.join(self.directory.name, "blazeface.onnx"), providers=["CPUExecutionProvider"])
        blank = np.full((1, 3, 128, 128), -1, np.float32)
        regressors, scores = session.run(None, {"input": blank})
        self.assertEqual(blazeface.detect(regressors, scores, 640, 480), [])


class BrokenInputs(unittest.TestCase):
    def test_not_a_tflite(self):
        with self.assertRaisesRegex(blazeface.BlazeFaceError, "tflite2onnx could not convert"):
            blazeface.convert_tflite(b"\0" * 64)

    def test_model_without_the_expected_tensors(self):
        from modelkit import testmodels
        with self.assertRaisesRegex(blazeface.BlazeFaceError, "not BlazeFace short-range"):
            blazeface.check_signature(testmodels.add_model())

    def test_wheel_without_the_model(self):
        with tempfile.TemporaryDirectory() as work:
            wheel = os.path.join(work, "mediapipe-0.10.21-fake.whl")
            with zipfile.ZipFile(wheel, "w") as archive:
                archive.writestr("mediapipe/__init__.py", "")
            with self.assertRaisesRegex(blazeface.BlazeFaceError, "no mediapipe/modules/face_detection"):
                blazeface.fetch_tflite(work, wheel)

    def test_wrong_file_in_the_wheel(self):
        with tempfile.TemporaryDirectory() as work:
            wheel = os.path.join(work, "mediapipe-0.10.21-fake.whl")
            with zipfile.ZipFile(wheel, "w") as archive:
                archive.writestr(blazeface.TFLITE_MEMBER, b"something else")
            with self.assertRaisesRegex(blazeface.BlazeFaceError, "has SHA-256"):
                blazeface.fetch_tflite(work, wheel)


class PostProcessing(unittest.TestCase):
    def test_anchor_layout(self):
        centres = blazeface.anchors()
        self.assertEqual(centres.shape, (896, 2))
        np.testing.assert_allclose(centres[0], [0.5 / 16, 0.5 / 16])
        np.testing.assert_allclose(centres[1], centres[0])          # two anchors per 16×16 cell
        np.testing.assert_allclose(centres[512], [0.5 / 8, 0.5 / 8])
        np.testing.assert_allclose(centres[895], [7.5 / 8, 7.5 / 8])

    def test_decoding_weighted_nms_and_projection(self):
        regressors = np.zeros((1, 896, 16), np.float32)
        logits = np.full((1, 896, 1), -10, np.float32)
        # Two overlapping detections at anchor 600 (8×8 grid) of size 32×32 tensor pixels.
        for index, (dx, logit) in ((600, (0.0, 4.0)), (601, (4.0, 2.0))):
            regressors[0, index, :4] = [dx, 0, 32, 32]
            regressors[0, index, 4:] = np.tile([dx, 0], 6)
            logits[0, index, 0] = logit
        faces = blazeface.detect(regressors, logits, 256, 128)
        self.assertEqual(len(faces), 1)
        score, box, points = faces[0]
        self.assertAlmostEqual(score, 1 / (1 + np.exp(-4.0)), places=6)
        # Anchors 600 and 601: m = 88, 89 → cell 14 of the 8×8 grid → x 6, y 1: centre (6.5/8, 1.5/8).
        weights = np.array([1 / (1 + np.exp(-4.0)), 1 / (1 + np.exp(-2.0))])
        cx = (6.5 / 8) + (weights[1] * 4 / 128) / weights.sum()
        cy = 1.5 / 8
        side = 256  # letterbox square of a 256×128 image
        expected_x = 128 + (cx - 0.5) * side
        expected_y = 64 + (cy - 0.5) * side
        self.assertAlmostEqual((box[0] + box[2]) / 2, expected_x, places=3)
        self.assertAlmostEqual((box[1] + box[3]) / 2, expected_y, places=3)
        self.assertAlmostEqual(box[2] - box[0], 32 / 128 * side, places=3)
        self.assertAlmostEqual(points[0][0], expected_x, places=3)


if __name__ == "__main__":
    unittest.main()
