import Foundation
import JobQueue
public import Logging
import Pipeline
public import ServiceLifecycle
import Synchronization
import UserFacingErrors

/// The queue's workers in this process (`WORKERS` of them) and its webhook sender, as one
/// service. A worker takes a job only when the job limiter has a slot free (so queued jobs
/// and the synchronous v1 requests share one admission: count and memory), keeps its lease
/// with heartbeats that also carry progress and bring cancel requests, and records the
/// outcome fenced on its attempt. On SIGTERM workers stop taking jobs and finish the ones
/// they run; a job still running when the drain time is over goes back to the queue.
public struct JobWorkers: Service {
    let server: LipSyncServer
    let jobs: AsyncJobs
    let logger: Logger

    public init(server: LipSyncServer, jobs: AsyncJobs, logger: Logger = Logger(label: "lipsync.worker")) {
        self.server = server
        self.jobs = jobs
        self.logger = logger
    }

    public func run() async throws {
        let stopping = StopFlag()
        await withGracefulShutdownHandler {
            await withDiscardingTaskGroup { group in
                for index in 0..<jobs.workers {
                    group.addTask { await work(index: index, stopping: stopping) }
                }
                if jobs.webhooks.secret != nil {  // without a secret no job has a webhook to send
                    group.addTask { await WebhookSender(jobs: jobs, metrics: server.metrics, logger: logger).run(until: stopping) }
                }
            }
        } onGracefulShutdown: {
            stopping.stop()
        }
    }

    /// One worker: claim, run, record; wait for a notification or the poll interval when idle.
    func work(index: Int, stopping: StopFlag) async {
        let worker = "\(jobs.workerID)/\(index)"
        while !stopping.isStopped && !Task.isCancelled {
            var claimed = false
            do {
                claimed =
                    try await server.limiter.withFreeSlot { slot in
                        guard let job = try await jobs.store.claim(worker: worker, lease: jobs.lease, maxAttempts: jobs.maxAttempts)
                        else { return false }
                        server.metrics.recordClaim(attempt: job.attempts)
                        await execute(job, slot: slot, worker: worker, stopping: stopping)
                        return true
                    } ?? false  // every slot is taken (by v1 requests or other workers): look again later
            } catch is CancellationError {
                return
            } catch {
                logger.warning("cannot take a job from the store", metadata: ["error": "\(error)"])
            }
            if !claimed { await jobs.store.database.waitForWork(timeout: jobs.pollInterval) }
        }
    }

    /// Runs one claimed job to its recorded end.
    func execute(_ job: JobRecord, slot: JobLimiter.Slot, worker: String, stopping: StopFlag) async {
        var log = logger
        log[metadataKey: "job_id"] = "\(job.id)"
        log[metadataKey: "attempt"] = "\(job.attempts)"
        let attempt = job.attempts
        let watch = AttemptWatch()
        log.info("job claimed", metadata: ["worker": "\(worker)"])

        let work = Task { [server] in
            let request = try server.queuedRequest(job.request, requestID: job.id, progress: { watch.progress($0) })
            return try await LipSyncServer.withDeadline(server.jobTimeout) {
                try await server.runAdmitted(request, requestID: job.id, slot: slot) {
                    // Fencing: the output is written only while this attempt still owns the job.
                    // When ownership cannot be confirmed (the store does not answer) nothing is
                    // written or recorded: the lease runs out and the job runs again elsewhere.
                    let state = try? await jobs.store.heartbeat(id: job.id, attempt: attempt, lease: jobs.lease)
                    switch state {
                    case .held(cancelRequested: false)?: return
                    case .held(cancelRequested: true)?: watch.stop(.cancelRequested)
                    case .lost?, nil: watch.stop(.leaseLost)
                    }
                    throw CancellationError()
                }
            }
        }
        let heartbeats = Task {
            await keepLease(job, attempt: attempt, watch: watch, work: work, log: log)
        }
        let outcome = await withTaskCancellationHandler {
            await work.result
        } onCancel: {
            work.cancel()
        }
        heartbeats.cancel()
        let stopped = stopping.isStopped || Task.isCancelled
        // Recorded even when this task is cancelled (the process is stopping): in a task of its own.
        await Task { await record(outcome, job: job, attempt: attempt, watch: watch, stopping: stopped, log: log) }.value
    }

