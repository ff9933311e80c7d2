"""S3FD face detector (the face-alignment port Wav2Lip uses) → ONNX, any input size.

Architecture from ../shared/reference/s3fd.md §2 (Rudrabha/Wav2Lip
face_detection/detection/sfd/net_s3fd.py), written once as data and used for the graph,
the state_dict check and stand-in weights.

Graph input `image`: uint8 [N, H, W, 3], **RGB** (as Wav2Lip hands frames to the detector
after flipping OpenCV's BGR). The graph reproduces the preprocessing quirk exactly:
subtract [104, 117, 123] in RGB order (the VGG means were defined for BGR), then NCHW
float32. Outputs, per level 1…6: `scores{i}` [N, 2, h, w] = softmax over [background,
face] (level 1 after its 3-way background max-out) and `boxes{i}` [N, 4, h, w] = raw
(dx, dy, dw, dh) regressions. Prior boxes, variance decoding (0.1, 0.2), thresholds
(0.05 / NMS 0.3 / 0.5) and the choice of the box are the server's (reference §4); their
constants are in the manifest.
"""
import numpy as np
from onnx import TensorProto, helper

from .statedict import StateDictError, check_keys  # noqa: F401  (StateDictError re-exported)
from .graph import GraphBuilder, tensor_info

# VGG16 trunk + extras: (name, cin, cout, kernel, stride, padding); "pool" = max-pool 2×2.
TRUNK = [
    ("conv1_1", 3, 64, 3, 1, 1), ("conv1_2", 64, 64, 3, 1, 1), "pool",
    ("conv2_1", 64, 128, 3, 1, 1), ("conv2_2", 128, 128, 3, 1, 1), "pool",
    ("conv3_1", 128, 256, 3, 1, 1), ("conv3_2", 256, 256, 3, 1, 1), ("conv3_3", 256, 256, 3, 1, 1), "tap", "pool",
    ("conv4_1", 256, 512, 3, 1, 1), ("conv4_2", 512, 512, 3, 1, 1), ("conv4_3", 512, 512, 3, 1, 1), "tap", "pool",
    ("conv5_1", 512, 512, 3, 1, 1), ("conv5_2", 512, 512, 3, 1, 1), ("conv5_3", 512, 512, 3, 1, 1), "tap", "pool",
    # fc6: 3×3 with padding 3 and no dilation — grows the map by 4 (kept as the weights expect).
    ("fc6", 512, 1024, 3, 1, 3), ("fc7", 1024, 1024, 1, 1, 0), "tap",
    ("conv6_1", 1024, 256, 1, 1, 0), ("conv6_2", 256, 512, 3, 2, 1), "tap",
    ("conv7_1", 512, 128, 1, 1, 0), ("conv7_2", 128, 256, 3, 2, 1), "tap",
]
# Per tapped level: (head prefix, L2Norm name or None, channels, conf channels).
LEVELS = [
    ("conv3_3_norm", "conv3_3_norm", 256, 4),
    ("conv4_3_norm", "conv4_3_norm", 512, 2),
    ("conv5_3_norm", "conv5_3_norm", 512, 2),
    ("fc7", None, 1024, 2),
    ("conv6_2", None, 512, 2),
    ("conv7_2", None, 256, 2),
]
MEANS_RGB_ORDER = [104.0, 117.0, 123.0]
L2NORM_EPS = 1e-10
# Post-processing constants (reference §4), exported to the manifest.
POSTPROCESSING = {
    "strides": [4, 8, 16, 32, 64, 128], "anchor_scale": 4, "variances": [0.1, 0.2],
    "candidate_threshold": 0.05, "nms_iou": 0.3, "score_threshold": 0.5, "box_rounding": "truncate",
    "input": "uint8 NHWC RGB; means [104,117,123] subtracted in RGB order inside the graph",
}


