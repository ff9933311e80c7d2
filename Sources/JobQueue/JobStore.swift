public import Foundation

/// The durable queue: jobs, their leases, progress, results and webhook deliveries, in one
/// table that SQLite and PostgreSQL hold alike. Every change a worker makes is fenced on the
/// attempt number it claimed, so a worker whose lease expired (and whose job another worker
/// took) cannot record a result.
public struct JobStore: Sendable {
    public let database: any SQLDatabase
    /// The clock leases and timestamps come from (tests move it).
    let now: @Sendable () -> Date

    public init(database: any SQLDatabase, now: @escaping @Sendable () -> Date = { Date() }) {
        self.database = database
        self.now = now
    }

    /// Versioned schema changes; `migrate()` applies those the database lacks.
    static func migrations(_ dialect: SQLDialect) -> [Migration] {
        [
            Migration(
                version: 1,
                statements: [
                    """
                    CREATE TABLE jobs (
                        seq \(dialect.serialKey),
                        id TEXT NOT NULL UNIQUE,
                        status TEXT NOT NULL,
                        created_at BIGINT NOT NULL,
                        started_at BIGINT,
                        finished_at BIGINT,
                        attempts BIGINT NOT NULL DEFAULT 0,
                        progress_step TEXT,
                        progress_fraction DOUBLE PRECISION NOT NULL DEFAULT 0,
                        request TEXT NOT NULL,
                        result TEXT,
                        error_code TEXT,
                        error_message TEXT,
                        metadata TEXT,
                        webhook_url TEXT,
                        idempotency_key TEXT UNIQUE,
                        request_hash TEXT NOT NULL,
                        cancel_requested BIGINT NOT NULL DEFAULT 0,
                        lease_owner TEXT,
                        lease_until BIGINT,
                        webhook_state TEXT,
                        webhook_attempts BIGINT NOT NULL DEFAULT 0,
                        webhook_next_at BIGINT,
                        webhook_last_error TEXT
                    )
                    """,
                    "CREATE INDEX jobs_by_status ON jobs (status, seq)",
                    "CREATE INDEX jobs_by_webhook ON jobs (webhook_state, webhook_next_at)",
                ]),
            Migration(
                version: 2,
                statements: [
                    "CREATE TABLE video_cache (key TEXT PRIMARY KEY, value TEXT NOT NULL, updated_at BIGINT NOT NULL)",
                    "CREATE INDEX video_cache_by_age ON video_cache (updated_at)",
                ]),
        ]
    }

    // MARK: The shared per-video cache

    /// The cached value of `key`, marked as used now.
    public func cachedValue(_ key: String) async throws -> String? {
        try await database.query(
            "UPDATE video_cache SET updated_at = $2 WHERE key = $1 RETURNING value", [.text(key), .integer(now().microseconds)]
        ).first?["value"]?.text
    }

    /// Stores `value` for `key`, keeping the `keep` most recently used entries.
    public func saveCachedValue(_ key: String, _ value: String, keep: Int) async throws {
        try await database.query(
            """
            INSERT INTO video_cache (key, value, updated_at) VALUES ($1, $2, $3)
            ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at
            """, [.text(key), .text(value), .integer(now().microseconds)])
        try await database.query(
            "DELETE FROM video_cache WHERE key IN (SELECT key FROM video_cache ORDER BY updated_at DESC LIMIT 1000000000 OFFSET $1)",
            [.integer(Int64(max(0, keep)))])
    }

    /// Creates or updates the schema (safe to call from many processes at once).
    @discardableResult
    public func migrate() async throws -> [Int] {
        try await database.migrate(Self.migrations(database.dialect))
    }

    /// Answers when the store can be read (readiness).
    public func ping() async throws {
        try await database.query("SELECT 1 AS one", [])
    }

    // MARK: Clients

