/// Bounds concurrent jobs and the queue of waiting ones; when both are full a new job is
/// refused at once (HTTP 429) instead of piling up. A waiting job whose task is cancelled
/// (client gone, deadline passed) leaves the queue at once.
public actor JobLimiter {
    public let maxConcurrent: Int
    public let maxQueued: Int
    private var running = 0
    private var waiters: [(id: Int, continuation: CheckedContinuation<Void, Error>)] = []
    private var nextID = 0

    public init(maxConcurrent: Int, maxQueued: Int) {
        self.maxConcurrent = max(1, maxConcurrent)
        self.maxQueued = max(0, maxQueued)
    }

    public enum Refusal: Error { case full }

    /// Waits for a slot; throws `.full` when `maxQueued` jobs already wait, and
    /// `CancellationError` when the task is cancelled while waiting.
    public func acquire() async throws {
        try Task.checkCancellation()
        if running < maxConcurrent {
            running += 1
            return
        }
        guard waiters.count < maxQueued else { throw Refusal.full }
        nextID += 1
        let id = nextID
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, Error>) in
                if Task.isCancelled {
                    continuation.resume(throwing: CancellationError())
                } else {
                    waiters.append((id, continuation))
                }
            }
        } onCancel: {
            Task { await self.leave(id) }
        }
    }

    private func leave(_ id: Int) {
        guard let index = waiters.firstIndex(where: { $0.id == id }) else { return }  // already given a slot
        waiters.remove(at: index).continuation.resume(throwing: CancellationError())
    }

    public func release() {
        if waiters.isEmpty {
            running = max(0, running - 1)
        } else {
            waiters.removeFirst().continuation.resume()  // the slot passes straight to the next job
        }
    }

    public var inFlight: Int { running }
    public var queued: Int { waiters.count }
}
