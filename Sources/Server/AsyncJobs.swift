public import Foundation
public import JobQueue
import Pipeline
public import Storage

/// The asynchronous jobs of `/api/v2/jobs`: the store they live in and how workers and
/// webhook deliveries behave (docs/jobs.md; each setting has its environment variable).
public struct AsyncJobs: Sendable {
    public let store: JobStore
    /// `WORKERS`: jobs this process runs from the queue at once (0: an API-only server).
    public var workers: Int
    /// `JOB_LEASE_SECONDS`: how long a claim lasts without a heartbeat (heartbeats every third of it).
    public var lease: Duration
    /// `MAX_ATTEMPTS`: claims of one job before a vanished worker makes it fail `worker_lost`.
    public var maxAttempts: Int
    /// `JOB_POLL_INTERVAL_MS`: how often an idle worker looks for work when no notification came.
    public var pollInterval: Duration
    /// How often an events stream (SSE) reads the job's state.
    public var eventsInterval: Duration
    /// Names this process's claims (host, process id and a random part).
    public var workerID: String
    public var webhooks: WebhookSettings

    public init(
        store: JobStore, workers: Int = 1, lease: Duration = .seconds(30), maxAttempts: Int = 3,
        pollInterval: Duration = .seconds(1), eventsInterval: Duration = .milliseconds(200),
        workerID: String = AsyncJobs.defaultWorkerID(), webhooks: WebhookSettings = WebhookSettings()
    ) {
        self.store = store
        self.workers = workers
        self.lease = lease
        self.maxAttempts = maxAttempts
        self.pollInterval = pollInterval
        self.eventsInterval = eventsInterval
        self.workerID = workerID
        self.webhooks = webhooks
    }

    public static func defaultWorkerID() -> String {
        "\(ProcessInfo.processInfo.hostName)-\(ProcessInfo.processInfo.processIdentifier)-\(UUID().uuidString.prefix(8).lowercased())"
    }
}

/// Webhooks on a job's final state (`WEBHOOK_*`).
public struct WebhookSettings: Sendable {
    /// `WEBHOOK_SECRET`: the HMAC-SHA256 key of `LipSync-Signature`; without it `webhook_url` is refused.
    public var secret: String?
    /// `WEBHOOK_MAX_ATTEMPTS` (default 8) and `WEBHOOK_RETRY_BASE_SECONDS` (default 15): the n-th
    /// retry waits base × 2ⁿ⁻¹ (15 s … 32 min: about an hour over 8 attempts).
    public var maxAttempts: Int
    public var retryBase: Duration
    /// `WEBHOOK_TIMEOUT_SECONDS` (default 10): one delivery's whole exchange.
    public var timeout: Duration
    /// The guard deliveries go through (the https:// input guard: public addresses only, allowed hosts).
    public var guardrail: HTTPSInput

    public init(
        secret: String? = nil, maxAttempts: Int = 8, retryBase: Duration = .seconds(15), timeout: Duration = .seconds(10),
        guardrail: HTTPSInput = HTTPSInput()
    ) {
        self.secret = secret
        self.maxAttempts = maxAttempts
        self.retryBase = retryBase
        self.timeout = timeout
        self.guardrail = guardrail
    }

    /// The wait before retry `attempt` (1-based) after a failed delivery.
    func delay(afterAttempt attempt: Int) -> Duration { retryBase * (1 << min(max(attempt - 1, 0), 20)) }
}

/// The JSON of a job (GET /api/v2/jobs/{id}, list entries, events, webhooks).
enum JobView {
    static func object(_ job: JobRecord) -> [String: Any] {
        func json(_ text: String?) -> Any {
            guard let text, let value = try? JSONSerialization.jsonObject(with: Data(text.utf8), options: [.fragmentsAllowed]) else {
                return NSNull()
            }
            return value
        }
        func time(_ date: Date?) -> Any {
            guard let date else { return NSNull() }
            return date.formatted(Date.ISO8601FormatStyle(includingFractionalSeconds: true))
        }
        var object: [String: Any] = [
            "id": job.id, "status": job.status.rawValue, "created_at": time(job.createdAt), "started_at": time(job.startedAt),
            "finished_at": time(job.finishedAt), "attempts": job.attempts, "request": json(job.request), "result": json(job.result),
            "metadata": json(job.metadata), "cancel_requested": job.cancelRequested,
            "progress": [
                "step": job.progressStep.map { $0 as Any } ?? NSNull(), "fraction": (job.progressFraction * 1000).rounded() / 1000,
            ],
        ]
        object["error"] = job.errorCode.map { ["code": $0, "message": job.errorMessage ?? ""] as [String: Any] } ?? NSNull()
        object["webhook"] =
            job.webhookURL.map { url -> [String: Any] in
                [
                    "url": url, "state": job.webhookState?.rawValue ?? "waiting", "attempts": job.webhookAttempts,
                    "last_error": job.webhookLastError.map { $0 as Any } ?? NSNull(),
                ]
            } ?? NSNull()
        return object
    }

    static func data(_ value: Any) throws -> Data {
        try JSONSerialization.data(withJSONObject: value, options: [.sortedKeys, .withoutEscapingSlashes])
    }
}

/// A job's progress as one fraction of the whole: each step has its share of the bar (the
/// render, by far the longest, most of it, by frames).
struct ProgressTracker: Sendable {
    static let spans: [String: ClosedRange<Double>] = [
        "fetch_input": 0...0.05, "text_to_speech": 0.05...0.15, "voice_conversion": 0.15...0.3,
        "lip-sync_render": 0.3...0.95, "store_output": 0.95...1,
    ]
    private(set) var step: String?
    private(set) var fraction = 0.0

    /// Applies one event; true when what a client sees changed.
    mutating func apply(_ progress: JobProgress) -> Bool {
        let span = Self.spans[progress.step] ?? fraction...fraction
        let within: Double =
            switch progress.event {
            case .started: 0
            case .finished: 1
            case .frames(let frames): frames.framesTotal > 0 ? Double(frames.framesDone) / Double(frames.framesTotal) : 0
            }
        let next = max(fraction, span.lowerBound + (span.upperBound - span.lowerBound) * within)
        let changed = step != progress.step || (next * 100).rounded() != (fraction * 100).rounded()
        step = progress.step
        fraction = next
        return changed
    }
}
