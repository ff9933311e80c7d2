/// An exact frame rate or time base, as FFmpeg keeps it (e.g. 30000/1001 for 29.97 fps).
public struct Rational: Sendable, Equatable, Hashable, Codable, CustomStringConvertible {
    public let numerator: Int
    public let denominator: Int

    public init(_ numerator: Int, _ denominator: Int) {
        self.numerator = numerator
        self.denominator = denominator
    }

    public var value: Double { denominator == 0 ? 0 : Double(numerator) / Double(denominator) }
    public var description: String { "\(numerator)/\(denominator)" }
}

/// The video stream of a file.
public struct VideoStreamInfo: Sendable, Equatable, Codable {
    /// FFmpeg codec name, e.g. "h264", "vp9", "hevc".
    public var codec: String
    /// Stored (coded) size, before display rotation.
    public var width: Int
    public var height: Int
    /// Clockwise rotation a player applies to show the picture upright: 0, 90, 180 or 270
    /// (phone video stores it as a display matrix). Decoded frames come out already rotated.
    public var rotation: Int
    /// Size after rotation: what decoded frames measure.
    public var displayWidth: Int
    public var displayHeight: Int
    /// Average frame rate (frames ÷ duration), the rate output video is written at.
    public var averageFrameRate: Rational
    /// The container's base rate ("r_frame_rate": the lowest rate that represents every timestamp).
    public var realFrameRate: Rational
    /// True when the two rates disagree by more than 1 % — timestamps are not evenly spaced.
    public var variableFrameRate: Bool
    /// Frames in the stream when the container records it (MP4/MOV do, WebM does not);
    /// `nil` otherwise — `MediaProbe.countFrames` counts them.
    public var frameCount: Int?
    /// Stream duration in seconds (container duration when the stream has none).
    public var duration: Double
}

/// The audio stream of a file.
public struct AudioStreamInfo: Sendable, Equatable, Codable {
    public var codec: String
    public var sampleRate: Int
    public var channels: Int
    public var duration: Double
}

/// What `MediaProbe.probe` learns about a file without decoding it.
public struct VideoInfo: Sendable, Equatable, Codable {
    /// FFmpeg's demuxer name, e.g. "mov,mp4,m4a,3gp,3g2,mj2", "matroska,webm", "wav".
    public var container: String
    public var fileBytes: Int
    /// Container duration in seconds.
    public var duration: Double
    public var video: VideoStreamInfo?
    public var audio: AudioStreamInfo?

    /// The video stream, or `MediaError.noVideoStream`.
    public func requireVideo() throws -> VideoStreamInfo {
        guard let video else { throw MediaError.noVideoStream }
        return video
    }

    /// The audio stream, or `MediaError.noAudioStream`.
    public func requireAudio() throws -> AudioStreamInfo {
        guard let audio else { throw MediaError.noAudioStream }
        return audio
    }
}
