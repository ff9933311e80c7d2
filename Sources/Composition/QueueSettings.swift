public import Foundation
public import JobQueue
public import Logging
public import Server
import Storage

/// The asynchronous jobs' settings (docs/jobs.md, docs/configuration.md).
public struct QueueSettings: Sendable, Equatable {
    /// `DATABASE_URL`: `postgres://…` for a PostgreSQL store many processes share; unset: SQLite.
    public var databaseURL: String?
    /// `DATA_DIR` (default `./data`): where the SQLite store (`jobs.sqlite`) lives.
    public var dataDirectory = "data"
    /// `WORKERS` (0–64, default 1): queue workers in `lipsync serve` (and `lipsync worker`).
    public var workers = 1
    /// `MAX_ATTEMPTS` (1–20, default 3): claims of one job before `worker_lost`.
    public var maxAttempts = 3
    /// `JOB_LEASE_SECONDS` (2–3600, default 30).
    public var leaseSeconds = 30
    /// `JOB_POLL_INTERVAL_MS` (10–60 000, default 1000).
    public var pollIntervalMilliseconds = 1000
    /// `WEBHOOK_SECRET`: signs webhooks; unset, `webhook_url` is refused.
    public var webhookSecret: String?
    /// `WEBHOOK_MAX_ATTEMPTS` (1–20, default 8), `WEBHOOK_RETRY_BASE_SECONDS` (0.1–3600, default
    /// 15), `WEBHOOK_TIMEOUT_SECONDS` (1–300, default 10).
    public var webhookMaxAttempts = 8
    public var webhookRetryBaseSeconds = 15.0
    public var webhookTimeoutSeconds = 10
    /// `WEBHOOK_ALLOWED_HOSTS`: comma-separated host names (`*.example.com` for sub-domains);
    /// empty: any public host.
    public var webhookAllowedHosts: [String] = []
    /// `PLAYGROUND` (default true): the web page at `GET /` and its upload route (docs/playground.md).
    public var playground = true
    /// `PLAYGROUND_DIR` (default `DATA_DIR/playground`): uploads and results of the page; a storage root.
    public var playgroundDirectory: String?

    public init() {}

    /// The playground's folder as an absolute path (nil when the playground is off).
    public var playgroundFolder: String? {
        guard playground else { return nil }
        let folder = playgroundDirectory ?? (dataDirectory as NSString).appendingPathComponent("playground")
        return folder.hasPrefix("/") ? folder : (FileManager.default.currentDirectoryPath as NSString).appendingPathComponent(folder)
    }

    mutating func read(_ environment: [String: String]) throws {
        if let value = environment["DATABASE_URL"], !value.isEmpty { databaseURL = value }
        if let value = environment["DATA_DIR"], !value.isEmpty { dataDirectory = value }
        if let value = environment["WORKERS"] { workers = try Configuration.parseInteger(value, variable: "WORKERS", in: 0...64) }
        if let value = environment["MAX_ATTEMPTS"] {
            maxAttempts = try Configuration.parseInteger(value, variable: "MAX_ATTEMPTS", in: 1...20)
        }
        if let value = environment["JOB_LEASE_SECONDS"] {
            leaseSeconds = try Configuration.parseInteger(value, variable: "JOB_LEASE_SECONDS", in: 2...3600)
        }
        if let value = environment["JOB_POLL_INTERVAL_MS"] {
            pollIntervalMilliseconds = try Configuration.parseInteger(value, variable: "JOB_POLL_INTERVAL_MS", in: 10...60_000)
        }
        if let value = environment["WEBHOOK_SECRET"], !value.isEmpty { webhookSecret = value }
        if let value = environment["WEBHOOK_MAX_ATTEMPTS"] {
            webhookMaxAttempts = try Configuration.parseInteger(value, variable: "WEBHOOK_MAX_ATTEMPTS", in: 1...20)
        }
        if let value = environment["WEBHOOK_RETRY_BASE_SECONDS"] {
            guard let seconds = Double(value.trimmingCharacters(in: .whitespaces)), (0.1...3600).contains(seconds) else {
                throw ConfigurationError.invalid(variable: "WEBHOOK_RETRY_BASE_SECONDS", value: value, expected: "seconds from 0.1 to 3600")
            }
            webhookRetryBaseSeconds = seconds
        }
        if let value = environment["WEBHOOK_TIMEOUT_SECONDS"] {
            webhookTimeoutSeconds = try Configuration.parseInteger(value, variable: "WEBHOOK_TIMEOUT_SECONDS", in: 1...300)
        }
        if let value = environment["PLAYGROUND"] { playground = try Configuration.parseBool(value, variable: "PLAYGROUND") }
        if let value = environment["PLAYGROUND_DIR"], !value.isEmpty { playgroundDirectory = value }
        if let value = environment["WEBHOOK_ALLOWED_HOSTS"] {
            webhookAllowedHosts = value.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        }
    }

    var summary: [(String, String)] {
        [
            ("DATABASE_URL", databaseURL.map(Self.maskPassword) ?? "unset (SQLite in DATA_DIR)"), ("DATA_DIR", dataDirectory),
            ("WORKERS", "\(workers)"), ("MAX_ATTEMPTS", "\(maxAttempts)"), ("JOB_LEASE_SECONDS", "\(leaseSeconds)"),
            ("JOB_POLL_INTERVAL_MS", "\(pollIntervalMilliseconds)"), ("WEBHOOK_SECRET", webhookSecret == nil ? "unset" : "****** (set)"),
            ("WEBHOOK_MAX_ATTEMPTS", "\(webhookMaxAttempts)"), ("WEBHOOK_RETRY_BASE_SECONDS", "\(webhookRetryBaseSeconds)"),
            ("WEBHOOK_TIMEOUT_SECONDS", "\(webhookTimeoutSeconds)"), ("WEBHOOK_ALLOWED_HOSTS", webhookAllowedHosts.joined(separator: ",")),
            ("PLAYGROUND", "\(playground)"), ("PLAYGROUND_DIR", playgroundFolder ?? "off"),
        ]
    }

    static func maskPassword(_ url: String) -> String {
        guard var components = URLComponents(string: url), components.password != nil else { return url }
        components.password = "******"
        return components.string ?? "(set)"
    }

    /// The store this configuration names, migrated to the current schema.
    public func openStore(logger: Logger) async throws -> JobStore {
        let database: any SQLDatabase
        if let databaseURL {
            database = try PostgresDatabase(url: databaseURL, logger: logger)
        } else {
            database = try SQLiteDatabase(path: (dataDirectory as NSString).appendingPathComponent("jobs.sqlite"))
        }
        let store = JobStore(database: database)
        let applied = try await store.migrate()
        if !applied.isEmpty { logger.notice("job store schema migrated", metadata: ["versions": "\(applied)"]) }
        return store
    }

    /// The asynchronous jobs of a server or worker process on `store`.
    public func asyncJobs(store: JobStore) -> AsyncJobs {
        AsyncJobs(
            store: store, workers: workers, lease: .seconds(leaseSeconds), maxAttempts: maxAttempts,
            pollInterval: .milliseconds(pollIntervalMilliseconds),
            webhooks: WebhookSettings(
                secret: webhookSecret, maxAttempts: webhookMaxAttempts, retryBase: .milliseconds(Int64(webhookRetryBaseSeconds * 1000)),
                timeout: .seconds(webhookTimeoutSeconds), guardrail: HTTPSInput(settings: .init(allowedHosts: webhookAllowedHosts))))
    }
}
