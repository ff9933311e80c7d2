import FaceTracking
public import Foundation
public import Inference
import LipSync
public import Logging
public import Media
public import Speech
import Storage
import VoiceConversion

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
    /// `INTRA_OP_SPINNING` (default false): whether ONNX Runtime's threads busy-wait for work
    /// between runs rather than sleep (`SessionOptions.spinning`).
    public var intraOpSpinning = false
    /// `HUGE_PAGES` (default false): whether the process may use transparent huge pages where a
    /// library asks for them (x264 does for its frames). Off, every lipsync process turns them
    /// off for itself at start (`ProcessSetup`): the kernel's compaction and 2 MiB page clearing
    /// on x264's first frames made the word case's encode 0.55 s → 0.75–1.0 s (docs/pipeline.md).
    public var hugePages = false
    /// `MAX_INPUT_BYTES`, `MAX_DURATION_SECONDS`, `MAX_DIMENSION`, `MAX_FRAMES`: what input
    /// media is accepted (defaults 100 MB, 60 s, 4096 px, 3600 frames).
    public var mediaLimits: MediaLimits
    /// Text-to-speech settings (`TTS_*`, `ESPEAK_*`, `PIPER_VOICES_DIR`, `GOOGLE_TTS_*`).
    public var speech: SpeechSettings
    /// `MODELS_DIR`: the models folder written by tools/modelkit (default `models`).
    public var modelsDirectory: String
    /// `HOST` (default `127.0.0.1`) and `PORT` (default 8080) the server listens on.
    public var host = "127.0.0.1"
    public var port = 8080
    /// `MAX_CONCURRENT_JOBS` (default: half the cores, at least 1) and `MAX_QUEUED_JOBS`
    /// (default 8): beyond both the server answers 429.
    public var maxConcurrentJobs = max(1, ProcessInfo.processInfo.activeProcessorCount / 2)
    public var maxQueuedJobs = 8
    /// `MAX_JOB_MEMORY_BYTES` (default: half the machine's memory, or of the container's
    /// cgroup limit when lower): what the running jobs' memory estimates may add up to. A job
    /// whose estimate alone is larger is refused (413 `job_too_large`); others wait their turn.
    public var maxJobMemoryBytes = SystemMemory.limit / 2
    /// `PRELOAD` (default true): load every model at start-up rather than on the first request.
    public var preload = true
    /// `VIDEO_CACHE_ENTRIES` (0–100 000, default 64): videos whose speaker embedding and face
    /// detections are kept for later jobs (0: no cache).
    public var videoCacheEntries = 64
    /// `JOB_TIMEOUT_SECONDS` (1–86 400, default 600): a request's deadline, queueing included.
    public var jobTimeoutSeconds = 600
    /// `DRAIN_TIMEOUT_SECONDS` (0–3600, default 60): on SIGTERM/SIGINT, how long running jobs
    /// may finish before they are cancelled.
    public var drainTimeoutSeconds = 60
    /// `HTTP_IDLE_TIMEOUT_SECONDS` (1–3600, default 30): a connection without a request in
    /// progress (idle keep-alive, or a request head still incomplete) is closed after this long.
    public var httpIdleTimeoutSeconds = 30
    /// `HTTP_BODY_TIMEOUT_SECONDS` (1–3600, default 30): time for a whole request body to arrive.
    public var httpBodyTimeoutSeconds = 30
    /// `MODEL_MEMORY` (default `fast`): how ONNX Runtime keeps activation memory between runs.
    public var modelMemory = ModelMemory.fast
    /// `DEFAULT_PRECISION` (default `float32`): which model variants the server and the
    /// commands load (`--precision` overrides it for a command).
    public var precision = ModelPrecision.float32
    /// `VERIFY_MODELS` (default true): check every model file's SHA-256 against the manifest
    /// when it is loaded.
    public var verifyModels = true
    /// Where inputs come from and outputs go (`STORAGE_ROOTS`, `TEMP_DIR`, `HTTPS_INPUT*`,
    /// Google credentials).
    public var storage = StorageSettings()
    /// Defaults of a request's optional lip-sync fields (`DEFAULT_*`).
    public var jobDefaults = JobDefaults()
    /// The asynchronous jobs' store, workers and webhooks (`DATABASE_URL`, `WORKERS`, `WEBHOOK_*`…).
    public var queue = QueueSettings()

    public init(
        logLevel: Logger.Level = .info,
        libraryLogLevel: Logger.Level = .warning,
        executionProviders: [ExecutionProvider] = [.cuda, .cpu],
        intraOpThreads: Int = 0,
        mediaLimits: MediaLimits = MediaLimits(),
        speech: SpeechSettings = SpeechSettings(),
        modelsDirectory: String = "models"
    ) {
        self.logLevel = logLevel
        self.libraryLogLevel = libraryLogLevel
        self.executionProviders = executionProviders
        self.intraOpThreads = intraOpThreads
        self.mediaLimits = mediaLimits
        self.speech = speech
        self.modelsDirectory = modelsDirectory
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
        if let value = environment["INTRA_OP_SPINNING"] {
            configuration.intraOpSpinning = try parseBool(value, variable: "INTRA_OP_SPINNING")
        }
        if let value = environment["HUGE_PAGES"] { configuration.hugePages = try parseBool(value, variable: "HUGE_PAGES") }
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
        if let value = environment["MODELS_DIR"], !value.isEmpty { configuration.modelsDirectory = value }
        if let value = environment["HOST"], !value.isEmpty { configuration.host = value }
        if let value = environment["PORT"] { configuration.port = try parseInteger(value, variable: "PORT", in: 1...65535) }
        if let value = environment["MAX_CONCURRENT_JOBS"] {
            configuration.maxConcurrentJobs = try parseInteger(value, variable: "MAX_CONCURRENT_JOBS", in: 1...256)
        }
        if let value = environment["MAX_JOB_MEMORY_BYTES"] {
            configuration.maxJobMemoryBytes = try parseInteger(value, variable: "MAX_JOB_MEMORY_BYTES", in: (16 << 20)...(1 << 50))
        }
        if let value = environment["MAX_QUEUED_JOBS"] {
            configuration.maxQueuedJobs = try parseInteger(value, variable: "MAX_QUEUED_JOBS", in: 0...10_000)
        }
        if let value = environment["PRELOAD"] { configuration.preload = try parseBool(value, variable: "PRELOAD") }
        if let value = environment["VIDEO_CACHE_ENTRIES"] {
            configuration.videoCacheEntries = try parseInteger(value, variable: "VIDEO_CACHE_ENTRIES", in: 0...100_000)
        }
        if let value = environment["JOB_TIMEOUT_SECONDS"] {
            configuration.jobTimeoutSeconds = try parseInteger(value, variable: "JOB_TIMEOUT_SECONDS", in: 1...86_400)
        }
        if let value = environment["DRAIN_TIMEOUT_SECONDS"] {
            configuration.drainTimeoutSeconds = try parseInteger(value, variable: "DRAIN_TIMEOUT_SECONDS", in: 0...3600)
        }
        if let value = environment["HTTP_IDLE_TIMEOUT_SECONDS"] {
            configuration.httpIdleTimeoutSeconds = try parseInteger(value, variable: "HTTP_IDLE_TIMEOUT_SECONDS", in: 1...3600)
        }
        if let value = environment["HTTP_BODY_TIMEOUT_SECONDS"] {
            configuration.httpBodyTimeoutSeconds = try parseInteger(value, variable: "HTTP_BODY_TIMEOUT_SECONDS", in: 1...3600)
        }
        if let value = environment["MODEL_MEMORY"] {
            guard let mode = ModelMemory(rawValue: value.trimmingCharacters(in: .whitespaces).lowercased()) else {
                throw ConfigurationError.invalid(variable: "MODEL_MEMORY", value: value, expected: "fast or lean")
            }
            configuration.modelMemory = mode
        }
        if let value = environment["DEFAULT_PRECISION"] {
            guard let precision = ModelPrecision(rawValue: value.trimmingCharacters(in: .whitespaces).lowercased()) else {
                throw ConfigurationError.invalid(variable: "DEFAULT_PRECISION", value: value, expected: "float32, float16 or int8")
            }
            configuration.precision = precision
        }
        if let value = environment["VERIFY_MODELS"] { configuration.verifyModels = try parseBool(value, variable: "VERIFY_MODELS") }
        try configuration.speech.read(environment)
        try configuration.storage.read(environment)
        try configuration.jobDefaults.read(environment)
        try configuration.queue.read(environment)
        return configuration
    }

    public static func parseBool(_ text: String, variable: String) throws -> Bool {
        switch text.trimmingCharacters(in: .whitespaces).lowercased() {
        case "1", "true", "yes", "on": return true
        case "0", "false", "no", "off": return false
        default: throw ConfigurationError.invalid(variable: variable, value: text, expected: "true or false")
        }
    }

    /// An `http://` or `https://` base URL (a service endpoint).
    public static func parseHTTPURL(_ text: String, variable: String) throws -> String {
        guard text.hasPrefix("https://") || text.hasPrefix("http://") else {
            throw ConfigurationError.invalid(variable: variable, value: text, expected: "an http(s) URL")
        }
        return text
    }

    public static func parseInteger(_ text: String, variable: String, in range: ClosedRange<Int>) throws -> Int {
        guard let value = Int(text.trimmingCharacters(in: .whitespaces)), range.contains(value) else {
            throw ConfigurationError.invalid(
                variable: variable, value: text, expected: "an integer from \(range.lowerBound) to \(range.upperBound)")
        }
        return value
    }

    /// Every setting as `VARIABLE=value` lines for the start-up log, secrets masked.
    public var summary: [(variable: String, value: String)] {
        func masked(_ secret: String?) -> String { secret == nil ? "unset" : "****** (set)" }
        var rows: [(String, String)] = [
            ("LOG_LEVEL", logLevel.rawValue), ("LIBRARY_LOG_LEVEL", libraryLogLevel.rawValue),
            ("EXECUTION_PROVIDERS", executionProviders.map(\.description).joined(separator: ",")),
            ("INTRA_OP_THREADS", "\(intraOpThreads)"), ("INTRA_OP_SPINNING", "\(intraOpSpinning)"), ("HUGE_PAGES", "\(hugePages)"),
            ("MAX_INPUT_BYTES", "\(mediaLimits.maxFileBytes)"), ("MAX_DURATION_SECONDS", "\(mediaLimits.maxDurationSeconds)"),
            ("MAX_DIMENSION", "\(mediaLimits.maxDimension)"), ("MAX_FRAMES", "\(mediaLimits.maxFrameCount)"),
            ("MODELS_DIR", modelsDirectory), ("HOST", host), ("PORT", "\(port)"),
            ("MAX_CONCURRENT_JOBS", "\(maxConcurrentJobs)"), ("MAX_QUEUED_JOBS", "\(maxQueuedJobs)"),
            ("MAX_JOB_MEMORY_BYTES", "\(maxJobMemoryBytes)"), ("PRELOAD", "\(preload)"),
            ("VIDEO_CACHE_ENTRIES", "\(videoCacheEntries)"), ("JOB_TIMEOUT_SECONDS", "\(jobTimeoutSeconds)"),
            ("DRAIN_TIMEOUT_SECONDS", "\(drainTimeoutSeconds)"), ("HTTP_IDLE_TIMEOUT_SECONDS", "\(httpIdleTimeoutSeconds)"),
            ("HTTP_BODY_TIMEOUT_SECONDS", "\(httpBodyTimeoutSeconds)"), ("VERIFY_MODELS", "\(verifyModels)"),
            ("MODEL_MEMORY", modelMemory.rawValue), ("DEFAULT_PRECISION", precision.rawValue),
            ("GCS_TIMEOUT_SECONDS", "\(storage.gcsTimeoutSeconds)"), ("GCS_CONNECT_TIMEOUT_SECONDS", "\(storage.gcsConnectTimeoutSeconds)"),
            ("DEFAULT_TRACKING", "\(jobDefaults.tracking)"), ("DEFAULT_COMPOSITE", jobDefaults.composite.rawValue),
            ("DEFAULT_PADS", "\(jobDefaults.pads.top),\(jobDefaults.pads.bottom),\(jobDefaults.pads.left),\(jobDefaults.pads.right)"),
            ("DEFAULT_CRF", "\(jobDefaults.crf)"), ("DEFAULT_PRESET", jobDefaults.preset),
            ("DEFAULT_VOICE_MODE", jobDefaults.voiceMode?.rawValue ?? "freevc when possible"),
            ("TTS_ENGINE", speech.defaultEngine.rawValue), ("TTS_FALLBACK", "\(speech.fallbackToEspeak)"),
            ("TTS_MAX_CHARACTERS", "\(speech.maxCharacters)"), ("PIPER_VOICES_DIR", speech.piperVoicesDirectory ?? "unset"),
            ("GOOGLE_TTS_API_KEY", masked(speech.googleAPIKey)), ("GOOGLE_TTS_ENDPOINT", speech.googleEndpoint),
            ("GTTS_ENABLED", "\(speech.gttsEnabled)"), ("GTTS_ENDPOINT", speech.gttsEndpoint),
            ("STORAGE_ROOTS", storage.roots.joined(separator: ":")), ("TEMP_DIR", storage.temporaryDirectory),
            ("STORAGE_CREDENTIALS", storage.credentials.description), ("HTTPS_INPUT", "\(storage.httpsInput)"),
            (
                "HTTPS_INPUT_ALLOWED_HOSTS",
                storage.httpsAllowedHosts.isEmpty ? "any public host" : storage.httpsAllowedHosts.joined(separator: ",")
            ),
        ]
        rows += queue.summary
        rows.sort { $0.0 < $1.0 }
        return rows
    }

    /// The server's connection time limits.
    public var connectionTimeouts: (idle: Duration, body: Duration) {
        (.seconds(httpIdleTimeoutSeconds), .seconds(httpBodyTimeoutSeconds))
    }

    /// The server's thread budget: with `INTRA_OP_THREADS` unset, each of the
    /// `MAX_CONCURRENT_JOBS` jobs gets an equal share of the cores, so that concurrent jobs do
    /// not oversubscribe them (measured in docs/memory.md: two jobs at once 15.5 s with two
    /// threads each on two cores, 12.0 s with one each). The CLI runs one job: ORT's default.
    public func withServerThreadBudget(cores: Int = ProcessInfo.processInfo.activeProcessorCount) -> Configuration {
        var budgeted = self
        if intraOpThreads == 0 { budgeted.intraOpThreads = max(1, cores / max(1, maxConcurrentJobs)) }
        return budgeted
    }

    /// Session options for the models, following this configuration. `varyingShapes`: the
    /// model's input size follows the job (the speech: the mel front end, the speaker models,
    /// WavLM, FreeVC, Piper; the video: S3FD); it runs without ONNX Runtime's CPU arena even in `fast` mode, since
    /// the arena would keep the longest job's activations for the rest of the process (measured:
    /// a 10.6 s phrase's voice conversion left ~300 MB in it through the render; without it, the
    /// same speed — each job's input has a new shape, so the arena's reuse seldom applies).
    /// Memory patterns stay on. Fixed-shape models (the generator, BlazeFace) keep the arena.
    public func sessionOptions(varyingShapes: Bool = false) -> SessionOptions {
        var options = SessionOptions(intraOpThreads: intraOpThreads, providers: executionProviders)
        options.memoryArena = modelMemory == .fast && !varyingShapes
        options.memoryPattern = modelMemory == .fast
        options.spinning = intraOpSpinning
        return options
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

/// Text-to-speech configuration.
public struct SpeechSettings: Sendable, Equatable {
    /// `TTS_ENGINE`: engine used when a request names none (`espeak`, `piper`, `google`, `gtts`; default `espeak`).
    public var defaultEngine: SpeechEngineID = .espeak
    /// `TTS_FALLBACK`: serve with espeak-ng when Google or gTTS fails or Piper lacks the language (default `true`).
    public var fallbackToEspeak = true
    /// `TTS_MAX_CHARACTERS`: longest accepted text (default 200).
    public var maxCharacters = SpeechText.defaultLimit
    /// `ESPEAK_RATE` (words per minute, 80–450, default 175) and `ESPEAK_PITCH` (0–100, default 50).
    public var espeakRate = 175
    public var espeakPitch = 50
    /// `PIPER_VOICES_DIR`: directory of Piper voices (`NAME.onnx` + `NAME.onnx.json`); unset: no Piper engine.
    public var piperVoicesDirectory: String?
    /// `GOOGLE_TTS_API_KEY`: enables the Google engine; unset: no Google engine.
    public var googleAPIKey: String?
    /// `GOOGLE_TTS_ENDPOINT` (default `https://texttospeech.googleapis.com`).
    public var googleEndpoint = "https://texttospeech.googleapis.com"
    /// `GOOGLE_TTS_TIMEOUT_SECONDS`: deadline of one attempt (1–120, default 10).
    public var googleTimeoutSeconds = 10
    /// `GTTS_ENABLED`: adds the gTTS engine (Google Translate's public endpoint, the original
    /// server's engine); off by default because it sends the text to Google (default `false`).
    public var gttsEnabled = false
    /// `GTTS_ENDPOINT` (default `https://translate.google.com`).
    public var gttsEndpoint = "https://translate.google.com"
    /// `GTTS_TIMEOUT_SECONDS`: deadline of one attempt (1–120, default 10).
    public var gttsTimeoutSeconds = 10

    public init() {}

    mutating func read(_ environment: [String: String]) throws {
        if let value = environment["TTS_ENGINE"] {
            guard let engine = SpeechEngineID(rawValue: value.trimmingCharacters(in: .whitespaces).lowercased()) else {
                throw ConfigurationError.invalid(
                    variable: "TTS_ENGINE", value: value,
                    expected: "one of " + SpeechEngineID.allCases.map(\.rawValue).joined(separator: ", "))
            }
            defaultEngine = engine
        }
        if let value = environment["TTS_FALLBACK"] { fallbackToEspeak = try Configuration.parseBool(value, variable: "TTS_FALLBACK") }
        if let value = environment["TTS_MAX_CHARACTERS"] {
            maxCharacters = try Configuration.parseInteger(value, variable: "TTS_MAX_CHARACTERS", in: 1...5000)
        }
        if let value = environment["ESPEAK_RATE"] {
            espeakRate = try Configuration.parseInteger(value, variable: "ESPEAK_RATE", in: 80...450)
        }
        if let value = environment["ESPEAK_PITCH"] {
            espeakPitch = try Configuration.parseInteger(value, variable: "ESPEAK_PITCH", in: 0...100)
        }
        if let value = environment["PIPER_VOICES_DIR"], !value.isEmpty { piperVoicesDirectory = value }
        if let value = environment["GOOGLE_TTS_API_KEY"], !value.isEmpty { googleAPIKey = value }
        if let value = environment["GOOGLE_TTS_ENDPOINT"], !value.isEmpty {
            googleEndpoint = try Configuration.parseHTTPURL(value, variable: "GOOGLE_TTS_ENDPOINT")
        }
        if let value = environment["GOOGLE_TTS_TIMEOUT_SECONDS"] {
            googleTimeoutSeconds = try Configuration.parseInteger(value, variable: "GOOGLE_TTS_TIMEOUT_SECONDS", in: 1...120)
        }
        if let value = environment["GTTS_ENABLED"] { gttsEnabled = try Configuration.parseBool(value, variable: "GTTS_ENABLED") }
        if let value = environment["GTTS_ENDPOINT"], !value.isEmpty {
            gttsEndpoint = try Configuration.parseHTTPURL(value, variable: "GTTS_ENDPOINT")
        }
        if let value = environment["GTTS_TIMEOUT_SECONDS"] {
            gttsTimeoutSeconds = try Configuration.parseInteger(value, variable: "GTTS_TIMEOUT_SECONDS", in: 1...120)
        }
        switch defaultEngine {
        case .piper where piperVoicesDirectory == nil:
            throw ConfigurationError.invalid(
                variable: "TTS_ENGINE", value: "piper", expected: "PIPER_VOICES_DIR to be set for the piper engine")
        case .google where googleAPIKey == nil:
            throw ConfigurationError.invalid(
                variable: "TTS_ENGINE", value: "google", expected: "GOOGLE_TTS_API_KEY to be set for the google engine")
        case .gtts where !gttsEnabled:
            throw ConfigurationError.invalid(variable: "TTS_ENGINE", value: "gtts", expected: "GTTS_ENABLED=true for the gtts engine")
        default:
            break
        }
    }
}

/// How ONNX Runtime keeps activation memory (docs/memory.md has the measurements).
public enum ModelMemory: String, Sendable, Equatable, CaseIterable {
    /// Memory patterns, and the CPU arena for the fixed-shape models (activations kept for
    /// the next batch; see `sessionOptions(varyingShapes:)`). Fastest.
    case fast
    /// No arena, no patterns: every run's activations go back when it ends. A lower and
    /// flatter peak (long phrases); slower.
    case lean
}
