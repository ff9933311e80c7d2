import FaceTracking
import Foundation
public import UserFacingErrors

/// Why a lip-sync render cannot be made.
public enum LipSyncError: Error, Equatable, Sendable, CustomStringConvertible {
    case emptySpeech
    case speechTooLong(seconds: Double, limit: Double)
    case noFrames
    case modelMismatch(String)
    /// A face box that does not lie inside its frame (the tracker clamps boxes, so this is a bug).
    case invalidBox(String)

    public var description: String {
        switch self {
        case .emptySpeech: "the speech is empty"
        case .speechTooLong(let seconds, let limit):
            String(format: "the speech lasts %.1f s, longer than the limit of %.1f s", seconds, limit)
        case .noFrames: "the video has no frames"
        case .modelMismatch(let reason): "the lip-sync models do not fit together: \(reason)"
        case .invalidBox(let reason): reason
        }
    }
}

extension LipSyncError: UserFacingError {
    /// Speech from the caller's phrase (400), an input without frames (422), or the
    /// server's models and boxes (500).
    public var code: String {
        switch self {
        case .speechTooLong, .emptySpeech: "invalid_text"
        case .noFrames: "invalid_media"
        case .invalidBox, .modelMismatch: "internal_error"
        }
    }

    public var httpStatus: Int {
        switch self {
        case .speechTooLong, .emptySpeech: 400
        case .noFrames: 422
        case .invalidBox, .modelMismatch: 500
        }
    }

    public var field: String? {
        switch self {
        case .speechTooLong, .emptySpeech: "word"
        case .noFrames: "user_video_gs"
        case .invalidBox, .modelMismatch: nil
        }
    }
}
