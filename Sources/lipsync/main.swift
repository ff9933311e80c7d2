import ArgumentParser
import AsyncHTTPClient
import FaceTracking
import Foundation
import Inference
import LipSync
import LipSyncCore
import Logging
import Media
import Hummingbird
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
        subcommands: [Serve.self, Generate.self, Bench.self, Clip.self, Doctor.self, Probe.self, Say.self, Voice.self, Sync.self])
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

struct Doctor: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Check the native libraries: ONNX Runtime and its execution providers, FFmpeg, espeak-ng.",
        discussion: "Exits with status 1 when something the server needs is missing.")

    @OptionGroup var common: CommonOptions

    func run() async throws {
        let configuration = try common.configuration()
        ProcessSetup.start(configuration)
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
        ProcessSetup.start(configuration)
        try await reportingUserErrors("probe") {
            var info = try MediaProbe.probe(file, limits: configuration.mediaLimits)
            if countFrames, info.video != nil, info.video?.frameCount == nil {
                info.video?.frameCount = try MediaProbe.countFrames(file, limits: configuration.mediaLimits)
            }
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            print(String(decoding: try encoder.encode(info), as: UTF8.self))
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
    @Option(help: "Engine: espeak, piper, google or gtts (default: TTS_ENGINE, else espeak).") var engine: String?
    @Option(help: "Engine-specific voice name (espeak-ng voice, Piper voice file name, Google voice name).") var voice: String?
    @Option(help: "Output WAV file (32-bit float, 16 kHz, mono).") var out: String
    @OptionGroup var common: CommonOptions

    func run() async throws {
        let configuration = try common.configuration()
        ProcessSetup.start(configuration)
        var chosen: SpeechEngineID?
        if let engine {
            guard let id = SpeechEngineID(rawValue: engine.lowercased()) else {
                throw ValidationError("--engine \(engine) is not one of " + SpeechEngineID.allCases.map(\.rawValue).joined(separator: ", "))
            }
            chosen = id
        }
        let environment = try startInference(configuration)
        try await reportingUserErrors("say") {
            let service = try SpeechSetup.makeService(configuration, environment: environment, httpClient: .shared)
            let result = try await service.synthesize(text: text, language: language, engine: chosen, voice: voice)
            try WAVFile.write(result.audio, to: out)
            print("engine: \(result.engine.rawValue)")
            print("voice: \(result.voice)")
            print(String(format: "duration: %.3f s (%d Hz)", result.audio.duration, result.audio.sampleRate))
            print(String(format: "synthesis: %.1f ms, post-processing: %.1f ms", result.synthesisSeconds * 1e3, result.postProcessingSeconds * 1e3))
            if let reason = result.fallbackReason { print("fallback: \(reason)") }
            print("wrote: \(out)")
        }
    }
}

/// The lip-sync options shared by `sync` and `generate`. Unset ones take the `DEFAULT_*`
/// settings, as a request's absent fields do (docs/configuration.md).
struct LipSyncFlags: ParsableArguments {
    @Option(help: "Face detector: blazeface (default) or s3fd (the original's).") var detector: String = "blazeface"
    @Option(help: "Tracking: every (each frame, like the original), keyframes, static (first frame only); default DEFAULT_TRACKING (keyframes).")
    var tracking: TrackingChoice?
    @Option(name: .customLong("keyframe-interval"), help: "Detect every N-th frame in keyframes mode (default 5).") var keyframeInterval: Int?
    @Flag(name: .customLong("no-smooth"), help: "Turn off the 5-frame box smoothing (the original's --nosmooth).") var noSmooth = false
    @Option(parsing: .upToNextOption, help: "Pads around the face: top bottom left right (default DEFAULT_PADS, 0 10 0 0).") var pads: [Int] = []
    @Option(parsing: .upToNextOption, help: "Fixed face box instead of detection: top bottom left right (the original's --box).") var box: [Int] = []
    @Option(help: "Compositing: blend (feathered lower face) or replace (whole box, the original's); default DEFAULT_COMPOSITE (blend).")
    var composite: CompositeMode?
    @Option(help: "When the speech outlasts the video: pingpong (default) or loop (the original's).") var order: FrameOrder?
    @Option(name: .customLong("on-missing-face"), help: "fail (default) or pass (leave frames without a face unchanged).") var onMissingFace: String = "fail"
    @Option(help: "Faces per generator call.") var batch = 16
    @Option(name: .customLong("detection-side"), help: "Longer side of the copy faces are detected on; 0 = full resolution.") var detectionSide = 320
    @Flag(help: "Use the float16 models (for GPUs).") var float16 = false

    func detectorChoice() throws -> DetectorChoice {
        guard let choice = DetectorChoice(rawValue: detector) else { throw ValidationError("--detector must be blazeface or s3fd") }
        return choice
    }

    func renderOptions(_ configuration: Configuration) throws -> LipSyncOptions {
        guard ["fail", "pass"].contains(onMissingFace) else { throw ValidationError("--on-missing-face must be fail or pass") }
        guard batch >= 1, detectionSide >= 0 else { throw ValidationError("--batch must be ≥ 1 and --detection-side ≥ 0") }
        var options = configuration.lipSyncDefaults
        do {
            let overrides = JobOverrides(tracking: tracking, keyframeInterval: keyframeInterval, composite: composite,
                                         pads: try pads.isEmpty ? nil : JobOverrides.pads(pads, field: "--pads"), order: order)
            options = try overrides.apply(to: options) { "--" + $0.replacingOccurrences(of: "_", with: "-") }
        } catch {
            throw ValidationError(error.description)
        }
        if !box.isEmpty {
            guard box.count == 4 else { throw ValidationError("--box takes four numbers: top bottom left right") }
            options.tracking.mode = .box(FaceBox(x1: box[2], y1: box[0], x2: box[3], y2: box[1]))
        }
        options.tracking.smoothing = !noSmooth
        options.tracking.missingFace = onMissingFace == "pass" ? .passThrough : .fail
        options.batchSize = batch
        options.detectionMaxSide = detectionSide == 0 ? nil : detectionSide
        return options
    }
}

struct Sync: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run the lip-sync stage alone: make the face in a video mouth the given speech.",
        discussion: """
            Reads models from --models (or MODELS_DIR, default ./models; create it with tools/modelkit). \
            Writes an H.264+AAC MP4 at the input's resolution with the speech as its audio, and prints \
            the time of each step. The video may also be a still photo (25 fps). Exits with status 1 \
            and the reason on standard error for bad input (no face, no frames, empty or too long \
            speech, a box outside the frame).
            """)

    @Option(help: "Input video (or photo) with one face.") var video: String
    @Option(help: "Speech audio (any format FFmpeg reads; resampled to 16 kHz).") var audio: String
    @Option(help: "Output MP4.") var out: String
    @Option(help: "Models folder (overrides MODELS_DIR).") var models: String?
    @Option(name: .customLong("dump-frames"), help: "Also write every output frame before encoding as raw BGR (frame_NNNNN.bgr) into this folder (parity checks).")
    var dumpFrames: String?
    @OptionGroup var lipSync: LipSyncFlags
    @OptionGroup var common: CommonOptions

    func run() async throws {
        var configuration = try common.configuration()
        if let models { configuration.modelsDirectory = models }
        ProcessSetup.start(configuration)
        var options = try lipSync.renderOptions(configuration)
        let choice = try lipSync.detectorChoice()
        if let folder = dumpFrames {
            try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
            options.frameSink = { index, frame in
                let bytes = (0..<frame.height).flatMap { y in frame.pixels[(y * frame.stride)..<(y * frame.stride + frame.width * 3)] }
                try Data(bytes).write(to: URL(fileURLWithPath: folder + String(format: "/frame_%05d.bgr", index)))
            }
        }
        let environment = try startInference(configuration)
        try await reportingUserErrors("sync") {
            let renderer = try LipSyncSetup.makeRenderer(configuration, environment: environment, detector: choice, float16: lipSync.float16)
            let speech = try AudioDecoder.decode(audio, sampleRate: 16_000, limits: configuration.mediaLimits)
            let result = try await renderer.render(video: video, speech: speech, output: out, options: options)
            print("wrote \(out): \(result.frames) frames (\(result.sourceFramesDecoded) decoded), \(result.width)×\(result.height) at \(result.frameRate) fps; detector ran on \(result.track.detectedFrames) frames")
            print("step                  seconds")
            for row in result.timings.rows { print(row.step.padding(toLength: 20, withPad: " ", startingAt: 0) + String(format: "%8.3f", row.seconds)) }
        }
    }
}