    /// Heartbeats every third of the lease, and sooner when progress moved (at most every
    /// 250 ms); cancels the work when a cancel was asked for or the lease was lost.
    func keepLease(
        _ job: JobRecord, attempt: Int, watch: AttemptWatch, work: Task<Components.Schemas.LipVideoResponse, any Error>, log: Logger
    )
        async
    {
        let clock = ContinuousClock()
        var lastBeat = clock.now
        while !Task.isCancelled {
            try? await Task.sleep(for: .milliseconds(250))
            let progress = watch.takeProgress()
            guard progress != nil || clock.now - lastBeat >= jobs.lease / 3 else { continue }
            do {
                let state = try await jobs.store.heartbeat(id: job.id, attempt: attempt, lease: jobs.lease, progress: progress)
                lastBeat = clock.now
                switch state {
                case .held(cancelRequested: false): continue
                case .held(cancelRequested: true):
                    log.info("cancel requested; stopping the job")
                    watch.stop(.cancelRequested)
                case .lost:
                    log.warning("lease lost (another attempt owns the job now); stopping without recording")
                    watch.stop(.leaseLost)
                }
                work.cancel()
                return
            } catch is CancellationError {
                return
            } catch {
                log.warning("heartbeat failed; retrying", metadata: ["error": "\(error)"])
            }
        }
    }

    func record(
        _ outcome: Result<Components.Schemas.LipVideoResponse, any Error>, job: JobRecord, attempt: Int, watch: AttemptWatch,
        stopping: Bool, log: Logger
    ) async {
        let final: JobOutcome
        switch (outcome, watch.stopReason) {
        case (_, .leaseLost?):
            return
        case (.success(let response), _):
            do {
                final = .succeeded(result: String(decoding: try JobView.data(try Self.jsonObject(response)), as: UTF8.self))
            } catch {
                final = .failed(code: "internal_error", message: "the result could not be encoded: \(error)")
            }
        case (.failure, .cancelRequested?):
            final = .cancelled
        case (.failure(let error), nil) where error is CancellationError && stopping:
            // This process is stopping (the drain time ran out): the job goes back to the queue.
            do {
                try await jobs.store.release(id: job.id, attempt: attempt)
                log.notice("job released back to the queue (the worker is stopping)")
            } catch {
                log.warning("could not release the job; it runs again when its lease expires", metadata: ["error": "\(error)"])
            }
            return
        case (.failure(let error), nil):
            let api = LipSyncServer.apiError(for: error)
            if api.status == .internalServerError { log.error("job failed", metadata: ["error": "\(error)"]) }
            final = .failed(code: api.code, message: api.message)
        }
        do {
            let recorded = try await jobs.store.finish(id: job.id, attempt: attempt, outcome: final)
            log.info(
                recorded ? "job recorded" : "job outcome not recorded (no longer this attempt's)", metadata: ["outcome": "\(final.name)"])
        } catch {
            log.error("could not record the job's outcome; it runs again when its lease expires", metadata: ["error": "\(error)"])
        }
    }

    static func jsonObject(_ value: some Encodable) throws -> Any {
        try JSONSerialization.jsonObject(with: try JSONEncoder().encode(value))
    }
}

/// What the heartbeat loop and the job share: progress not yet sent, and why the job was stopped.
final class AttemptWatch: Sendable {
    enum StopReason: Sendable { case cancelRequested, leaseLost }
    private struct State {
        var tracker = ProgressTracker()
        var unsent = false
        var stopReason: StopReason?
    }
    private let state = Mutex(State())

    func progress(_ event: JobProgress) {
        state.withLock { state in
            if state.tracker.apply(event) { state.unsent = true }
        }
    }

    func takeProgress() -> (step: String, fraction: Double)? {
        state.withLock { state in
            guard state.unsent, let step = state.tracker.step else { return nil }
            state.unsent = false
            return (step, state.tracker.fraction)
        }
    }

    func stop(_ reason: StopReason) { state.withLock { $0.stopReason = reason } }
    var stopReason: StopReason? { state.withLock { $0.stopReason } }
}

extension JobOutcome {
    var name: String {
        switch self {
        case .succeeded: "succeeded"
        case .failed(let code, _): "failed (\(code))"
        case .cancelled: "cancelled"
        }
    }
}

/// Set once, when the process begins to stop.
final class StopFlag: Sendable {
    private let flag = Atomic<Bool>(false)
    func stop() { flag.store(true, ordering: .relaxed) }
    var isStopped: Bool { flag.load(ordering: .relaxed) }
}
