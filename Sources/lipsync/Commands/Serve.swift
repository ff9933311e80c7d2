import ArgumentParser
import AsyncHTTPClient
import FaceTracking
import Foundation
import Hummingbird
import Inference
import LipSync
import LipSyncCore
import Logging
import Media
import Pipeline
import Server
import ServiceLifecycle
import Speech
import Storage
import UserFacingErrors
import VoiceConversion

struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run the HTTP server with the original API (POST /api/v1/lip-video …); see docs/server.md.",
        discussion:
            "Settings: HOST, PORT, MODELS_DIR, MAX_CONCURRENT_JOBS, MAX_QUEUED_JOBS, MAX_JOB_MEMORY_BYTES, PRELOAD and the rest of "
            + "docs/configuration.md. SIGINT/SIGTERM stop it gracefully."
    )

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
        let server = LipSyncServer(
            provider: provider,
            limiter: JobLimiter(
                maxConcurrent: configuration.maxConcurrentJobs, maxQueued: configuration.maxQueuedJobs,
                memoryBudget: configuration.maxJobMemoryBytes),
            storage: await StorageSetup.makeService(configuration), workspaceBase: configuration.storage.temporaryDirectory,
            defaults: configuration.lipSyncDefaults, defaultVoiceMode: configuration.jobDefaults.voiceMode,
            jobTimeout: .seconds(configuration.jobTimeoutSeconds),
            timeouts: ConnectionTimeouts(
                idle: configuration.connectionTimeouts.idle,
                body: configuration.connectionTimeouts.body))
        // Workspaces a killed predecessor left in TEMP_DIR go before any job starts.
        let swept = try RequestWorkspace.sweepStale(in: configuration.storage.temporaryDirectory)
        if !swept.isEmpty {
            logger.notice(
                "removed workspaces left by stopped processes",
                metadata: ["count": "\(swept.count)", "folder": "\(configuration.storage.temporaryDirectory)"])
        }
        let app = server.application(host: configuration.host, port: configuration.port, logger: logger)
        logger.info(
            "listening",
            metadata: [
                "host": "\(configuration.host)", "port": "\(configuration.port)",
                "max_concurrent_jobs": "\(configuration.maxConcurrentJobs)", "max_queued_jobs": "\(configuration.maxQueuedJobs)",
            ])
        // SIGTERM/SIGINT: stop accepting, let running jobs finish for DRAIN_TIMEOUT_SECONDS,
        // then cancel what is left (its workspaces are removed), then release the models.
        var groupConfiguration = ServiceGroupConfiguration(services: [app], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger)
        groupConfiguration.maximumGracefulShutdownDuration = .seconds(configuration.drainTimeoutSeconds)
        try await ServiceGroup(configuration: groupConfiguration).run()
        await provider.release()
        logger.info("stopped; models released")
    }
}