    /// Queues `job`, or returns the job an earlier request with the same idempotency key and
    /// the same body made (`created` false). The same key with another body throws
    /// `IdempotencyConflict`.
    public func submit(_ job: NewJob) async throws -> (record: JobRecord, created: Bool) {
        let rows: [SQLRow]
        do {
            rows = try await database.query(
                """
                INSERT INTO jobs (id, status, created_at, request, metadata, webhook_url, idempotency_key, request_hash)
                VALUES ($1, 'queued', $2, $3, $4, $5, $6, $7) ON CONFLICT (idempotency_key) DO NOTHING RETURNING *
                """,
                [
                    .text(job.id), .integer(now().microseconds), .text(job.request), job.metadata.map(SQLValue.text) ?? .null,
                    job.webhookURL.map(SQLValue.text) ?? .null, job.idempotencyKey.map(SQLValue.text) ?? .null, .text(job.requestHash),
                ])
        } catch is UniqueViolation {
            rows = []
        }
        if let row = rows.first {
            await database.notifyWork()
            return (try JobRecord(row: row), true)
        }
        guard let key = job.idempotencyKey,
            let existing = try await database.query("SELECT * FROM jobs WHERE idempotency_key = $1", [.text(key)]).first
        else { throw StoreUnavailable(engine: "\(database.dialect)", detail: "the job \(job.id) was neither inserted nor found") }
        let record = try JobRecord(row: existing)
        guard record.requestHash == job.requestHash else { throw IdempotencyConflict(existing: record) }
        return (record, false)
    }

    public func job(id: String) async throws -> JobRecord? {
        try await database.query("SELECT * FROM jobs WHERE id = $1", [.text(id)]).first.map(JobRecord.init(row:))
    }

    /// Newest first: at most `limit` jobs older than `before` (a `sequence`), of `status` when given.
    public func list(status: JobStatus? = nil, limit: Int, before: Int64? = nil) async throws -> [JobRecord] {
        var conditions: [String] = []
        var binds: [SQLValue] = []
        if let status {
            binds.append(.text(status.rawValue))
            conditions.append("status = $\(binds.count)")
        }
        if let before {
            binds.append(.integer(before))
            conditions.append("seq < $\(binds.count)")
        }
        binds.append(.integer(Int64(limit)))
        let filter = conditions.isEmpty ? "" : "WHERE " + conditions.joined(separator: " AND ")
        return try await database.query("SELECT * FROM jobs \(filter) ORDER BY seq DESC LIMIT $\(binds.count)", binds)
            .map(JobRecord.init(row:))
    }

    /// Cancels a job: a queued one becomes `cancelled` now; a running one is asked to stop
    /// (its worker sees it at the next heartbeat and records `cancelled`). A finished job is
    /// returned unchanged; nil when there is no such job.
    public func cancel(id: String) async throws -> JobRecord? {
        let time = SQLValue.integer(now().microseconds)
        if let row = try await database.query(
            """
            UPDATE jobs SET status = 'cancelled', finished_at = $2, \(Self.webhookDue("$2"))
            WHERE id = $1 AND status = 'queued' RETURNING *
            """,
            [.text(id), time]
        ).first {
            return try JobRecord(row: row)
        }
        if let row = try await database.query(
            "UPDATE jobs SET cancel_requested = 1 WHERE id = $1 AND status = 'running' RETURNING *", [.text(id)]
        ).first {
            return try JobRecord(row: row)
        }
        return try await job(id: id)
    }

    // MARK: Workers

    /// Takes the oldest job that is queued, or whose worker's lease ran out, for `lease`;
    /// `attempts` goes up by one. Jobs whose lease ran out after `maxAttempts` attempts fail
    /// with `worker_lost` (or become `cancelled` when a cancel was asked for) instead.
    public func claim(worker: String, lease: Duration, maxAttempts: Int) async throws -> JobRecord? {
        let time = now()
        try await expireLeases(at: time, maxAttempts: maxAttempts)
        let rows = try await database.query(
            """
            UPDATE jobs SET status = 'running', attempts = attempts + 1, lease_owner = $1, lease_until = $2, started_at = $3,
                progress_step = NULL, progress_fraction = 0
            WHERE seq = (SELECT seq FROM jobs WHERE status = 'queued' OR (status = 'running' AND lease_until < $3)
                         ORDER BY seq LIMIT 1\(database.dialect.skipLocked))
            RETURNING *
            """,
            [.text(worker), .integer((time + lease.timeInterval).microseconds), .integer(time.microseconds)])
        return try rows.first.map(JobRecord.init(row:))
    }

