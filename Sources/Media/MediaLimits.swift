/// Bounds on what the server accepts, so one upload cannot exhaust memory or time.
/// Defaults suit selfie clips (3–10 s, up to 4K).
public struct MediaLimits: Sendable, Equatable, Codable {
    /// Largest input file in bytes (default 100 MB).
    public var maxFileBytes: Int
    /// Longest duration in seconds (default 60 s).
    public var maxDurationSeconds: Double
    /// Largest width or height in pixels (default 4096).
    public var maxDimension: Int
    /// Most video frames (default 3600: 60 s at 60 fps).
    public var maxFrameCount: Int

    public init(
        maxFileBytes: Int = 100_000_000, maxDurationSeconds: Double = 60,
        maxDimension: Int = 4096, maxFrameCount: Int = 3600
    ) {
        self.maxFileBytes = maxFileBytes
        self.maxDurationSeconds = maxDurationSeconds
        self.maxDimension = maxDimension
        self.maxFrameCount = maxFrameCount
    }
}
