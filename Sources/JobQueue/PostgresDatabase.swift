import Foundation
public import Logging
import NIOCore
import NIOSSL
import PostgresNIO
import Resilience

/// The shared engine: PostgreSQL through a postgres-nio connection pool. Any number of
/// servers and workers use one database; a queued job wakes idle workers in every process
/// at once (LISTEN/NOTIFY), with polling as the fallback.
public final class PostgresDatabase: SQLDatabase {
    public let dialect = SQLDialect.postgres
    /// Every statement's time limit: an unreachable server answers `StoreUnavailable` rather
    /// than holding the request.
    public let statementTimeout: Duration
    private let client: PostgresClient
    private let runner: Task<Void, Never>
    private let listener: Task<Void, Never>
    private let signal = WorkSignal()
    private let logger: Logger
    static let channel = "lipsync_jobs"

    /// Connects (lazily) to `url`: `postgres://user:password@host:port/database?sslmode=disable|prefer|require`.
    public init(url: String, statementTimeout: Duration = .seconds(5), logger: Logger = Logger(label: "lipsync.jobs.postgres")) throws {
        let configuration = try Self.configuration(url)
        self.statementTimeout = statementTimeout
        self.logger = logger
        var background = logger
        background.logLevel = max(logger.logLevel, .warning)  // the pool reports every failed connect at info
        let client = PostgresClient(configuration: configuration, backgroundLogger: background)
        self.client = client
        runner = Task { await client.run() }
        let signal = signal
        listener = Task {
            // One connection listens for the whole life of the process; it reconnects after a
            // failure (the server restarted) and wakes everyone then, in case a notice was missed.
            while !Task.isCancelled {
                do {
                    try await client.withConnection { connection in
                        try await connection.listen(on: Self.channel) { notices in
                            for try await _ in notices { await signal.signal() }
                        }
                    }
                } catch {
                    logger.debug("LISTEN connection lost; reconnecting", metadata: ["error": "\(String(reflecting: error))"])
                }
                await signal.signal()
                try? await Task.sleep(for: .seconds(1))
            }
        }
    }

    /// The client configuration of a `postgres://` (or `postgresql://`) URL.
    static func configuration(_ url: String) throws -> PostgresClient.Configuration {
        guard let components = URLComponents(string: url), let scheme = components.scheme?.lowercased(),
            scheme == "postgres" || scheme == "postgresql"
        else { throw InvalidDatabaseURL(reason: "expected postgres://user:password@host:port/database") }
        guard let host = components.host, !host.isEmpty else { throw InvalidDatabaseURL(reason: "no host") }
        guard let user = components.user, !user.isEmpty else { throw InvalidDatabaseURL(reason: "no user name") }
        let database = String(components.path.drop(while: { $0 == "/" }))
        let sslmode = components.queryItems?.first(where: { $0.name == "sslmode" })?.value ?? "disable"
        let tls: PostgresClient.Configuration.TLS
        switch sslmode {
        case "disable": tls = .disable
        case "prefer", "allow": tls = .prefer(.makeClientConfiguration())
        case "require", "verify-ca", "verify-full": tls = .require(.makeClientConfiguration())
        default: throw InvalidDatabaseURL(reason: "sslmode must be disable, prefer or require, not '\(sslmode)'")
        }
        var configuration = PostgresClient.Configuration(
            host: host, port: components.port ?? 5432, username: user, password: components.password,
            database: database.isEmpty ? nil : database, tls: tls)
        configuration.options.connectTimeout = .seconds(5)
        configuration.options.maximumConnections = 16
        return configuration
    }

    public func query(_ sql: String, _ binds: [SQLValue]) async throws -> [SQLRow] {
        var bindings = PostgresBindings()
        for value in binds {
            switch value {
            case .null: bindings.appendNull()
            case .integer(let number): bindings.append(number)
            case .real(let number): bindings.append(number)
            case .text(let text): bindings.append(text)
            }
        }
        let query = PostgresQuery(unsafeSQL: sql, binds: bindings)
        let client = client
        let logger = logger
        return try await run {
            var rows: [SQLRow] = []
            for try await row in try await client.query(query, logger: logger) { rows.append(try Self.row(row)) }
            return rows
        }
    }

