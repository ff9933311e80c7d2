"""Tiny ONNX models for the Swift tests and the binding benchmark.

Each model exercises one part of the Inference module: element-wise ops with a dynamic
batch axis, a convolution whose expected output the Swift test recomputes by hand,
Float16 and Int64/UInt8 input/output, and a Conv-heavy stack for throughput. Weights are
fixed formulas or seeded random numbers, so the files are identical on every machine.
"""
import json
import os

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from .graph import IR_VERSION, OPSET  # noqa: E402  (IR 8 is readable by every ONNX Runtime since 1.10)

# Conv-heavy benchmark model: 8 × (Conv 64→64, 3×3, pad 1 + ReLU) on 96×96 maps.
HEAVY_LAYERS = 8
HEAVY_CHANNELS = 64
HEAVY_SIZE = 96


def _model(graph):
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="lipsync-modelkit")
    model.ir_version = IR_VERSION
    onnx.checker.check_model(model)
    return model


def add_model():
    """sum = a + b, float32 [batch, 4]."""
    a = helper.make_tensor_value_info("a", TensorProto.FLOAT, ["batch", 4])
    b = helper.make_tensor_value_info("b", TensorProto.FLOAT, ["batch", 4])
    out = helper.make_tensor_value_info("sum", TensorProto.FLOAT, ["batch", 4])
    graph = helper.make_graph([helper.make_node("Add", ["a", "b"], ["sum"])], "add", [a, b], [out])
    return _model(graph)


def conv_weights():
    """3→4 channels, 3×3. w[o,c,i,j] = ((o·27 + c·9 + i·3 + j) mod 7 − 3) / 4, bias[o] = o / 2.
    The Swift test uses the same formula to compute the expected output."""
    o, c, i, j = np.meshgrid(np.arange(4), np.arange(3), np.arange(3), np.arange(3), indexing="ij")
    weight = (((o * 27 + c * 9 + i * 3 + j) % 7) - 3).astype(np.float32) / 4
    bias = np.arange(4, dtype=np.float32) / 2
    return weight, bias


def conv_model():
    """y = Conv(x) with pads 1, float32 [n, 3, height, width] → [n, 4, height, width]."""
    weight, bias = conv_weights()
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["n", 3, "height", "width"])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, ["n", 4, "height", "width"])
    node = helper.make_node("Conv", ["x", "w", "b"], ["y"], kernel_shape=[3, 3], pads=[1, 1, 1, 1])
    graph = helper.make_graph(
        [node], "conv", [x], [y],
        initializer=[numpy_helper.from_array(weight, "w"), numpy_helper.from_array(bias, "b")])
    return _model(graph)


def half_model():
    """doubled = x · 2 in float16; widened = float32(x) + 1. x: float16 [n, 4]."""
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT16, ["n", 4])
    doubled = helper.make_tensor_value_info("doubled", TensorProto.FLOAT16, ["n", 4])
    widened = helper.make_tensor_value_info("widened", TensorProto.FLOAT, ["n", 4])
    nodes = [
        helper.make_node("Mul", ["x", "two"], ["doubled"]),
        helper.make_node("Cast", ["x"], ["x32"], to=TensorProto.FLOAT),
        helper.make_node("Add", ["x32", "one"], ["widened"]),
    ]
    graph = helper.make_graph(
        nodes, "half", [x], [doubled, widened],
        initializer=[numpy_helper.from_array(np.array(2, dtype=np.float16), "two"),
                     numpy_helper.from_array(np.array(1, dtype=np.float32), "one")])
    return _model(graph)


def types_model():
    """next_ids = ids + 1 (int64 [n]); scaled = float32(pixels) / 255 and pixels_copy (uint8 [h, w, 3])."""
    ids = helper.make_tensor_value_info("ids", TensorProto.INT64, ["n"])
    pixels = helper.make_tensor_value_info("pixels", TensorProto.UINT8, ["h", "w", 3])
    next_ids = helper.make_tensor_value_info("next_ids", TensorProto.INT64, ["n"])
    scaled = helper.make_tensor_value_info("scaled", TensorProto.FLOAT, ["h", "w", 3])
    copy = helper.make_tensor_value_info("pixels_copy", TensorProto.UINT8, ["h", "w", 3])
    nodes = [
        helper.make_node("Add", ["ids", "one"], ["next_ids"]),
        helper.make_node("Cast", ["pixels"], ["pixels32"], to=TensorProto.FLOAT),
        helper.make_node("Div", ["pixels32", "full"], ["scaled"]),
        helper.make_node("Identity", ["pixels"], ["pixels_copy"]),
    ]
    graph = helper.make_graph(
        nodes, "types", [ids, pixels], [next_ids, scaled, copy],
        initializer=[numpy_helper.from_array(np.array(1, dtype=np.int64), "one"),
                     numpy_helper.from_array(np.array(255, dtype=np.float32), "full")])
    return _model(graph)


def conv_heavy_model():
    """A stack of 3×3 convolutions for throughput; FLOPs are written to models.json."""
    rng = np.random.default_rng(0)
    c, size = HEAVY_CHANNELS, HEAVY_SIZE
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["n", c, size, size])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, ["n", c, size, size])
    nodes, inits, current = [], [], "x"
    for layer in range(HEAVY_LAYERS):
        w = (rng.standard_normal((c, c, 3, 3)) * np.sqrt(2.0 / (c * 9))).astype(np.float32)
        b = np.zeros(c, dtype=np.float32)
        inits += [numpy_helper.from_array(w, f"w{layer}"), numpy_helper.from_array(b, f"b{layer}")]
        conv_out = f"conv{layer}"
        nodes.append(helper.make_node("Conv", [current, f"w{layer}", f"b{layer}"], [conv_out], kernel_shape=[3, 3], pads=[1, 1, 1, 1]))
        current = "y" if layer == HEAVY_LAYERS - 1 else f"relu{layer}"
        nodes.append(helper.make_node("Relu", [conv_out], [current]))
    graph = helper.make_graph(nodes, "conv_heavy", [x], [y], initializer=inits)
    return _model(graph)


def heavy_flops_per_item():
    """Multiply-adds × 2 for one [1, 64, 96, 96] input (ReLU and bias ignored)."""
    c, size = HEAVY_CHANNELS, HEAVY_SIZE
    return 2 * HEAVY_LAYERS * c * c * 9 * size * size


MODELS = {
    "add.onnx": add_model,
    "conv.onnx": conv_model,
    "half.onnx": half_model,
    "types.onnx": types_model,
    "conv_heavy.onnx": conv_heavy_model,
}


def write_all(out_dir):
    os.makedirs(out_dir, exist_ok=True)
    for name, build in MODELS.items():
        path = os.path.join(out_dir, name)
        tmp = path + ".tmp"
        onnx.save(build(), tmp)
        os.replace(tmp, path)
    meta = {"conv_heavy": {"flops_per_item": heavy_flops_per_item(), "channels": HEAVY_CHANNELS, "size": HEAVY_SIZE}}
    with open(os.path.join(out_dir, "models.json"), "w") as handle:
        json.dump(meta, handle, indent=2)
    print(f"modelkit: wrote {len(MODELS)} test models to {out_dir}")
