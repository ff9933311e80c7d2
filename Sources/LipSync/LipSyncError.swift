import FaceTracking

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
        case .speechTooLong(let seconds, let limit): String(format: "the speech lasts %.1f s, longer than the limit of %.1f s", seconds, limit)
        case .noFrames: "the video has no frames"
        case .modelMismatch(let reason): "the lip-sync models do not fit together: \(reason)"
        case .invalidBox(let reason): reason
        }
    }
}
