"""Wav2Lip generator → ONNX.

The architecture is written once, as data (`ARCHITECTURE`), from
../shared/reference/wav2lip.md §3–4 (Rudrabha/Wav2Lip models/wav2lip.py, conv.py). The same
description drives the graph builder, the state_dict check (missing / extra / mis-shaped
keys are named) and the random stand-in weights, so they cannot drift apart.

Graph: inputs `mel` [N, 1, 80, 16] and `face` [N, 6, 96, 96] (BGR, /255, masked half
first), output `prediction` [N, 3, 96, 96] in (0, 1), BGR. BatchNorm (eps 1e-5) is folded
into each convolution; residual adds stay before the ReLU.
"""
from dataclasses import dataclass

import numpy as np
from onnx import TensorProto

from .statedict import StateDictError, check_keys  # noqa: F401  (StateDictError re-exported)
from .graph import GraphBuilder, fold_batchnorm, tensor_info

BN_EPS = 1e-5
# Face crop side and mel window (reference/wav2lip.md §1, §7).
FACE_SIZE = 96
MEL_BINS = 80
MEL_STEP = 16


@dataclass(frozen=True)
class Block:
    """Conv2d (+BN, optional residual, ReLU) or Conv2dTranspose (+BN, ReLU)."""
    cin: int
    cout: int
    kernel: int
    stride: object = 1
    padding: int = 1
    residual: bool = False
    transposed: bool = False
    output_padding: int = 0


def C(cin, cout, k=3, s=1, p=1, residual=False):
    return Block(cin, cout, k, s, p, residual)


def R(c):
    return Block(c, c, 3, 1, 1, True)


def T(cin, cout, s, p, op):
    return Block(cin, cout, 3, s, p, transposed=True, output_padding=op)


ARCHITECTURE = {
    "face_encoder_blocks": [
        [C(6, 16, 7, 1, 3)],
        [C(16, 32, 3, 2, 1), R(32), R(32)],
        [C(32, 64, 3, 2, 1), R(64), R(64), R(64)],
        [C(64, 128, 3, 2, 1), R(128), R(128)],
        [C(128, 256, 3, 2, 1), R(256), R(256)],
        [C(256, 512, 3, 2, 1), R(512)],
        [C(512, 512, 3, 1, 0), C(512, 512, 1, 1, 0)],
    ],
    "audio_encoder": [
        C(1, 32), R(32), R(32), C(32, 64, 3, (3, 1), 1), R(64), R(64), C(64, 128, 3, 3, 1), R(128), R(128),
        C(128, 256, 3, (3, 2), 1), R(256), C(256, 512, 3, 1, 0), C(512, 512, 1, 1, 0),
    ],
    "face_decoder_blocks": [
        [C(512, 512, 1, 1, 0)],
        [T(1024, 512, 1, 0, 0), R(512)],
        [T(1024, 512, 2, 1, 1), R(512), R(512)],
        [T(768, 384, 2, 1, 1), R(384), R(384)],
        [T(512, 256, 2, 1, 1), R(256), R(256)],
        [T(320, 128, 2, 1, 1), R(128), R(128)],
        [T(160, 64, 2, 1, 1), R(64), R(64)],
    ],
    "output_block": [C(80, 32)],  # then output_block.1: plain 1×1 conv 32→3 + sigmoid
}
FIXED_CHANNELS = {1, 3, 6}  # mel, output and face channels never scale


