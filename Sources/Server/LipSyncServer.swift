import FaceTracking
import Foundation
import HTTPTypes
import Hummingbird
import LipSync
import Logging
import Media
import NIOCore
import NIOFoundationCompat
import Pipeline
import Speech
import Storage
import UserFacingErrors
import VoiceConversion
import Resilience

/// The original system's request (`POST /api/v1/lip-video`), plus optional fields for the
/// stages' options.
public struct LipVideoRequest: Decodable, Sendable {
    public let word: String
    public let user_video_gs: String
    public let output_video_gs: String
    public let tts_lang: String
    public let tts_engine: String?
    public let tts_voice: String?
    public let voice_mode: String?
    public let seed: UInt64?
    public let tracking: String?
    public let composite: String?
    public let pads: [Int]?
    /// Output quality: x264 constant rate factor 0–51 (lower is better) and preset.
    public let crf: Int?
    public let preset: String?
}

struct LipVideoResponse: Encodable {
    let status: String
    let output_video_gs: String
    let request_id: String
    let frames: Int
    let width: Int
    let height: Int
    let tts_engine: String
    let voice_mode: String
    let voice_mode_reason: String?
    let tts_fallback_reason: String?
    let cached: Bool
    let timings: [String: Double]
}

/// GET /api/v1/models: the model registry's report.
struct ModelsResponse: Encodable {
    let loaded: Bool
    let provider: String?
    let load_seconds: Double?
    let models: [ModelReport.Model]
}

/// HTTP front of the pipeline, compatible with the original API (docs/server.md).
public struct LipSyncServer: Sendable {
    public let provider: PipelineProvider
    public let limiter: JobLimiter
    public let defaults: LipSyncOptions
    /// Voice mode of a request that names none (nil: FreeVC when installed and usable).
    public let defaultVoiceMode: VoiceMode?
    /// Where inputs are read and outputs written (local roots, gs://, https:// inputs).
    public let storage: StorageService
    /// Base folder of the per-request workspaces.
    public let workspaceBase: String
    /// Deadline of one request from the moment it is validated (queueing included).
    public let jobTimeout: Duration
    public let metrics: ServerMetrics
    /// The threads jobs run on (off the cooperative pool and the event loops).
    public let executor: JobExecutor
    /// Idle and request-body time limits of connections.
    public let timeouts: ConnectionTimeouts
    let logger: Logger
    static let requestIDHeader = HTTPField.Name("X-Request-Id")!  // a valid constant header name
    /// Every route's path (the metrics label set; the OpenAPI test compares it with the document).
    static let paths: Set<String> = [
        "/api/v1/lip-video", "/api/v1/lip-video-optimized", "/api/v1/preload-models", "/api/v1/models",
        "/healthz", "/readyz", "/metrics", "/openapi.yaml",
    ]

    public init(provider: PipelineProvider, limiter: JobLimiter, storage: StorageService, workspaceBase: String = NSTemporaryDirectory(),
                defaults: LipSyncOptions = LipSyncOptions(), defaultVoiceMode: VoiceMode? = nil, jobTimeout: Duration = .seconds(600), metrics: ServerMetrics = ServerMetrics(),
                executor: JobExecutor = JobExecutor(), timeouts: ConnectionTimeouts = ConnectionTimeouts(),
                logger: Logger = Logger(label: "lipsync.server")) {
        self.executor = executor
        self.timeouts = timeouts
        self.provider = provider
        self.limiter = limiter
        self.storage = storage
        self.workspaceBase = workspaceBase
        self.defaults = defaults
        self.defaultVoiceMode = defaultVoiceMode
        self.jobTimeout = jobTimeout
        self.metrics = metrics
        self.logger = logger
    }

    public func router() -> Router<BasicRequestContext> {
        let router = Router(context: BasicRequestContext.self)
        router.add(middleware: RequestMetricsMiddleware(metrics: metrics, routes: Self.paths))
        router.post("/api/v1/lip-video") { request, context in try await self.lipVideo(request, context: context) }
        router.post("/api/v1/lip-video-optimized") { request, context in try await self.lipVideo(request, context: context) }
        router.post("/api/v1/preload-models") { _, _ -> Response in
            do {
                _ = try await provider.pipeline()
            } catch {
                throw APIError(.serviceUnavailable, code: "models_unavailable", message: "the models cannot be loaded: \(error)")
            }
            return try Self.json(["status": "ok", "message": "Models preloaded successfully"])
        }
        router.get("/api/v1/models") { _, _ -> Response in
            let report = await provider.loaded?.models
            return try Self.json(ModelsResponse(loaded: report != nil, provider: report?.provider, load_seconds: report?.loadSeconds,
                                                models: report?.models ?? []))
        }
        router.get("/healthz") { _, _ in try Self.json(["status": "ok"]) }
        router.get("/readyz") { _, _ -> Response in
            guard await provider.isLoaded else {
                throw APIError(.serviceUnavailable, code: "not_ready", message: "the models are not loaded yet")
            }
            let problems = await storage.readinessProblems(workspaceBase: workspaceBase)
            guard problems.isEmpty else {
                throw APIError(.serviceUnavailable, code: "storage_not_ready", message: problems.joined(separator: "; "))
            }
            return try Self.json(["status": "ready"])
        }
        router.get("/metrics") { _, _ -> Response in
            let text = metrics.render(await limiter.snapshot, loadSeconds: await provider.loaded?.models.loadSeconds)
            return Response(status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                            body: .init(byteBuffer: ByteBuffer(string: text)))
        }
        router.get("/openapi.yaml") { _, _ -> Response in
            guard let document = OpenAPIDocument.yaml else {
                throw APIError(.internalServerError, code: "openapi_missing", message: "the OpenAPI document is not installed next to the binary")
            }
            return Response(status: .ok, headers: [.contentType: "application/yaml"], body: .init(byteBuffer: ByteBuffer(string: document)))
        }
        return router
    }