    public func migrate(_ migrations: [Migration]) async throws -> [Int] {
        let table = Self.migrationsTable
        let client = client
        let logger = logger
        // Longer than a statement's limit: another process may hold the lock while it migrates.
        return try await run(limit: .seconds(120)) {
            try await client.withConnection { connection in
                // One transaction holding a transaction-scoped lock: other processes wait, then
                // find nothing to do; a failure rolls everything back and releases the lock.
                _ = try await connection.query("BEGIN", logger: logger)
                do {
                    _ = try await connection.query("SELECT pg_advisory_xact_lock(72731)", logger: logger)
                    _ = try await connection.query(PostgresQuery(unsafeSQL: table), logger: logger)
                    var current = 0
                    for try await version in try await connection.query(
                        "SELECT COALESCE(MAX(version), 0) FROM schema_migrations", logger: logger
                    ).decode(Int.self) {
                        current = version
                    }
                    var applied: [Int] = []
                    for migration in migrations.sorted(by: { $0.version < $1.version }) where migration.version > current {
                        for statement in migration.statements {
                            _ = try await connection.query(PostgresQuery(unsafeSQL: statement), logger: logger)
                        }
                        let now = Int64(Date().timeIntervalSince1970)
                        _ = try await connection.query(
                            "INSERT INTO schema_migrations (version, applied_at) VALUES (\(migration.version), \(now))", logger: logger)
                        applied.append(migration.version)
                    }
                    _ = try await connection.query("COMMIT", logger: logger)
                    return applied
                } catch {
                    _ = try? await connection.query("ROLLBACK", logger: logger)
                    throw error
                }
            }
        }
    }

    public func notifyWork() async {
        _ = try? await query("SELECT pg_notify('\(Self.channel)', '')", [])
    }

    public func waitForWork(timeout: Duration) async { await signal.wait(timeout: timeout) }

    public func close() async {
        listener.cancel()
        runner.cancel()
    }

    /// Runs `body` within the statement time limit; connection failures become `StoreUnavailable`.
    private func run<T: Sendable>(limit: Duration? = nil, _ body: @escaping @Sendable () async throws -> T) async throws -> T {
        let limit = limit ?? statementTimeout
        let timeout = StoreUnavailable(engine: "PostgreSQL", detail: "no answer within \(limit)")
        do {
            return try await withTimeLimit(limit, timeout: timeout, body)
        } catch let error as PSQLError {
            throw Self.translate(error)
        }
    }

    static func translate(_ error: PSQLError) -> any Error {
        guard let state = error.serverInfo?[.sqlState] else {
            return StoreUnavailable(engine: "PostgreSQL", detail: "\(error.code)")
        }
        if state == "23505" { return UniqueViolation(detail: error.serverInfo?[.message] ?? state) }
        // Connection exceptions, insufficient resources, operator intervention (shutdown, cannot connect now).
        if (state.hasPrefix("08") && state != "08P01") || state.hasPrefix("53") || state.hasPrefix("57") {
            return StoreUnavailable(engine: "PostgreSQL", detail: "\(state) \(error.serverInfo?[.message] ?? "")")
        }
        return error
    }

    static func row(_ row: PostgresRow) throws -> SQLRow {
        var out: SQLRow = [:]
        for cell in row {
            guard cell.bytes != nil else {
                out[cell.columnName] = .null
                continue
            }
            switch cell.dataType {
            case .int2, .int4, .int8: out[cell.columnName] = .integer(try cell.decode(Int64.self))
            case .float4, .float8, .numeric: out[cell.columnName] = .real(try cell.decode(Double.self))
            case .bool: out[cell.columnName] = .integer(try cell.decode(Bool.self) ? 1 : 0)
            default: out[cell.columnName] = .text(try cell.decode(String.self))
            }
        }
        return out
    }
}

/// DATABASE_URL is not a PostgreSQL URL this server can use.
public struct InvalidDatabaseURL: Error, Sendable, CustomStringConvertible {
    public let reason: String
    public var description: String { "DATABASE_URL: \(reason)" }
}
