import Foundation
public import UserFacingErrors

/// Why the user's voice cannot be used or the speech converted.
public enum VoiceConversionError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The reference has too little voiced audio after trimming silence.
    case tooLittleVoice(seconds: Double, minimum: Double)
    case emptySpeech
    case speechTooLong(seconds: Double, limit: Double)
    case modelMismatch(String)

    public var description: String {
        switch self {
        case .tooLittleVoice(let seconds, let minimum):
            String(format: "the reference has %.2f s of voiced audio after trimming silence; at least %.1f s is needed", seconds, minimum)
        case .emptySpeech: "the speech to convert is empty"
        case .speechTooLong(let seconds, let limit):
            String(format: "the speech lasts %.1f s, longer than the limit of %.1f s", seconds, limit)
        case .modelMismatch(let reason): "the voice conversion models do not fit together: \(reason)"
        }
    }
}

extension VoiceConversionError: UserFacingError {
    /// Speech made from the caller's phrase (400), a clip with too little voice (422), or
    /// models that do not fit together (500).
    public var code: String {
        switch self {
        case .speechTooLong, .emptySpeech: "invalid_text"
        case .tooLittleVoice: "invalid_media"
        case .modelMismatch: "internal_error"
        }
    }

    public var httpStatus: Int {
        switch self {
        case .speechTooLong, .emptySpeech: 400
        case .tooLittleVoice: 422
        case .modelMismatch: 500
        }
    }

    public var field: String? {
        switch self {
        case .speechTooLong, .emptySpeech: "word"
        case .tooLittleVoice: "user_video_gs"
        case .modelMismatch: nil
        }
    }
}
