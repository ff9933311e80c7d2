import Media
import Testing

@testable import Speech

@Suite struct SpeechPostProcessorTests {
    /// 0.5 s silence, 1 s tone, 0.5 s silence at 22 050 Hz.
    func padded() -> AudioBuffer {
        let rate = 22_050
        let tone = TestPattern.tone(frequency: 300, seconds: 1, sampleRate: rate, amplitude: 0.25).samples
        let silence = [Float](repeating: 0, count: rate / 2)
        return AudioBuffer(samples: silence + tone + silence, sampleRate: rate)
    }

    @Test func resamplesTrimsAndNormalises() throws {
        let processor = SpeechPostProcessor()
        let out = try processor.process(padded())
        #expect(out.sampleRate == 16_000)
        // 1 s of tone plus up to 30 ms margin on each side (plus one 10 ms frame of rounding).
        #expect(out.duration >= 1.0 && out.duration <= 1.08)
        #expect(abs((out.samples.map(abs).max() ?? 0) - 0.891) < 1e-4)
    }

    @Test func quietNoiseBelowThresholdIsTrimmed() throws {
        var buffer = padded()
        for i in 0..<2000 { buffer.samples[i] = 0.0001 * Float(i % 3) }  // −70 dB hiss
        let trimmed = try SpeechPostProcessor().trim(buffer)
        #expect(trimmed.duration < 1.1)
    }

    @Test func silenceIsAnError() {
        #expect(throws: SpeechError.silentOutput) {
            try SpeechPostProcessor().process(AudioBuffer(samples: [Float](repeating: 0, count: 4000), sampleRate: 16_000))
        }
        #expect(throws: SpeechError.silentOutput) { try SpeechPostProcessor().process(AudioBuffer(samples: [], sampleRate: 16_000)) }
    }
}
