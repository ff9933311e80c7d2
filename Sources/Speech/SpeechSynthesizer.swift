public import Media

/// Which text-to-speech engine made (or should make) the audio.
public enum SpeechEngineID: String, Sendable, CaseIterable, Codable {
    /// libespeak-ng in process: offline, always available, the default.
    case espeak
    /// Piper/VITS neural voices (ONNX) from a configured directory.
    case piper
    /// Google Cloud Text-to-Speech over its REST API (needs an API key or token).
    case google
    /// Google Translate's public text-to-speech endpoint, as gTTS calls it: the original
    /// Python server's engine. Opt-in (`GTTS_ENABLED`): it sends the text to Google's public
    /// endpoint, without an API key or any service agreement.
    case gtts
}

/// Audio straight from an engine, with the voice that spoke it.
public struct SynthesizedSpeech: Sendable {
    /// Mono Float32 at the engine's own rate.
    public let audio: AudioBuffer
    public let voice: String
}

/// A text-to-speech engine.
public protocol SpeechSynthesizer: Sendable {
    var engine: SpeechEngineID { get }
    /// Client language codes this engine can speak.
    func supportedLanguages() async throws -> [String]
    /// Speaks `text` (already validated) in `language` (a client code such as `ko`), with
    /// `voice` if given (an engine-specific voice name), else the language's default voice.
    func synthesize(text: String, language: String, voice: String?) async throws -> SynthesizedSpeech
}
