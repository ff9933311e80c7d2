import Foundation
import Hummingbird
public import Inference
public import Logging
public import NIOCore
import Pipeline
public import Server
public import ServiceLifecycle
import Storage
public import UnixSignals

/// The composition root of `lipsync serve`: every part of the server built from one
/// `Configuration`, and the one service group that runs it — the HTTP service, graceful drain
/// on SIGTERM/SIGINT for `DRAIN_TIMEOUT_SECONDS`, then the models released. The tests run
/// the same assembly (with a test configuration) rather than a copy of this wiring.
public struct ServerAssembly: Sendable {
    public let configuration: Configuration
    public let provider: PipelineProvider
    public let server: LipSyncServer
    let logger: Logger

    /// Builds the server: the thread budget applied, the models loaded when `PRELOAD`, the
    /// storage set up, and the workspaces a killed predecessor left in `TEMP_DIR` removed.
    public static func build(
        _ configuration: Configuration, environment: InferenceEnvironment, logger: Logger = Logger(label: "lipsync.server")
    ) async throws -> ServerAssembly {
        var budgeted = configuration.withServerThreadBudget()
        let playground = budgeted.queue.playgroundFolder
        if let playground {
            // The page's uploads and results live in a storage root of their own.
            try FileManager.default.createDirectory(atPath: playground, withIntermediateDirectories: true)
            budgeted.storage.roots.append(playground)
        }
        let configuration = budgeted
        let store = try await configuration.queue.openStore(logger: logger)
        let provider = PipelineProvider {
            try PipelineSetup.makePipeline(
                configuration, environment: environment, precision: configuration.precision, store: store)
        }
        if configuration.preload { _ = try await provider.pipeline() }
        let server = LipSyncServer(
            provider: provider,
            limiter: JobLimiter(
                maxConcurrent: configuration.maxConcurrentJobs, maxQueued: configuration.maxQueuedJobs,
                memoryBudget: configuration.maxJobMemoryBytes),
            storage: await StorageSetup.makeService(configuration), workspaceBase: configuration.storage.temporaryDirectory,
            defaults: configuration.lipSyncDefaults, defaultVoiceMode: configuration.jobDefaults.voiceMode,
            jobTimeout: .seconds(configuration.jobTimeoutSeconds),
            timeouts: ConnectionTimeouts(idle: configuration.connectionTimeouts.idle, body: configuration.connectionTimeouts.body),
            jobs: configuration.queue.asyncJobs(store: store),
            playground: playground.map { PlaygroundSettings(directory: $0, limits: configuration.mediaLimits) }, logger: logger)
        let swept = try RequestWorkspace.sweepStale(in: configuration.storage.temporaryDirectory)
        if !swept.isEmpty {
            logger.notice(
                "removed workspaces left by stopped processes",
                metadata: ["count": "\(swept.count)", "folder": "\(configuration.storage.temporaryDirectory)"])
        }
        return ServerAssembly(configuration: configuration, provider: provider, server: server, logger: logger)
    }

    /// The HTTP service (unless `http` is false: `lipsync worker`) and the queue's workers in
    /// a group that drains on `signals` (none in tests: they trigger the shutdown themselves)
    /// for `DRAIN_TIMEOUT_SECONDS`, then cancels what is left (a job still running then goes
    /// back to the queue).
    public func serviceGroup(
        http: Bool = true, signals: [UnixSignal] = [.sigterm, .sigint],
        onServerRunning: @escaping @Sendable (any Channel) async -> Void = { _ in }
    ) -> ServiceGroup {
        var services: [any Service] = []
        if http {
            services.append(
                server.application(host: configuration.host, port: configuration.port, logger: logger, onServerRunning: onServerRunning))
        }
        // Last, so it stops first (a group stops its services in reverse order): the workers stop
        // taking jobs and finish theirs while the HTTP side still answers status and events.
        if let jobs = server.jobs, jobs.workers > 0 {
            services.append(JobWorkers(server: server, jobs: jobs, logger: Logger(label: "lipsync.worker")))
        }
        var group = ServiceGroupConfiguration(services: services, gracefulShutdownSignals: signals, logger: logger)
        group.maximumGracefulShutdownDuration = .seconds(configuration.drainTimeoutSeconds)
        return ServiceGroup(configuration: group)
    }

    /// Runs `group` (from `serviceGroup`) until it stops, then releases the models.
    public func run(_ group: ServiceGroup) async throws {
        logger.info(
            "starting",
            metadata: [
                "host": "\(configuration.host)", "port": "\(configuration.port)", "workers": "\(server.jobs?.workers ?? 0)",
                "max_concurrent_jobs": "\(configuration.maxConcurrentJobs)", "max_queued_jobs": "\(configuration.maxQueuedJobs)",
                "job_store": "\(configuration.queue.databaseURL == nil ? "sqlite" : "postgres")",
            ])
        try await group.run()
        await server.jobs?.store.database.close()
        await provider.release()
        logger.info("stopped; models released")
    }
}
