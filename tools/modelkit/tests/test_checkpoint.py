"""The torch-free checkpoint reader on checkpoints written by torch itself (fixtures/,
made by fidelity/fidelity.py --write-fixtures) and on broken or hostile files."""
import io
import os
import pickle
import tempfile
import unittest
import zipfile

import numpy as np

from modelkit import wav2lip
from modelkit.checkpoint import CheckpointError, load_state_dict

FIXTURES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fixtures")


def fixture(name):
    return os.path.join(FIXTURES, name)


class TorchWrittenCheckpoints(unittest.TestCase):
    def setUp(self):
        self.expected = wav2lip.random_state_dict(16, seed=7)

    def test_zip_format(self):
        state = load_state_dict(fixture("wav2lip_tiny_zip.pth"))
        self.assertEqual(set(state), set(self.expected))
        for key, value in self.expected.items():
            np.testing.assert_array_equal(state[key], value, err_msg=key)

    def test_legacy_format_with_module_prefix(self):
        state = load_state_dict(fixture("wav2lip_tiny_legacy.pth"))
        self.assertEqual(set(state), set(self.expected))  # "module." removed
        for key, value in self.expected.items():
            np.testing.assert_array_equal(state[key], value, err_msg=key)

    def test_half_precision_bare_state_dict(self):
        state = load_state_dict(fixture("wav2lip_tiny_half.pth"))
        for key, value in self.expected.items():
            self.assertEqual(state[key].dtype, np.float32 if value.dtype == np.float32 else value.dtype, key)
            expected = value.astype(np.float16).astype(np.float32) if value.dtype == np.float32 else value
            np.testing.assert_array_equal(state[key], expected, err_msg=key)

    def test_views_and_scalars(self):
        base = np.arange(60, dtype=np.float32).reshape(6, 10)
        for name in ("views_zip.pth", "views_legacy.pth"):
            state = load_state_dict(fixture(name))
            np.testing.assert_array_equal(state["transposed"], base.T)
            np.testing.assert_array_equal(state["window"], base[1:4, 2:7])
            self.assertEqual(state["scalar"].shape, ())
            self.assertEqual(float(state["scalar"]), 2.5)


class BrokenCheckpoints(unittest.TestCase):
    def setUp(self):
        self.directory = tempfile.TemporaryDirectory()

    def tearDown(self):
        self.directory.cleanup()

    def write(self, name, data):
        path = os.path.join(self.directory.name, name)
        with open(path, "wb") as handle:
            handle.write(data)
        return path

    def assertRefused(self, path, *fragments):
        with self.assertRaises(CheckpointError) as caught:
            load_state_dict(path)
        message = str(caught.exception)
        self.assertIn(path, message)
        for fragment in fragments:
            self.assertIn(fragment, message)

    def test_missing_and_empty(self):
        self.assertRefused(os.path.join(self.directory.name, "none.pth"), "no such file")
        self.assertRefused(self.write("empty.pth", b""), "empty or truncated")

    def test_random_bytes(self):
        self.assertRefused(self.write("random.pth", bytes(range(256)) * 10), "not a PyTorch checkpoint")

    def test_truncated_zip(self):
        with open(fixture("wav2lip_tiny_zip.pth"), "rb") as handle:
            data = handle.read()
        self.assertRefused(self.write("cut.pth", data[: len(data) // 2]))

    def test_truncated_legacy(self):
        with open(fixture("wav2lip_tiny_legacy.pth"), "rb") as handle:
            data = handle.read()
        self.assertRefused(self.write("cut.pth", data[: len(data) // 2]), "truncated")

    def test_forbidden_global_in_legacy_stream(self):
        self.assertRefused(self.write("evil.pth", pickle.dumps(os.system, protocol=2)), "refusing to load global", "system")

    def test_forbidden_global_inside_zip(self):
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w") as archive:
            archive.writestr("archive/data.pkl", pickle.dumps({"state_dict": os.getcwd}, protocol=2))
        self.assertRefused(self.write("evil_zip.pth", buffer.getvalue()), "refusing to load global", "getcwd")

    def test_zip_without_data_pickle(self):
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w") as archive:
            archive.writestr("archive/other.txt", "hello")
        self.assertRefused(self.write("nodata.pth", buffer.getvalue()), "data.pkl")

    def test_no_tensors(self):
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w") as archive:
            archive.writestr("archive/data.pkl", pickle.dumps({"state_dict": {"step": 3}}, protocol=2))
        self.assertRefused(self.write("empty_state.pth", buffer.getvalue()), "no tensors")


if __name__ == "__main__":
    unittest.main()