struct Generate: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "The whole job: a video (or photo) of a face + a phrase + a language → the face saying the phrase in its own voice.",
        discussion: """
            Text-to-speech and the speaker embedding of the video's voice run concurrently; then voice \
            conversion (FreeVC, when its models are installed and the video has a usable voice — otherwise the \
            TTS voice is kept and the output says why) and the lip-sync render. Prints the timing of every step.
            """)

    @Option(help: "Input video (or photo) with one face.") var video: String
    @Option(help: "The word or phrase to say.") var text: String
    @Option(name: .customLong("lang"), help: "Language code, gTTS style: ko, en, ja, zh-CN…") var language: String
    @Option(help: "Output MP4.") var out: String
    @Option(help: "Models folder (overrides MODELS_DIR).") var models: String?
    @Option(help: "TTS engine: espeak, piper, google or gtts (default: TTS_ENGINE).") var engine: SpeechEngineID?
    @Option(name: .customLong("tts-voice"), help: "Engine-specific TTS voice.") var ttsVoice: String?
    @Option(name: .customLong("voice-mode"), help: "freevc or none (default: DEFAULT_VOICE_MODE, else freevc when possible).")
    var voiceMode: VoiceMode?
    @Option(help: "Seed of the voice-conversion noise.") var seed: UInt64 = 0
    @OptionGroup var lipSync: LipSyncFlags
    @OptionGroup var common: CommonOptions

    func run() async throws {
        var configuration = try common.configuration()
        if let models { configuration.modelsDirectory = models }
        // The operator's own command: local paths anywhere unless STORAGE_ROOTS says otherwise.
        if ProcessInfo.processInfo.environment["STORAGE_ROOTS"] == nil { configuration.storage.roots = ["/"] }
        ProcessSetup.start(configuration)
        let options = try lipSync.renderOptions(configuration)
        let choice = try lipSync.detectorChoice()
        let environment = try startInference(configuration)
        try await reportingUserErrors("generate") {
            let pipeline = try PipelineSetup.makePipeline(configuration, environment: environment, detector: choice, float16: lipSync.float16)
            let storage = await StorageSetup.makeService(configuration)
            let result = try await pipeline.run(JobRequest(
                video: video, text: text, language: language, output: out, ttsEngine: engine, ttsVoice: ttsVoice,
                voiceMode: voiceMode ?? configuration.jobDefaults.voiceMode, seed: seed, lipSync: options), storage: storage, workspaceBase: configuration.storage.temporaryDirectory, label: "generate")
            print("wrote \(out): \(result.frames) frames, \(result.width)×\(result.height)")
            print("speech: \(result.ttsEngine.rawValue) (\(result.ttsVoice))" + (result.ttsFallbackReason.map { "; fallback: \($0)" } ?? ""))
            print("voice: \(result.voiceMode.rawValue)" + (result.voiceModeReason.map { " — \($0)" } ?? ""))
            print("Performance analysis")
            print(LipSyncPipeline.report(result.timings))
        }
    }
}

