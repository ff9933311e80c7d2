"""FreeVC SynthesizerTrn inference path → ONNX (enc_p → reversed flow → dec).

From ../shared/reference/freevc.md §3 (OlaWod/FreeVC models.py, modules.py). The original
samples ε ~ N(0, 1) inside the prior encoder on every call; here ε is the explicit input
`noise` so the server draws it from a seeded generator and tests can pass fixed noise.
Weight norm (w = g·v/‖v‖ over every axis but 0 — for ConvTranspose1d that is the input
channel axis) is folded in float64.

Graph: `content` f32 [N, 1024, T] (WavLM-Large features), `speaker` f32 [N, 256]
(L2-normalised speaker embedding), `noise` f32 [N, 192, T] → `audio` f32 [N, 1, 320·T].
The WavLM content encoder and the speaker encoder are separate graphs (not yet converted).
"""
import numpy as np
from onnx import TensorProto

from .statedict import StateDictError  # noqa: F401  (re-exported)
from .graph import GraphBuilder, tensor_info

WN_KERNEL = 5
ENC_P_LAYERS = 16
FLOW_LAYERS = 4
N_FLOWS = 4
UPSAMPLE_RATES = [10, 8, 2, 2]
UPSAMPLE_KERNELS = [16, 16, 4, 4]
UPSAMPLE_INITIAL = 512
RESBLOCK_KERNELS = [3, 7, 11]
RESBLOCK_DILATIONS = [1, 3, 5]
LRELU_SLOPE = 0.1


def fold_weight_norm(state, prefix):
    """`prefix.weight` from `weight_g`/`weight_v` (norm over all axes but 0), or as stored."""
    if prefix + ".weight" in state:
        return state[prefix + ".weight"].astype(np.float32)
    try:
        g, v = state[prefix + ".weight_g"].astype(np.float64), state[prefix + ".weight_v"].astype(np.float64)
    except KeyError:
        raise StateDictError(f"missing key '{prefix}.weight_v' (or '{prefix}.weight')") from None
    norm = np.sqrt((v ** 2).sum(axis=tuple(range(1, v.ndim)), keepdims=True))
    return (g * v / norm).astype(np.float32)


def _get(state, key):
    if key not in state:
        raise StateDictError(f"not a FreeVC generator: missing key '{key}'")
    return state[key].astype(np.float32)


class Dims:
    """Channel widths read from the state_dict (the released model: 1024/192/192/256/512)."""

    def __init__(self, state):
        self.ssl = _get(state, "enc_p.pre.weight").shape[1]
        self.hidden = _get(state, "enc_p.pre.weight").shape[0]
        self.inter = _get(state, "enc_p.proj.weight").shape[0] // 2
        self.gin = _get(state, "dec.cond.weight").shape[1]
        self.upsample_initial = _get(state, "dec.conv_pre.weight").shape[0]