    /// Ends jobs whose lease ran out and which must not run again.
    func expireLeases(at time: Date, maxAttempts: Int) async throws {
        let stamp = SQLValue.integer(time.microseconds)
        try await database.query(
            """
            UPDATE jobs SET status = 'cancelled', finished_at = $1, lease_owner = NULL, lease_until = NULL, \(Self.webhookDue("$1"))
            WHERE status = 'running' AND lease_until < $1 AND cancel_requested = 1
            """, [stamp])
        try await database.query(
            """
            UPDATE jobs SET status = 'failed', finished_at = $1, lease_owner = NULL, lease_until = NULL, error_code = 'worker_lost',
                error_message = $3, \(Self.webhookDue("$1"))
            WHERE status = 'running' AND lease_until < $1 AND attempts >= $2
            """,
            [
                stamp, .integer(Int64(maxAttempts)),
                .text("the worker running this job stopped answering \(maxAttempts) time(s) (MAX_ATTEMPTS); the job was not retried again"),
            ])
    }

    /// Extends the lease of attempt `attempt` and records progress (when given).
    public func heartbeat(id: String, attempt: Int, lease: Duration, progress: (step: String, fraction: Double)? = nil)
        async throws -> LeaseState
    {
        var binds: [SQLValue] = [.text(id), .integer(Int64(attempt)), .integer((now() + lease.timeInterval).microseconds)]
        var progressSet = ""
        if let progress {
            binds += [.text(progress.step), .real(min(1, max(0, progress.fraction)))]
            progressSet = ", progress_step = $4, progress_fraction = $5"
        }
        let rows = try await database.query(
            """
            UPDATE jobs SET lease_until = $3\(progressSet) WHERE id = $1 AND attempts = $2 AND status = 'running'
            RETURNING cancel_requested
            """, binds)
        guard let row = rows.first else { return .lost }
        return .held(cancelRequested: (row["cancel_requested"]?.integer ?? 0) != 0)
    }

    /// Records how attempt `attempt` ended. False when the attempt no longer owns the job
    /// (its lease ran out and another attempt took it, or it was ended meanwhile): nothing changed.
    @discardableResult
    public func finish(id: String, attempt: Int, outcome: JobOutcome) async throws -> Bool {
        let (status, result, code, message): (JobStatus, String?, String?, String?) =
            switch outcome {
            case .succeeded(let result): (.succeeded, result, nil, nil)
            case .failed(let code, let message): (.failed, nil, code, message)
            case .cancelled: (.cancelled, nil, nil, nil)
            }
        let rows = try await database.query(
            """
            UPDATE jobs SET status = $3, result = $4, error_code = $5, error_message = $6, finished_at = $7, lease_owner = NULL,
                lease_until = NULL, progress_fraction = CASE WHEN $8 = 1 THEN 1.0 ELSE progress_fraction END, \(Self.webhookDue("$7"))
            WHERE id = $1 AND attempts = $2 AND status = 'running' RETURNING id
            """,
            [
                .text(id), .integer(Int64(attempt)), .text(status.rawValue), result.map(SQLValue.text) ?? .null,
                code.map(SQLValue.text) ?? .null, message.map(SQLValue.text) ?? .null, .integer(now().microseconds),
                .integer(status == .succeeded ? 1 : 0),
            ])
        return !rows.isEmpty
    }

