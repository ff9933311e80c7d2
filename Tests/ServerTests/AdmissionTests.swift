import Foundation
import Pipeline
import Testing

@testable import Server

/// The limiter's decisions as plain values: no actors, no clocks.
@Suite struct AdmissionStateTests {
    @Test func slotsThenQueueThenRefusal() {
        var state = AdmissionState(maxConcurrent: 2, maxQueued: 1)
        #expect(state.enter(1) == .run)
        #expect(state.enter(2) == .run)
        #expect(state.enter(3) == .wait)
        #expect(state.enter(4) == .refuse)
        #expect(state.leave(1) == AdmissionState.Wakeups(slots: [3]))  // the slot passes straight on
        #expect(state.running.keys.sorted() == [2, 3] && state.slotQueue.isEmpty)
        #expect(state.leave(2) == AdmissionState.Wakeups())
        #expect(state.leave(3) == AdmissionState.Wakeups())
        #expect(state.running.isEmpty)
    }

    @Test func aCancelledWaiterLeavesTheQueueAndWakesNobody() {
        var state = AdmissionState(maxConcurrent: 1, maxQueued: 2)
        _ = state.enter(1)
        _ = state.enter(2)
        _ = state.enter(3)
        #expect(state.leave(2) == AdmissionState.Wakeups())
        #expect(state.slotQueue == [3] && !state.isWaiting(2))
        #expect(state.leave(1) == AdmissionState.Wakeups(slots: [3]))
        #expect(state.leave(2) == AdmissionState.Wakeups())  // leaving twice changes nothing
    }

    @Test func newcomersDoNotOvertakeTheQueue() {
        var state = AdmissionState(maxConcurrent: 1, maxQueued: 4)
        _ = state.enter(1)
        _ = state.enter(2)
        #expect(state.leave(1) == AdmissionState.Wakeups(slots: [2]))
        #expect(state.enter(3) == .wait)
    }

    @Test func memoryIsReservedWithinTheBudget() {
        var state = AdmissionState(maxConcurrent: 4, maxQueued: 4, memoryBudget: 1000)
        for id in 1...4 { #expect(state.enter(id) == .run) }
        #expect(state.reserve(1, bytes: 600) == .granted)
        #expect(state.reserve(2, bytes: 500) == .wait)  // 1100 > 1000
        #expect(state.reserve(3, bytes: 100) == .wait)  // fits, but 2 waits first: no overtaking
        #expect(state.reserve(4, bytes: 1001) == .tooLarge(budget: 1000))  // could never run
        #expect(state.reserved == 600)
        #expect(state.leave(1) == AdmissionState.Wakeups(memory: [2, 3]))  // 500 + 100 fit together
        #expect(state.reserved == 600 && state.memoryQueue.isEmpty)
    }

    @Test func freedMemoryWakesOnlyWhatFits() {
        var state = AdmissionState(maxConcurrent: 3, maxQueued: 0, memoryBudget: 1000)
        for id in 1...3 { _ = state.enter(id) }
        #expect(state.reserve(1, bytes: 700) == .granted)
        #expect(state.reserve(2, bytes: 300) == .granted)
        #expect(state.reserve(3, bytes: 900) == .wait)
        #expect(state.leave(2) == AdmissionState.Wakeups())  // 700 + 900 still too much
        #expect(state.leave(1) == AdmissionState.Wakeups(memory: [3]))
        #expect(state.reserved == 900)
    }

    @Test func aJobWaitingForMemoryKeepsItsSlotAndCanBeCancelled() {
        var state = AdmissionState(maxConcurrent: 2, maxQueued: 1, memoryBudget: 100)
        _ = state.enter(1)
        _ = state.enter(2)
        #expect(state.enter(3) == .wait)
        #expect(state.reserve(1, bytes: 80) == .granted)
        #expect(state.reserve(2, bytes: 80) == .wait)
        #expect(state.isWaiting(2))
        #expect(state.leave(2) == AdmissionState.Wakeups(slots: [3]))  // cancelled: its slot goes to 3
        #expect(state.reserve(3, bytes: 20) == .granted)
        #expect(state.reserved == 100)
    }

    @Test func reservingOutsideASlotIsNotAccounted() {
        var state = AdmissionState(maxConcurrent: 1, maxQueued: 0, memoryBudget: 10)
        #expect(state.reserve(9, bytes: 5) == .granted)
        #expect(state.reserved == 0)
    }
}

/// The actor around the state: tasks parked and woken, cancellation, structured release.
@Suite struct JobLimiterTests {
    @Test func withSlotReleasesHoweverTheBodyEnds() async throws {
        let limiter = JobLimiter(maxConcurrent: 1, maxQueued: 0)
        struct Failure: Error {}
        await #expect(throws: Failure.self) { try await limiter.withSlot { _ in throw Failure() } }
        #expect(await limiter.inFlight == 0)
        #expect(try await limiter.withSlot { _ in 7 } == 7)
        #expect(await limiter.inFlight == 0)
    }

