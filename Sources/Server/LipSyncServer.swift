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
import VoiceConversion

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
            return try Self.json(["status": "ok", "message": "models loaded"])
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
        var options = defaults
        if let tracking = body.tracking {
            switch tracking {
            case "every": options.tracking.mode = .every
            case "keyframes": options.tracking.mode = .keyframes(interval: 5)
            case "static": options.tracking.mode = .stationary
            default: throw APIError(.badRequest, code: "invalid_field", message: "tracking must be every, keyframes or static", field: "tracking")
            }
        }
        if let composite = body.composite {
            guard let mode = CompositeMode(rawValue: composite) else {
                throw APIError(.badRequest, code: "invalid_field", message: "composite must be blend or replace", field: "composite")
            }
            options.composite = mode
        }
        if let pads = body.pads {
            guard pads.count == 4, pads.allSatisfy({ (0...500).contains($0) }) else {
                throw APIError(.badRequest, code: "invalid_field", message: "pads must be four numbers 0–500: top, bottom, left, right", field: "pads")
            }
            options.tracking.pads = Pads(top: pads[0], bottom: pads[1], left: pads[2], right: pads[3])
        }
        if let crf = body.crf {
            guard (0...51).contains(crf) else {
                throw APIError(.badRequest, code: "invalid_field", message: "crf must be 0–51 (lower is better quality; default 18)", field: "crf")
            }
            options.encoder.crf = crf
        }
        if let preset = body.preset {
            guard EncoderOptions.x264Presets.contains(preset) else {
                throw APIError(.badRequest, code: "invalid_field", message: "preset must be one of " + EncoderOptions.x264Presets.joined(separator: ", "), field: "preset")
            }
            options.encoder.preset = preset
        }
        var engine: SpeechEngineID?
        if let name = body.tts_engine {
            guard let id = SpeechEngineID(rawValue: name) else {
                throw APIError(.badRequest, code: "invalid_field", message: "tts_engine must be espeak, piper or google", field: "tts_engine")
            }
            engine = id
        }
        var voiceMode = defaultVoiceMode
        if let mode = body.voice_mode {
            guard let parsed = VoiceMode(rawValue: mode) else {
                throw APIError(.badRequest, code: "invalid_field", message: "voice_mode must be freevc or none", field: "voice_mode")
            }
            voiceMode = parsed
        }
        return JobRequest(video: video, text: body.word, language: body.tts_lang, output: output, ttsEngine: engine,
                          ttsVoice: body.tts_voice, voiceMode: voiceMode, seed: body.seed ?? 0, lipSync: options)
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

    /// The HTTP answer for a stage's error: what the caller can fix is 4xx with the reason.
    static func apiError(for error: Error) -> APIError {
        switch error {
        case let speech as SpeechError:
            switch speech {
            case .unsupportedLanguage: return APIError(.badRequest, code: "unsupported_language", message: speech.description, field: "tts_lang")
            case .emptyText, .textTooLong, .controlCharacters, .silentOutput, .speechTooLong:
                return APIError(.badRequest, code: "invalid_text", message: speech.description, field: "word")
            case .engineUnavailable: return APIError(.badRequest, code: "invalid_tts", message: speech.description, field: "tts_engine")
            case .voiceNotFound: return APIError(.badRequest, code: "invalid_tts", message: speech.description, field: "tts_voice")
            default: return APIError(.badGateway, code: "tts_failed", message: speech.description)
            }
        case let media as MediaError:
            if case .noSpace = media { return insufficientStorage(StorageService.workspaceFolder) }
            // Outputs are written into the job's workspace: failing there is the server's fault.
            if case .writeFailed = media { return APIError(.internalServerError, code: "internal_error", message: "the output could not be written on the server; see its log") }
            return APIError(.unprocessableContent, code: "invalid_media", message: media.description, field: "user_video_gs")
        case let voice as VoiceConversionError:
            // The speech is made from the caller's phrase: too long or empty is theirs to fix.
            switch voice {
            case .speechTooLong, .emptySpeech: return APIError(.badRequest, code: "invalid_text", message: voice.description, field: "word")
            case .tooLittleVoice:
                return APIError(.unprocessableContent, code: "invalid_media", message: voice.description, field: "user_video_gs")
            case .modelMismatch:
                return APIError(.internalServerError, code: "internal_error", message: "the job failed on the server; see its log")
            }
        case let tracking as FaceTrackingError:
            return APIError(.unprocessableContent, code: "no_face", message: tracking.description, field: "user_video_gs")
        case let lipSync as LipSyncError:
            switch lipSync {
            case .invalidBox, .modelMismatch:
                return APIError(.internalServerError, code: "internal_error", message: "the job failed on the server; see its log")
            case .speechTooLong, .emptySpeech:
                return APIError(.badRequest, code: "invalid_text", message: lipSync.description, field: "word")
            case .noFrames: break
            }
            return APIError(.unprocessableContent, code: "invalid_media", message: lipSync.description)
        case let storage as JobStorageError:
            return apiError(for: storage.error, field: storage.side == .input ? "user_video_gs" : "output_video_gs")
        case let tooLarge as JobTooLargeError:
            return APIError(.contentTooLarge, code: "job_too_large", message: tooLarge.description, field: "user_video_gs")
        case is CancellationError:
            return APIError(.init(code: 499, reasonPhrase: "Client Closed Request"), code: "cancelled", message: "the request was cancelled")
        default:
            return APIError(.internalServerError, code: "internal_error", message: "the job failed on the server; see its log")
        }
    }

    /// Storage failures by kind: what the caller can fix is 4xx, a failing backend 502/503/504.
    static func apiError(for error: StorageError, field: String) -> APIError {
        let message = error.description
        switch error.kind {
        case .badRequest: return APIError(.badRequest, code: "invalid_uri", message: message, field: field)
        case .notFound:
            return APIError(.notFound, code: field == "user_video_gs" ? "input_not_found" : "output_folder_not_found", message: message, field: field)
        case .forbidden: return APIError(.forbidden, code: "storage_forbidden", message: message, field: field)
        case .tooLarge: return APIError(.contentTooLarge, code: "input_too_large", message: message, field: field)
        case .conflict: return APIError(.conflict, code: "output_conflict", message: message, field: field)
        case .unavailable: return APIError(.badGateway, code: "storage_unavailable", message: message, field: field)
        case .configuration: return APIError(.serviceUnavailable, code: "storage_not_configured", message: message, field: field)
        case .timeout: return APIError(.gatewayTimeout, code: "storage_timeout", message: message, field: field)
        case .insufficientStorage:
            // The field only when the caller's destination is full, not the server's own folder.
            guard case .noSpace(let place) = error, place != StorageService.workspaceFolder else {
                return insufficientStorage(StorageService.workspaceFolder)
            }
            return APIError(.insufficientStorage, code: "insufficient_storage", message: message, field: field)
        }
    }

    /// 507: the server ran out of disk space in `place` (not the caller's fault, nor their input's).
    static func insufficientStorage(_ place: String) -> APIError {
        APIError(.insufficientStorage, code: "insufficient_storage", message: "no space left on the device holding \(place); retry later")
    }

    static func json(_ value: some Encodable) throws -> Response {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(data: try encoder.encode(value))))
    }
}
