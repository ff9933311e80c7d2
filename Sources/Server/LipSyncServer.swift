import FaceTracking
public import Foundation
import HTTPTypes
public import Hummingbird
import JobQueue
public import LipSync
public import Logging
import Media
import NIOCore
import NIOFoundationCompat
import Pipeline
import Resilience
import Speech
public import Storage
import UserFacingErrors
public import VoiceConversion

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
    /// The asynchronous jobs (`/api/v2/jobs`); nil: those routes are not served.
    public let jobs: AsyncJobs?
    /// The web playground (`GET /`, uploads); nil: not served (`PLAYGROUND=false`, or no jobs).
    public let playground: PlaygroundSettings?
    let logger: Logger
    static let requestIDHeader = HTTPField.Name("X-Request-Id")!  // a valid constant header name
    /// Every route's path (the metrics label set; the OpenAPI test compares it with the document).
    static let paths: Set<String> = [
        "/api/v1/lip-video", "/api/v1/lip-video-optimized", "/api/v1/preload-models", "/api/v1/models",
        "/healthz", "/readyz", "/metrics", "/openapi.yaml", "/api/v2/jobs", "/api/v2/jobs/{id}", "/api/v2/jobs/{id}/events",
        "/api/v2/capabilities", "/", "/playground/{file}", "/api/v2/uploads", "/api/v2/jobs/{id}/output",
    ]

    public init(
        provider: PipelineProvider, limiter: JobLimiter, storage: StorageService, workspaceBase: String = NSTemporaryDirectory(),
        defaults: LipSyncOptions = LipSyncOptions(), defaultVoiceMode: VoiceMode? = nil, jobTimeout: Duration = .seconds(600),
        metrics: ServerMetrics = ServerMetrics(),
        executor: JobExecutor = JobExecutor(), timeouts: ConnectionTimeouts = ConnectionTimeouts(), jobs: AsyncJobs? = nil,
        playground: PlaygroundSettings? = nil, logger: Logger = Logger(label: "lipsync.server")
    ) {
        self.jobs = jobs
        self.playground = jobs == nil ? nil : playground
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
            return try Self.json(Components.Schemas.PreloadResponse(status: .ok, message: .modelsPreloadedSuccessfully))
        }
        router.get("/api/v1/models") { _, _ -> Response in
            let report = await provider.loaded?.models
            return try Self.json(
                ModelsResponse(
                    loaded: report != nil, provider: report?.provider, loadSeconds: report?.loadSeconds,
                    models: (report?.models ?? []).map(Components.Schemas.ModelInfo.init)))
        }
        router.get("/healthz") { _, _ in try Self.json(Components.Schemas.HealthResponse(status: .ok)) }
        router.get("/readyz") { _, _ -> Response in
            guard await provider.isLoaded else {
                throw APIError(.serviceUnavailable, code: "not_ready", message: "the models are not loaded yet")
            }
            if let jobs {
                do {
                    try await withTimeLimit(.seconds(5), timeout: StoreUnavailable(engine: "job store", detail: "no answer within 5 s")) {
                        try await jobs.store.ping()
                    }
                } catch {
                    throw APIError(.serviceUnavailable, code: "store_not_ready", message: "the job store cannot be read: \(error)")
                }
            }
            let problems = await storage.readinessProblems(workspaceBase: workspaceBase)
            guard problems.isEmpty else {
                throw APIError(.serviceUnavailable, code: "storage_not_ready", message: problems.joined(separator: "; "))
            }
            return try Self.json(Components.Schemas.ReadyResponse(status: .ready))
        }
        router.get("/metrics") { _, _ -> Response in
            let summary = try? await jobs?.store.summary()
            let text = metrics.render(await limiter.snapshot, loadSeconds: await provider.loaded?.models.loadSeconds, queue: summary)
            return Response(
                status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                body: .init(byteBuffer: ByteBuffer(string: text)))
        }
        if let jobs { addJobRoutes(to: router, jobs: jobs) }
        if let playground { addPlaygroundRoutes(to: router, playground: playground) }
        router.get("/api/v2/capabilities") { _, _ in try await self.capabilities() }
        router.get("/openapi.yaml") { _, _ -> Response in
            guard let document = OpenAPIDocument.yaml else {
                throw APIError(
                    .internalServerError, code: "openapi_missing", message: "the OpenAPI document is not installed next to the binary")
            }
            return Response(status: .ok, headers: [.contentType: "application/yaml"], body: .init(byteBuffer: ByteBuffer(string: document)))
        }
        return router
    }

    static func json(_ value: some Encodable) throws -> Response {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return Response(
            status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(data: try encoder.encode(value))))
    }
}