    /// Puts a job a worker gave up without finishing (its process is stopping) back in the
    /// queue, as if this attempt had not happened — or ends it `cancelled` when a cancel was asked for.
    @discardableResult
    public func release(id: String, attempt: Int) async throws -> Bool {
        let rows = try await database.query(
            """
            UPDATE jobs SET status = CASE WHEN cancel_requested = 1 THEN 'cancelled' ELSE 'queued' END,
                attempts = attempts - 1, lease_owner = NULL, lease_until = NULL, started_at = NULL, progress_step = NULL,
                progress_fraction = 0, finished_at = CASE WHEN cancel_requested = 1 THEN $3 ELSE NULL END,
                webhook_state = CASE WHEN cancel_requested = 1 AND webhook_url IS NOT NULL THEN 'pending' ELSE webhook_state END,
                webhook_next_at = CASE WHEN cancel_requested = 1 THEN $3 ELSE webhook_next_at END
            WHERE id = $1 AND attempts = $2 AND status = 'running' RETURNING id
            """, [.text(id), .integer(Int64(attempt)), .integer(now().microseconds)])
        if !rows.isEmpty { await database.notifyWork() }
        return !rows.isEmpty
    }

    // MARK: Webhooks

    /// On the final state: a webhook is due now (the time is the placeholder `time`) when the job has a URL.
    static func webhookDue(_ time: String) -> String {
        "webhook_state = CASE WHEN webhook_url IS NULL THEN NULL ELSE 'pending' END, webhook_next_at = \(time)"
    }

    /// Takes the delivery due first, hiding it from other senders for `lease`.
    public func claimWebhook(lease: Duration) async throws -> JobRecord? {
        let time = now()
        let rows = try await database.query(
            """
            UPDATE jobs SET webhook_next_at = $2
            WHERE seq = (SELECT seq FROM jobs WHERE webhook_state = 'pending' AND webhook_next_at <= $1
                         ORDER BY webhook_next_at LIMIT 1\(database.dialect.skipLocked))
            RETURNING *
            """, [.integer(time.microseconds), .integer((time + lease.timeInterval).microseconds)])
        return try rows.first.map(JobRecord.init(row:))
    }

    /// Records one delivery attempt of the job's webhook (claimed with `attempts` earlier
    /// attempts): delivered, retried at `retryAt`, or given up (`retryAt` nil and not delivered).
    public func recordWebhook(id: String, attempts: Int, delivered: Bool, retryAt: Date?, error: String?) async throws {
        let state: WebhookState = delivered ? .delivered : (retryAt == nil ? .failed : .pending)
        try await database.query(
            """
            UPDATE jobs SET webhook_state = $3, webhook_attempts = webhook_attempts + 1, webhook_next_at = $4, webhook_last_error = $5
            WHERE id = $1 AND webhook_attempts = $2 AND webhook_state = 'pending'
            """,
            [
                .text(id), .integer(Int64(attempts)), .text(state.rawValue), retryAt.map { .integer($0.microseconds) } ?? .null,
                error.map(SQLValue.text) ?? .null,
            ])
    }

    // MARK: Metrics

    public struct Summary: Sendable, Equatable {
        public var byStatus: [JobStatus: Int] = [:]
        /// Age of the oldest queued job (0 when none waits).
        public var oldestQueuedSeconds: Double = 0
        public var webhooks: [WebhookState: Int] = [:]
    }

    public func summary() async throws -> Summary {
        var summary = Summary()
        for row in try await database.query("SELECT status, COUNT(*) AS n FROM jobs GROUP BY status", []) {
            if let status = row["status"]?.text.flatMap(JobStatus.init(rawValue:)) {
                summary.byStatus[status] = Int(row["n"]?.integer ?? 0)
            }
        }
        for row in try await database.query(
            "SELECT webhook_state, COUNT(*) AS n FROM jobs WHERE webhook_state IS NOT NULL GROUP BY webhook_state", [])
        {
            if let state = row["webhook_state"]?.text.flatMap(WebhookState.init(rawValue:)) {
                summary.webhooks[state] = Int(row["n"]?.integer ?? 0)
            }
        }
        if let oldest = try await database.query("SELECT MIN(created_at) AS t FROM jobs WHERE status = 'queued'", []).first?["t"]?.integer {
            summary.oldestQueuedSeconds = max(0, now().timeIntervalSince(Date(microseconds: oldest)))
        }
        return summary
    }
}

extension Duration {
    /// Seconds as a `TimeInterval`.
    public var timeInterval: TimeInterval {
        let (seconds, attoseconds) = components
        return Double(seconds) + Double(attoseconds) / 1e18
    }
}
