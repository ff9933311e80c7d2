"""Wav2Lip's audio front end as an ONNX graph: 16 kHz waveform → normalised mel.

Steps (../shared/reference/wav2lip.md §6, Rudrabha/Wav2Lip audio.py + hparams.py):
pre-emphasis y[n] = x[n] − 0.97·x[n−1]; STFT n_fft 800, hop 200, periodic Hann, centred
with reflect padding of 400; magnitude; Slaney mel basis (80 bands, 55–7600 Hz, Slaney
area normalisation); 20·log10(max(1e−5, ·)) − 20 dB; clip(0.08·S + 4, −4, 4).

The STFT is a strided Conv1d whose 802 kernels are the Hann-windowed cosine and sine
basis (real and imaginary parts of 401 bins), so ONNX Runtime computes it with its
convolution kernels. The mel basis is computed here in float64 exactly as librosa's
`filters.mel` does and stored as float32; fidelity/fidelity.py compares the result with
librosa itself.
"""
import numpy as np
from onnx import TensorProto

from .graph import GraphBuilder, tensor_info

SAMPLE_RATE = 16000
N_FFT = 800
HOP = 200
N_MELS = 80
FMIN = 55.0
FMAX = 7600.0
PREEMPHASIS = 0.97
MIN_LEVEL_DB = -100.0
REF_LEVEL_DB = 20.0
MAX_ABS_VALUE = 4.0


def hz_to_mel(frequencies):
    """Slaney mel scale (librosa htk=False): linear below 1 kHz, logarithmic above."""
    frequencies = np.asarray(frequencies, dtype=np.float64)
    f_sp = 200.0 / 3
    mels = frequencies / f_sp
    min_log_hz, min_log_mel, logstep = 1000.0, 1000.0 / f_sp, np.log(6.4) / 27.0
    above = frequencies >= min_log_hz
    mels = np.where(above, min_log_mel + np.log(np.maximum(frequencies, 1e-10) / min_log_hz) / logstep, mels)
    return mels


def mel_to_hz(mels):
    mels = np.asarray(mels, dtype=np.float64)
    f_sp = 200.0 / 3
    freqs = f_sp * mels
    min_log_hz, min_log_mel, logstep = 1000.0, 1000.0 / f_sp, np.log(6.4) / 27.0
    above = mels >= min_log_mel
    return np.where(above, min_log_hz * np.exp(logstep * (mels - min_log_mel)), freqs)


def mel_basis(sample_rate=SAMPLE_RATE, n_fft=N_FFT, n_mels=N_MELS, fmin=FMIN, fmax=FMAX):
    """[n_mels, 1 + n_fft/2] triangular filters with Slaney area normalisation (float32)."""
    fft_freqs = np.linspace(0, sample_rate / 2, 1 + n_fft // 2)
    mel_freqs = mel_to_hz(np.linspace(hz_to_mel(fmin), hz_to_mel(fmax), n_mels + 2))
    differences = np.diff(mel_freqs)
    ramps = mel_freqs[:, None] - fft_freqs[None, :]
    weights = np.zeros((n_mels, len(fft_freqs)))
    for i in range(n_mels):
        lower = -ramps[i] / differences[i]
        upper = ramps[i + 2] / differences[i + 1]
        weights[i] = np.maximum(0, np.minimum(lower, upper))
    weights *= (2.0 / (mel_freqs[2:n_mels + 2] - mel_freqs[:n_mels]))[:, None]
    return weights.astype(np.float32)


def dft_kernels(n_fft=N_FFT):
    """[2·(n_fft/2+1), 1, n_fft] Conv1d weights: windowed cos then −sin rows."""
    n = np.arange(n_fft)
    window = 0.5 - 0.5 * np.cos(2 * np.pi * n / n_fft)  # periodic Hann (scipy fftbins=True)
    k = np.arange(n_fft // 2 + 1)[:, None]
    angle = 2 * np.pi * k * n[None, :] / n_fft
    kernels = np.concatenate([np.cos(angle) * window, -np.sin(angle) * window])
    return kernels[:, None, :].astype(np.float32)


def build():
    g = GraphBuilder("wav2lip_mel")
    x = g._op("Unsqueeze", ["waveform", g.constant(np.array([1], np.int64))], "channel")          # [1, 1, L]
    # Pre-emphasis with x[−1] = 0: pad one zero on the left, then a 2-tap convolution.
    x = g._op("Pad", [x, g.constant(np.array([0, 0, 1, 0, 0, 0], np.int64))], "pad_left")
    x = g.conv(x, np.array([[[-PREEMPHASIS, 1.0]]], np.float32), None, name="preemphasis")
    # librosa center=True: reflect-pad n_fft/2 on both sides.
    x = g._op("Pad", [x, g.constant(np.array([0, 0, N_FFT // 2, 0, 0, N_FFT // 2], np.int64))], "reflect", mode="reflect")
    spectrum = g.conv(x, dft_kernels(), None, stride=HOP, name="stft")                             # [1, 802, T]
    bins = N_FFT // 2 + 1
    real = g._op("Slice", [spectrum, g.constant(np.array([0], np.int64)), g.constant(np.array([bins], np.int64)),
                           g.constant(np.array([1], np.int64))], "real")
    imaginary = g._op("Slice", [spectrum, g.constant(np.array([bins], np.int64)), g.constant(np.array([2 * bins], np.int64)),
                                g.constant(np.array([1], np.int64))], "imaginary")
    power = g.add(g._op("Mul", [real, real], "re2"), g._op("Mul", [imaginary, imaginary], "im2"))
    magnitude = g._op("Sqrt", [power], "magnitude")
    mel = g._op("MatMul", [g.constant(mel_basis(), "mel_basis"), magnitude], "mel")                # [1, 80, T]
    floor = g._op("Max", [mel, g.constant(np.array(10 ** (MIN_LEVEL_DB / 20), np.float32))], "floor")
    decibels = g._op("Mul", [g._op("Log", [floor], "ln"), g.constant(np.array(20 / np.log(10), np.float32))], "db")
    # 8·(S − ref + 100)/100 − 4 = 0.08·(dB − 20) + 4, clipped to ±4.
    scaled = g._op("Add", [g._op("Mul", [decibels, g.constant(np.array(2 * MAX_ABS_VALUE / -MIN_LEVEL_DB, np.float32))], "scale"),
                          g.constant(np.array(MAX_ABS_VALUE - 2 * MAX_ABS_VALUE * REF_LEVEL_DB / -MIN_LEVEL_DB, np.float32))], "shift")
    clipped = g._op("Clip", [scaled, g.constant(np.array(-MAX_ABS_VALUE, np.float32)), g.constant(np.array(MAX_ABS_VALUE, np.float32))], "clip")
    g.rename(clipped, "mel")
    return g.model(
        inputs=[tensor_info("waveform", [1, "samples"], TensorProto.FLOAT)],
        outputs=[tensor_info("mel", [1, N_MELS, "frames"], TensorProto.FLOAT)],
        doc="Wav2Lip audio front end: 16 kHz mono float waveform (more than 400 samples) → [1, 80, 1 + samples/200] "
            "normalised mel in [-4, 4].")
