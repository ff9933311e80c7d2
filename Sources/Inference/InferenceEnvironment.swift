internal import CONNXRuntime
public import Logging
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// The process's ONNX Runtime environment (threading, logging). Create one at start-up and
/// pass it to every `InferenceSession`; it is released when the last reference goes.
public final class InferenceEnvironment: @unchecked Sendable {
    // @unchecked: `handle` is set once in init and only read afterwards; ORT's OrtEnv is
    // safe to share between threads.
    let runtime: ORTRuntime
    let handle: OpaquePointer
    public let logger: Logger
    /// Providers whose fallback was already logged at warning level (later ones: debug).
    private let reportedFallbacks = Mutex<Set<ExecutionProvider>>([])

    /// - Parameters:
    ///   - logger: receives ORT's own messages (its metadata gains `onnxruntime` = category).
    ///   - runtimeLogLevel: the lowest ORT severity forwarded; warnings by default so ORT
    ///     stays quiet unless something is wrong.
    public init(logger: Logger, runtimeLogLevel: Logger.Level = .warning) throws {
        let runtime = try ORTRuntime.get()
        ORTLogSink.logger.withLock { $0 = logger }
        let telemetryOff = Self.telemetryDisabled  // decided before the first environment is created
        var env: OpaquePointer?
        try runtime.check(
            runtime.api.CreateEnvWithCustomLogger(
                ORTLogSink.callback, nil, Self.ortLevel(runtimeLogLevel), "lipsync", &env))
        guard let env else { throw InferenceError.runtimeUnavailable("CreateEnv returned no environment") }
        if telemetryOff { try runtime.check(runtime.api.DisableTelemetryEvents(env)) }
        self.runtime = runtime
        self.handle = env
        self.logger = logger
    }

    deinit {
        runtime.api.ReleaseEnv(handle)
    }

    /// ONNX Runtime's Linux builds since 1.29 keep telemetry (a device id file and events about
    /// the process, its sessions, models and errors — error messages and paths included — in
    /// `~/.cache/Microsoft/DeveloperTools`, uploaded to Microsoft when the network allows),
    /// on unless `ORT_DISABLE_TELEMETRY=1` is set before the first environment is created. A
    /// self-hosted server sends nothing of its users' work anywhere, so the variable is set
    /// here, once, unless the operator already set it (`ORT_DISABLE_TELEMETRY=0` keeps ONNX
    /// Runtime's telemetry on); the environment's telemetry events are then disabled as well.
    /// True when it is off for this process.
    public static let telemetryDisabled: Bool = {
        setenv("ORT_DISABLE_TELEMETRY", "1", 0)
        return getenv("ORT_DISABLE_TELEMETRY").map { String(cString: $0) != "0" } ?? false
    }()

    /// Logs a provider fallback once per environment at warning level, then at debug level,
    /// so a server loading many models says it once.
    func reportFallback(_ fallback: ProviderFallback, to provider: ExecutionProvider, model: String) {
        let first = reportedFallbacks.withLock { $0.insert(fallback.provider).inserted }
        logger.log(
            level: first ? .warning : .debug,
            "execution provider \(fallback.provider) unavailable, falling back to \(provider): \(fallback.reason)",
            metadata: ["model": "\(model)"])
    }

    /// ONNX Runtime's version string (e.g. "1.31.1").
    public var runtimeVersion: String { runtime.version }

    /// The C API version this binding was compiled against.
    public static var apiVersion: Int { Int(ORT_API_VERSION) }

    /// Providers compiled into the loaded library, in ORT's naming. Being listed does not
    /// mean usable: CUDA can be listed with no GPU present (sessions then fall back).
    public func availableProviders() throws -> [String] {
        try runtime.availableProviders()
    }

    private static func ortLevel(_ level: Logger.Level) -> OrtLoggingLevel {
        switch level {
        case .trace: ORT_LOGGING_LEVEL_VERBOSE
        case .debug, .info: ORT_LOGGING_LEVEL_INFO
        case .notice, .warning: ORT_LOGGING_LEVEL_WARNING
        case .error: ORT_LOGGING_LEVEL_ERROR
        case .critical: ORT_LOGGING_LEVEL_FATAL
        }
    }
}

extension InferenceEnvironment {
    /// Whether `provider` can be added to a session here, without loading a model.
    /// `nil` means usable as far as ORT can tell before a model is loaded; otherwise ORT's
    /// reason. (With the GPU build but no usable GPU, CUDA can still fail at session
    /// creation; sessions then fall back to CPU.)
    public func unavailabilityReason(of provider: ExecutionProvider) -> String? {
        let api = runtime.api
        var sessionOptions: OpaquePointer?
        do {
            try runtime.check(api.CreateSessionOptions(&sessionOptions))
            guard let sessionOptions else { return "CreateSessionOptions returned nothing" }
            defer { api.ReleaseSessionOptions(sessionOptions) }
            try InferenceSession.appendProvider(provider, options: SessionOptions(), to: sessionOptions, runtime: runtime)
            return nil
        } catch let error as InferenceError {
            if case .runtime(_, let message) = error { return message }
            return error.description
        } catch {
            return "\(error)"
        }
    }
}