struct Voice: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Convert speech into the voice heard in a reference video or recording (FreeVC).",
        discussion: """
            The reference is trimmed of leading and trailing silence as FreeVC does; speech is converted \
            with noise from --seed (same seed, same audio) and matched to the reference's loudness. With no \
            voice models in the models folder (or --mode none) the speech passes through unchanged, and \
            the output says so. Writes a 16 kHz float WAV and prints the time of each step.
            """)

    @Option(help: "Video or audio with the target voice.") var reference: String
    @Option(help: "Speech to convert (any format FFmpeg reads).") var speech: String
    @Option(help: "Output WAV (32-bit float, 16 kHz).") var out: String
    @Option(help: "Models folder (overrides MODELS_DIR).") var models: String?
    @Option(help: "freevc (default when the models are present) or none.") var mode: String?
    @Option(help: "Seed of the synthesis noise.") var seed: UInt64 = 0
    @Flag(help: "Use the float16 synthesizer, and the float16 WavLM when installed (for GPUs).") var float16 = false
    @Flag(name: .customLong("no-loudness-match"), help: "Keep the synthesizer's level (parity checks).") var noLoudnessMatch = false
    @Option(name: .customLong("dump-embedding"), help: "Also write the speaker embedding as raw float32 (parity checks).") var dumpEmbedding: String?
    @OptionGroup var common: CommonOptions

    func run() async throws {
        var configuration = try common.configuration()
        if let models { configuration.modelsDirectory = models }
        ProcessSetup.start(configuration)
        if let mode, VoiceMode(rawValue: mode) == nil { throw ValidationError("--mode must be freevc or none") }
        let environment = try startInference(configuration)
        try await reportingUserErrors("voice") {
            let input = try AudioDecoder.decode(speech, sampleRate: 16_000, limits: configuration.mediaLimits)
            let converter = mode == "none" ? nil : try VoiceSetup.makeConverter(configuration, environment: environment, float16: float16)
            guard let converter else {
                if mode == "freevc" {
                    throw UserFacingFailure(description: "the models folder \(configuration.modelsDirectory) has no FreeVC models (wavlm, freevc, speaker_encoder, speaker_mel)")
                }
                try WAVFile.write(input, to: out)
                print("mode: none (speech passed through unchanged)")
                print("wrote: \(out)")
                return
            }
            let clock = ContinuousClock()
            let start = clock.now
            let voice = try AudioDecoder.decode(reference, sampleRate: 16_000, limits: configuration.mediaLimits)
            let embedding = try converter.speakerEmbedding(of: voice)
            let embeddingSeconds = (clock.now - start).seconds
            let trimmed = SilenceTrimmer().voicedRange(voice.samples)
            if let dumpEmbedding { try embedding.withUnsafeBytes { try Data($0).write(to: URL(fileURLWithPath: dumpEmbedding)) } }
            let result = try converter.convert(input, embedding: embedding, seed: seed,
                                               referenceRMS: noLoudnessMatch ? nil : VoiceConverter.rms(Array(voice.samples[trimmed])))
            try WAVFile.write(result.audio, to: out)
            print("mode: freevc, seed \(seed)")
            print("reference voiced span: samples \(trimmed.lowerBound)–\(trimmed.upperBound) of \(voice.samples.count)")
            print(String(format: "duration: %.3f s (16000 Hz)", result.audio.duration))
            print("step                  seconds")
            for (step, seconds) in [("speaker embedding", embeddingSeconds), ("content (WavLM)", result.timings.content),
                                    ("synthesis", result.timings.synthesis)] {
                print(step.padding(toLength: 20, withPad: " ", startingAt: 0) + String(format: "%8.3f", seconds))
            }
            print("wrote: \(out)")
        }
    }
}

struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run the HTTP server with the original API (POST /api/v1/lip-video …); see docs/server.md.",
        discussion: "Settings: HOST, PORT, MODELS_DIR, MAX_CONCURRENT_JOBS, MAX_QUEUED_JOBS, PRELOAD and the rest of docs/configuration.md. SIGINT/SIGTERM stop it gracefully.")

    @Option(help: "Address to listen on (overrides HOST).") var host: String?
    @Option(help: "Port (overrides PORT).") var port: Int?
    @Option(help: "Models folder (overrides MODELS_DIR).") var models: String?
    @OptionGroup var common: CommonOptions

    func run() async throws {
        var configuration = try common.configuration()
        if let host { configuration.host = host }
        if let port { configuration.port = port }
        if let models { configuration.modelsDirectory = models }
        configuration = configuration.withServerThreadBudget()
        ProcessSetup.start(configuration)
        let logger = Logger(label: "lipsync.server")
        for row in configuration.summary { logger.info("setting", metadata: ["variable": "\(row.variable)", "value": "\(row.value)"]) }
        let environment = try startInference(configuration)
        let settings = configuration
        let provider = PipelineProvider { try PipelineSetup.makePipeline(settings, environment: environment) }
        if configuration.preload { _ = try await provider.pipeline() }
        let server = LipSyncServer(provider: provider,
                                   limiter: JobLimiter(maxConcurrent: configuration.maxConcurrentJobs, maxQueued: configuration.maxQueuedJobs,
                                                      memoryBudget: configuration.maxJobMemoryBytes),
                                   storage: await StorageSetup.makeService(configuration), workspaceBase: configuration.storage.temporaryDirectory,
                                   defaults: configuration.lipSyncDefaults, defaultVoiceMode: configuration.jobDefaults.voiceMode,
                                   jobTimeout: .seconds(configuration.jobTimeoutSeconds),
                                   timeouts: ConnectionTimeouts(idle: configuration.connectionTimeouts.idle,
                                                                                body: configuration.connectionTimeouts.body))
        // Workspaces a killed predecessor left in TEMP_DIR go before any job starts.
        let swept = try RequestWorkspace.sweepStale(in: configuration.storage.temporaryDirectory)
        if !swept.isEmpty {
            logger.notice("removed workspaces left by stopped processes",
                          metadata: ["count": "\(swept.count)", "folder": "\(configuration.storage.temporaryDirectory)"])
        }
        let app = server.application(host: configuration.host, port: configuration.port, logger: logger)
        logger.info("listening", metadata: ["host": "\(configuration.host)", "port": "\(configuration.port)",
                                            "max_concurrent_jobs": "\(configuration.maxConcurrentJobs)", "max_queued_jobs": "\(configuration.maxQueuedJobs)"])
        // SIGTERM/SIGINT: stop accepting, let running jobs finish for DRAIN_TIMEOUT_SECONDS,
        // then cancel what is left (its workspaces are removed), then release the models.
        var groupConfiguration = ServiceGroupConfiguration(services: [app], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger)
        groupConfiguration.maximumGracefulShutdownDuration = .seconds(configuration.drainTimeoutSeconds)
        try await ServiceGroup(configuration: groupConfiguration).run()
        await provider.release()
        logger.info("stopped; models released")
    }
}

