import Media
import Speech
import Testing

/// A remote engine that always fails as Google TTS would on an outage.
struct FailingRemoteEngine: SpeechSynthesizer {
    let engine = SpeechEngineID.google
    func supportedLanguages() async throws -> [String] { ["ko", "en"] }
    func synthesize(text: String, language: String, voice: String?) async throws -> SynthesizedSpeech {
        throw SpeechError.remoteFailure(engine: "google", status: 503, message: "service unavailable", retryable: true)
    }
}

@Suite struct SpeechServiceTests {
    @Test func defaultEngineProducesModelReadyAudio() async throws {
        let service = try SpeechService(engines: [EspeakSynthesizer()])
        let result = try await service.synthesize(text: "안녕하세요", language: "ko")
        #expect(result.engine == .espeak)
        #expect(result.voice == "ko")
        #expect(result.audio.sampleRate == 16_000)
        #expect(result.fallbackReason == nil)
        #expect(result.synthesisSeconds > 0)
    }

    @Test func textIsValidatedFirst() async throws {
        let service = try SpeechService(engines: [EspeakSynthesizer()], textLimit: 5)
        await #expect(throws: SpeechError.emptyText) { try await service.synthesize(text: "   ", language: "ko") }
        await #expect(throws: SpeechError.textTooLong(characters: 6, limit: 5)) {
            try await service.synthesize(text: "abcdef", language: "en")
        }
    }

    @Test func unconfiguredEngineIsAnError() async throws {
        let service = try SpeechService(engines: [EspeakSynthesizer()])
        await #expect(throws: SpeechError.engineUnavailable("piper")) {
            try await service.synthesize(text: "hi", language: "en", engine: .piper)
        }
        #expect(throws: SpeechError.engineUnavailable("google")) {
            try SpeechService(engines: [EspeakSynthesizer()], defaultEngine: .google)
        }
    }

    @Test func remoteFailureFallsBackToEspeak() async throws {
        let service = try SpeechService(engines: [EspeakSynthesizer(), FailingRemoteEngine()], defaultEngine: .google)
        let result = try await service.synthesize(text: "hello", language: "en")
        #expect(result.engine == .espeak)
        #expect(result.fallbackReason == "google failed with HTTP 503: service unavailable")
    }

    @Test func fallbackCanBeTurnedOff() async throws {
        let service = try SpeechService(
            engines: [EspeakSynthesizer(), FailingRemoteEngine()], defaultEngine: .google, fallbackToEspeak: false)
        await #expect(throws: SpeechError.remoteFailure(engine: "google", status: 503, message: "service unavailable", retryable: true)) {
            try await service.synthesize(text: "hello", language: "en")
        }
    }

    @Test func piperWithoutTheLanguageFallsBack() async throws {
        let piper = try PiperSynthesizer(directory: SpeechFixtures.piperDirectory, environment: SpeechFixtures.environment)
        let service = try SpeechService(engines: [EspeakSynthesizer(), piper], defaultEngine: .piper)
        let korean = try await service.synthesize(text: "안녕하세요", language: "ko")
        #expect(korean.engine == .piper)
        let german = try await service.synthesize(text: "guten Tag", language: "de")
        #expect(german.engine == .espeak)
        #expect(german.fallbackReason?.contains("language 'de' is not supported") == true)
    }
}
