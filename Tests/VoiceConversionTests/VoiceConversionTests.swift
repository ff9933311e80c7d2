import Foundation
import Inference
import Logging
import Media
import TestFixtures
import Testing

@testable import VoiceConversion

enum VoiceFixtures {
    static var models: String { TestFixtures.models }

    static var environment: InferenceEnvironment { TestFixtures.inference }

    static func converter() throws -> VoiceConverter {
        let manifest = try ModelManifest(directory: models)
        func session(_ kind: String) throws -> InferenceSession {
            try InferenceSession(environment: environment, modelPath: manifest.path(of: kind))
        }
        return try VoiceConverter(
            embedder: SpeakerEmbedder(melSession: try session("speaker_mel"), encoderSession: try session("speaker_encoder")),
            content: try session("wavlm"), synthesizer: try session("freevc"))
    }

    /// `seconds` of a voiced-like signal (two tones with a slow envelope) inside silence.
    static func voice(seconds: Double, silence: Double = 0.5) -> AudioBuffer {
        let rate = 16_000
        let quiet = [Float](repeating: 0, count: Int(silence * Double(rate)))
        let voiced = (0..<Int(seconds * Double(rate))).map { i -> Float in
            let t = Double(i) / Double(rate)
            return Float(0.3 * (sin(2 * .pi * 140 * t) + 0.5 * sin(2 * .pi * 420 * t)) * (0.6 + 0.4 * sin(2 * .pi * 3 * t)))
        }
        return AudioBuffer(samples: quiet + voiced + quiet, sampleRate: rate)
    }
}

@Suite struct SilenceTrimmerTests {
    @Test func keepsTheVoicedSpan() {
        let audio = VoiceFixtures.voice(seconds: 1, silence: 1)
        let range = SilenceTrimmer().voicedRange(audio.samples)
        // Frames whose 2048-sample window reaches into the tone are voiced: 512-sample steps.
        #expect(range.lowerBound % 512 == 0)
        #expect(range.lowerBound >= 16_000 - 1536 && range.lowerBound <= 16_000)
        #expect(range.upperBound >= 32_000 && range.upperBound <= 32_000 + 1536)
    }

    /// As librosa: with every frame at the −100 dB floor, every frame is within 20 dB of the
    /// loudest, so nothing is trimmed (the converter rejects such a reference separately).
    @Test func pureSilenceIsKeptAsLibrosaDoes() throws {
        #expect(SilenceTrimmer().voicedRange([Float](repeating: 0, count: 8000)) == 0..<8000)
        #expect(SilenceTrimmer().voicedRange([]).isEmpty)
        let converter = try VoiceFixtures.converter()
        #expect(throws: VoiceConversionError.tooLittleVoice(seconds: 0, minimum: 1)) {
            try converter.speakerEmbedding(of: AudioBuffer(samples: [Float](repeating: 0, count: 48_000), sampleRate: 16_000))
        }
    }
}

@Suite struct SpeakerEmbedderTests {
    /// compute_partial_slices(n, rate=1.3, min_coverage=0.75), worked by hand.
    @Test func partialSlicesFollowTheOriginal() {
        #expect(SpeakerEmbedder.partialRanges(sampleCount: 16_000) == [0..<160])
        #expect(SpeakerEmbedder.partialRanges(sampleCount: 48_000) == [0..<160, 77..<237, 154..<314])
        // 40 000 samples: the third partial would cover 60 % of its span → dropped.
        #expect(SpeakerEmbedder.partialRanges(sampleCount: 40_000) == [0..<160, 77..<237])
    }

    @Test func embeddingIsUnitLength() throws {
        let converter = try VoiceFixtures.converter()
        let embedding = try converter.speakerEmbedding(of: VoiceFixtures.voice(seconds: 2))
        #expect(embedding.count == 256)
        let norm = embedding.reduce(0) { $0 + $1 * $1 }.squareRoot()
        #expect(abs(norm - 1) < 1e-4)
    }

    @Test func tooLittleVoiceIsAnError() throws {
        let converter = try VoiceFixtures.converter()
        let error = #expect(throws: VoiceConversionError.self) {
            try converter.speakerEmbedding(of: VoiceFixtures.voice(seconds: 0.3, silence: 1))
        }
        guard case .tooLittleVoice(let seconds, 1.0)? = error else {
            Issue.record("got \(String(describing: error))")
            return
        }
        #expect(seconds > 0.2 && seconds < 0.6)
    }
}