struct Clip: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Write the benchmark's reference clip: a face photo on a gradient, drifting, with an espeak-ng English voice track.",
        discussion: "The input of `lipsync bench` as a file (H.264 + AAC MP4, 30 fps), at any size, for memory and speed measurements.")

    @Option(help: "Face photo for the clip.") var face = ".fixtures/faces/astronaut.png"
    @Option(help: "Frames in the clip (30 fps).") var frames = 159
    @Option(help: "Picture size WIDTHxHEIGHT (even numbers, 64…4096).") var size = "1920x1080"
    @Option(help: "Output file (.mp4).") var out: String
    @OptionGroup var common: CommonOptions

    func run() async throws {
        let parts = size.lowercased().split(separator: "x").compactMap { Int($0) }
        guard parts.count == 2, parts.allSatisfy({ (64...4096).contains($0) && $0 % 2 == 0 }), (1...3600).contains(frames) else {
            throw ValidationError("--size WIDTHxHEIGHT with even sides 64…4096, --frames 1…3600")
        }
        var configuration = try common.configuration()
        if common.logLevel == nil { configuration.logLevel = .warning }
        ProcessSetup.start(configuration)
        try await reportingUserErrors("clip") {
            let speech = try SpeechService(engines: [EspeakSynthesizer()])
            let voice = try await ReferenceClip.voice(frames: frames, speech: speech)
            try ReferenceClip.write(face: face, frames: frames, audio: voice, to: out,
                                    width: parts[0], height: parts[1])
            print("wrote \(out): \(parts[0])×\(parts[1]) @ 30 fps, \(frames) frames, with voice")
        }
    }
}

