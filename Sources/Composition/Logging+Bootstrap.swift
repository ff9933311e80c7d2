public import Logging
import Media

/// Process-wide logging set-up for the executables: one-line handler at the configured
/// level, FFmpeg's log routed in. (ONNX Runtime's is routed when the InferenceEnvironment
/// is created with a logger.)
public enum LoggingSetup {
    public static func bootstrap(_ configuration: Configuration) {
        LoggingSystem.bootstrap { label in LineLogHandler(label: label, level: configuration.logLevel) }
        FFmpegLog.route(to: libraryLogger("lipsync.ffmpeg", configuration), level: configuration.libraryLogLevel)
    }

    /// A logger for a native library's own messages, at `LIBRARY_LOG_LEVEL`.
    public static func libraryLogger(_ label: String, _ configuration: Configuration) -> Logger {
        var logger = Logger(label: label)
        logger.logLevel = configuration.libraryLogLevel
        return logger
    }
}
