import Foundation

/// How the C allocator (glibc) serves large blocks around model runs. Outside runs, blocks of
/// `outside` bytes and more come from their own mappings and go back to the system when freed
/// (ProcessSetup: memory stays flat). During a run that threshold would map and fault in
/// every large activation afresh, layer after layer — models without ONNX Runtime's arena
/// (WavLM, FreeVC: their input size follows the speech) allocate and free many of them — so
/// while any run is in progress blocks up to `during` bytes come from the heap, where a freed
/// one is reused by the next layer, and when the last run in progress ends the threshold goes
/// back and the heap's free memory is returned (`malloc_trim`). Measured on the word case
/// (`lipsync voice`, full-size stand-ins): WavLM 0.41–0.50 → 0.36–0.43 s, FreeVC 0.44–0.53 →
/// 0.35–0.42 s, peak RSS 1.49 → 1.51 GB (docs/memory.md).
public final class RunHeap: @unchecked Sendable {
    /// The process's policy; inert until `install` (tests and tools that never call it keep
    /// glibc's own behaviour).
    public static let shared = RunHeap(
        setThreshold: { _ = glibcMallopt(glibcMmapThreshold, Int32(clamping: $0)) }, trim: { _ = glibcMallocTrim(0) })

    private let lock = NSLock()
    private var thresholds: (outside: Int, during: Int)?
    private var active = 0
    private let setThreshold: (Int) -> Void
    private let trim: () -> Void

    /// `setThreshold` and `trim` are what the policy does to the allocator (glibc's for
    /// `shared`; the tests observe their calls).
    public init(setThreshold: @escaping (Int) -> Void, trim: @escaping () -> Void) {
        self.setThreshold = setThreshold
        self.trim = trim
    }

    /// Sets the threshold outside runs now and the one during runs from the next run on.
    public func install(outside: Int, during: Int) {
        lock.withLock {
            thresholds = (outside, during)
            setThreshold(active > 0 ? during : outside)
        }
    }

    /// Runs in progress (for tests).
    public var activeRuns: Int { lock.withLock { active } }

    /// Marks the start of a run; the first run in progress raises the threshold.
    public func enter() {
        lock.withLock {
            active += 1
            if active == 1, let thresholds { setThreshold(thresholds.during) }
        }
    }

    /// Marks the end of a run; the last run in progress lowers it and trims the heap.
    public func leave() {
        lock.withLock {
            active -= 1
            if active == 0, let thresholds {
                setThreshold(thresholds.outside)
                trim()
            }
        }
    }

    /// `body` as one run.
    public func during<T>(_ body: () throws -> T) rethrows -> T {
        enter()
        defer { leave() }
        return try body()
    }
}

/// glibc's `mallopt`, `M_MMAP_THRESHOLD` and `malloc_trim` (malloc.h, which the Glibc module
/// does not export).
@_silgen_name("mallopt") private func glibcMallopt(_ parameter: Int32, _ value: Int32) -> Int32
@_silgen_name("malloc_trim") private func glibcMallocTrim(_ pad: Int) -> Int32
private let glibcMmapThreshold: Int32 = -3
