internal import CFFmpeg
import Foundation
public import Logging
import Synchronization

/// Routes FFmpeg's own log output (normally printed to stderr) into swift-log.
///
/// `av_log_set_callback` is process-wide and takes no context pointer, so the destination
/// logger is a lock-protected process-wide value; it is the one global in this module.
public enum FFmpegLog {
    private static let sink = Mutex<Logger?>(nil)

    /// Installs the bridge. `level` is the lowest FFmpeg severity forwarded; errors only by
    /// default so decoding noise stays out of the server's log.
    public static func route(to logger: Logger, level: Logger.Level = .error) {
        sink.withLock { $0 = logger }
        av_log_set_level(avLevel(level))
        av_log_set_callback { context, level, format, arguments in
            guard let arguments else { return }
            FFmpegLog.forward(context: context, level: level, format: format, arguments: arguments)
        }
    }

    private static func forward(
        context: UnsafeMutableRawPointer?, level: Int32, format: UnsafePointer<CChar>?, arguments: CVaListPointer
    ) {
        guard level <= av_log_get_level(), let format else { return }
        var line = [CChar](repeating: 0, count: 1024)
        var printPrefix: Int32 = 1
        _ = av_log_format_line2(context, level, format, arguments, &line, Int32(line.count), &printPrefix)
        let text = String(decoding: line.prefix(while: { $0 != 0 }).map { UInt8(bitPattern: $0) }, as: UTF8.self)
            .trimmingCharacters(in: .whitespacesAndNewlines)
        guard !text.isEmpty else { return }
        let swiftLevel: Logger.Level =
            switch level {
            case ...AV_LOG_FATAL: .critical
            case ...AV_LOG_ERROR: .error
            case ...AV_LOG_WARNING: .warning
            case ...AV_LOG_INFO: .info
            case ...AV_LOG_VERBOSE: .debug
            default: .trace
            }
        sink.withLock { $0?.log(level: swiftLevel, "\(text)", metadata: ["ffmpeg": "\(level)"]) }
    }

    private static func avLevel(_ level: Logger.Level) -> Int32 {
        switch level {
        case .trace: AV_LOG_TRACE
        case .debug: AV_LOG_VERBOSE
        case .info, .notice: AV_LOG_INFO
        case .warning: AV_LOG_WARNING
        case .error: AV_LOG_ERROR
        case .critical: AV_LOG_FATAL
        }
    }
}
