import Media

/// The embedded default engine: libespeak-ng, offline. Calls are serialised through the
/// process's `EspeakRuntime` actor (espeak-ng is not thread-safe).
public struct EspeakSynthesizer: SpeechSynthesizer {
    public let engine = SpeechEngineID.espeak
    /// Words per minute, 80–450 (espeak-ng's normal is 175).
    public let rate: Int
    /// Base pitch, 0–100 (50 is normal).
    public let pitch: Int
    private let runtime: EspeakRuntime

    public init(runtime: EspeakRuntime = .shared, rate: Int = 175, pitch: Int = 50) {
        self.runtime = runtime
        self.rate = rate
        self.pitch = pitch
    }

    public func supportedLanguages() async throws -> [String] {
        LanguageCatalog.supportedCodes(available: try await runtime.languages())
    }

    /// `voice`, when given, is an espeak-ng voice name (e.g. `en-gb`, `ko`); otherwise the
    /// language code is mapped to one (`en` → `en-us`, `zh-CN` → `cmn`…).
    public func synthesize(text: String, language: String, voice: String?) async throws -> SynthesizedSpeech {
        let voiceName = try await resolveVoice(language: language, voice: voice)
        let audio = try await runtime.synthesize(text, voiceName: voiceName, rate: rate, pitch: pitch)
        return SynthesizedSpeech(audio: audio, voice: voiceName)
    }

    /// The espeak-ng voice for a language, or the given voice when it is one of the
    /// installed voices (`voiceNotFound` otherwise), or `unsupportedLanguage`.
    func resolveVoice(language: String, voice: String?) async throws -> String {
        if let voice {
            guard try await runtime.installedVoice(voice) != nil else { throw SpeechError.voiceNotFound(engine: "espeak-ng", voice: voice) }
            return voice
        }
        let available = try await runtime.languages()
        guard let name = LanguageCatalog.espeakLanguage(for: language, available: available) else {
            throw SpeechError.unsupportedLanguage(language, supported: LanguageCatalog.supportedCodes(available: available))
        }
        return name
    }
}
