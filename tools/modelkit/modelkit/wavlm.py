"""WavLM (Large, as FreeVC uses it) → ONNX content extractor.

From ../shared/reference/freevc.md §4 (OlaWod/FreeVC wavlm/WavLM.py, modules.py): raw
16 kHz waveform, NOT normalised (FreeVC never normalises) → conv feature extractor (7
blocks: conv without bias, LayerNorm over channels, exact GELU) → LayerNorm → projection →
positional grouped conv (weight norm over every axis but the kernel one; last frame
dropped; GELU) added → pre-LN transformer layers with gated relative position bias →
final encoder LayerNorm. Output: the last layer's features, which is what FreeVC's
`get_content` takes.

Graph: `waveform` f32 [1, samples] (≥ 400) → `content` f32 [1, dim, frames],
frames = ⌊(samples − 400)/320⌋ + 1. Batch 1 (one utterance per call). The relative
position buckets are computed in the graph for the dynamic length, with the original's
float32 logarithm and truncation. Widths and layer counts are read from the weights.

`build(state, consume=True)` removes each tensor from `state` as it becomes an initializer,
so converting the 1.26 GB checkpoint holds one copy of the weights, not two.
"""
import math

import numpy as np
from onnx import TensorProto

from .statedict import StateDictError  # noqa: F401  (re-exported)
from .graph import GraphBuilder, tensor_info

CONV_LAYERS = [(10, 5)] + [(3, 2)] * 4 + [(2, 2)] * 2  # (kernel, stride); total stride 320, receptive field 400
NUM_BUCKETS = 320
MAX_DISTANCE = 800
EPS = 1e-5


def _get(state, key, consume=False):
    if key not in state:
        raise StateDictError(f"not a WavLM model: missing key '{key}'")
    value = state.pop(key) if consume else state[key]
    return value.astype(np.float32, copy=False)


