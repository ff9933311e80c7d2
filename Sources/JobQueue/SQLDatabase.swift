import Foundation

/// One value bound to, or read from, a SQL statement. The job store keeps to these four
/// types so that one set of statements serves SQLite and PostgreSQL.
public enum SQLValue: Sendable, Equatable {
    case null
    case integer(Int64)
    case real(Double)
    case text(String)

    var integer: Int64? {
        if case .integer(let value) = self { return value }
        return nil
    }

    var real: Double? {
        switch self {
        case .real(let value): value
        case .integer(let value): Double(value)
        default: nil
        }
    }

    var text: String? {
        if case .text(let value) = self { return value }
        return nil
    }
}

/// A result row by column name.
public typealias SQLRow = [String: SQLValue]

/// The differences between the two engines that the statements have to know about.
public enum SQLDialect: Sendable {
    case sqlite
    case postgres

    /// The auto-incrementing key column.
    var serialKey: String {
        switch self {
        case .sqlite: "INTEGER PRIMARY KEY AUTOINCREMENT"
        case .postgres: "BIGSERIAL PRIMARY KEY"
        }
    }

    /// Row locking in a claim's sub-select: other workers skip a row one of them is taking.
    /// SQLite has one writer at a time, so its statements never race.
    var skipLocked: String {
        switch self {
        case .sqlite: ""
        case .postgres: " FOR UPDATE SKIP LOCKED"
        }
    }
}

/// A schema change, applied once, in version order, inside one transaction.
public struct Migration: Sendable {
    public let version: Int
    public let statements: [String]
}

/// What the job store needs from a database engine: statements with `$1`-style
/// placeholders, versioned migrations, and a wake-up when another process adds work.
public protocol SQLDatabase: Sendable {
    var dialect: SQLDialect { get }
    /// Runs one statement; the rows it returns (none for most writes without RETURNING).
    @discardableResult
    func query(_ sql: String, _ binds: [SQLValue]) async throws -> [SQLRow]
    /// Applies the migrations not applied yet (one process at a time), returning the versions applied.
    func migrate(_ migrations: [Migration]) async throws -> [Int]
    /// Tells waiting workers, in every process, that a job was queued.
    func notifyWork() async
    /// Returns when work may have been queued (a notification), or after `timeout`.
    func waitForWork(timeout: Duration) async
    /// Closes connections (PostgreSQL) or the file (SQLite).
    func close() async
}

extension SQLDatabase {
    /// The migrations' bookkeeping table: which versions are applied.
    static var migrationsTable: String {
        "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at BIGINT NOT NULL)"
    }
}

/// Wake-ups for idle workers in this process: `signal` releases every waiter at once.
actor WorkSignal {
    private var waiters: [UUID: CheckedContinuation<Void, Never>] = [:]
    private var pending = false
    /// Waiters cancelled before their continuation was registered.
    private var cancelled: Set<UUID> = []

    func signal() {
        if waiters.isEmpty { pending = true }
        for continuation in waiters.values { continuation.resume() }
        waiters.removeAll()
    }

    func wait(timeout: Duration) async {
        if pending {
            pending = false
            return
        }
        let id = UUID()
        await withTaskGroup(of: Void.self) { group in
            group.addTask { try? await Task.sleep(for: timeout) }
            group.addTask {
                await withTaskCancellationHandler {
                    await withCheckedContinuation { continuation in
                        Task { await self.add(id, continuation) }
                    }
                } onCancel: {
                    Task { await self.resume(id) }
                }
            }
            await group.next()
            group.cancelAll()
        }
    }

    private func add(_ id: UUID, _ continuation: CheckedContinuation<Void, Never>) {
        if pending {
            pending = false
            continuation.resume()
        } else if cancelled.remove(id) != nil {
            continuation.resume()
        } else {
            waiters[id] = continuation
        }
    }

    private func resume(_ id: UUID) {
        if let continuation = waiters.removeValue(forKey: id) {
            continuation.resume()
        } else {
            cancelled.insert(id)
        }
    }
}