class _Builder:
    def __init__(self, state):
        self.state = state
        self.dims = Dims(state)
        self.g = GraphBuilder("freevc")

    def conv(self, x, prefix, padding=0, dilation=1, weight_norm=False, bias=True):
        weight = fold_weight_norm(self.state, prefix) if weight_norm else _get(self.state, prefix + ".weight")
        b = _get(self.state, prefix + ".bias") if bias else None
        return self.g.conv(x, weight, b, 1, padding, dilation, name=prefix)

    def slice_channels(self, x, start, end):
        g = self.g
        return g._op("Slice", [x, g.constant(np.array([start], np.int64)), g.constant(np.array([end], np.int64)),
                               g.constant(np.array([1], np.int64))], "slice")

    def leaky(self, x, slope):
        return self.g._op("LeakyRelu", [x], "lrelu", alpha=slope)

    def wn(self, x, prefix, layers, condition=None):
        """modules.WN: gated dilated convs with residual and skip sums."""
        g = self.g
        hidden = self.dims.hidden
        output = None
        for i in range(layers):
            a = self.conv(x, f"{prefix}.in_layers.{i}", padding=WN_KERNEL // 2, weight_norm=True)
            if condition is not None:
                a = g.add(a, self.slice_channels(condition, 2 * hidden * i, 2 * hidden * (i + 1)))
            t = g._op("Tanh", [self.slice_channels(a, 0, hidden)], "tanh")
            s = g.sigmoid(self.slice_channels(a, hidden, 2 * hidden))
            acts = g._op("Mul", [t, s], "gated")
            rs = self.conv(acts, f"{prefix}.res_skip_layers.{i}", weight_norm=True)
            if i < layers - 1:
                x = g.add(x, self.slice_channels(rs, 0, hidden))
                skip = self.slice_channels(rs, hidden, 2 * hidden)
            else:
                skip = rs
            output = skip if output is None else g.add(output, skip)
        return output

    def resblock(self, x, prefix, kernel):
        g = self.g
        for j, dilation in enumerate(RESBLOCK_DILATIONS):
            t = self.leaky(x, LRELU_SLOPE)
            t = self.conv(t, f"{prefix}.convs1.{j}", padding=dilation * (kernel - 1) // 2, dilation=dilation, weight_norm=True)
            t = self.leaky(t, LRELU_SLOPE)
            t = self.conv(t, f"{prefix}.convs2.{j}", padding=(kernel - 1) // 2, weight_norm=True)
            x = g.add(x, t)
        return x

    def build(self):
        g = self.g
        speaker = g._op("Unsqueeze", ["speaker", g.constant(np.array([2], np.int64))], "speaker3d")   # [N, 256, 1]
        # Prior encoder: z_p = m + ε·exp(logs).
        h = self.conv("content", "enc_p.pre")
        h = self.wn(h, "enc_p.enc", ENC_P_LAYERS)
        inter = self.dims.inter
        stats = self.conv(h, "enc_p.proj")
        mean, log_scale = self.slice_channels(stats, 0, inter), self.slice_channels(stats, inter, 2 * inter)
        z = g.add(mean, g._op("Mul", ["noise", g._op("Exp", [log_scale], "exp")], "scaled_noise"))
        # Flow in reverse: (Flip, coupling k) for k = 3…0.
        flip = g.constant(np.arange(inter - 1, -1, -1, dtype=np.int64), "flip_indices")
        half = inter // 2
        for k in reversed(range(N_FLOWS)):
            z = g._op("Gather", [z, flip], "flip", axis=1)
            prefix = f"flow.flows.{2 * k}"
            x0, x1 = self.slice_channels(z, 0, half), self.slice_channels(z, half, inter)
            hidden = self.conv(x0, f"{prefix}.pre")
            condition = self.conv(speaker, f"{prefix}.enc.cond_layer", weight_norm=True)
            hidden = self.wn(hidden, f"{prefix}.enc", FLOW_LAYERS, condition)
            m = self.conv(hidden, f"{prefix}.post")
            z = g.concat([x0, g._op("Sub", [x1, m], "sub")], axis=1)
        # HiFi-GAN generator.
        x = g.add(self.conv(z, "dec.conv_pre", padding=3), self.conv(speaker, "dec.cond"))
        for i, (rate, kernel) in enumerate(zip(UPSAMPLE_RATES, UPSAMPLE_KERNELS)):
            x = self.leaky(x, LRELU_SLOPE)
            weight = fold_weight_norm(self.state, f"dec.ups.{i}")
            x = g.conv_transpose(x, weight, _get(self.state, f"dec.ups.{i}.bias"), rate, (kernel - rate) // 2, 0, name=f"dec.ups.{i}")
            branches = [self.resblock(x, f"dec.resblocks.{3 * i + j}", k) for j, k in enumerate(RESBLOCK_KERNELS)]
            total = branches[0]
            for branch in branches[1:]:
                total = g.add(total, branch)
            x = g._op("Div", [total, g.constant(np.array(float(len(RESBLOCK_KERNELS)), np.float32))], "mrf_mean")
        x = self.leaky(x, 0.01)  # F.leaky_relu default slope before conv_post
        x = g._op("Tanh", [self.conv(x, "dec.conv_post", padding=3, bias=False)], "tanh_out")
        g.rename(x, "audio")
        return g.model(
            inputs=[tensor_info("content", ["batch", self.dims.ssl, "frames"]), tensor_info("speaker", ["batch", self.dims.gin]),
                    tensor_info("noise", ["batch", inter, "frames"])],
            outputs=[tensor_info("audio", ["batch", 1, "samples"])],
            doc="FreeVC SynthesizerTrn.infer with explicit prior noise: content [N,1024,T] (WavLM-Large last layer + "
                "final LayerNorm), speaker [N,256] (unit length), noise [N,192,T] ~ N(0,1) → audio [N,1,320·T] at 16 kHz.")


def build(state):
    """ONNX graph of SynthesizerTrn.infer from a net_g state_dict ('model' of freevc.pth).
    Widths are read from the weights (the tiny stand-in uses the same code); a missing key
    raises StateDictError naming it."""
    return _Builder(state).build()


def random_state_dict(ssl=1024, hidden=192, inter=192, gin=256, upsample_initial=512, seed=0):
    """Inference-path weights with the original's shapes (weight-normed layers as weight_g /
    weight_v), seeded; the released sizes by default."""
    rng = np.random.default_rng(seed)
    state = {}

    def plain(prefix, cout, cin, k, bias=True):
        state[prefix + ".weight"] = (rng.standard_normal((cout, cin, k)) / np.sqrt(cin * k)).astype(np.float32)
        if bias:
            state[prefix + ".bias"] = (rng.standard_normal(cout) * 0.01).astype(np.float32)

    def normed(prefix, shape, bias_size):
        state[prefix + ".weight_v"] = rng.standard_normal(shape).astype(np.float32)
        state[prefix + ".weight_g"] = (rng.uniform(0.5, 1.5, (shape[0], 1, 1)) * np.sqrt(1 / max(1, np.prod(shape[1:])))).astype(np.float32)
        state[prefix + ".bias"] = (rng.standard_normal(bias_size) * 0.01).astype(np.float32)

    def wn(prefix, layers, conditioned):
        if conditioned:
            normed(prefix + ".cond_layer", (2 * hidden * layers, gin, 1), 2 * hidden * layers)
        for i in range(layers):
            normed(f"{prefix}.in_layers.{i}", (2 * hidden, hidden, WN_KERNEL), 2 * hidden)
            width = 2 * hidden if i < layers - 1 else hidden
            normed(f"{prefix}.res_skip_layers.{i}", (width, hidden, 1), width)

    plain("enc_p.pre", hidden, ssl, 1)
    wn("enc_p.enc", ENC_P_LAYERS, False)
    plain("enc_p.proj", 2 * inter, hidden, 1)
    for k in range(N_FLOWS):
        plain(f"flow.flows.{2 * k}.pre", hidden, inter // 2, 1)
        wn(f"flow.flows.{2 * k}.enc", FLOW_LAYERS, True)
        plain(f"flow.flows.{2 * k}.post", inter // 2, hidden, 1)
    plain("dec.conv_pre", upsample_initial, inter, 7)
    plain("dec.cond", upsample_initial, gin, 1)
    channels = upsample_initial
    for i, kernel in enumerate(UPSAMPLE_KERNELS):
        normed(f"dec.ups.{i}", (channels, channels // 2, kernel), channels // 2)
        channels //= 2
        for j, k in enumerate(RESBLOCK_KERNELS):
            for part in ("convs1", "convs2"):
                for d in range(len(RESBLOCK_DILATIONS)):
                    normed(f"dec.resblocks.{3 * i + j}.{part}.{d}", (channels, channels, k), channels)
    plain("dec.conv_post", 1, channels, 7, bias=False)
    return state