struct Bench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Time the whole job on the reference case: a 1080p, 30 fps, 159-frame clip with voice, \"안녕하세요\" in Korean.",
        discussion: """
            Makes the clip (a face photo on a 1920×1080 gradient, drifting, with an espeak-ng voice track), \
            runs the job --warmup times, then --runs times with no per-video cache and prints each step's \
            median, min and max; then runs it again on a fresh cache followed by a second request on the same \
            clip with --second-text, to show what caching the per-video work saves. Use full-size models \
            (scripts/prepare-models.sh): stand-in weights take the same time as real ones.
            """)

    @Option(help: "Models folder (overrides MODELS_DIR; default .deps/demo-models, as make demo prepares it).") var models: String?
    @Option(help: "Face photo for the clip.") var face = ".fixtures/faces/astronaut.png"
    @Option(help: "Frames in the clip (30 fps).") var frames = 159
    @Option(help: "Timed runs.") var runs = 3
    @Option(help: "Untimed runs first.") var warmup = 1
    @Option(help: "The phrase.") var text = "안녕하세요"
    @Option(name: .customLong("lang"), help: "Its language.") var language = "ko"
    @Option(name: .customLong("second-text"), help: "The phrase of the second (cached) request.") var secondText = "감사합니다"
    @Option(name: .customLong("cancel-after"), parsing: .upToNextOption,
            help: "Also cancel a long job after each of these many seconds and time how long it takes to stop.")
    var cancelAfter: [Double] = []
    @Option(name: .customLong("cancel-text"), help: "The phrase of the cancelled jobs.")
    var cancelText = "안녕하세요. 오늘은 날씨가 정말 좋네요. 우리 같이 공원에 산책하러 갈까요? 저는 커피를 한 잔 마시고 싶어요."
    @OptionGroup var common: CommonOptions

    func run() async throws {
        guard cancelAfter.allSatisfy({ (0...600).contains($0) }) else { throw ValidationError("--cancel-after takes seconds 0…600") }
        guard runs >= 1, warmup >= 0, (1...3600).contains(frames) else { throw ValidationError("--runs ≥ 1, --warmup ≥ 0, --frames 1…3600") }
        var configuration = try common.configuration()
        configuration.modelsDirectory = models ?? (ProcessInfo.processInfo.environment["MODELS_DIR"] == nil ? ".deps/demo-models" : configuration.modelsDirectory)
        if common.logLevel == nil { configuration.logLevel = .warning }  // the tables are the output
        configuration.videoCacheEntries = 0  // timed runs measure the uncached job
        ProcessSetup.start(configuration)
        let environment = try startInference(configuration)
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("lipsync-bench-\(UUID())").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }

        try await reportingUserErrors("bench") {
            let pipeline = try PipelineSetup.makePipeline(configuration, environment: environment)
            let clip = directory + "/reference.mp4"
            let voice = try await ReferenceClip.voice(frames: frames, speech: pipeline.speech)
            try ReferenceClip.write(face: face, frames: frames, audio: voice, to: clip)

            // As the server runs a job: the input copied into a workspace, the output stored.
            let storage = StorageService(local: LocalStore(roots: [directory]), gcs: nil, https: nil)
            func job(_ phrase: String, on pipeline: LipSyncPipeline, _ name: String) async throws -> JobResult {
                try await pipeline.run(JobRequest(video: clip, text: phrase, language: language, output: directory + "/\(name).mp4"),
                                       storage: storage, workspaceBase: directory, label: name)
            }
            for index in 0..<warmup { _ = try await job(text, on: pipeline, "warmup-\(index)") }
            var results: [JobResult] = []
            for index in 0..<runs { results.append(try await job(text, on: pipeline, "run-\(index)")) }

            let models = pipeline.models
            print("lipsync bench — \(ReferenceClip.machine()); provider \(models.provider); models \(configuration.modelsDirectory)"
                  + (models.models.contains(where: \.standin) ? " (STAND-INS: random weights, same size and time)" : ""))
            let first = results[0]
            print("input: 1920×1080 @ 30 fps, \(frames) frames, \(String(format: "%.2f", Double(frames) / 30)) s with voice; phrase \"\(text)\" (\(language)), "
                  + "TTS \(first.ttsEngine.rawValue), voice \(first.voiceMode.rawValue); output \(first.frames) frames \(first.width)×\(first.height)")
            print("\n\(runs) runs after \(warmup) warm-up, no per-video cache:")
            print("step".padding(toLength: 22, withPad: " ", startingAt: 0) + "  median      min      max")
            for (index, row) in first.timings.rows.enumerated() {
                let values = results.map { $0.timings.rows[index].seconds }.sorted()
                let median = values.count % 2 == 1 ? values[values.count / 2] : (values[values.count / 2 - 1] + values[values.count / 2]) / 2
                print(row.step.padding(toLength: 22, withPad: " ", startingAt: 0) + String(format: "%8.3f %8.3f %8.3f s", median, values[0], values[values.count - 1]))
            }

            // Two requests on one cache: the second (a new phrase) reuses the per-video work.
            let cached = LipSyncPipeline(speech: pipeline.speech, voice: pipeline.voice, renderer: pipeline.renderer, limits: pipeline.limits,
                                         cache: VideoCache(capacity: 4))
            let cold = try await job(text, on: cached, "cache-first")
            let warm = try await job(secondText, on: cached, "cache-second")
            print("\nsame clip, shared per-video cache: first request \"\(text)\", second request \"\(secondText)\" (cached: \(warm.cached))")
            print("step".padding(toLength: 22, withPad: " ", startingAt: 0) + "   first   second")
            for (a, b) in zip(cold.timings.rows, warm.timings.rows) {
                print(a.step.padding(toLength: 22, withPad: " ", startingAt: 0) + String(format: "%8.3f %8.3f s", a.seconds, b.seconds))
            }
            print("\nthe original Python server took 78.8 s on CPU and 12.0 s on a GPU for this case (its own report)")

            // Cancellation reaching native work: a long job cancelled mid-way, and how long it
            // takes to stop (model runs terminated, reads interrupted, loops checking).
            if !cancelAfter.isEmpty {
                print("\ncancelling a job of \"\(cancelText)\" (\(language)) part-way:")
                print("cancel after    stopped in   outcome")
            }
            for delay in cancelAfter {
                let clock = ContinuousClock()
                let task = Task { try await job(cancelText, on: pipeline, "cancel") }
                try await Task.sleep(for: .seconds(delay))
                let cancelled = clock.now
                task.cancel()
                let outcome: String
                switch await task.result {
                case .success: outcome = "finished before the cancel arrived"
                case .failure(let error as CancellationError): outcome = "cancelled (\(error))"
                case .failure(let error): outcome = "failed: \(error)"
                }
                print(String(format: "%10.2f s %12.3f s   ", delay, (clock.now - cancelled).seconds) + outcome)
            }
        }
    }
}
