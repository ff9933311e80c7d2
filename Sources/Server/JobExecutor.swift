import Dispatch
import Synchronization

/// Where jobs run: their own threads (a concurrent Dispatch queue), not Swift's cooperative
/// pool. A job spends seconds inside ONNX Runtime and FFmpeg calls that do not yield; on the
/// cooperative pool (one thread per core) that would stall every other request — health
/// checks, metrics, new arrivals — until it finished. The job limiter bounds how many threads
/// this takes.
public final class JobExecutor: TaskExecutor, Sendable {
    private let queue = DispatchQueue(label: "lipsync.jobs", qos: .userInitiated, attributes: .concurrent)
    private let enqueued = Atomic<Int>(0)

    public init() {}

    public func enqueue(_ job: consuming ExecutorJob) {
        enqueued.add(1, ordering: .relaxed)
        let unowned = UnownedJob(job)
        queue.async { unowned.runSynchronously(on: self.asUnownedTaskExecutor()) }
    }

    /// Pieces of job work run here so far (tests check that jobs really run here).
    public var enqueuedCount: Int { enqueued.load(ordering: .relaxed) }
}