def _scale(c, divisor):
    return c if c in FIXED_CHANNELS else max(1, c // divisor)


def blocks(divisor=1):
    """(state_dict prefix, Block) for every custom block, channels divided by `divisor`
    (8 gives the tiny stand-in; every concatenation stays consistent)."""
    def scaled(block):
        return Block(_scale(block.cin, divisor), _scale(block.cout, divisor), block.kernel, block.stride, block.padding,
                     block.residual, block.transposed, block.output_padding)
    result = []
    for group in ("face_encoder_blocks", "face_decoder_blocks"):
        for i, stage in enumerate(ARCHITECTURE[group]):
            for j, block in enumerate(stage):
                result.append((f"{group}.{i}.{j}", scaled(block)))
    for i, block in enumerate(ARCHITECTURE["audio_encoder"]):
        result.append((f"audio_encoder.{i}", scaled(block)))
    result.append(("output_block.0", scaled(ARCHITECTURE["output_block"][0])))
    return result


def expected_shapes(divisor=1):
    """state_dict key → shape, as the original model defines them (352 tensors at full size)."""
    shapes = {}
    for prefix, block in blocks(divisor):
        k = block.kernel
        weight = (block.cin, block.cout, k, k) if block.transposed else (block.cout, block.cin, k, k)
        shapes[f"{prefix}.conv_block.0.weight"] = weight
        shapes[f"{prefix}.conv_block.0.bias"] = (block.cout,)
        for name in ("weight", "bias", "running_mean", "running_var"):
            shapes[f"{prefix}.conv_block.1.{name}"] = (block.cout,)
        shapes[f"{prefix}.conv_block.1.num_batches_tracked"] = ()
    last = _scale(32, divisor)
    shapes["output_block.1.weight"] = (3, last, 1, 1)
    shapes["output_block.1.bias"] = (3,)
    return shapes


def check_state_dict(state, divisor=1, source="checkpoint"):
    check_keys(state, expected_shapes(divisor), "a Wav2Lip generator", source)


def detect_divisor(state):
    """1 for the released model, 8 for the tiny stand-in (from the first conv's width)."""
    width = state.get("face_encoder_blocks.0.0.conv_block.0.weight")
    return 1 if width is None or width.shape[0] == 16 else max(1, 16 // width.shape[0])


def random_state_dict(divisor=1, seed=0):
    """Weights with the original shapes: He-scaled convolutions (fan-in per output pixel)
    and BatchNorm statistics near identity, so activations stay in range through 50 blocks."""
    rng = np.random.default_rng(seed)
    transposed = {prefix for prefix, block in blocks(divisor) if block.transposed}
    state = {}
    for key, shape in expected_shapes(divisor).items():
        prefix = key.split(".conv_block")[0]
        if key.endswith("num_batches_tracked"):
            state[key] = np.array(0, dtype=np.int64)
        elif key.endswith("conv_block.0.weight") or key == "output_block.1.weight":
            fan_in = shape[0] * shape[2] * shape[3] if prefix in transposed else int(np.prod(shape[1:]))
            state[key] = (rng.standard_normal(shape) * np.sqrt(2.0 / fan_in)).astype(np.float32)
        elif key.endswith("running_var"):
            state[key] = rng.uniform(0.5, 1.5, shape).astype(np.float32)
        elif key.endswith("conv_block.1.weight"):
            state[key] = rng.uniform(0.8, 1.2, shape).astype(np.float32)
        else:
            state[key] = (rng.standard_normal(shape) * 0.05).astype(np.float32)
    return state


def build(state, divisor=None, dtype=TensorProto.FLOAT):
    """ONNX model of the generator from a state_dict (already without `module.`)."""
    divisor = divisor or detect_divisor(state)
    check_state_dict(state, divisor)
    g = GraphBuilder("wav2lip")
    specs = dict(blocks(divisor))

    def block(x, prefix):
        spec = specs[prefix]
        get = lambda name: state[f"{prefix}.conv_block.{name}"]
        weight, bias = fold_batchnorm(get("0.weight"), get("0.bias"), get("1.weight"), get("1.bias"),
                                      get("1.running_mean"), get("1.running_var"), BN_EPS, transposed=spec.transposed)
        if spec.transposed:
            y = g.conv_transpose(x, weight, bias, spec.stride, spec.padding, spec.output_padding, name=prefix)
        else:
            y = g.conv(x, weight, bias, spec.stride, spec.padding, name=prefix)
        if spec.residual:
            y = g.add(y, x)
        return g.relu(y)

    # Audio path → [N, 512, 1, 1] embedding.
    audio = "mel"
    for i in range(len(ARCHITECTURE["audio_encoder"])):
        audio = block(audio, f"audio_encoder.{i}")
    # Face encoder: keep every stage's output for the skips.
    features, x = [], "face"
    for i, stage in enumerate(ARCHITECTURE["face_encoder_blocks"]):
        for j in range(len(stage)):
            x = block(x, f"face_encoder_blocks.{i}.{j}")
        features.append(x)
    # Decoder from the audio embedding; concatenate [decoder output, encoder feature].
    x = audio
    for i, stage in enumerate(ARCHITECTURE["face_decoder_blocks"]):
        for j in range(len(stage)):
            x = block(x, f"face_decoder_blocks.{i}.{j}")
        x = g.concat([x, features.pop()], axis=1)
    x = block(x, "output_block.0")
    x = g.conv(x, state["output_block.1.weight"].astype(np.float32), state["output_block.1.bias"].astype(np.float32), name="output_block.1")
    g.rename(g.sigmoid(x), "prediction")
    return g.model(
        inputs=[tensor_info("mel", ["batch", 1, MEL_BINS, MEL_STEP], dtype), tensor_info("face", ["batch", 6, FACE_SIZE, FACE_SIZE], dtype)],
        outputs=[tensor_info("prediction", ["batch", 3, FACE_SIZE, FACE_SIZE], dtype)],
        doc="Wav2Lip generator (BatchNorm folded). mel: 80×16 chunk in [-4, 4]; face: BGR/255, masked lower half in "
            "channels 0-2, reference in 3-5; prediction: BGR in (0, 1).")


def flops_per_item(divisor=1):
    """2 × multiply-adds of one 96×96 face (reference/wav2lip.md §3 counts 3.967 GMAC at full size)."""
    total = 0
    def out_size(size, block):
        h, w = size
        sh, sw = block.stride if isinstance(block.stride, tuple) else (block.stride, block.stride)
        if block.transposed:
            return ((h - 1) * sh - 2 * block.padding + block.kernel + block.output_padding,
                    (w - 1) * sw - 2 * block.padding + block.kernel + block.output_padding)
        return ((h + 2 * block.padding - block.kernel) // sh + 1, (w + 2 * block.padding - block.kernel) // sw + 1)
    spec = dict(blocks(divisor))
    size = (MEL_BINS, MEL_STEP)
    for i in range(len(ARCHITECTURE["audio_encoder"])):
        b = spec[f"audio_encoder.{i}"]
        new = out_size(size, b)
        total += new[0] * new[1] * b.cin * b.cout * b.kernel ** 2
        size = new
    size = (FACE_SIZE, FACE_SIZE)
    for i, stage in enumerate(ARCHITECTURE["face_encoder_blocks"]):
        for j in range(len(stage)):
            b = spec[f"face_encoder_blocks.{i}.{j}"]
            new = out_size(size, b)
            total += new[0] * new[1] * b.cin * b.cout * b.kernel ** 2
            size = new
    size = (1, 1)
    for i, stage in enumerate(ARCHITECTURE["face_decoder_blocks"]):
        for j in range(len(stage)):
            b = spec[f"face_decoder_blocks.{i}.{j}"]
            new = out_size(size, b)
            pixels = size[0] * size[1] if b.transposed else new[0] * new[1]
            total += pixels * b.cin * b.cout * b.kernel ** 2
            size = new
    b = spec["output_block.0"]
    total += FACE_SIZE * FACE_SIZE * (b.cin * b.cout * 9 + b.cout * 3)
    return 2 * total