@Suite struct VoiceConverterTests {
    @Test func seededConversionIsRepeatable() throws {
        let converter = try VoiceFixtures.converter()
        let embedding = try converter.speakerEmbedding(of: VoiceFixtures.voice(seconds: 2))
        let speech = TestPattern.tone(frequency: 200, seconds: 1, sampleRate: 22_050)
        let a = try converter.convert(speech, embedding: embedding, seed: 42)
        let b = try converter.convert(speech, embedding: embedding, seed: 42)
        let c = try converter.convert(speech, embedding: embedding, seed: 43)
        #expect(a.audio.sampleRate == 16_000)
        #expect(a.audio.samples.count == 320 * ((16_000 - 400) / 320 + 1))
        #expect(a.audio == b.audio)
        #expect(a.audio != c.audio)
        #expect(a.timings.content > 0 && a.timings.synthesis > 0)
    }

    @Test func longSpeechIsConvertedInPiecesAndLoudnessMatched() throws {
        var converter = try VoiceFixtures.converter()
        converter.windowSeconds = 1
        let embedding = try converter.speakerEmbedding(of: VoiceFixtures.voice(seconds: 2))
        let speech = VoiceFixtures.voice(seconds: 2.5, silence: 0.1)
        #expect(VoiceConverter.pieces(of: speech.samples, window: 16_000).count == 3)
        let result = try converter.convert(speech, embedding: embedding, seed: 1, referenceRMS: 0.1)
        #expect(abs(Double(result.audio.samples.count) - Double(speech.samples.count)) < 1600)
        let rms = VoiceConverter.rms(result.audio.samples)
        let peak = result.audio.samples.map(abs).max() ?? 0
        #expect(peak <= 0.99 + 1e-6)
        #expect(abs(rms - 0.1) < 0.01 || peak > 0.98)
    }

    @Test func emptyAndOverlongSpeech() throws {
        var converter = try VoiceFixtures.converter()
        #expect(throws: VoiceConversionError.emptySpeech) {
            try converter.convert(AudioBuffer(samples: [], sampleRate: 16_000), embedding: [Float](repeating: 0.0625, count: 256), seed: 0)
        }
        converter.maxSpeechSeconds = 1
        #expect(throws: VoiceConversionError.speechTooLong(seconds: 2, limit: 1)) {
            try converter.convert(
                AudioBuffer(samples: [Float](repeating: 0.1, count: 32_000), sampleRate: 16_000),
                embedding: [Float](repeating: 0.0625, count: 256), seed: 0)
        }
    }

    /// A synthesizer whose content width differs from WavLM's is refused when the stage is built.
    @Test func mismatchedModelsAreRefused() throws {
        let manifest = try ModelManifest(directory: VoiceFixtures.models)
        func session(_ kind: String) throws -> InferenceSession {
            try InferenceSession(environment: VoiceFixtures.environment, modelPath: manifest.path(of: kind))
        }
        let embedder = SpeakerEmbedder(melSession: try session("speaker_mel"), encoderSession: try session("speaker_encoder"))
        // The mel front end of Wav2Lip stands in for a wrong content model (it has no 'content' output).
        let error = #expect(throws: VoiceConversionError.self) {
            try VoiceConverter(embedder: embedder, content: try session("wav2lip_mel"), synthesizer: try session("freevc"))
        }
        guard case .modelMismatch(let reason)? = error else {
            Issue.record("got \(String(describing: error))")
            return
        }
        #expect(reason.contains("the synthesizer takes 64"))
    }

    @Test func seededNormalIsStandard() {
        var a = SeededNormal(seed: 7)
        var b = SeededNormal(seed: 7)
        let xs = (0..<20_000).map { _ in a.next() }
        #expect((0..<20_000).map { _ in b.next() } == xs)
        let mean = xs.reduce(0, +) / Float(xs.count)
        let variance = xs.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Float(xs.count)
        #expect(abs(mean) < 0.03 && abs(variance - 1) < 0.05)
    }
}
