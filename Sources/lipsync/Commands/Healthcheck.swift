import ArgumentParser
import AsyncHTTPClient
import Composition
import Foundation

/// The container image's health check: asks the local server's /healthz, so the image needs
/// no curl. Exit status 0 when it answers 200 within the time limit, 1 otherwise.
struct Healthcheck: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Ask a running server's /healthz (the container image's HEALTHCHECK); exit status 0 when healthy.",
        discussion: "Without --url: http://127.0.0.1:PORT/healthz (PORT from the environment, HOST when it names one address).")

    @Option(help: "The URL to ask (default: this machine's server at HOST:PORT, /healthz).")
    var url: String?

    @Option(help: "Seconds to wait for the answer (1–60).")
    var timeout: Int = 5

    func validate() throws {
        guard (1...60).contains(timeout) else { throw ValidationError("--timeout must be 1–60 seconds") }
    }

    func run() async throws {
        let target: String
        if let url {
            target = url
        } else {
            let configuration: Configuration
            do {
                configuration = try Configuration.fromEnvironment(ProcessInfo.processInfo.environment)
            } catch let error as ConfigurationError {
                failCommand("healthcheck", error.description)
            }
            target = Self.defaultURL(host: configuration.host, port: configuration.port)
        }
        let status: UInt
        do {
            let request = HTTPClientRequest(url: target)
            let response = try await HTTPClient.shared.execute(request, timeout: .seconds(Int64(timeout)))
            status = response.status.code
        } catch {
            failCommand("healthcheck", "\(target): \(error)")
        }
        guard status == 200 else { failCommand("healthcheck", "\(target) answered \(status)") }
        print("\(target): ok")
    }

    /// A wildcard listening address is reached on loopback.
    static func defaultURL(host: String, port: Int) -> String {
        let reachable: String
        switch host {
        case "0.0.0.0", "": reachable = "127.0.0.1"
        case "::", "[::]": reachable = "[::1]"
        default: reachable = host.contains(":") && !host.hasPrefix("[") ? "[\(host)]" : host
        }
        return "http://\(reachable):\(port)/healthz"
    }
}
