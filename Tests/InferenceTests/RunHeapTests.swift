import Foundation
import Inference
import Testing

/// The allocator policy around model runs: its own instances, whose threshold and trim
/// calls are recorded (the process-wide one acts on glibc).
@Suite struct RunHeapTests {
    final class Recorder: @unchecked Sendable {
        private let lock = NSLock()
        private var events: [String] = []
        func record(_ event: String) { lock.withLock { events.append(event) } }
        var all: [String] { lock.withLock { events } }
    }

    static func policy(_ recorder: Recorder) -> RunHeap {
        RunHeap(setThreshold: { recorder.record("threshold \($0)") }, trim: { recorder.record("trim") })
    }

    @Test func inertUntilInstalled() {
        let recorder = Recorder()
        let heap = Self.policy(recorder)
        heap.during {}
        #expect(recorder.all.isEmpty)
        heap.install(outside: 1, during: 32)
        #expect(recorder.all == ["threshold 1"])
    }

    @Test func firstRunRaisesAndLastRunLowersAndTrims() {
        let recorder = Recorder()
        let heap = Self.policy(recorder)
        heap.install(outside: 1, during: 32)
        heap.enter()
        heap.enter()  // a second run in progress: nothing changes
        heap.leave()
        #expect(recorder.all == ["threshold 1", "threshold 32"])
        heap.leave()
        #expect(recorder.all == ["threshold 1", "threshold 32", "threshold 1", "trim"])
        #expect(heap.activeRuns == 0)
    }

    @Test func installedDuringARunTakesEffectAtOnce() {
        let recorder = Recorder()
        let heap = Self.policy(recorder)
        heap.enter()
        heap.install(outside: 1, during: 32)
        heap.leave()
        #expect(recorder.all == ["threshold 32", "threshold 1", "trim"])
    }

    @Test func concurrentRunsLeaveTheOutsideThreshold() async throws {
        let recorder = Recorder()
        let heap = Self.policy(recorder)
        heap.install(outside: 1, during: 32)
        struct Failure: Error {}
        await withTaskGroup(of: Void.self) { group in
            for index in 0..<64 {
                group.addTask {
                    _ = try? heap.during {
                        if index % 7 == 0 { throw Failure() }  // a failed run leaves too
                        usleep(UInt32(index % 5) * 100)
                    }
                }
            }
        }
        let events = recorder.all
        #expect(heap.activeRuns == 0)
        #expect(events.last == "trim" && events.dropLast().last == "threshold 1")
        #expect(events.filter { $0 == "threshold 32" }.count == events.filter { $0 == "trim" }.count)
    }
}
