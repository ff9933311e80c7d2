"""Wav2Lip mel graph vs an independent float64 numpy implementation (np.fft). The check
against librosa itself is in fidelity/fidelity.py (librosa is not a modelkit dependency)."""
import unittest

import numpy as np
import onnxruntime as ort

from modelkit import audio


def numpy_reference(wave):
    emphasised = np.append(wave[0], wave[1:] - 0.97 * wave[:-1]).astype(np.float64)
    padded = np.pad(emphasised, 400, mode="reflect")
    frames = 1 + len(emphasised) // 200
    window = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(800) / 800)
    spectrum = np.stack([np.fft.rfft(padded[i * 200: i * 200 + 800] * window) for i in range(frames)], axis=1)
    mel = audio.mel_basis().astype(np.float64) @ np.abs(spectrum)
    db = 20 * np.log10(np.maximum(1e-5, mel)) - 20
    return np.clip(0.08 * (db + 100) - 4, -4, 4)


class MelFrontEnd(unittest.TestCase):
    def setUp(self):
        self.session = ort.InferenceSession(audio.build().SerializeToString(), providers=["CPUExecutionProvider"])

    def run_graph(self, wave):
        return self.session.run(["mel"], {"waveform": wave[None, :].astype(np.float32)})[0][0]

    def test_matches_numpy_fft_reference(self):
        rng = np.random.default_rng(5)
        t = np.arange(16000) / 16000
        wave = 0.4 * np.sin(2 * np.pi * 330 * t) + 0.02 * rng.standard_normal(t.size)
        wave[4000:6000] *= 1e-4
        result = self.run_graph(wave)
        reference = numpy_reference(wave.astype(np.float32))
        self.assertEqual(result.shape, (80, 81))
        self.assertLess(np.abs(result - reference).max(), 1e-4)

    def test_frame_count_and_silence(self):
        for samples in (401, 1600, 16000, 16123):
            result = self.run_graph(np.zeros(samples))
            self.assertEqual(result.shape, (80, 1 + samples // 200), samples)
            np.testing.assert_array_equal(result, -4)  # −100 dB floor → −4

    def test_mel_basis_is_slaney_normalised(self):
        basis = audio.mel_basis()
        self.assertEqual(basis.shape, (80, 401))
        self.assertTrue((basis >= 0).all())
        # Every filter is a triangle; Slaney area normalisation makes each integrate to ~1
        # over its span in Hz (2/(f_hi − f_lo) peak × half the span).
        frequencies = np.linspace(0, 8000, 401)
        areas = np.trapezoid(basis, frequencies, axis=1)
        np.testing.assert_allclose(areas[5:], 1, rtol=0.08)


if __name__ == "__main__":
    unittest.main()