    @Test func aFullLimiterRefusesAndAQueuedJobRunsWhenTheSlotFrees() async throws {
        let limiter = JobLimiter(maxConcurrent: 1, maxQueued: 1)
        let held = try await HeldSlot.take(limiter)
        let queued = Task { try await limiter.withSlot { _ in "ran" } }
        try await waitUntil { await limiter.queued == 1 }
        await #expect(throws: JobLimiter.Refusal.self) { try await limiter.withSlot { _ in () } }
        await held.release()
        #expect(try await queued.value == "ran")
        #expect(
            await limiter.snapshot
                == JobLimiter.Snapshot(
                    inFlight: 0, queued: 0, waitingForMemory: 0, reservedBytes: 0,
                    memoryBudget: .max))
    }

    @Test func memoryWaitsAreWokenAndCancellable() async throws {
        let limiter = JobLimiter(maxConcurrent: 3, maxQueued: 0, memoryBudget: 1000)
        let big = try await HeldSlot.take(limiter, reserving: 800)
        #expect(await limiter.reservedBytes == 800)
        let waiting = Task { try await limiter.withSlot { slot in try await slot.reserve(bytes: 500) } }
        try await waitUntil { await limiter.waitingForMemory == 1 }
        await #expect(throws: JobTooLargeError.self) { try await limiter.withSlot { slot in try await slot.reserve(bytes: 2000) } }
        let cancelled = Task { try await limiter.withSlot { slot in try await slot.reserve(bytes: 300) } }
        try await waitUntil { await limiter.waitingForMemory == 2 }
        cancelled.cancel()
        await #expect(throws: CancellationError.self) { try await cancelled.value }
        #expect(await limiter.waitingForMemory == 1 && limiter.maxConcurrent == 3)
        await big.release()
        try await waiting.value
        #expect(await limiter.snapshot.inFlight == 0 && limiter.memoryBudget == 1000)
    }
}

/// Holds one of a limiter's slots, as a running job would, until released.
struct HeldSlot {
    let task: Task<Void, any Error>
    let gate: AsyncStream<Void>.Continuation

    static func take(_ limiter: JobLimiter, reserving bytes: Int = 0) async throws -> HeldSlot {
        let (stream, gate) = AsyncStream<Void>.makeStream()
        let (entered, enteredGate) = AsyncStream<Void>.makeStream()
        let task = Task {
            defer { enteredGate.finish() }
            try await limiter.withSlot { slot in
                try await slot.reserve(bytes: bytes)
                enteredGate.yield()
                for await _ in stream {}
            }
        }
        var inside = false
        for await _ in entered {
            inside = true
            break
        }
        guard inside else {
            try await task.value
            throw JobLimiter.Refusal.full
        }
        return HeldSlot(task: task, gate: gate)
    }

    func release() async {
        gate.finish()
        _ = try? await task.value
    }
}

/// Polls `condition` (an actor's state) without blocking a thread, for up to five seconds.
func waitUntil(_ condition: @Sendable () async -> Bool) async throws {
    for _ in 0..<500 {
        if await condition() { return }
        try await Task.sleep(for: .milliseconds(10))
    }
    Issue.record("the condition did not become true within 5 s")
}
