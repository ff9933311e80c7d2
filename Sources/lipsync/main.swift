import ArgumentParser
import AsyncHTTPClient
import Foundation
import Inference
import LipSyncCore
import Logging
import Media
import Speech

@main
struct LipSync: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "lipsync",
        abstract: "LipSync Server: make a person in a video say a phrase in their own voice.",
        subcommands: [Doctor.self, Probe.self, Say.self])
}

/// Options every subcommand shares; they override the environment (docs/configuration.md).
struct CommonOptions: ParsableArguments {
    @Option(name: .customLong("log-level"), help: "Lowest level logged (overrides LOG_LEVEL): trace, debug, info, notice, warning, error, critical.")
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

struct Doctor: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Check the native libraries: ONNX Runtime and its execution providers, FFmpeg, espeak-ng.",
        discussion: "Exits with status 1 when something the server needs is missing.")

    @OptionGroup var common: CommonOptions

    func run() async throws {
        let configuration = try common.configuration()
        LoggingSetup.bootstrap(configuration)
        let environment = try InferenceEnvironment(
            logger: LoggingSetup.libraryLogger("lipsync.onnxruntime", configuration),
            runtimeLogLevel: configuration.libraryLogLevel)
        let report = await SystemReport.gather(environment: environment, espeak: EspeakRuntime.shared)
        print(report.text)
        if !report.problems.isEmpty { throw ExitCode(1) }
    }
}

struct Probe: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Describe a media file as JSON: container, streams, rotation, frame rates, duration, frame count.",
        discussion: """
            Applies the input limits (MAX_INPUT_BYTES, MAX_DURATION_SECONDS, MAX_DIMENSION, MAX_FRAMES). \
            Exits with status 1 and the reason on standard error when the file cannot be used.
            """)

    @Argument(help: "The media file.")
    var file: String

    @Flag(name: .customLong("count-frames"), help: "Count the video frames when the container does not record them (reads every packet).")
    var countFrames = false

    @OptionGroup var common: CommonOptions

    func run() async throws {
        let configuration = try common.configuration()
        LoggingSetup.bootstrap(configuration)
        do {
            var info = try MediaProbe.probe(file, limits: configuration.mediaLimits)
            if countFrames, info.video != nil, info.video?.frameCount == nil {
                info.video?.frameCount = try MediaProbe.countFrames(file, limits: configuration.mediaLimits)
            }
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            print(String(decoding: try encoder.encode(info), as: UTF8.self))
        } catch let error as MediaError {
            FileHandle.standardError.write(Data("lipsync probe: \(error)\n".utf8))
            throw ExitCode.failure
        }
    }
}

struct Say: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Speak a phrase with a text-to-speech engine and write it as the models receive it (16 kHz mono WAV).",
        discussion: """
            Prints the engine, voice, duration and synthesis time. Engines: espeak (embedded), piper \
            (PIPER_VOICES_DIR), google (GOOGLE_TTS_API_KEY). Exits with status 1 and the reason on \
            standard error for bad text, an unsupported language or an engine failure.
            """)

    @Option(help: "The phrase to speak.") var text: String
    @Option(name: .customLong("lang"), help: "Language code, gTTS style: ko, en, en-us, ja, zh-CN, es, fr, de…") var language: String
    @Option(help: "Engine: espeak, piper or google (default: TTS_ENGINE, else espeak).") var engine: String?
    @Option(help: "Engine-specific voice name (espeak-ng voice, Piper voice file name, Google voice name).") var voice: String?
    @Option(help: "Output WAV file (32-bit float, 16 kHz, mono).") var out: String
    @OptionGroup var common: CommonOptions

    func run() async throws {
        let configuration = try common.configuration()
        LoggingSetup.bootstrap(configuration)
        var chosen: SpeechEngineID?
        if let engine {
            guard let id = SpeechEngineID(rawValue: engine.lowercased()) else {
                throw ValidationError("--engine \(engine) is not one of " + SpeechEngineID.allCases.map(\.rawValue).joined(separator: ", "))
            }
            chosen = id
        }
        let environment = try InferenceEnvironment(
            logger: LoggingSetup.libraryLogger("lipsync.onnxruntime", configuration), runtimeLogLevel: configuration.libraryLogLevel)
        do {
            let service = try SpeechSetup.makeService(configuration, environment: environment, httpClient: .shared)
            let result = try await service.synthesize(text: text, language: language, engine: chosen, voice: voice)
            try WAVFile.write(result.audio, to: out)
            print("engine: \(result.engine.rawValue)")
            print("voice: \(result.voice)")
            print(String(format: "duration: %.3f s (%d Hz)", result.audio.duration, result.audio.sampleRate))
            print(String(format: "synthesis: %.1f ms, post-processing: %.1f ms", result.synthesisSeconds * 1e3, result.postProcessingSeconds * 1e3))
            if let reason = result.fallbackReason { print("fallback: \(reason)") }
            print("wrote: \(out)")
        } catch let error as SpeechError {
            FileHandle.standardError.write(Data("lipsync say: \(error)\n".utf8))
            throw ExitCode.failure
        } catch let error as MediaError {
            FileHandle.standardError.write(Data("lipsync say: \(error)\n".utf8))
            throw ExitCode.failure
        }
    }
}