    func lipVideo(_ request: Request, context: BasicRequestContext) async throws -> Response {
        let requestID = request.headers[Self.requestIDHeader].flatMap(Self.acceptableRequestID) ?? UUID().uuidString.lowercased()
        var log = logger
        log[metadataKey: "request_id"] = "\(requestID)"
        do {
            // A client that hangs up cancels its job (and the job's workspace goes with it).
            var response = try await request.body.consumeWithCancellationOnInboundClose { body in
                try await runJob(body, requestID: requestID, log: log)
            }
            response.headers[Self.requestIDHeader] = requestID
            response.headers[.connection] = "close"
            return response
        } catch var error as APIError {
            error.requestID = requestID
            error.closesConnection = true
            log.notice("request refused", metadata: ["code": "\(error.code)", "reason": "\(error.message)"])
            throw error
        } catch {
            var api = Self.apiError(for: error)
            api.requestID = requestID
            api.closesConnection = true
            if api.status == .internalServerError {
                log.error("job failed", metadata: ["error": "\(error)"])
            } else {
                log.notice("job refused", metadata: ["code": "\(api.code)", "reason": "\(api.message)"])
            }
            throw api
        }
    }

    func runJob(_ body: RequestBody, requestID: String, log: Logger) async throws -> Response {
        let bytes = try await Self.collect(body, limit: 64 * 1024, within: timeouts.body)
        let fields: LipVideoRequest
        do {
            fields = try JSONDecoder().decode(LipVideoRequest.self, from: Data(buffer: bytes))
        } catch let error as DecodingError {
            throw Self.describe(error)
        }
        var job = try makeJob(fields)
        job.requestID = requestID
        let result = try await Self.withDeadline(jobTimeout) { [self, job] in
            do {
                return try await limiter.withSlot { slot in
                    let pipeline: LipSyncPipeline
                    do {
                        pipeline = try await provider.pipeline()
                    } catch {
                        throw APIError(.serviceUnavailable, code: "models_unavailable", message: "the models cannot be loaded: \(error)")
                    }
                    log.info("job started", metadata: ["input": "\(job.video)", "output": "\(job.output)"])
                    return try await withTaskExecutorPreference(executor) {
                        try await pipeline.run(job, storage: storage, workspaceBase: workspaceBase, label: requestID, admission: slot)
                    }
                }
            } catch JobLimiter.Refusal.full {
                throw APIError(.tooManyRequests, code: "busy", message: "the server is busy; retry later", retryAfterSeconds: 5)
            }
        }
        metrics.recordJob(result.timings, cached: result.cached)
        var timings: [String: Double] = [:]
        for row in result.timings.keyedRows { timings[row.key] = (row.seconds * 1000).rounded() / 1000 }
        return try Self.json(LipVideoResponse(
            status: "ok", output_video_gs: fields.output_video_gs, request_id: requestID, frames: result.frames, width: result.width,
            height: result.height, tts_engine: result.ttsEngine.rawValue, voice_mode: result.voiceMode.rawValue,
            voice_mode_reason: result.voiceModeReason, tts_fallback_reason: result.ttsFallbackReason, cached: result.cached, timings: timings))
    }

    /// Runs `body`, cancelling it when `limit` passes first (then 504 `deadline_exceeded`).
    /// A body that still completes after the deadline (it had already stored its output when
    /// the cancellation reached it) returns its value: the answer says what really happened.
    static func withDeadline<T: Sendable>(_ limit: Duration, _ body: @escaping @Sendable () async throws -> T) async throws -> T {
        try await withThrowingTaskGroup(of: T?.self) { group in
            group.addTask { try await body() }
            group.addTask {
                try? await Task.sleep(for: limit)
                return nil
            }
            if case let value?? = try await group.next() {
                group.cancelAll()
                return value
            }
            group.cancelAll()  // the deadline passed (or the request was cancelled): stop the job
            if case let value?? = try? await group.next() { return value }
            if Task.isCancelled { throw CancellationError() }  // the client left: not a timeout
            throw APIError(.gatewayTimeout, code: "deadline_exceeded", message: "the job did not finish within \(limit) (JOB_TIMEOUT_SECONDS)")
        }
    }

