"""FreeVC speaker encoder graphs against independent numpy implementations (a PyTorch-order
LSTM and an FFT power mel); the comparison with the original class is in
fidelity/freevc_fidelity.py."""
import os
import tempfile
import unittest

import numpy as np
import onnxruntime as ort

from modelkit import audio, convert, speaker

FIXTURES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fixtures")


def numpy_lstm(state, mels, layers=3):
    def sigmoid(x):
        return 1 / (1 + np.exp(-x))
    x = mels.astype(np.float64)
    for k in range(layers):
        w, r = state[f"lstm.weight_ih_l{k}"], state[f"lstm.weight_hh_l{k}"]
        b = state[f"lstm.bias_ih_l{k}"] + state[f"lstm.bias_hh_l{k}"]
        hidden = r.shape[1]
        h = np.zeros((x.shape[0], hidden))
        c = np.zeros((x.shape[0], hidden))
        outputs = []
        for t in range(x.shape[1]):
            gates = x[:, t] @ w.T + h @ r.T + b
            i, f, g, o = (gates[:, j * hidden:(j + 1) * hidden] for j in range(4))  # PyTorch order
            c = sigmoid(f) * c + sigmoid(i) * np.tanh(g)
            h = sigmoid(o) * np.tanh(c)
            outputs.append(h)
        x = np.stack(outputs, axis=1)
    embedding = np.maximum(0, h @ state["linear.weight"].T + state["linear.bias"])
    return embedding / np.linalg.norm(embedding, axis=1, keepdims=True)


class SpeakerEncoder(unittest.TestCase):
    def test_lstm_graph_matches_numpy(self):
        state = speaker.random_state_dict(hidden=16, embedding=16, seed=3)
        session = ort.InferenceSession(speaker.build_encoder(state).SerializeToString(), providers=["CPUExecutionProvider"])
        mels = np.random.default_rng(0).uniform(0, 2, (2, 30, 40)).astype(np.float32)
        result = session.run(["embedding"], {"mels": mels})[0]
        np.testing.assert_allclose(result, numpy_lstm(state, mels), atol=1e-5)

    def test_released_size(self):
        self.assertEqual(sum(v.size for v in speaker.random_state_dict().values()), 1_423_616)

    def test_mel_matches_numpy_fft(self):
        wave = (0.3 * np.sin(2 * np.pi * 200 * np.arange(8000) / 16000)).astype(np.float32)
        session = ort.InferenceSession(speaker.build_mel().SerializeToString(), providers=["CPUExecutionProvider"])
        mel = session.run(["mel"], {"waveform": wave[None, :]})[0][0]
        padded = np.pad(wave.astype(np.float64), 200, mode="reflect")
        window = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(400) / 400)
        frames = 1 + len(wave) // 160
        power = np.stack([np.abs(np.fft.rfft(padded[i * 160:i * 160 + 400] * window)) ** 2 for i in range(frames)])
        expected = power @ audio.mel_basis(16000, 400, 40, 0.0, 8000).astype(np.float64).T
        self.assertEqual(mel.shape, (frames, 40))
        self.assertLess(np.abs(mel - expected).max() / expected.max(), 1e-5)

    def test_missing_tensor_is_an_error(self):
        with tempfile.TemporaryDirectory() as out:
            with self.assertRaisesRegex(convert.ConversionError, "missing key 'linear.weight'.*strict=False"):
                convert.convert_speaker_encoder(os.path.join(FIXTURES, "wav2lip_tiny_zip.pth"), out)


if __name__ == "__main__":
    unittest.main()