class _Builder:
    def __init__(self, state, consume=False):
        self.state = state
        self.consume = consume
        self.g = GraphBuilder("wavlm")
        self.dim = _get(state, "post_extract_proj.weight").shape[0]
        self.heads = _get(state, "encoder.layers.0.self_attn.grep_a").shape[1]
        self.layers = 1 + max(int(k.split(".")[2]) for k in state if k.startswith("encoder.layers."))

    def weight(self, key):
        """A tensor of the state_dict (taken out of it when consuming)."""
        return _get(self.state, key, self.consume)

    def const(self, value, name=None):
        return self.g.constant(np.asarray(value), name)

    def op(self, kind, inputs, **attributes):
        return self.g._op(kind, inputs, kind.lower(), **attributes)

    def gelu(self, x):
        """Exact (erf) GELU, as torch's default."""
        inner = self.op("Erf", [self.op("Div", [x, self.const(np.float32(math.sqrt(2)))])])
        return self.op("Mul", [self.op("Mul", [x, self.const(np.float32(0.5))]), self.op("Add", [inner, self.const(np.float32(1))])])

    def layer_norm(self, x, prefix):
        return self.op("LayerNormalization", [x, self.const(self.weight(prefix + ".weight"), prefix + ".weight"),
                                              self.const(self.weight(prefix + ".bias"), prefix + ".bias")], axis=-1, epsilon=EPS)

    def linear(self, x, prefix):
        return self.op("Gemm", [x, self.const(self.weight(prefix + ".weight"), prefix + ".weight"),
                                self.const(self.weight(prefix + ".bias"), prefix + ".bias")], transB=1)

    def relative_bias(self, frames):
        """[heads, T, T] from layer 0's bucket table (reference §4.4)."""
        half = NUM_BUCKETS // 2
        exact = half // 2
        positions = self.op("Range", [self.const(np.int64(0)), frames, self.const(np.int64(1))])
        relative = self.op("Sub", [self.op("Unsqueeze", [positions, self.const(np.array([0], np.int64))]),
                                   self.op("Unsqueeze", [positions, self.const(np.array([1], np.int64))])])   # j − i
        offset = self.op("Mul", [self.op("Cast", [self.op("Greater", [relative, self.const(np.int64(0))])], to=TensorProto.INT64),
                                 self.const(np.int64(half))])
        distance = self.op("Abs", [relative])
        small = self.op("Less", [distance, self.const(np.int64(exact))])
        safe = self.op("Cast", [self.op("Max", [distance, self.const(np.int64(1))])], to=TensorProto.FLOAT)
        scaled = self.op("Mul", [self.op("Div", [self.op("Log", [self.op("Div", [safe, self.const(np.float32(exact))])]),
                                                 self.const(np.float32(math.log(MAX_DISTANCE / exact)))]),
                                 self.const(np.float32(half - exact))])
        large = self.op("Min", [self.op("Add", [self.op("Cast", [scaled], to=TensorProto.INT64), self.const(np.int64(exact))]),
                                self.const(np.int64(half - 1))])
        bucket = self.op("Add", [offset, self.op("Where", [small, distance, large])])
        table = self.const(self.weight("encoder.layers.0.self_attn.relative_attention_bias.weight"), "relative_attention_bias")
        values = self.op("Gather", [table, bucket], axis=0)                                             # [T, T, H]
        return self.op("Transpose", [values], perm=[2, 0, 1])

    def attention(self, x, prefix, bias, frames):
        heads, head_dim = self.heads, self.dim // self.heads
        shape = self.op("Concat", [self.op("Unsqueeze", [frames, self.const(np.array([0], np.int64))]),
                                   self.const(np.array([heads, head_dim], np.int64))], axis=0)
        def split_heads(t):
            return self.op("Transpose", [self.op("Reshape", [t, shape])], perm=[1, 0, 2])            # [H, T, d]
        q = split_heads(self.op("Mul", [self.linear(x, prefix + ".q_proj"), self.const(np.float32(head_dim ** -0.5))]))
        k = split_heads(self.linear(x, prefix + ".k_proj"))
        v = split_heads(self.linear(x, prefix + ".v_proj"))
        # Gate from the layer's normalised input, per head: grep_linear → 2×4 → sum → sigmoid.
        grep = self.op("Add", [self.op("MatMul", [self.op("Reshape", [x, shape]),
                                                  self.const(self.weight(prefix + ".grep_linear.weight").T.copy())]),
                               self.const(self.weight(prefix + ".grep_linear.bias"))])               # [T, H, 8]
        grouped = self.op("Reshape", [grep, self.op("Concat", [self.op("Unsqueeze", [frames, self.const(np.array([0], np.int64))]),
                                                               self.const(np.array([heads, 2, 4], np.int64))], axis=0)])
        gates = self.op("Sigmoid", [self.op("ReduceSum", [grouped, self.const(np.array([3], np.int64))], keepdims=0)])  # [T, H, 2]
        gate_a = self.op("Gather", [gates, self.const(np.int64(0))], axis=2)
        gate_b = self.op("Gather", [gates, self.const(np.int64(1))], axis=2)
        grep_a = self.const(self.weight(prefix + ".grep_a").reshape(-1))
        gate = self.op("Add", [self.op("Mul", [gate_a, self.op("Sub", [self.op("Mul", [gate_b, grep_a]), self.const(np.float32(1))])]),
                               self.const(np.float32(2))])                                                # [T, H]
        gated = self.op("Mul", [self.op("Unsqueeze", [self.op("Transpose", [gate], perm=[1, 0]), self.const(np.array([2], np.int64))]), bias])
        scores = self.op("Add", [self.op("MatMul", [q, self.op("Transpose", [k], perm=[0, 2, 1])]), gated])
        context = self.op("MatMul", [self.op("Softmax", [scores], axis=-1), v])                           # [H, T, d]
        merged = self.op("Reshape", [self.op("Transpose", [context], perm=[1, 0, 2]),
                                     self.op("Concat", [self.op("Unsqueeze", [frames, self.const(np.array([0], np.int64))]),
                                                        self.const(np.array([self.dim], np.int64))], axis=0)])
        return self.linear(merged, prefix + ".out_proj")

    def build(self):
        g = self.g
        x = self.op("Unsqueeze", ["waveform", self.const(np.array([1], np.int64))])                     # [1, 1, L]
        for i, (kernel, stride) in enumerate(CONV_LAYERS):
            x = g.conv(x, self.weight(f"feature_extractor.conv_layers.{i}.0.weight"), None, stride, 0, name=f"conv{i}")
            x = self.op("Transpose", [x], perm=[0, 2, 1])
            x = self.layer_norm(x, f"feature_extractor.conv_layers.{i}.2.1")
            x = self.gelu(self.op("Transpose", [x], perm=[0, 2, 1]))
        x = self.op("Squeeze", [self.op("Transpose", [x], perm=[0, 2, 1]), self.const(np.array([0], np.int64))])  # [T, 512]
        x = self.linear(self.layer_norm(x, "layer_norm"), "post_extract_proj")                          # [T, dim]
        frames = self.op("Gather", [self.op("Shape", [x]), self.const(np.int64(0))], axis=0)

        # Positional convolution (weight norm over the kernel axis 2), drop the last frame, GELU.
        # In float64, one kernel tap at a time (not four float64 copies of the 8.4 M weights at once).
        v = self.weight("encoder.pos_conv.0.weight_v")
        gain = self.weight("encoder.pos_conv.0.weight_g").astype(np.float64).reshape(-1)
        norm = np.sqrt(np.einsum("oik,oik->k", v, v, dtype=np.float64))
        weight = np.empty(v.shape, np.float32)
        for tap in range(v.shape[2]):
            weight[:, :, tap] = gain[tap] * v[:, :, tap].astype(np.float64) / norm[tap]
        kernel = weight.shape[2]
        groups = self.dim // weight.shape[1]
        channels_first = self.op("Unsqueeze", [self.op("Transpose", [x], perm=[1, 0]), self.const(np.array([0], np.int64))])
        conv = g.conv(channels_first, weight, self.weight("encoder.pos_conv.0.bias"), 1, kernel // 2, groups=groups, name="pos_conv")
        conv = self.op("Slice", [conv, self.const(np.array([0], np.int64)), self.op("Unsqueeze", [frames, self.const(np.array([0], np.int64))]),
                                 self.const(np.array([2], np.int64))])
        x = self.op("Add", [x, self.op("Transpose", [self.op("Squeeze", [self.gelu(conv), self.const(np.array([0], np.int64))])], perm=[1, 0])])

        bias = self.relative_bias(frames)
        for layer in range(self.layers):
            prefix = f"encoder.layers.{layer}"
            x = self.op("Add", [x, self.attention(self.layer_norm(x, prefix + ".self_attn_layer_norm"), prefix + ".self_attn", bias, frames)])
            hidden = self.gelu(self.linear(self.layer_norm(x, prefix + ".final_layer_norm"), prefix + ".fc1"))
            x = self.op("Add", [x, self.linear(hidden, prefix + ".fc2")])
        x = self.layer_norm(x, "encoder.layer_norm")
        g.rename(self.op("Unsqueeze", [self.op("Transpose", [x], perm=[1, 0]), self.const(np.array([0], np.int64))]), "content")
        return g.model(inputs=[tensor_info("waveform", [1, "samples"])], outputs=[tensor_info("content", [1, self.dim, "frames"])],
                       doc="WavLM content features as FreeVC's get_content: last layer + final LayerNorm, no input normalisation.")


def build(state, consume=False):
    """The ONNX model of a WavLM state_dict; with `consume`, tensors are removed from `state` as they are used."""
    return _Builder(state, consume).build()


def random_state_dict(dim=1024, ffn=4096, heads=16, layers=24, conv_dim=512, seed=0):
    rng = np.random.default_rng(seed)
    state = {}

    def normal(shape, scale):
        return (rng.standard_normal(shape) * scale).astype(np.float32)

    def norm(prefix, size):
        state[prefix + ".weight"] = rng.uniform(0.8, 1.2, size).astype(np.float32)
        state[prefix + ".bias"] = normal(size, 0.02)

    for i, (kernel, _) in enumerate(CONV_LAYERS):
        cin = 1 if i == 0 else conv_dim
        state[f"feature_extractor.conv_layers.{i}.0.weight"] = normal((conv_dim, cin, kernel), 1 / math.sqrt(cin * kernel))
        norm(f"feature_extractor.conv_layers.{i}.2.1", conv_dim)
    norm("layer_norm", conv_dim)
    state["post_extract_proj.weight"] = normal((dim, conv_dim), 1 / math.sqrt(conv_dim))
    state["post_extract_proj.bias"] = normal(dim, 0.02)
    state["encoder.pos_conv.0.weight_v"] = normal((dim, dim // 16, 128), 1.0)
    state["encoder.pos_conv.0.weight_g"] = rng.uniform(0.5, 1.5, (1, 1, 128)).astype(np.float32)
    state["encoder.pos_conv.0.bias"] = normal(dim, 0.02)
    for layer in range(layers):
        prefix = f"encoder.layers.{layer}"
        for name in ("q_proj", "k_proj", "v_proj", "out_proj"):
            state[f"{prefix}.self_attn.{name}.weight"] = normal((dim, dim), 1 / math.sqrt(dim))
            state[f"{prefix}.self_attn.{name}.bias"] = normal(dim, 0.02)
        if layer == 0:
            state[f"{prefix}.self_attn.relative_attention_bias.weight"] = normal((NUM_BUCKETS, heads), 0.5)
        state[f"{prefix}.self_attn.grep_linear.weight"] = normal((8, dim // heads), 1 / math.sqrt(dim // heads))
        state[f"{prefix}.self_attn.grep_linear.bias"] = normal(8, 0.02)
        state[f"{prefix}.self_attn.grep_a"] = np.ones((1, heads, 1, 1), np.float32)
        norm(f"{prefix}.self_attn_layer_norm", dim)
        norm(f"{prefix}.final_layer_norm", dim)
        state[f"{prefix}.fc1.weight"] = normal((ffn, dim), 1 / math.sqrt(dim))
        state[f"{prefix}.fc1.bias"] = normal(ffn, 0.02)
        state[f"{prefix}.fc2.weight"] = normal((dim, ffn), 1 / math.sqrt(ffn))
        state[f"{prefix}.fc2.bias"] = normal(dim, 0.02)
    norm("encoder.layer_norm", dim)
    state["mask_emb"] = normal(dim, 1.0)
    return state
