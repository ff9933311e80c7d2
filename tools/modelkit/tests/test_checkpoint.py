"""The torch-free checkpoint reader on checkpoints written by torch itself (fixtures/,
made by fidelity/fidelity.py --write-fixtures) and on broken or hostile files."""
import io
import os
import pickle
import struct
import tempfile
import time
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


def _int(value):
    """The pickle opcode that pushes `value` (BININT1, BININT or LONG1 for big ones)."""
    return pickle.dumps(value, protocol=2)[2:-1]


def _tuple(values):
    return b"(" + b"".join(_int(v) for v in values) + b"t"


def tensor_pickle(size, stride, offset=0, name=b"w", storage=None, build=b""):
    """A protocol-2 state_dict pickle {name: tensor} written opcode by opcode, as torch.save
    writes it: the tensor is _rebuild_tensor_v2(storage "0" of 16 floats, offset, size,
    stride, False, OrderedDict()); `storage` replaces the storage reference, `build` is
    spliced in after the tensor (e.g. a BUILD)."""
    key = (b"X" + struct.pack("<I", len(name)) + name) if isinstance(name, bytes) else _int(name)
    reference = storage if storage is not None else (
        b"(X\x07\x00\x00\x00storagectorch\nFloatStorage\nX\x01\x00\x00\x000X\x03\x00\x00\x00cpuK\x10tQ")
    return (b"\x80\x02}" + key + b"ctorch._utils\n_rebuild_tensor_v2\n(" + reference + _int(offset) + _tuple(size)
            + _tuple(stride) + b"\x89ccollections\nOrderedDict\n)RtR" + build + b"s.")


FLOATS = struct.pack("<16f", *range(16))


def zip_checkpoint(data_pkl, storage=FLOATS):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as archive:
        archive.writestr("archive/data.pkl", data_pkl)
        archive.writestr("archive/data/0", storage)
    return buffer.getvalue()


def legacy_checkpoint(data_pkl, count=16, storage=FLOATS):
    header = b"".join(pickle.dumps(v, protocol=2) for v in (0x1950A86A20F9469CFC6C, 1001, {"little_endian": True}))
    return header + data_pkl + pickle.dumps(["0"], protocol=2) + struct.pack("<q", count) + storage


class FuzzFoundCheckpoints(unittest.TestCase):
    """Files the fuzzer (tools/modelkit/fuzz, docs/fuzzing.md) found that escaped the reader
    as exceptions other than CheckpointError, hung it or made it allocate gigabytes."""

    setUp = BrokenCheckpoints.setUp
    tearDown = BrokenCheckpoints.tearDown
    write = BrokenCheckpoints.write
    assertRefused = BrokenCheckpoints.assertRefused

    def test_the_hand_written_pickle_loads(self):
        path = self.write("good.pth", zip_checkpoint(tensor_pickle((2, 3), (3, 1), offset=4)))
        np.testing.assert_array_equal(load_state_dict(path)["w"], np.arange(4, 10, dtype=np.float32).reshape(2, 3))
        path = self.write("good_legacy.pth", legacy_checkpoint(tensor_pickle((2, 3), (3, 1), offset=4)))
        np.testing.assert_array_equal(load_state_dict(path)["w"], np.arange(4, 10, dtype=np.float32).reshape(2, 3))

    def test_damaged_data_pickle_in_zip(self):
        data_pkl = tensor_pickle((2,), (1,))
        archive = bytearray(zip_checkpoint(data_pkl))
        archive[archive.find(data_pkl) + 5] ^= 0xFF  # the CRC no longer matches
        self.assertRefused(self.write("crc.pth", bytes(archive)), "data.pkl", "CRC")

    def test_huge_memo_index_is_neither_slow_nor_big(self):
        started = time.monotonic()
        self.assertRefused(self.write("memo.pth", zip_checkpoint(b"\x80\x02}r" + struct.pack("<I", 174417761) + b".")))
        self.assertLess(time.monotonic() - started, 2)  # the C unpickler cleared 1.4 GB here

    def test_protocol5_buffers_are_refused(self):
        self.assertRefused(self.write("bytearray8.pth", zip_checkpoint(b"\x80\x05\x96" + struct.pack("<Q", 1 << 34))), "protocol 5")

    def test_legacy_storage_larger_than_the_file(self):
        path = self.write("count.pth", legacy_checkpoint(tensor_pickle((2,), (1,)), count=1 << 62))
        self.assertRefused(path, "truncated")

    def test_tensor_with_more_elements_than_its_storage(self):
        path = self.write("bomb.pth", zip_checkpoint(tensor_pickle((100000, 100000), (0, 0))))
        self.assertRefused(path, "more than its storage")

    def test_huge_dimension_of_an_empty_tensor(self):
        self.assertRefused(self.write("dim.pth", zip_checkpoint(tensor_pickle((0, 1 << 70), (1, 1)))), "invalid shape")

    def test_huge_stride_of_a_length_one_dimension_is_moot(self):
        path = self.write("stride.pth", zip_checkpoint(tensor_pickle((1, 2), (1 << 70, 1))))
        np.testing.assert_array_equal(load_state_dict(path)["w"], np.array([[0, 1]], dtype=np.float32))

    def test_storage_argument_that_is_not_a_storage(self):
        self.assertRefused(self.write("int.pth", zip_checkpoint(tensor_pickle((1,), (1,), storage=b"K\x05"))), "not a storage")

    def test_tensor_name_that_is_not_a_string(self):
        self.assertRefused(self.write("name.pth", zip_checkpoint(tensor_pickle((1,), (1,), name=7))), "not a string")

    def test_build_on_a_tensor_reference(self):
        build = b"}X\x04\x00\x00\x00sizeX\x02\x00\x00\x00abs" + b"b"  # BUILD {'size': 'ab'}
        self.assertRefused(self.write("build.pth", zip_checkpoint(tensor_pickle((2,), (1,), build=build))), "sets attributes")


if __name__ == "__main__":
    unittest.main()
