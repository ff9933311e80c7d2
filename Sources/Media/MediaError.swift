import Foundation
public import Foundation
public import UserFacingErrors

/// Why a media file cannot be used or written, phrased for the person who supplied it.
public enum MediaError: Error, Equatable, Sendable {
    case fileNotFound(path: String)
    case emptyFile(path: String)
    case fileTooLarge(bytes: Int, limit: Int)
    /// FFmpeg recognises no container in the file (random bytes, a text file…).
    case notMediaFile(reason: String)
    /// The file is a still image (PNG, JPEG…), not a video.
    case notAVideo(format: String)
    case noVideoStream
    case noAudioStream
    /// No decoder (or encoder) for this codec in the FFmpeg build.
    case unsupportedCodec(String)
    /// The file ends before the data its container announces.
    case truncated(String)
    /// The data cannot be decoded.
    case corrupt(String)
    case zeroFrames
    case dimensionsTooLarge(width: Int, height: Int, limit: Int)
    case durationTooLong(seconds: Double, limit: Double)
    case tooManyFrames(count: Int, limit: Int)
    /// A caller passed something this API cannot work with (mismatched frame size…).
    case invalidArgument(String)
    /// An FFmpeg call failed; `operation` names it and `message` is FFmpeg's text.
    case ffmpeg(operation: String, code: Int32, message: String)
    case writeFailed(path: String, reason: String)
    /// The filesystem being written is full (ENOSPC, EDQUOT).
    case noSpace(path: String)
}

extension MediaError: CustomStringConvertible, LocalizedError {
    public var description: String {
        switch self {
        case .fileNotFound(let path): "file not found or not readable: \(path)"
        case .emptyFile(let path): "the file is empty: \(path)"
        case .fileTooLarge(let bytes, let limit):
            "the file is \(Self.megabytes(bytes)), over the limit of \(Self.megabytes(limit))"
        case .notMediaFile(let reason): "not a video or audio file FFmpeg can read (\(reason))"
        case .notAVideo(let format): "the file is a still image (\(format)), not a video"
        case .noVideoStream: "the file has no video stream"
        case .noAudioStream: "the file has no audio stream"
        case .unsupportedCodec(let codec): "unsupported codec: \(codec)"
        case .truncated(let detail): "the file is truncated: \(detail)"
        case .corrupt(let detail): "the file is corrupt: \(detail)"
        case .zeroFrames: "the video has no frames"
        case .dimensionsTooLarge(let width, let height, let limit):
            "the video is \(width)×\(height), larger than the limit of \(limit) pixels on a side"
        case .durationTooLong(let seconds, let limit):
            String(format: "the media lasts %.1f s, longer than the limit of %.1f s", seconds, limit)
        case .tooManyFrames(let count, let limit): "the video has \(count) frames, more than the limit of \(limit)"
        case .invalidArgument(let detail): "invalid argument: \(detail)"
        case .ffmpeg(let operation, let code, let message): "\(operation) failed: \(message) (FFmpeg error \(code))"
        case .writeFailed(let path, let reason): "cannot write \(path): \(reason)"
        case .noSpace(let path): "no space left on the device (\(path))"
        }
    }

    public var errorDescription: String? { description }

    private static func megabytes(_ bytes: Int) -> String {
        String(format: "%.1f MB", Double(bytes) / 1_000_000)
    }
}

extension MediaError: UserFacingError {
    /// The input cannot be used (422 `invalid_media`); running out of disk is the server's
    /// (507), and so is an output it cannot write (500).
    public var code: String {
        switch self {
        case .noSpace: "insufficient_storage"
        case .writeFailed: "internal_error"
        default: "invalid_media"
        }
    }

    public var httpStatus: Int {
        switch self {
        case .noSpace: 507
        case .writeFailed: 500
        default: 422
        }
    }

    public var field: String? {
        switch self {
        case .noSpace, .writeFailed: nil
        default: "user_video_gs"
        }
    }

    public var message: String {
        if case .noSpace = self { return "no space left on the device holding the server's temporary folder (TEMP_DIR); retry later" }
        return description
    }
}
