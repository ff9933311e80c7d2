import Foundation
import Inference
import Logging
import Media

/// Every setting of the server and CLI in one validated value, built from environment
/// variables (documented in docs/configuration.md) and overridden by CLI flags.
public struct Configuration: Sendable, Equatable {
    /// `LOG_LEVEL`: lowest level logged by the server itself (default `info`).
    public var logLevel: Logger.Level
    /// `LIBRARY_LOG_LEVEL`: lowest level forwarded from ONNX Runtime and FFmpeg
    /// (default `warning`, so the libraries stay quiet unless something is wrong).
    public var libraryLogLevel: Logger.Level
    /// `EXECUTION_PROVIDERS`: comma-separated preference, e.g. `cuda,cpu` (default).
    /// CPU is always the final fallback.
    public var executionProviders: [ExecutionProvider]
    /// `INTRA_OP_THREADS`: threads inside one model operator; 0 lets ONNX Runtime choose.
    public var intraOpThreads: Int
    /// `MAX_INPUT_BYTES`, `MAX_DURATION_SECONDS`, `MAX_DIMENSION`, `MAX_FRAMES`: what input
    /// media is accepted (defaults 100 MB, 60 s, 4096 px, 3600 frames).
    public var mediaLimits: MediaLimits

    public init(
        logLevel: Logger.Level = .info,
        libraryLogLevel: Logger.Level = .warning,
        executionProviders: [ExecutionProvider] = [.cuda, .cpu],
        intraOpThreads: Int = 0,
        mediaLimits: MediaLimits = MediaLimits()
    ) {
        self.logLevel = logLevel
        self.libraryLogLevel = libraryLogLevel
        self.executionProviders = executionProviders
        self.intraOpThreads = intraOpThreads
        self.mediaLimits = mediaLimits
    }

    /// Reads the variables above; unset ones keep their defaults, invalid ones throw.
    public static func fromEnvironment(_ environment: [String: String]) throws -> Configuration {
        var configuration = Configuration()
        if let value = environment["LOG_LEVEL"] {
            configuration.logLevel = try parseLevel(value, variable: "LOG_LEVEL")
        }
        if let value = environment["LIBRARY_LOG_LEVEL"] {
            configuration.libraryLogLevel = try parseLevel(value, variable: "LIBRARY_LOG_LEVEL")
        }
        if let value = environment["EXECUTION_PROVIDERS"] {
            configuration.executionProviders = try parseProviders(value, variable: "EXECUTION_PROVIDERS")
        }
        if let value = environment["INTRA_OP_THREADS"] {
            configuration.intraOpThreads = try parseInteger(value, variable: "INTRA_OP_THREADS", in: 0...1024)
        }
        if let value = environment["MAX_INPUT_BYTES"] {
            configuration.mediaLimits.maxFileBytes = try parseInteger(value, variable: "MAX_INPUT_BYTES", in: 1...(1 << 40))
        }
        if let value = environment["MAX_DURATION_SECONDS"] {
            configuration.mediaLimits.maxDurationSeconds = Double(try parseInteger(value, variable: "MAX_DURATION_SECONDS", in: 1...86_400))
        }
        if let value = environment["MAX_DIMENSION"] {
            configuration.mediaLimits.maxDimension = try parseInteger(value, variable: "MAX_DIMENSION", in: 16...16_384)
        }
        if let value = environment["MAX_FRAMES"] {
            configuration.mediaLimits.maxFrameCount = try parseInteger(value, variable: "MAX_FRAMES", in: 1...1_000_000)
        }
        return configuration
    }

    public static func parseInteger(_ text: String, variable: String, in range: ClosedRange<Int>) throws -> Int {
        guard let value = Int(text.trimmingCharacters(in: .whitespaces)), range.contains(value) else {
            throw ConfigurationError.invalid(
                variable: variable, value: text, expected: "an integer from \(range.lowerBound) to \(range.upperBound)")
        }
        return value
    }

    /// Session options for the models, following this configuration.
    public var sessionOptions: SessionOptions {
        SessionOptions(intraOpThreads: intraOpThreads, providers: executionProviders)
    }

    public static func parseLevel(_ text: String, variable: String) throws -> Logger.Level {
        guard let level = Logger.Level(rawValue: text.trimmingCharacters(in: .whitespaces).lowercased()) else {
            throw ConfigurationError.invalid(
                variable: variable, value: text,
                expected: "one of " + Logger.Level.allCases.map(\.rawValue).joined(separator: ", "))
        }
        return level
    }

    public static func parseProviders(_ text: String, variable: String) throws -> [ExecutionProvider] {
        let names = text.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        guard !names.isEmpty else {
            throw ConfigurationError.invalid(variable: variable, value: text, expected: "a list such as cuda,cpu")
        }
        return try names.map { name in
            guard let provider = ExecutionProvider(name: name) else {
                throw ConfigurationError.invalid(
                    variable: variable, value: text,
                    expected: "providers from " + ExecutionProvider.allCases.map(\.description).joined(separator: ", "))
            }
            return provider
        }
    }
}

/// A setting that cannot be used, named with the value given and what is accepted.
public enum ConfigurationError: Error, Equatable, CustomStringConvertible {
    case invalid(variable: String, value: String, expected: String)

    public var description: String {
        switch self {
        case .invalid(let variable, let value, let expected):
            return "\(variable)=\(value) is invalid: expected \(expected)"
        }
    }
}
