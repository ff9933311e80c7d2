import Media
import Testing

@Suite struct AudioResamplerTests {
    @Test func ttsRateToModelRate() throws {
        let tts = SyntheticMedia.tone(frequency: 250, seconds: 1.5, sampleRate: 22_050)
        let model = try AudioResampler.resample(tts, to: 16_000)
        #expect(model.sampleRate == 16_000)
        #expect(abs(model.samples.count - 24_000) <= 8)
        #expect(abs(SyntheticMedia.frequency(of: model) - 250) < 0.5)
    }

    @Test func sameRateIsUnchanged() throws {
        let tone = SyntheticMedia.tone(frequency: 250, seconds: 0.1, sampleRate: 16_000)
        #expect(try AudioResampler.resample(tone, to: 16_000) == tone)
    }

    @Test func invalidRates() {
        let tone = SyntheticMedia.tone(frequency: 250, seconds: 0.1, sampleRate: 16_000)
        #expect(throws: MediaError.self) { try AudioResampler.resample(tone, to: 0) }
        #expect(throws: MediaError.self) { try AudioResampler.resample(AudioBuffer(samples: [0, 1], sampleRate: 0), to: 16_000) }
    }
}
