import Foundation
public import Media

/// Speech ready for the models, and how it was made.
public struct SpeechResult: Sendable {
    /// Post-processed: 16 kHz mono, silence trimmed, peak-normalised.
    public let audio: AudioBuffer
    public let engine: SpeechEngineID
    public let voice: String
    /// Wall time of the engine call.
    public let synthesisSeconds: Double
    /// Wall time of resampling, trimming and normalisation.
    public let postProcessingSeconds: Double
    /// Why the requested engine was not used, when a fallback happened.
    public let fallbackReason: String?
}

/// Chooses the engine for each request, validates the text, runs the engine and the
/// shared post-processing.
///
/// Fallback rules: an engine named in a request that is not configured is an error (a
/// request never silently changes engine because of a typo). When `fallbackToEspeak` is on,
/// a remote failure of Google TTS, or a language Piper has no voice for, is served by
/// espeak-ng instead and the result says why (`fallbackReason`). Text errors are never
/// retried with another engine.
public struct SpeechService: Sendable {
    public let defaultEngine: SpeechEngineID
    public let fallbackToEspeak: Bool
    public let textLimit: Int
    public let postProcessor: SpeechPostProcessor
    private let engines: [SpeechEngineID: any SpeechSynthesizer]

    public init(
        engines: [any SpeechSynthesizer], defaultEngine: SpeechEngineID = .espeak, fallbackToEspeak: Bool = true,
        textLimit: Int = SpeechText.defaultLimit, postProcessor: SpeechPostProcessor = SpeechPostProcessor()
    ) throws {
        var byID: [SpeechEngineID: any SpeechSynthesizer] = [:]
        for engine in engines { byID[engine.engine] = engine }
        guard byID[defaultEngine] != nil else { throw SpeechError.engineUnavailable(defaultEngine.rawValue) }
        self.engines = byID
        self.defaultEngine = defaultEngine
        self.fallbackToEspeak = fallbackToEspeak
        self.textLimit = textLimit
        self.postProcessor = postProcessor
    }

    /// Engines configured on this server.
    public var availableEngines: [SpeechEngineID] { SpeechEngineID.allCases.filter { engines[$0] != nil } }

    /// Every language code some configured engine speaks, sorted.
    public func supportedLanguages() async throws -> [String] {
        var codes = Set<String>()
        for engine in engines.values { codes.formUnion(try await engine.supportedLanguages()) }
        return codes.sorted()
    }

    public func synthesize(text: String, language: String, engine requested: SpeechEngineID? = nil, voice: String? = nil) async throws
        -> SpeechResult
    {
        let text = try SpeechText(text, limit: textLimit)
        let chosen = requested ?? defaultEngine
        guard let engine = engines[chosen] else { throw SpeechError.engineUnavailable(chosen.rawValue) }
        do {
            return try await run(engine, text: text.value, language: language, voice: voice, fallbackReason: nil)
        } catch let error as SpeechError where chosen != .espeak && fallbackToEspeak && Self.allowsFallback(error) {
            guard let espeak = engines[.espeak] else { throw error }
            return try await run(espeak, text: text.value, language: language, voice: nil, fallbackReason: error.description)
        }
    }

    private func run(_ engine: any SpeechSynthesizer, text: String, language: String, voice: String?, fallbackReason: String?) async throws
        -> SpeechResult
    {
        let clock = ContinuousClock()
        let start = clock.now
        let speech = try await engine.synthesize(text: text, language: language, voice: voice)
        let synthesized = clock.now
        let audio = try postProcessor.process(speech.audio)
        let done = clock.now
        return SpeechResult(
            audio: audio, engine: engine.engine, voice: speech.voice,
            synthesisSeconds: (synthesized - start).seconds, postProcessingSeconds: (done - synthesized).seconds,
            fallbackReason: fallbackReason)
    }

    private static func allowsFallback(_ error: SpeechError) -> Bool {
        switch error {
        case .remoteFailure, .unsupportedLanguage: true
        default: false
        }
    }
}
