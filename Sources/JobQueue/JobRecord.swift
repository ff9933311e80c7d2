public import Foundation

/// Where a job is in its life. `queued` and `running` change; the other three are final.
public enum JobStatus: String, Sendable, Codable, CaseIterable {
    case queued, running, succeeded, failed, cancelled

    public var isTerminal: Bool { self == .succeeded || self == .failed || self == .cancelled }
}

/// A job as the store keeps it. `request`, `result` and `metadata` are JSON texts the store
/// does not interpret (the server's request and response bodies, the client's metadata).
public struct JobRecord: Sendable, Equatable {
    /// Insertion order: newest-first listing and its cursors.
    public var sequence: Int64
    public var id: String
    public var status: JobStatus
    public var createdAt: Date
    public var startedAt: Date?
    public var finishedAt: Date?
    /// How many times a worker has taken the job (2 after a worker vanished once).
    public var attempts: Int
    public var progressStep: String?
    public var progressFraction: Double
    public var request: String
    public var result: String?
    public var errorCode: String?
    public var errorMessage: String?
    public var metadata: String?
    public var webhookURL: String?
    public var idempotencyKey: String?
    public var requestHash: String
    public var cancelRequested: Bool
    public var leaseOwner: String?
    public var leaseUntil: Date?
    /// Delivery of the webhook on the final state: nil (none to send), pending, delivered, failed.
    public var webhookState: WebhookState?
    public var webhookAttempts: Int
    public var webhookNextAt: Date?
    public var webhookLastError: String?
}

public enum WebhookState: String, Sendable, Codable {
    case pending, delivered, failed
}

/// A job to queue.
public struct NewJob: Sendable {
    public var id: String
    public var request: String
    public var metadata: String?
    public var webhookURL: String?
    public var idempotencyKey: String?
    /// Identifies the request body for idempotency (same key and hash: the same job).
    public var requestHash: String

    public init(
        id: String = UUID().uuidString.lowercased(), request: String, metadata: String? = nil, webhookURL: String? = nil,
        idempotencyKey: String? = nil, requestHash: String
    ) {
        self.id = id
        self.request = request
        self.metadata = metadata
        self.webhookURL = webhookURL
        self.idempotencyKey = idempotencyKey
        self.requestHash = requestHash
    }
}

/// How a worker's attempt ended.
public enum JobOutcome: Sendable, Equatable {
    case succeeded(result: String)
    case failed(code: String, message: String)
    case cancelled
}

/// What a heartbeat learned: the worker still holds the job (and whether a cancel was
/// asked for), or another attempt owns it now / it ended (the worker must stop and store nothing).
public enum LeaseState: Sendable, Equatable {
    case held(cancelRequested: Bool)
    case lost
}

/// The same idempotency key was used with a different request body.
public struct IdempotencyConflict: Error, Sendable {
    public let existing: JobRecord
}

extension JobRecord {
    /// Reads a row of the jobs table.
    init(row: SQLRow) throws {
        func text(_ column: String) -> String? { row[column]?.text }
        func integer(_ column: String) -> Int64? { row[column]?.integer }
        func date(_ column: String) -> Date? { integer(column).map(Date.init(microseconds:)) }
        guard let sequence = integer("seq"), let id = text("id"), let status = text("status").flatMap(JobStatus.init(rawValue:)),
            let created = date("created_at"), let request = text("request")
        else { throw CorruptRow(detail: "a jobs row lacks seq, id, status, created_at or request: \(row.keys.sorted())") }
        self.init(
            sequence: sequence, id: id, status: status, createdAt: created, startedAt: date("started_at"), finishedAt: date("finished_at"),
            attempts: Int(integer("attempts") ?? 0), progressStep: text("progress_step"),
            progressFraction: row["progress_fraction"]?.real ?? 0, request: request, result: text("result"),
            errorCode: text("error_code"), errorMessage: text("error_message"), metadata: text("metadata"),
            webhookURL: text("webhook_url"), idempotencyKey: text("idempotency_key"), requestHash: text("request_hash") ?? "",
            cancelRequested: (integer("cancel_requested") ?? 0) != 0, leaseOwner: text("lease_owner"), leaseUntil: date("lease_until"),
            webhookState: text("webhook_state").flatMap(WebhookState.init(rawValue:)),
            webhookAttempts: Int(integer("webhook_attempts") ?? 0), webhookNextAt: date("webhook_next_at"),
            webhookLastError: text("webhook_last_error"))
    }
}

struct CorruptRow: Error, CustomStringConvertible {
    let detail: String
    var description: String { detail }
}

extension Date {
    /// Microseconds since 1970 (how the store keeps times: one integer type on both engines).
    public var microseconds: Int64 { Int64((timeIntervalSince1970 * 1_000_000).rounded()) }

    public init(microseconds: Int64) {
        self.init(timeIntervalSince1970: Double(microseconds) / 1_000_000)
    }
}
