import Foundation
import JobQueue
import Pipeline
public import Prometheus

/// The server's Prometheus metrics (GET /metrics), in their own registry so that several
/// servers in one process (tests) do not mix their numbers.
public final class ServerMetrics: Sendable {
    public let registry = PrometheusCollectorRegistry()
    let inFlight: Gauge
    let queued: Gauge
    let waitingForMemory: Gauge
    let memoryReserved: Gauge
    let memoryBudget: Gauge
    let modelLoad: Gauge
    let modelsLoaded: Gauge
    let cacheHits: Counter
    let cacheMisses: Counter

    /// Bucket bounds in seconds for job steps: from a few milliseconds to minutes.
    static let stepBuckets: [Double] = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 25, 60, 120, 300]

    public init() {
        let registry = registry
        func gauge(_ name: String, unit: String = "", _ help: String) -> Gauge {
            registry.makeGauge(descriptor: .init(namespace: "lipsync", metricName: name, unitName: unit, helpText: help))
        }
        func counter(_ name: String, _ help: String) -> Counter {
            registry.makeCounter(descriptor: .init(namespace: "lipsync", metricName: name, unitName: "total", helpText: help))
        }
        inFlight = gauge("jobs_in_flight", "Jobs running now.")
        queued = gauge("jobs_queued", "Jobs waiting for a slot.")
        waitingForMemory = gauge("jobs_waiting_for_memory", "Jobs holding a slot that wait for their memory estimate to fit.")
        memoryReserved = gauge("job_memory_reserved", unit: "bytes", "Memory estimates of the running jobs, added up.")
        memoryBudget = gauge("job_memory_budget", unit: "bytes", "What the running jobs' estimates may add up to (MAX_JOB_MEMORY_BYTES).")
        modelLoad = gauge("model_load", unit: "seconds", "Wall time of the last model load.")
        modelsLoaded = gauge("models_loaded", "1 when every model is loaded, else 0.")
        cacheHits = counter("video_cache_hits", "Jobs whose per-video work came from the cache.")
        cacheMisses = counter("video_cache_misses", "Jobs that computed their per-video work.")
    }

    /// Bucket bounds in seconds for whole requests: health checks to long jobs.
    static let requestBuckets: [Double] = [0.001, 0.005, 0.025, 0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 300]

    /// Counts one answered request by route and status, and its wall time by route.
    func recordRequest(route: String, status: Int, seconds: Double) {
        registry.makeCounter(
            descriptor: .init(
                namespace: "lipsync", metricName: "http_requests", unitName: "total",
                helpText: "HTTP requests answered, by route and status."),
            labels: [("route", route), ("status", "\(status)")]
        ).increment()
        registry.makeValueHistogram(
            descriptor: .init(
                namespace: "lipsync", metricName: "http_request", unitName: "seconds",
                helpText: "Wall time of HTTP requests, by route."),
            labels: [("route", route)], buckets: Self.requestBuckets
        ).record(seconds)
    }

    /// Records every step of a finished job (seconds, per step label).
    func recordJob(_ timings: JobTimings, cached: Bool) {
        for row in timings.keyedRows {
            let step = row.key
            registry.makeValueHistogram(
                descriptor: .init(
                    namespace: "lipsync", metricName: "job_step", unitName: "seconds",
                    helpText: "Wall time of each job step."),
                labels: [("step", step)], buckets: Self.stepBuckets
            ).record(row.seconds)
        }
        (cached ? cacheHits : cacheMisses).increment()
    }

    /// Prometheus text exposition (format 0.0.4).
    func render(_ jobs: JobLimiter.Snapshot, loadSeconds: Double?, queue: JobStore.Summary? = nil) -> String {
        if let queue { record(queue) }
        inFlight.set(to: Double(jobs.inFlight))
        queued.set(to: Double(jobs.queued))
        waitingForMemory.set(to: Double(jobs.waitingForMemory))
        memoryReserved.set(to: Double(jobs.reservedBytes))
        memoryBudget.set(to: Double(jobs.memoryBudget))
        modelsLoaded.set(to: loadSeconds == nil ? 0 : 1)
        if let loadSeconds { modelLoad.set(to: loadSeconds) }
        return registry.emitToString()
    }

    /// The queue's state as the store has it (every process sharing the store sees the same).
    func record(_ queue: JobStore.Summary) {
        for status in JobStatus.allCases {
            registry.makeGauge(
                descriptor: .init(namespace: "lipsync", metricName: "queue_jobs", helpText: "Jobs in the store, by status."),
                labels: [("status", status.rawValue)]
            ).set(to: Double(queue.byStatus[status] ?? 0))
        }
        registry.makeGauge(
            descriptor: .init(
                namespace: "lipsync", metricName: "queue_oldest_age", unitName: "seconds", helpText: "Age of the oldest queued job.")
        ).set(to: queue.oldestQueuedSeconds)
        for state in [WebhookState.pending, .delivered, .failed] {
            registry.makeGauge(
                descriptor: .init(namespace: "lipsync", metricName: "webhook_deliveries", helpText: "Webhooks in the store, by state."),
                labels: [("state", state.rawValue)]
            ).set(to: Double(queue.webhooks[state] ?? 0))
        }
    }

    /// Counts a claim by this process's workers (attempt 2 and up: a job another worker lost).
    func recordClaim(attempt: Int) {
        registry.makeCounter(
            descriptor: .init(
                namespace: "lipsync", metricName: "job_claims", unitName: "total",
                helpText: "Jobs taken from the queue by this process, by whether it was a first attempt."),
            labels: [("attempt", attempt <= 1 ? "first" : "retry")]
        ).increment()
    }

    /// Counts one webhook delivery attempt by its result.
    func recordWebhook(_ result: String) {
        registry.makeCounter(
            descriptor: .init(
                namespace: "lipsync", metricName: "webhook_attempts", unitName: "total",
                helpText: "Webhook delivery attempts by this process, by result."),
            labels: [("result", result)]
        ).increment()
    }
}
