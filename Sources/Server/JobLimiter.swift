/// Bounds concurrent jobs and the queue of waiting ones; when both are full a new job is
/// refused at once (HTTP 429) instead of piling up.
public actor JobLimiter {
    public let maxConcurrent: Int
    public let maxQueued: Int
    private var running = 0
    private var waiters: [CheckedContinuation<Void, Never>] = []

    public init(maxConcurrent: Int, maxQueued: Int) {
        self.maxConcurrent = max(1, maxConcurrent)
        self.maxQueued = max(0, maxQueued)
    }

    public enum Refusal: Error { case full }

    /// Waits for a slot; throws `.full` when `maxQueued` jobs already wait.
    public func acquire() async throws {
        if running < maxConcurrent {
            running += 1
            return
        }
        guard waiters.count < maxQueued else { throw Refusal.full }
        await withCheckedContinuation { waiters.append($0) }
    }

    public func release() {
        if waiters.isEmpty {
            running = max(0, running - 1)
        } else {
            waiters.removeFirst().resume()  // the slot passes straight to the next job
        }
    }

    public var inFlight: Int { running }
    public var queued: Int { waiters.count }
}
