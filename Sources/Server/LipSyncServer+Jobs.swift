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
import Resilience
import Speech
import Storage
import UserFacingErrors
import VoiceConversion

extension LipSyncServer {
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
        let fields = try Self.decodeRequest(Data(buffer: bytes))
        var job = try makeJob(fields)
        job.requestID = requestID
        let response = try await Self.withDeadline(jobTimeout) { [self, job] in
            do {
                return try await limiter.withSlot { slot in try await runAdmitted(job, requestID: requestID, slot: slot) }
            } catch JobLimiter.Refusal.full {
                throw APIError(.tooManyRequests, code: "busy", message: "the server is busy; retry later", retryAfterSeconds: 5)
            }
        }
        return try Self.json(response)
    }

    /// One job that holds a slot: the models (loaded on first use), the pipeline on the job
    /// threads, the metrics, and the response body. `beforeStore` (the queue's fencing)
    /// runs just before the output is written.
    func runAdmitted(
        _ job: JobRequest, requestID: String, slot: JobLimiter.Slot, beforeStore: (@Sendable () async throws -> Void)? = nil
    ) async throws -> LipVideoResponse {
        let pipeline: LipSyncPipeline
        do {
            pipeline = try await provider.pipeline()
        } catch {
            throw APIError(.serviceUnavailable, code: "models_unavailable", message: "the models cannot be loaded: \(error)")
        }
        var log = logger
        log[metadataKey: "request_id"] = "\(requestID)"
        log.info("job started", metadata: ["input": "\(job.video)", "output": "\(job.output)"])
        let result = try await withTaskExecutorPreference(executor) {
            try await pipeline.run(
                job, storage: storage, workspaceBase: workspaceBase, label: requestID, admission: slot, beforeStore: beforeStore)
        }
        metrics.recordJob(result.timings, cached: result.cached)
        guard let engine = Components.Schemas.TTSEngine(rawValue: result.ttsEngine.rawValue),
            let voiceMode = Components.Schemas.VoiceMode(rawValue: result.voiceMode.rawValue)
        else {
            throw InternalFailure("the engine \(result.ttsEngine) or voice mode \(result.voiceMode) is not in openapi.yaml")
        }
        return LipVideoResponse(
            status: .ok, outputVideoGs: job.output, requestId: requestID, frames: result.frames, width: result.width,
            height: result.height, ttsEngine: engine, voiceMode: voiceMode, voiceModeReason: result.voiceModeReason,
            ttsFallbackReason: result.ttsFallbackReason, cached: result.cached, timings: try .init(result.timings))
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
            throw APIError(
                .gatewayTimeout, code: "deadline_exceeded", message: "the job did not finish within \(limit) (JOB_TIMEOUT_SECONDS)")
        }
    }

    /// The request body, at most `limit` bytes, all of it within `time` (413 and 408 otherwise).
    static func collect(_ body: RequestBody, limit: Int, within time: Duration) async throws -> ByteBuffer {
        let timeout = APIError(
            .requestTimeout, code: "body_timeout",
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

    /// The request body's fields (400 with the field at fault when they do not decode).
    static func decodeRequest(_ data: Data) throws -> LipVideoRequest {
        do {
            return try JSONDecoder().decode(LipVideoRequest.self, from: data)
        } catch let error as DecodingError {
            throw Self.describe(error)
        }
    }

    /// A client's X-Request-Id is echoed when it is short printable ASCII (it goes into logs).
    static func acceptableRequestID(_ text: String) -> String? {
        text.count <= 128 && !text.isEmpty && text.unicodeScalars.allSatisfy({ $0.value > 0x20 && $0.value < 0x7F }) ? text : nil
    }

    /// The pipeline request for a validated body. Both URIs are parsed and the output
    /// destination checked here, before the job waits for a slot.
    func makeJob(_ body: LipVideoRequest) throws -> JobRequest {
        let video = body.userVideoGs
        let output = body.outputVideoGs
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
        // The document's enums decode already; the job's own vocabulary checks them again.
        var overrides = JobOverrides(crf: body.crf, preset: body.preset?.rawValue)
        do {
            overrides.tracking = try body.tracking.map { try JobOverrides.parse($0.rawValue, field: "tracking") }
            overrides.composite = try body.composite.map { try JobOverrides.parse($0.rawValue, field: "composite") }
            overrides.pads = try body.pads.map { try JobOverrides.pads($0, field: "pads") }
            overrides.engine = try body.ttsEngine.map { try JobOverrides.parse($0.rawValue, field: "tts_engine") }
            overrides.voiceMode = try body.voiceMode.map { try JobOverrides.parse($0.rawValue, field: "voice_mode") }
            let options = try overrides.apply(to: defaults)
            _ = try SpeechText(body.word, limit: .max)  // empty text or control characters: refused now (the length when spoken)
            return JobRequest(
                video: video, text: body.word, language: body.ttsLang, output: output, ttsEngine: overrides.engine,
                ttsVoice: body.ttsVoice, voiceMode: overrides.voiceMode ?? defaultVoiceMode, seed: body.seed ?? 0,
                lipSync: options)
        } catch {
            throw Self.apiError(for: error)
        }
    }
}