    /// The request body, at most `limit` bytes, all of it within `time` (413 and 408 otherwise).
    static func collect(_ body: RequestBody, limit: Int, within time: Duration) async throws -> ByteBuffer {
        let timeout = APIError(.requestTimeout, code: "body_timeout",
                               message: "the request body did not arrive within \(time) (HTTP_BODY_TIMEOUT_SECONDS)")
        do {
            return try await withTimeLimit(time, timeout: timeout) { try await body.collect(upTo: limit) }
        } catch let error as APIError {
            throw error
        } catch is CancellationError {
            throw CancellationError()
        } catch {
            throw APIError(.contentTooLarge, code: "body_too_large", message: "the request body is larger than \(limit / 1024) KiB")
        }
    }

    /// A client's X-Request-Id is echoed when it is short printable ASCII (it goes into logs).
    static func acceptableRequestID(_ text: String) -> String? {
        text.count <= 128 && !text.isEmpty && text.unicodeScalars.allSatisfy({ $0.value > 0x20 && $0.value < 0x7F }) ? text : nil
    }

    /// The pipeline request for a validated body. Both URIs are parsed and the output
    /// destination checked here, before the job waits for a slot.
    func makeJob(_ body: LipVideoRequest) throws -> JobRequest {
        let video = body.user_video_gs, output = body.output_video_gs
        do {
            _ = try StorageURI(parsing: video)
        } catch {
            throw Self.apiError(for: JobStorageError(side: .input, error: error))
        }
        do {
            try storage.checkOutput(try StorageURI(parsing: output))
        } catch let error as StorageError {
            throw Self.apiError(for: JobStorageError(side: .output, error: error))
        }
        var overrides = JobOverrides(crf: body.crf, preset: body.preset)
        do {
            overrides.tracking = try body.tracking.map { try JobOverrides.parse($0, field: "tracking") }
            overrides.composite = try body.composite.map { try JobOverrides.parse($0, field: "composite") }
            overrides.pads = try body.pads.map { try JobOverrides.pads($0, field: "pads") }
            overrides.engine = try body.tts_engine.map { try JobOverrides.parse($0, field: "tts_engine") }
            overrides.voiceMode = try body.voice_mode.map { try JobOverrides.parse($0, field: "voice_mode") }
            let options = try overrides.apply(to: defaults)
            return JobRequest(video: video, text: body.word, language: body.tts_lang, output: output, ttsEngine: overrides.engine,
                              ttsVoice: body.tts_voice, voiceMode: overrides.voiceMode ?? defaultVoiceMode, seed: body.seed ?? 0,
                              lipSync: options)
        } catch {
            throw Self.apiError(for: error)
        }
    }

    static func describe(_ error: DecodingError) -> APIError {
        switch error {
        case .keyNotFound(let key, _):
            return APIError(.badRequest, code: "missing_field", message: "the field '\(key.stringValue)' is required", field: key.stringValue)
        case .typeMismatch(_, let context), .valueNotFound(_, let context):
            let field = context.codingPath.map(\.stringValue).joined(separator: ".")
            return APIError(.badRequest, code: "invalid_field", message: "the field '\(field)' has the wrong type", field: field)
        case .dataCorrupted:
            return APIError(.badRequest, code: "invalid_json", message: "the body is not valid JSON")
        @unknown default:
            return APIError(.badRequest, code: "invalid_json", message: "the body cannot be read")
        }
    }

    /// The HTTP answer for any error: a `UserFacingError` says its own status, code, field
    /// and message; the server's own faults (500, and errors that describe nothing) get a
    /// generic message — the details are in the log.
    static func apiError(for error: any Error) -> APIError {
        if error is CancellationError {
            return APIError(.init(code: 499, reasonPhrase: "Client Closed Request"), code: "cancelled", message: "the request was cancelled")
        }
        guard let failure = error as? any UserFacingError, !failure.isInternal else {
            return APIError(.internalServerError, code: "internal_error", message: "the job failed on the server; see its log")
        }
        return APIError(.init(code: failure.httpStatus, reasonPhrase: Self.reasonPhrase(failure.httpStatus)), code: failure.code,
                        message: failure.message, field: failure.field)
    }

    /// The standard reason phrase of the statuses errors use.
    static func reasonPhrase(_ code: Int) -> String {
        let known: [HTTPResponse.Status] = [
            .badRequest, .forbidden, .notFound, .conflict, .contentTooLarge, .unprocessableContent, .tooManyRequests,
            .badGateway, .serviceUnavailable, .gatewayTimeout, .insufficientStorage,
        ]
        return known.first { $0.code == code }?.reasonPhrase ?? ""
    }

    static func json(_ value: some Encodable) throws -> Response {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(data: try encoder.encode(value))))
    }
}
