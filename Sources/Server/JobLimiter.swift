public import Pipeline

/// Bounds the jobs that run at once — by count (`maxConcurrent`) and by their memory
/// estimates (`memoryBudget`) — and the queue of waiting ones; when the queue is full a new job
/// is refused at once (HTTP 429) instead of piling up. A waiting job whose task is cancelled
/// (client gone, deadline passed) leaves the queue at once. The decisions are
/// `AdmissionState`'s; this actor only parks and wakes the tasks.
public actor JobLimiter {
    public nonisolated let maxConcurrent: Int
    public nonisolated let maxQueued: Int
    public nonisolated let memoryBudget: Int
    private var state: AdmissionState
    private var parked: [AdmissionState.ID: CheckedContinuation<Void, any Error>] = [:]
    private var nextID = 0

    public init(maxConcurrent: Int, maxQueued: Int, memoryBudget: Int = .max) {
        state = AdmissionState(maxConcurrent: maxConcurrent, maxQueued: maxQueued, memoryBudget: memoryBudget)
        self.maxConcurrent = state.maxConcurrent
        self.maxQueued = state.maxQueued
        self.memoryBudget = state.memoryBudget
    }

    public enum Refusal: Error { case full }

    /// A running job's hold on the limiter: it reserves the job's memory estimate.
    public struct Slot: MemoryAdmission {
        let limiter: JobLimiter
        let id: AdmissionState.ID

        public func reserve(bytes: Int) async throws {
            try await limiter.reserve(id, bytes: bytes)
        }
    }

    /// Runs `body` in a slot, given up however `body` ends. Throws `.full` when `maxQueued`
    /// jobs already wait, and `CancellationError` when the task is cancelled while waiting.
    public nonisolated func withSlot<T>(_ body: (Slot) async throws -> T) async throws -> T {
        try await occupy(try await enter(), body)
    }

    /// Runs `body` in the slot `id` holds, and gives the slot up however `body` ends.
    private nonisolated func occupy<T>(_ id: AdmissionState.ID, _ body: (Slot) async throws -> T) async throws -> T {
        do {
            let value = try await body(Slot(limiter: self, id: id))
            await leave(id)
            return value
        } catch {
            await leave(id)
            throw error
        }
    }

    /// Runs `body` in a slot when one is free now; nil (and `body` not run) otherwise. The
    /// queue's workers use this: jobs in the durable queue wait there, not in this queue.
    public nonisolated func withFreeSlot<T>(_ body: (Slot) async throws -> T) async throws -> T? {
        guard let id = await enterIfFree() else { return nil }
        return try await occupy(id, body)
    }

    private func enterIfFree() -> AdmissionState.ID? {
        nextID += 1
        return state.enterIfFree(nextID) ? nextID : nil
    }

    private func enter() async throws -> AdmissionState.ID {
        try Task.checkCancellation()
        nextID += 1
        let id = nextID
        switch state.enter(id) {
        case .run: return id
        case .refuse: throw Refusal.full
        case .wait: try await park(id)
        }
        return id
    }

    private func reserve(_ id: AdmissionState.ID, bytes: Int) async throws {
        switch state.reserve(id, bytes: bytes) {
        case .granted: return
        case .tooLarge(let budget): throw JobTooLargeError(estimateBytes: bytes, budgetBytes: budget)
        case .wait: try await park(id)
        }
    }

    /// Waits until `state` lets `id` go on; cancellation takes it out of the state's queues.
    private func park(_ id: AdmissionState.ID) async throws {
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
                if Task.isCancelled {
                    continuation.resume(throwing: CancellationError())
                } else {
                    parked[id] = continuation
                }
            }
        } onCancel: {
            Task { await self.cancelWaiting(id) }
        }
    }

    private func cancelWaiting(_ id: AdmissionState.ID) {
        guard state.isWaiting(id), let continuation = parked.removeValue(forKey: id) else { return }  // already let go
        wake(state.leave(id))
        continuation.resume(throwing: CancellationError())
    }

    private func leave(_ id: AdmissionState.ID) {
        wake(state.leave(id))
    }

    private func wake(_ wakeups: AdmissionState.Wakeups) {
        for id in wakeups.slots + wakeups.memory {
            parked.removeValue(forKey: id)?.resume()
        }
    }

    /// The numbers /metrics reports, read at once.
    public struct Snapshot: Sendable, Equatable {
        public var inFlight: Int
        public var queued: Int
        public var waitingForMemory: Int
        public var reservedBytes: Int
        public var memoryBudget: Int
    }

    public var snapshot: Snapshot {
        Snapshot(
            inFlight: inFlight, queued: queued, waitingForMemory: waitingForMemory, reservedBytes: reservedBytes, memoryBudget: memoryBudget
        )
    }

    public var inFlight: Int { state.running.count }
    public var queued: Int { state.slotQueue.count }
    /// Jobs holding a slot that wait for memory.
    public var waitingForMemory: Int { state.memoryQueue.count }
    /// Bytes the running jobs' estimates add up to.
    public var reservedBytes: Int { state.reserved }
}
