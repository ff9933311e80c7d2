import Crypto
import Foundation
import HTTPTypes
import Hummingbird
import JobQueue
import NIOCore
import NIOFoundationCompat
import Pipeline
import Resilience
import ServiceLifecycle
import UserFacingErrors

/// `/api/v2/jobs`: asynchronous jobs on the durable queue (docs/jobs.md).
extension LipSyncServer {
    static let idempotencyHeader = HTTPField.Name("Idempotency-Key")!  // a valid constant header name
    static let maxMetadataBytes = 4096

    func addJobRoutes(to router: Router<BasicRequestContext>, jobs: AsyncJobs) {
        router.post("/api/v2/jobs") { request, _ in try await self.submitJob(request, jobs: jobs) }
        router.get("/api/v2/jobs") { request, _ in try await self.listJobs(request, jobs: jobs) }
        router.get("/api/v2/jobs/{id}") { _, context in
            let job = try await self.existingJob(context, jobs: jobs)
            return try Self.jobResponse(JobView.object(job), status: .ok)
        }
        router.delete("/api/v2/jobs/{id}") { _, context in try await self.cancelJob(context, jobs: jobs) }
        router.get("/api/v2/jobs/{id}/events") { _, context in try await self.jobEvents(context, jobs: jobs) }
    }

    /// POST /api/v2/jobs: validated like a v1 request, then queued (202), or the job an
    /// earlier request with the same `Idempotency-Key` and body made (200).
    func submitJob(_ request: Request, jobs: AsyncJobs) async throws -> Response {
        let bytes = try await Self.collect(request.body, limit: 64 * 1024, within: timeouts.body)
        guard var fields = try? JSONSerialization.jsonObject(with: Data(buffer: bytes)) as? [String: Any] else {
            throw APIError(.badRequest, code: "invalid_json", message: "the request body must be a JSON object")
        }
        let canonical = try JobView.data(fields)
        let metadata = try Self.metadataText(fields.removeValue(forKey: "metadata"))
        let webhook = try await webhookURL(fields.removeValue(forKey: "webhook_url"), jobs: jobs)
        let requestData = try JobView.data(fields)
        _ = try makeJob(try Self.decodeRequest(requestData))  // every v1 check, before anything is queued
        let key = try request.headers[Self.idempotencyHeader].map(Self.idempotencyKey)
        let job = NewJob(
            request: String(decoding: requestData, as: UTF8.self), metadata: metadata, webhookURL: webhook, idempotencyKey: key,
            requestHash: SHA256.hash(data: canonical).map { String(format: "%02x", $0) }.joined())
        let (record, created) = try await Self.storeCall { try await jobs.store.submit(job) }
        var response = try Self.jobResponse(JobView.object(record), status: created ? .accepted : .ok)
        response.headers[.location] = "/api/v2/jobs/\(record.id)"
        if created { logger.info("job queued", metadata: ["job_id": "\(record.id)"]) }
        return response
    }

    /// GET /api/v2/jobs?status=&limit=&cursor=: newest first, `next_cursor` while more remain.
    func listJobs(_ request: Request, jobs: AsyncJobs) async throws -> Response {
        let query = request.uri.queryParameters
        let status = try query.get("status").map { text -> JobStatus in
            guard let status = JobStatus(rawValue: String(text)) else {
                let names = JobStatus.allCases.map(\.rawValue).joined(separator: ", ")
                throw APIError(.badRequest, code: "invalid_status", message: "status must be one of \(names)", field: "status")
            }
            return status
        }
        let limit =
            try query.get("limit").map { text -> Int in
                guard let limit = Int(String(text)), (1...100).contains(limit) else {
                    throw APIError(
                        .badRequest, code: "invalid_limit", message: "limit must be a whole number from 1 to 100", field: "limit")
                }
                return limit
            } ?? 20
        let before = try query.get("cursor").map { try Self.cursorSequence(String($0)) }
        let page = try await Self.storeCall { try await jobs.store.list(status: status, limit: limit, before: before) }
        let next: Any = page.count == limit ? (page.last.map { Self.cursor(for: $0.sequence) as Any } ?? NSNull()) : NSNull()
        return try Self.jobResponse(["jobs": page.map(JobView.object), "next_cursor": next], status: .ok)
    }

