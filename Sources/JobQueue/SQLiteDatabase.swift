import Foundation
import GRDB

/// The embedded engine: one SQLite file (write-ahead log), for a server that runs alone.
/// Several processes may open the file, but only PostgreSQL wakes workers in other processes
/// at once; here they notice new work at their next poll.
public final class SQLiteDatabase: SQLDatabase {
    public let dialect = SQLDialect.sqlite
    public let path: String
    private let pool: DatabasePool
    private let signal = WorkSignal()

    /// Opens (creating when missing) the database file at `path`; its folder is created too.
    public init(path: String) throws {
        self.path = path
        let folder = (path as NSString).deletingLastPathComponent
        if !folder.isEmpty { try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true) }
        var configuration = Configuration()
        configuration.busyMode = .timeout(10)
        do {
            pool = try DatabasePool(path: path, configuration: configuration)
        } catch {
            throw StoreUnavailable(engine: "SQLite", detail: "\(path): \(error)")
        }
    }

    public func query(_ sql: String, _ binds: [SQLValue]) async throws -> [SQLRow] {
        let statement = Self.positional(sql)
        let arguments = StatementArguments(binds.map(Self.databaseValue))
        do {
            // Plain reads (job status, lists, event streams) do not queue behind the writers.
            if statement.hasPrefix("SELECT") {
                return try await pool.read { db in try Row.fetchAll(db, sql: statement, arguments: arguments).map(Self.row) }
            }
            return try await pool.write { db in
                try Row.fetchAll(db, sql: statement, arguments: arguments).map(Self.row)
            }
        } catch let error as DatabaseError {
            throw Self.translate(error)
        }
    }

    public func migrate(_ migrations: [Migration]) async throws -> [Int] {
        let table = Self.migrationsTable
        return try await pool.write { db in
            try db.execute(sql: table)
            let current = try Int.fetchOne(db, sql: "SELECT MAX(version) FROM schema_migrations") ?? 0
            var applied: [Int] = []
            for migration in migrations.sorted(by: { $0.version < $1.version }) where migration.version > current {
                for statement in migration.statements { try db.execute(sql: statement) }
                try db.execute(
                    sql: "INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)",
                    arguments: [migration.version, Int64(Date().timeIntervalSince1970)])
                applied.append(migration.version)
            }
            return applied
        }
    }

    public func notifyWork() async { await signal.signal() }

    public func waitForWork(timeout: Duration) async { await signal.wait(timeout: timeout) }

    public func close() async { try? pool.close() }

    /// `$1`, `$2`… (PostgreSQL's placeholders) as SQLite's numbered `?1`, `?2`….
    public static func positional(_ sql: String) -> String {
        var out = ""
        var iterator = sql.makeIterator()
        var pending: Character? = nil
        while let character = pending ?? iterator.next() {
            pending = nil
            guard character == "$" else {
                out.append(character)
                continue
            }
            var digits = ""
            while let next = iterator.next() {
                if next.isASCII && next.isNumber {
                    digits.append(next)
                } else {
                    pending = next
                    break
                }
            }
            out += digits.isEmpty ? "$" : "?" + digits
        }
        return out
    }

    static func databaseValue(_ value: SQLValue) -> DatabaseValue {
        switch value {
        case .null: .null
        case .integer(let number): number.databaseValue
        case .real(let number): number.databaseValue
        case .text(let text): text.databaseValue
        }
    }

    static func row(_ row: Row) -> SQLRow {
        var out: SQLRow = [:]
        for (column, value) in row {
            switch value.storage {
            case .null: out[column] = .null
            case .int64(let number): out[column] = .integer(number)
            case .double(let number): out[column] = .real(number)
            case .string(let text): out[column] = .text(text)
            case .blob(let data): out[column] = .text(String(decoding: data, as: UTF8.self))
            }
        }
        return out
    }

    static func translate(_ error: DatabaseError) -> any Error {
        switch error.resultCode {
        case .SQLITE_CONSTRAINT: UniqueViolation(detail: error.message ?? "\(error)")
        case .SQLITE_BUSY, .SQLITE_LOCKED, .SQLITE_CANTOPEN, .SQLITE_IOERR, .SQLITE_FULL, .SQLITE_READONLY, .SQLITE_CORRUPT:
            StoreUnavailable(engine: "SQLite", detail: "\(error)")
        default: error
        }
    }
}

/// The database cannot be reached or written now (the server answers 503; nothing is lost).
public struct StoreUnavailable: Error, Sendable, CustomStringConvertible {
    public let engine: String
    public let detail: String

    public init(engine: String, detail: String) {
        self.engine = engine
        self.detail = detail
    }

    public var description: String { "the job store (\(engine)) is unavailable: \(detail)" }
}

/// An insert met a row with the same unique key (an idempotency key taken meanwhile).
struct UniqueViolation: Error {
    let detail: String
}
