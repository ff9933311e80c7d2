public import UserFacingErrors

/// Failures of the speech engines and of the text given to them, phrased for the caller.
public enum SpeechError: Error, Equatable, Sendable {
    /// libespeak-ng could not start (its data directory is missing or unreadable).
    case espeakUnavailable(String)
    case emptyText
    case textTooLong(characters: Int, limit: Int)
    /// The text contains control characters (other than tab and newline), at this offset.
    case controlCharacters(offset: Int)
    case unsupportedLanguage(String, supported: [String])
    /// A voice name the engine does not have.
    case voiceNotFound(engine: String, voice: String)
    /// The engine is not configured on this server.
    case engineUnavailable(String)
    /// A Piper voice whose files are missing, unreadable or disagree with each other.
    case invalidVoice(path: String, reason: String)
    /// Synthesis produced no audible sound.
    case silentOutput
    /// The speech would last longer than the engine's limit (synthesis was stopped there).
    case speechTooLong(limitSeconds: Double)
    /// The engine failed while synthesising.
    case synthesisFailed(engine: String, reason: String)
    /// A remote engine answered with an error or not at all; `retryable` for 429/5xx/timeouts.
    case remoteFailure(engine: String, status: Int?, message: String, retryable: Bool)
}

extension SpeechError: CustomStringConvertible {
    public var description: String {
        switch self {
        case .espeakUnavailable(let reason):
            "espeak-ng is unavailable: \(reason) (Debian: apt-get install espeak-ng-data)"
        case .emptyText: "the text is empty"
        case .textTooLong(let characters, let limit): "the text has \(characters) characters, more than the limit of \(limit)"
        case .controlCharacters(let offset): "the text contains a control character at position \(offset)"
        case .unsupportedLanguage(let language, let supported):
            "language '\(language)' is not supported; supported: \(supported.joined(separator: ", "))"
        case .voiceNotFound(let engine, let voice): "\(engine) has no voice named \(Self.quoted(voice))"
        case .engineUnavailable(let engine): "the speech engine '\(engine)' is not available on this server"
        case .invalidVoice(let path, let reason): "the voice \(path) cannot be used: \(reason)"
        case .silentOutput: "speech synthesis produced only silence: the engine cannot speak this text in this language"
        case .speechTooLong(let limit): "the text would take more than \(Int(limit)) s to speak"
        case .synthesisFailed(let engine, let reason): "\(engine) failed to synthesise: \(reason)"
        case .remoteFailure(let engine, let status, let message, _):
            "\(engine) failed" + (status.map { " with HTTP \($0)" } ?? "") + ": \(message)"
        }
    }

    /// A caller's string in a message: control characters replaced, at most 64 characters.
    static func quoted(_ text: String) -> String {
        let clean = String(text.unicodeScalars.map { $0.properties.generalCategory == .control ? "?" : Character($0) })
        return "'" + (clean.count > 64 ? clean.prefix(64) + "…" : clean) + "'"
    }
}

extension SpeechError: UserFacingError {
    /// The caller's text, language, engine or voice (400); an engine that failed (502).
    public var code: String {
        switch self {
        case .unsupportedLanguage: "unsupported_language"
        case .emptyText, .textTooLong, .controlCharacters, .silentOutput, .speechTooLong: "invalid_text"
        case .engineUnavailable, .voiceNotFound: "invalid_tts"
        default: "tts_failed"
        }
    }

    public var httpStatus: Int { code == "tts_failed" ? 502 : 400 }

    public var field: String? {
        switch self {
        case .unsupportedLanguage: "tts_lang"
        case .emptyText, .textTooLong, .controlCharacters, .silentOutput, .speechTooLong: "word"
        case .engineUnavailable: "tts_engine"
        case .voiceNotFound: "tts_voice"
        default: nil
        }
    }
}