    /// DELETE /api/v2/jobs/{id}: a queued job never starts; a running one stops at its next heartbeat.
    func cancelJob(_ context: BasicRequestContext, jobs: AsyncJobs) async throws -> Response {
        let id = try Self.jobID(context)
        guard let job = try await Self.storeCall({ try await jobs.store.cancel(id: id) }) else { throw Self.noSuchJob(id) }
        if job.status == .succeeded || job.status == .failed {
            throw APIError(.conflict, code: "job_finished", message: "the job already finished (\(job.status.rawValue)); nothing to cancel")
        }
        return try Self.jobResponse(JobView.object(job), status: .ok)
    }

    /// GET /api/v2/jobs/{id}/events: Server-Sent Events, one per change of status or
    /// progress (`event: status` or `event: progress`, the job as data), ending after the
    /// final state (or after an hour: reconnect).
    func jobEvents(_ context: BasicRequestContext, jobs: AsyncJobs) async throws -> Response {
        let first = try await existingJob(context, jobs: jobs)
        let body = ResponseBody { writer in
            let clock = ContinuousClock()
            let ends = clock.now + .seconds(3600)
            var lastStatus: JobStatus?
            var lastProgress: (String?, Double)?
            var lastWrite = clock.now
            var job: JobRecord? = first
            // The stream ends with the job, after an hour, or when the server begins to stop.
            while clock.now < ends && !Task.isShuttingDownGracefully {
                if let current = job {
                    let progress = (current.progressStep, current.progressFraction)
                    if current.status != lastStatus || progress.0 != lastProgress?.0 || progress.1 != lastProgress?.1 {
                        let name = current.status != lastStatus ? "status" : "progress"
                        let data = String(decoding: try JobView.data(JobView.object(current)), as: UTF8.self)
                        try await writer.write(ByteBuffer(string: "event: \(name)\ndata: \(data)\n\n"))
                        (lastStatus, lastProgress, lastWrite) = (current.status, progress, clock.now)
                    }
                    if current.status.isTerminal { break }
                }
                if clock.now - lastWrite > .seconds(15) {
                    try await writer.write(ByteBuffer(string: ": keep-alive\n\n"))
                    lastWrite = clock.now
                }
                try await Task.sleep(for: jobs.eventsInterval)
                job = try? await jobs.store.job(id: first.id)  // a store hiccup skips one look
            }
            try await writer.finish(nil)
        }
        return Response(
            status: .ok, headers: [.contentType: "text/event-stream", .cacheControl: "no-cache"], body: body)
    }

    // MARK: Pieces

    /// The pipeline request of a queued job's stored body (checked again: defaults may have changed).
    func queuedRequest(_ json: String, requestID: String, progress: @escaping JobProgressHandler) throws -> JobRequest {
        var job = try makeJob(try Self.decodeRequest(Data(json.utf8)))
        job.requestID = requestID
        job.progress = progress
        return job
    }

    func existingJob(_ context: BasicRequestContext, jobs: AsyncJobs) async throws -> JobRecord {
        let id = try Self.jobID(context)
        guard let job = try await Self.storeCall({ try await jobs.store.job(id: id) }) else { throw Self.noSuchJob(id) }
        return job
    }

    static func jobID(_ context: BasicRequestContext) throws -> String {
        guard let text = context.parameters.get("id"), text.count == 36, let id = UUID(uuidString: text) else {
            throw APIError(
                .badRequest, code: "invalid_job_id", message: "job ids are UUIDs (as in the Location of POST /api/v2/jobs)", field: "id")
        }
        return id.uuidString.lowercased()
    }

    static func noSuchJob(_ id: String) -> APIError {
        APIError(.notFound, code: "job_not_found", message: "there is no job \(id)")
    }

