import Foundation
import TestFixtures
import Testing

/// `lipsync healthcheck`, the container image's HEALTHCHECK: 0 for a server that answers
/// /healthz, 1 with the reason for one that does not.
@Suite struct HealthcheckTests {
    @Test func healthcheckAsksTheServerAtHostAndPort() async throws {
        let directory = NSTemporaryDirectory() + "healthcheck-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let port = try PostgresServer.freePort()
        let environment = [
            "PORT": "\(port)", "HOST": "0.0.0.0", "DATA_DIR": directory, "MODELS_DIR": TestFixtures.models, "EXECUTION_PROVIDERS": "cpu",
            "LOG_LEVEL": "error", "WORKERS": "0", "PRELOAD": "false",
        ]
        let cli = LipSyncCommandTests()

        // Nothing listens yet: status 1, the URL and the reason on standard error.
        let down = try cli.lipsync(["healthcheck", "--timeout", "2"], environment: environment)
        #expect(down.status == 1)
        #expect(down.standardError.contains("lipsync healthcheck: http://127.0.0.1:\(port)/healthz"), "\(down.standardError)")

        let server = try ScaleOutTests.Running(["serve"], environment: environment, log: directory + "/serve.log", port: port)
        defer { server.stop() }
        try await ScaleOutTests.waitFor("the server answering /healthz", seconds: 60) {
            (try? await ScaleOutTests.call(server, "GET", "/healthz").status) == 200
        }
        let up = try cli.lipsync(["healthcheck"], environment: environment)
        #expect(up.status == 0, "\(up.standardError)")
        #expect(up.standardOutput.contains("http://127.0.0.1:\(port)/healthz: ok"))

        // Another path that is not 200: status 1 with the status code.
        let missing = try cli.lipsync(["healthcheck", "--url", "http://127.0.0.1:\(port)/no-such-page"], environment: environment)
        #expect(missing.status == 1)
        #expect(missing.standardError.contains("answered 404"), "\(missing.standardError)")

        let invalid = try cli.lipsync(["healthcheck", "--timeout", "0"], environment: environment)
        #expect(invalid.status != 0 && invalid.standardError.contains("--timeout must be 1–60 seconds"), "\(invalid.standardError)")
    }
}
