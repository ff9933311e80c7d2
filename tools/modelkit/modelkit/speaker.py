"""FreeVC's speaker encoder (speaker_encoder/voice_encoder.py, from liusongxiang/ppg-vc) → ONNX.

Two graphs (../shared/reference/freevc.md §6):

* `speaker_mel`: 16 kHz waveform [1, samples] → [1, frames, 40] power mel spectrogram
  (n_fft 400, hop 160, periodic Hann, reflect-centred, Slaney 0–8000 Hz, no log),
  frames = 1 + samples/160 — librosa.feature.melspectrogram as librosa 0.8.1 ran it.
* `speaker_encoder`: partial-utterance mels [N, frames, 40] → [N, 256]: 3-layer LSTM (zero
  initial state), final hidden state of the top layer, Linear 256→256, ReLU, divided by
  its L2 norm.

Slicing the utterance into 160-frame partials (step 77) and averaging the partial
embeddings (then re-normalising) is done by the server.

`speaker_encoder_fp16` (`float16_variant`): the Linear runs in float16 with float16 weights;
the LSTM weights (95 % of the parameters) are stored in float16 and cast to float32 in the
graph, because ONNX Runtime's CPU LSTM kernel is float32-only; the recurrence, ReLU and
L2 normalisation stay float32, and so do the inputs and outputs.
"""
import numpy as np
from onnx import helper

from . import audio
from . import precision
from .statedict import StateDictError  # noqa: F401  (re-exported)
from .graph import GraphBuilder, tensor_info

SAMPLE_RATE = 16000
N_FFT = 400
HOP = 160
N_MELS = 40
LAYERS = 3


def build_mel():
    g = GraphBuilder("speaker_mel")
    x = g._op("Unsqueeze", ["waveform", g.constant(np.array([1], np.int64))], "channel")
    x = g._op("Pad", [x, g.constant(np.array([0, 0, N_FFT // 2, 0, 0, N_FFT // 2], np.int64))], "reflect", mode="reflect")
    spectrum = g.conv(x, audio.dft_kernels(N_FFT), None, stride=HOP, name="stft")
    bins = N_FFT // 2 + 1
    def part(start, end):
        return g._op("Slice", [spectrum, g.constant(np.array([start], np.int64)), g.constant(np.array([end], np.int64)),
                               g.constant(np.array([1], np.int64))], "part")
    real, imaginary = part(0, bins), part(bins, 2 * bins)
    power = g.add(g._op("Mul", [real, real], "re2"), g._op("Mul", [imaginary, imaginary], "im2"))
    basis = audio.mel_basis(SAMPLE_RATE, N_FFT, N_MELS, 0.0, SAMPLE_RATE / 2)
    mel = g._op("MatMul", [g.constant(basis, "mel_basis"), power], "mel")               # [1, 40, T]
    g.rename(g._op("Transpose", [mel], "frames_first", perm=[0, 2, 1]), "mel")
    return g.model(inputs=[tensor_info("waveform", [1, "samples"])], outputs=[tensor_info("mel", [1, "frames", N_MELS])],
                   doc="FreeVC speaker-encoder front end: power mel, 40 bands, 25 ms / 10 ms at 16 kHz.")


def _reorder_gates(array, hidden):
    """PyTorch LSTM rows (i, f, g, o) → ONNX (i, o, f, c)."""
    i, f, c, o = (array[k * hidden:(k + 1) * hidden] for k in range(4))
    return np.concatenate([i, o, f, c])


def build_encoder(state):
    for key in ["linear.weight", "linear.bias"] + [f"lstm.{p}_l{k}" for k in range(LAYERS) for p in
                                                    ("weight_ih", "weight_hh", "bias_ih", "bias_hh")]:
        if key not in state:
            raise StateDictError(f"not a speaker encoder: missing key '{key}' (the original loads with strict=False and would "
                                 "silently keep random weights)")
    hidden = state["lstm.weight_hh_l0"].shape[1]
    mel_bins = state["lstm.weight_ih_l0"].shape[1]
    g = GraphBuilder("speaker_encoder")
    x = g._op("Transpose", ["mels"], "time_first", perm=[1, 0, 2])                      # [frames, N, 40]
    last = None
    for k in range(LAYERS):
        w = _reorder_gates(state[f"lstm.weight_ih_l{k}"].astype(np.float32), hidden)[None]
        r = _reorder_gates(state[f"lstm.weight_hh_l{k}"].astype(np.float32), hidden)[None]
        b = np.concatenate([_reorder_gates(state[f"lstm.bias_ih_l{k}"].astype(np.float32), hidden),
                            _reorder_gates(state[f"lstm.bias_hh_l{k}"].astype(np.float32), hidden)])[None]
        y, y_h = f"lstm{k}_y", f"lstm{k}_h"
        g.nodes.append(helper.make_node("LSTM", [x, g.constant(w, f"lstm{k}.W"), g.constant(r, f"lstm{k}.R"), g.constant(b, f"lstm{k}.B")],
                                        [y, y_h], name=f"lstm{k}", hidden_size=hidden))
        x = g._op("Squeeze", [y, g.constant(np.array([1], np.int64))], "squeeze")        # [frames, N, H]
        last = y_h
    h = g._op("Squeeze", [last, g.constant(np.array([0], np.int64))], "final_hidden")    # [N, H]
    linear = g._op("Gemm", [h, g.constant(state["linear.weight"].astype(np.float32), "linear.weight"),
                            g.constant(state["linear.bias"].astype(np.float32), "linear.bias")], "linear", transB=1)
    embedding = g.relu(linear)
    norm = g._op("ReduceL2", [embedding], "norm", axes=[1], keepdims=1)
    g.rename(g._op("Div", [embedding, norm], "normalised"), "embedding")
    return g.model(inputs=[tensor_info("mels", ["batch", "frames", mel_bins])],
                   outputs=[tensor_info("embedding", ["batch", state["linear.weight"].shape[0]])],
                   doc="FreeVC speaker encoder: 3-layer LSTM → last hidden → Linear → ReLU → L2 normalise.")


def float16_variant(model):
    """`speaker_encoder_fp16`: float16 Gemm, float16-stored LSTM weights (see the module notes)."""
    return precision.mixed_float16_variant(model, ops=("Gemm",), stored=("LSTM",))


def random_state_dict(hidden=256, mel_bins=N_MELS, embedding=256, seed=0):
    rng = np.random.default_rng(seed)
    scale = 1 / np.sqrt(hidden)
    state = {}
    for k in range(LAYERS):
        inputs = mel_bins if k == 0 else hidden
        state[f"lstm.weight_ih_l{k}"] = rng.uniform(-scale, scale, (4 * hidden, inputs)).astype(np.float32)
        state[f"lstm.weight_hh_l{k}"] = rng.uniform(-scale, scale, (4 * hidden, hidden)).astype(np.float32)
        state[f"lstm.bias_ih_l{k}"] = rng.uniform(-scale, scale, 4 * hidden).astype(np.float32)
        state[f"lstm.bias_hh_l{k}"] = rng.uniform(-scale, scale, 4 * hidden).astype(np.float32)
    state["linear.weight"] = rng.uniform(-scale, scale, (embedding, hidden)).astype(np.float32)
    state["linear.bias"] = rng.uniform(-scale, scale, embedding).astype(np.float32)
    return state
