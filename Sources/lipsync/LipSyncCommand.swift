import ArgumentParser
import AsyncHTTPClient
import Composition
import FaceTracking
import Foundation
import Hummingbird
import Inference
import LipSync
import Logging
import Media
import Pipeline
import Server
import ServiceLifecycle
import Speech
import Storage
import UserFacingErrors
import VoiceConversion

@main
struct LipSync: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "lipsync",
        abstract: "LipSync Server: make a person in a video say a phrase in their own voice.",
        subcommands: [
            Serve.self, Worker.self, Generate.self, Bench.self, Clip.self, Doctor.self, Healthcheck.self, Probe.self, Say.self, Voice.self,
            Sync.self,
        ])
}

/// Options every subcommand shares; they override the environment (docs/configuration.md).
struct CommonOptions: ParsableArguments {
    @Option(
        name: .customLong("log-level"),
        help: "Lowest level logged (overrides LOG_LEVEL): trace, debug, info, notice, warning, error, critical.")
    var logLevel: String?

    @Option(name: .customLong("providers"), help: "Execution providers in preference order (overrides EXECUTION_PROVIDERS), e.g. cuda,cpu.")
    var providers: String?

    /// Environment first, then flags; any invalid value ends the command with its reason.
    func configuration() throws -> Configuration {
        do {
            var configuration = try Configuration.fromEnvironment(ProcessInfo.processInfo.environment)
            if let logLevel { configuration.logLevel = try Configuration.parseLevel(logLevel, variable: "--log-level") }
            if let providers { configuration.executionProviders = try Configuration.parseProviders(providers, variable: "--providers") }
            return configuration
        } catch let error as ConfigurationError {
            throw ValidationError(error.description)
        }
    }
}

/// ONNX Runtime started for a command (after LoggingSetup.bootstrap), ORT's log at LIBRARY_LOG_LEVEL.
func startInference(_ configuration: Configuration) throws -> InferenceEnvironment {
    try InferenceEnvironment(
        logger: LoggingSetup.libraryLogger("lipsync.onnxruntime", configuration), runtimeLogLevel: configuration.libraryLogLevel)
}

/// Runs a command's work; an error the user caused (bad input, missing models, bad speech…)
/// ends the command with "lipsync <command>: <reason>" on standard error and status 1,
/// instead of a stack of type names.
func reportingUserErrors(_ command: String, _ body: () async throws -> Void) async throws {
    do {
        try await body()
    } catch let error as any UserFacingError {
        failCommand(command, error.description)
    }
}

/// Ends a command with "lipsync <command>: <message>" and status 1.
func failCommand(_ command: String, _ message: String) -> Never {
    FileHandle.standardError.write(Data("lipsync \(command): \(message)\n".utf8))
    Foundation.exit(1)
}

/// A problem with the user's request that no lower module describes.
struct UserFacingFailure: UserFacingError {
    let description: String
    var code: String { "invalid_argument" }
    var httpStatus: Int { 400 }
}
