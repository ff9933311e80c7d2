import Crypto
import Foundation
import JobQueue
import Logging
import Resilience
import UserFacingErrors

/// Delivers the webhooks of finished jobs: the job's JSON, POSTed with
/// `LipSync-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>`, through
/// the https input guard. A delivery that fails (no answer, not 2xx) is retried with
/// exponential backoff up to `WEBHOOK_MAX_ATTEMPTS`; its state lives in the store, so any
/// process may make the next attempt (at-least-once: a receiver can see a job twice).
struct WebhookSender: Sendable {
    let jobs: AsyncJobs
    let metrics: ServerMetrics
    let logger: Logger

    func run(until stopping: StopFlag) async {
        while !stopping.isStopped && !Task.isCancelled {
            do {
                if let job = try await jobs.store.claimWebhook(lease: jobs.webhooks.timeout + .seconds(30)) {
                    await deliver(job)
                    continue
                }
            } catch is CancellationError {
                return
            } catch {
                logger.warning("cannot read due webhooks from the store", metadata: ["error": "\(error)"])
            }
            try? await Task.sleep(for: min(jobs.pollInterval, .seconds(1)))
        }
    }

    func deliver(_ job: JobRecord) async {
        let attempt = job.webhookAttempts + 1
        var failure: String?
        if let text = job.webhookURL, let url = URL(string: text), let secret = jobs.webhooks.secret {
            do {
                let body = try JobView.data(JobView.object(job))
                let headers = [
                    ("Content-Type", "application/json"), ("User-Agent", "lipsync-server webhook"), ("LipSync-Job-Id", job.id),
                    ("LipSync-Delivery-Attempt", "\(attempt)"),
                    ("LipSync-Signature", Self.signature(body: body, secret: secret, time: Int(Date().timeIntervalSince1970))),
                ]
                let limit = jobs.webhooks.timeout
                let timedOut = InternalFailure("no complete answer within \(limit) (WEBHOOK_TIMEOUT_SECONDS)")
                let status = try await withTimeLimit(limit, timeout: timedOut) { [jobs] in
                    try await jobs.webhooks.guardrail.post(url, body: body, headers: headers, timeout: limit)
                }
                if !(200..<300).contains(status) { failure = "HTTP \(status)" }
            } catch {
                failure = (error as? any UserFacingError)?.message ?? "\(error)"
            }
        } else {
            failure = "no usable webhook URL or WEBHOOK_SECRET"
        }
        metrics.recordWebhook(failure == nil ? "delivered" : "failed")
        let retryAt =
            failure == nil || attempt >= jobs.webhooks.maxAttempts ? nil : Date() + jobs.webhooks.delay(afterAttempt: attempt).timeInterval
        do {
            try await jobs.store.recordWebhook(
                id: job.id, attempts: job.webhookAttempts, delivered: failure == nil, retryAt: retryAt, error: failure)
        } catch {
            logger.warning("could not record a webhook delivery; it is retried", metadata: ["job_id": "\(job.id)", "error": "\(error)"])
        }
        if let failure {
            logger.notice(
                retryAt == nil ? "webhook given up" : "webhook failed; retrying later",
                metadata: ["job_id": "\(job.id)", "attempt": "\(attempt)", "reason": "\(failure)"])
        }
    }

    /// `t=<time>,v1=<hex HMAC-SHA256(secret, "<time>.<body>")>`.
    static func signature(body: Data, secret: String, time: Int) -> String {
        var message = Data("\(time).".utf8)
        message.append(body)
        let code = HMAC<SHA256>.authenticationCode(for: message, using: SymmetricKey(data: Data(secret.utf8)))
        return "t=\(time),v1=" + code.map { String(format: "%02x", $0) }.joined()
    }
}
