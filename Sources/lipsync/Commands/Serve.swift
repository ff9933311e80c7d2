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
    @OptionGroup var common: CommonOptions

    func run() async throws {
        var configuration = try common.configuration()
        if let host { configuration.host = host }
        if let port { configuration.port = port }
        if let models { configuration.modelsDirectory = models }
        ProcessSetup.start(configuration)
        let logger = Logger(label: "lipsync.server")
        for row in configuration.withServerThreadBudget().summary {
            logger.info("setting", metadata: ["variable": "\(row.variable)", "value": "\(row.value)"])
        }
        let assembly = try await ServerAssembly.build(configuration, environment: try startInference(configuration), logger: logger)
        try await assembly.run(assembly.serviceGroup())
    }
}
