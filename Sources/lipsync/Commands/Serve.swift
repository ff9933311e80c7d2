import ArgumentParser
import AsyncHTTPClient
import Composition
import FaceTracking
import Foundation
import Hummingbird
import Inference
import LipSync
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
    @Option(help: "Queue workers in this process, 0 for none (overrides WORKERS).") var workers: Int?
    @OptionGroup var common: CommonOptions

    func run() async throws {
        var configuration = try common.configuration()
        if let host { configuration.host = host }
        if let port { configuration.port = port }
        let assembly = try await Self.assemble(&configuration, models: models, workers: workers)
        try await assembly.run(assembly.serviceGroup())
    }

    /// The flags shared with `worker` applied, the settings logged, the assembly built.
    static func assemble(_ configuration: inout Configuration, models: String?, workers: Int?) async throws -> ServerAssembly {
        if let models { configuration.modelsDirectory = models }
        if let workers {
            guard (0...64).contains(workers) else { throw ValidationError("--workers must be from 0 to 64") }
            configuration.queue.workers = workers
        }
        ProcessSetup.start(configuration)
        let logger = Logger(label: "lipsync.server")
        for row in configuration.withServerThreadBudget().summary {
            logger.info("setting", metadata: ["variable": "\(row.variable)", "value": "\(row.value)"])
        }
        return try await ServerAssembly.build(configuration, environment: try startInference(configuration), logger: logger)
    }
}

struct Worker: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run queue workers only (no HTTP): they take /api/v2/jobs jobs from the job store; see docs/jobs.md.",
        discussion:
            "Any number of `serve` and `worker` processes share one PostgreSQL (DATABASE_URL) and storage. Settings: WORKERS, "
            + "MAX_ATTEMPTS, JOB_LEASE_SECONDS, WEBHOOK_* and the rest of docs/configuration.md. SIGINT/SIGTERM stop it gracefully."
    )

    @Option(help: "Models folder (overrides MODELS_DIR).") var models: String?
    @Option(help: "Queue workers in this process (overrides WORKERS).") var workers: Int?
    @OptionGroup var common: CommonOptions

    func run() async throws {
        var configuration = try common.configuration()
        let assembly = try await Serve.assemble(&configuration, models: models, workers: workers)
        try await assembly.run(assembly.serviceGroup(http: false))
    }
}
