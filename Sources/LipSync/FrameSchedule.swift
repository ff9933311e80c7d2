/// How source frames are reused when the speech is longer than the video.
public enum FrameOrder: String, Sendable, Equatable, CaseIterable, Codable {
    /// Forward then backward (0 1 2 … n−1 n−2 … 1 0 1 …): no jump cut. The default.
    case pingPong = "pingpong"
    /// Restart from frame 0, as the original does (`i % n`).
    case loop
}

/// Which source frame each output frame shows.
public struct FrameSchedule: Sendable, Equatable {
    public let sourceIndices: [Int]

    /// `outputCount` frames drawn from `sourceCount` available ones. When there are more
    /// source frames than needed, the first `outputCount` are used (the rest are dropped,
    /// as in the original).
    public init(outputCount: Int, sourceCount: Int, order: FrameOrder) {
        guard sourceCount > 0 else {
            sourceIndices = []
            return
        }
        sourceIndices = (0..<outputCount).map { i in
            guard sourceCount > 1 else { return 0 }
            switch order {
            case .loop:
                return i % sourceCount
            case .pingPong:
                let period = 2 * sourceCount - 2
                let phase = i % period
                return phase < sourceCount ? phase : period - phase
            }
        }
    }

    /// Source frames 0..<n that must be decoded.
    public var sourceFramesNeeded: Int { (sourceIndices.max() ?? -1) + 1 }
}