    /// `metadata`: any JSON object of at most 4 KiB, returned as given.
    static func metadataText(_ value: Any?) throws -> String? {
        guard let value, !(value is NSNull) else { return nil }
        guard value is [String: Any] else {
            throw APIError(.badRequest, code: "invalid_metadata", message: "metadata must be a JSON object", field: "metadata")
        }
        let data = try JobView.data(value)
        guard data.count <= maxMetadataBytes else {
            throw APIError(
                .badRequest, code: "metadata_too_large",
                message: "metadata is \(data.count) bytes of JSON; at most \(maxMetadataBytes) (4 KiB) are kept", field: "metadata")
        }
        return String(decoding: data, as: UTF8.self)
    }

    /// `webhook_url`: an https URL that passes the input guard (public addresses only).
    func webhookURL(_ value: Any?, jobs: AsyncJobs) async throws -> String? {
        guard let value, !(value is NSNull) else { return nil }
        guard let text = value as? String, text.utf8.count <= 2048, let url = URL(string: text) else {
            throw APIError(
                .badRequest, code: "invalid_webhook_url", message: "webhook_url must be an https URL of at most 2048 bytes",
                field: "webhook_url")
        }
        guard jobs.webhooks.secret != nil else {
            throw APIError(
                .badRequest, code: "webhooks_not_configured",
                message: "this server sends no webhooks (WEBHOOK_SECRET is not set); poll the job or follow its events",
                field: "webhook_url")
        }
        do {
            try await jobs.webhooks.guardrail.check(url)
        } catch {
            let reason = (error as? any UserFacingError)?.message ?? "\(error)"
            throw APIError(.badRequest, code: "invalid_webhook_url", message: "webhook_url: \(reason)", field: "webhook_url")
        }
        return text
    }

    /// `Idempotency-Key`: 1–255 printable ASCII characters.
    static func idempotencyKey(_ text: String) throws -> String {
        guard (1...255).contains(text.utf8.count), text.utf8.allSatisfy({ (0x20...0x7E).contains($0) }) else {
            throw APIError(
                .badRequest, code: "invalid_idempotency_key", message: "Idempotency-Key must be 1 to 255 printable ASCII characters",
                field: "Idempotency-Key")
        }
        return text
    }

    /// Cursors are opaque to clients: base64url of "s<sequence>".
    static func cursor(for sequence: Int64) -> String {
        Data("s\(sequence)".utf8).base64EncodedString().replacingOccurrences(of: "+", with: "-")
            .replacingOccurrences(of: "/", with: "_").replacingOccurrences(of: "=", with: "")
    }

    static func cursorSequence(_ cursor: String) throws -> Int64 {
        var base64 = cursor.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        base64 += String(repeating: "=", count: (4 - base64.count % 4) % 4)
        guard cursor.count <= 64, let data = Data(base64Encoded: base64), let text = String(data: data, encoding: .utf8),
            text.hasPrefix("s"), let sequence = Int64(text.dropFirst()), sequence > 0
        else {
            throw APIError(
                .badRequest, code: "invalid_cursor", message: "cursor is not one this server gave out (use next_cursor as it came)",
                field: "cursor")
        }
        return sequence
    }

    /// A store call; an unreachable store answers 503 (nothing was lost: retry, with the same Idempotency-Key).
    static func storeCall<T: Sendable>(_ body: @Sendable () async throws -> T) async throws -> T {
        do {
            return try await body()
        } catch let error as StoreUnavailable {
            throw APIError(.serviceUnavailable, code: "store_unavailable", message: error.description, retryAfterSeconds: 5)
        } catch let conflict as IdempotencyConflict {
            throw APIError(
                .conflict, code: "idempotency_conflict",
                message: "Idempotency-Key was used for job \(conflict.existing.id) with a different body", field: "Idempotency-Key")
        }
    }

    static func jobResponse(_ value: Any, status: HTTPResponse.Status) throws -> Response {
        Response(
            status: status, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(data: try JobView.data(value))))
    }
}
