/// The job limiter's bookkeeping, without actors, continuations or clocks: which jobs run,
/// which wait for a slot, which wait for memory, and who goes next when something ends.
/// Every decision of `JobLimiter` is made here, so it is tested as plain values.
///
/// A job first enters (a slot: at most `maxConcurrent` run, at most `maxQueued` wait, the
/// rest are refused), then — once its input is known — reserves its memory estimate out of
/// `memoryBudget`. Waiting is first come, first served on both queues: a large job at the head
/// of the memory queue is not overtaken by smaller ones behind it, so it cannot starve.
struct AdmissionState: Sendable {
    typealias ID = Int

    let maxConcurrent: Int
    let maxQueued: Int
    /// Bytes the running jobs' estimates may add up to.
    let memoryBudget: Int
    /// Jobs holding a slot, with the bytes each has reserved (0 until it reserves).
    private(set) var running: [ID: Int] = [:]
    /// Jobs waiting for a slot, oldest first.
    private(set) var slotQueue: [ID] = []
    /// Jobs holding a slot and waiting for memory, oldest first.
    private(set) var memoryQueue: [(id: ID, bytes: Int)] = []

    init(maxConcurrent: Int, maxQueued: Int, memoryBudget: Int = .max) {
        self.maxConcurrent = max(1, maxConcurrent)
        self.maxQueued = max(0, maxQueued)
        self.memoryBudget = max(1, memoryBudget)
    }

    /// Bytes reserved by running jobs.
    var reserved: Int { running.values.reduce(0, +) }

    enum Entry: Equatable { case run, wait, refuse }

    /// A new job asks for a slot.
    mutating func enter(_ id: ID) -> Entry {
        if running.count < maxConcurrent && slotQueue.isEmpty {
            running[id] = 0
            return .run
        }
        guard slotQueue.count < maxQueued else { return .refuse }
        slotQueue.append(id)
        return .wait
    }

    /// A queue worker asks for a slot only when one is free now (and nobody waits for it):
    /// it never takes a place in the queue, which is for requests that wait on a connection.
    mutating func enterIfFree(_ id: ID) -> Bool {
        guard running.count < maxConcurrent && slotQueue.isEmpty else { return false }
        running[id] = 0
        return true
    }

    enum Reservation: Equatable {
        case granted
        case wait
        /// The estimate exceeds the whole budget: it could never run.
        case tooLarge(budget: Int)
    }

    /// A running job asks for `bytes` of memory (once).
    mutating func reserve(_ id: ID, bytes: Int) -> Reservation {
        guard running[id] != nil else { return .granted }  // not a running job: nothing to account
        let bytes = max(0, bytes)
        guard bytes <= memoryBudget else { return .tooLarge(budget: memoryBudget) }
        if memoryQueue.isEmpty && reserved + bytes <= memoryBudget {
            running[id] = bytes
            return .granted
        }
        memoryQueue.append((id, bytes))
        return .wait
    }

    /// Who may go on after a change: jobs given a slot, and jobs given their memory.
    struct Wakeups: Equatable {
        var slots: [ID] = []
        var memory: [ID] = []
    }

    /// A job ends (however it ended), or a waiting job is cancelled: what it held or waited for
    /// is given up, and the jobs that can now go on are returned.
    mutating func leave(_ id: ID) -> Wakeups {
        slotQueue.removeAll { $0 == id }
        memoryQueue.removeAll { $0.id == id }
        running[id] = nil
        var wakeups = Wakeups()
        while let head = memoryQueue.first, reserved + head.bytes <= memoryBudget {
            memoryQueue.removeFirst()
            running[head.id] = head.bytes
            wakeups.memory.append(head.id)
        }
        while running.count < maxConcurrent, !slotQueue.isEmpty {
            let next = slotQueue.removeFirst()
            running[next] = 0
            wakeups.slots.append(next)
        }
        return wakeups
    }

    /// Whether `id` still waits (for a slot or for memory).
    func isWaiting(_ id: ID) -> Bool {
        slotQueue.contains(id) || memoryQueue.contains { $0.id == id }
    }
}
