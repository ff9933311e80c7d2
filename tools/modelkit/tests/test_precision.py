"""Streaming model writing (graph.save_model, graph.check_model) and the float16 variants
(precision.float16_variant, precision.mixed_float16_variant) on small graphs."""
import os
import tempfile
import unittest

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper

from modelkit import graph, precision, wavlm
from modelkit.graph import GraphBuilder, tensor_info


def tiny_wavlm():
    return wavlm.build(wavlm.random_state_dict(dim=64, ffn=128, heads=4, layers=2, conv_dim=32, seed=3))


def matmul_model(shared=False, scale=1.0):
    """y = x·W (+ W's first row when `shared`, so W is also read in float32)."""
    rng = np.random.default_rng(0)
    g = GraphBuilder("matmul")
    weight = g.constant((rng.standard_normal((32, 48)) * scale).astype(np.float32), "W")
    y = g._op("MatMul", ["x", weight], "matmul")
    if shared:
        row = g._op("Gather", [weight, g.constant(np.int64(0))], "gather", axis=0)
        y = g._op("Add", [y, row], "add")
    g.rename(y, "y")
    return g.model([tensor_info("x", ["n", 32])], [tensor_info("y", ["n", 48])])


def run(model, **feeds):
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    return session.run(None, feeds)[0]


class SaveModel(unittest.TestCase):
    def setUp(self):
        self.directory = tempfile.TemporaryDirectory()
        self.path = os.path.join(self.directory.name, "model.onnx")

    def tearDown(self):
        self.directory.cleanup()

    def read(self):
        with open(self.path, "rb") as handle:
            return handle.read()

    def test_same_bytes_as_onnx_save(self):
        model = tiny_wavlm()
        graph.save_model(model, self.path)
        self.assertEqual(self.read(), model.SerializeToString())
        self.assertEqual(len(onnx.load(self.path).graph.initializer), len(model.graph.initializer))

    def test_variant_written_from_the_float32_weights(self):
        model = tiny_wavlm()
        for variant in (precision.float16_variant(model), precision.mixed_float16_variant(model)):
            variant.save(self.path)
            self.assertEqual(self.read(), variant.model().SerializeToString())
            self.assertEqual(len(variant.skeleton.graph.initializer), 0)

    def test_a_model_without_initializers(self):
        model = helper.make_model(helper.make_graph([helper.make_node("Relu", ["x"], ["y"])], "relu",
                                                    [tensor_info("x", [2])], [tensor_info("y", [2])]))
        graph.save_model(model, self.path)
        self.assertEqual(self.read(), model.SerializeToString())


class CheckModel(unittest.TestCase):
    def test_large_weights_are_not_needed_but_structure_is_checked(self):
        model = tiny_wavlm()
        graph.check_model(model)
        broken = onnx.ModelProto()
        broken.CopyFrom(model)
        broken.graph.node[5].op_type = "NoSuchOp"
        with self.assertRaises(onnx.checker.ValidationError):
            graph.check_model(broken)
        dangling = onnx.ModelProto()
        dangling.CopyFrom(model)
        dangling.graph.node[3].input[0] = "nothing_makes_this"
        with self.assertRaises(onnx.checker.ValidationError):
            graph.check_model(dangling)

    def test_builder_output_holds_its_weights_once(self):
        model = matmul_model()
        self.assertEqual([t.name for t in model.graph.initializer], ["W"])
        self.assertEqual(model.graph.initializer[0].dims, [32, 48])


class MixedFloat16(unittest.TestCase):
    def test_weights_and_matmul_in_float16_io_in_float32(self):
        model = matmul_model()
        half = precision.to_mixed_float16(model)
        self.assertEqual(half.graph.initializer[0].data_type, TensorProto.FLOAT16)
        self.assertEqual([v.type.tensor_type.elem_type for v in half.graph.input], [TensorProto.FLOAT])
        self.assertEqual([v.type.tensor_type.elem_type for v in half.graph.output], [TensorProto.FLOAT])
        x = np.random.default_rng(1).standard_normal((3, 32)).astype(np.float32)
        full, mixed = run(model, x=x), run(half, x=x)
        self.assertEqual(mixed.dtype, np.float32)
        self.assertLess(np.abs(mixed - full).max() / np.abs(full).max(), 3e-3)
        self.assertGreater(np.abs(mixed - full).max(), 0)

    def test_a_weight_also_read_in_float32_stays_float32(self):
        model = matmul_model(shared=True)
        half = precision.to_mixed_float16(model)
        self.assertEqual(half.graph.initializer[0].data_type, TensorProto.FLOAT)
        casts = [n for n in half.graph.node if n.op_type == "Cast" and n.input[0] == "W"]
        self.assertEqual(len(casts), 1)
        x = np.random.default_rng(2).standard_normal((2, 32)).astype(np.float32)
        full, mixed = run(model, x=x), run(half, x=x)
        self.assertLess(np.abs(mixed - full).max() / np.abs(full).max(), 3e-3)

    def test_stored_ops_keep_float32_arithmetic_on_float16_weights(self):
        model = matmul_model()
        half = precision.to_mixed_float16(model, ops=(), stored=("MatMul",))
        self.assertEqual(half.graph.initializer[0].data_type, TensorProto.FLOAT16)
        cast, matmul = half.graph.node[:2]
        self.assertEqual((cast.op_type, list(cast.input), cast.attribute[0].i), ("Cast", ["W"], TensorProto.FLOAT))
        self.assertEqual(matmul.input[1], cast.output[0])
        x = np.random.default_rng(3).standard_normal((3, 32)).astype(np.float32)
        rounded = x @ onnx.numpy_helper.to_array(model.graph.initializer[0]).astype(np.float16).astype(np.float32)
        np.testing.assert_allclose(run(half, x=x), rounded, rtol=1e-5, atol=1e-5)  # float32 product of the rounded weights
        shared = precision.to_mixed_float16(matmul_model(shared=True), ops=(), stored=("MatMul",))
        self.assertEqual(shared.graph.initializer[0].data_type, TensorProto.FLOAT)  # also read by Gather: left alone

    def test_out_of_range_weights_are_refused(self):
        with self.assertRaisesRegex(ValueError, "exceeds the float16 range"):
            precision.mixed_float16_variant(matmul_model(scale=1e5))
        with self.assertRaisesRegex(ValueError, "exceeds the float16 range"):
            precision.float16_variant(matmul_model(scale=1e5))
        with self.assertRaisesRegex(ValueError, "exceeds the float16 range"):
            precision.mixed_float16_variant(matmul_model(scale=1e5), ops=(), stored=("MatMul",))


if __name__ == "__main__":
    unittest.main()