def _scale(c, divisor):
    return c if c in (3, 2, 4) else max(1, c // divisor)


def expected_shapes(divisor=1):
    shapes = {}
    for layer in TRUNK:
        if isinstance(layer, tuple):
            name, cin, cout, k, _, _ = layer
            shapes[f"{name}.weight"] = (_scale(cout, divisor), _scale(cin, divisor), k, k)
            shapes[f"{name}.bias"] = (_scale(cout, divisor),)
    for head, norm, channels, conf in LEVELS:
        c = _scale(channels, divisor)
        if norm:
            shapes[f"{norm}.weight"] = (c,)
        shapes[f"{head}_mbox_conf.weight"] = (conf, c, 3, 3)
        shapes[f"{head}_mbox_conf.bias"] = (conf,)
        shapes[f"{head}_mbox_loc.weight"] = (4, c, 3, 3)
        shapes[f"{head}_mbox_loc.bias"] = (4,)
    return shapes


def check_state_dict(state, divisor=1, source="checkpoint"):
    check_keys(state, expected_shapes(divisor), "an S3FD detector", source)


def detect_divisor(state):
    width = state.get("conv1_1.weight")
    return 1 if width is None or width.shape[0] == 64 else max(1, 64 // width.shape[0])


def random_state_dict(divisor=1, seed=0):
    rng = np.random.default_rng(seed)
    state = {}
    for key, shape in expected_shapes(divisor).items():
        if key.endswith("norm.weight"):
            state[key] = rng.uniform(4, 10, shape).astype(np.float32)
        elif key.endswith(".weight"):
            state[key] = (rng.standard_normal(shape) * np.sqrt(2.0 / np.prod(shape[1:]))).astype(np.float32)
        else:
            state[key] = (rng.standard_normal(shape) * 0.05).astype(np.float32)
    return state


def build(state, divisor=None):
    divisor = divisor or detect_divisor(state)
    check_state_dict(state, divisor)
    g = GraphBuilder("s3fd")
    x = g._op("Cast", ["image"], "cast", to=TensorProto.FLOAT)
    x = g._op("Sub", [x, g.constant(np.array(MEANS_RGB_ORDER, dtype=np.float32), "means")], "sub")
    x = g._op("Transpose", [x], "nchw", perm=[0, 3, 1, 2])
    taps = []
    for layer in TRUNK:
        if layer == "pool":
            x = g._op("MaxPool", [x], "pool", kernel_shape=[2, 2], strides=[2, 2])
        elif layer == "tap":
            taps.append(x)
        else:
            name, _, _, _, stride, padding = layer
            x = g.relu(g.conv(x, state[f"{name}.weight"], state[f"{name}.bias"], stride, padding, name=name))
    outputs = []
    for index, ((head, norm, _, conf_channels), tap) in enumerate(zip(LEVELS, taps), start=1):
        if norm:
            # y = x / (sqrt(Σc x²) + 1e-10) · weight[c] — epsilon after the root.
            sum_squares = g._op("ReduceSumSquare", [tap], "sumsq", axes=[1], keepdims=1)
            denominator = g._op("Add", [g._op("Sqrt", [sum_squares], "sqrt"), g.constant(np.array(L2NORM_EPS, np.float32))], "eps")
            tap = g._op("Mul", [g._op("Div", [tap, denominator], "div"),
                                g.constant(state[f"{norm}.weight"].reshape(1, -1, 1, 1).astype(np.float32), f"{norm}.weight")], "scale")
        conf = g.conv(tap, state[f"{head}_mbox_conf.weight"], state[f"{head}_mbox_conf.bias"], 1, 1, name=f"{head}_mbox_conf")
        loc = g.conv(tap, state[f"{head}_mbox_loc.weight"], state[f"{head}_mbox_loc.bias"], 1, 1, name=f"{head}_mbox_loc")
        if conf_channels == 4:  # level 1: background = max of the first three channels
            parts = [f"{head}_split_{i}" for i in range(4)]
            g.nodes.append(helper.make_node("Split", [conf, g.constant(np.array([1, 1, 1, 1], np.int64))], parts, axis=1))
            background = g._op("Max", parts[:3], "maxout")
            conf = g.concat([background, parts[3]], axis=1)
        g.rename(g._op("Softmax", [conf], "softmax", axis=1), f"scores{index}")
        g.rename(loc, f"boxes{index}")
        outputs += [tensor_info(f"scores{index}", ["batch", 2, f"h{index}", f"w{index}"]),
                    tensor_info(f"boxes{index}", ["batch", 4, f"h{index}", f"w{index}"])]
    return g.model(
        inputs=[tensor_info("image", ["batch", "height", "width", 3], TensorProto.UINT8)], outputs=outputs,
        doc="S3FD (face-alignment port) as Wav2Lip runs it: uint8 RGB in; per level softmax scores "
            "[background, face] and raw box regressions out.")


def macs(height, width, divisor=1):
    """Multiply-adds at an input size (reference §3: 73.04 GMAC at 640×360)."""
    total, h, w = 0, height, width
    taps = []
    for layer in TRUNK:
        if layer == "pool":
            h, w = h // 2, w // 2
        elif layer == "tap":
            taps.append((h, w))
        else:
            _, cin, cout, k, stride, padding = layer
            h, w = (h + 2 * padding - k) // stride + 1, (w + 2 * padding - k) // stride + 1
            total += h * w * _scale(cin, divisor) * _scale(cout, divisor) * k * k
    for (head, _, channels, conf), (h, w) in zip(LEVELS, taps):
        total += h * w * _scale(channels, divisor) * (conf + 4) * 9
    return total
