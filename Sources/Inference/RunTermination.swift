internal import CONNXRuntime
import Synchronization

/// Stops the model runs of one job. A job sets itself as `current` (a task-local, so every
/// child task sees it) and calls `terminate()` when it is cancelled: each `InferenceSession.run`
/// in progress under it is told to stop (ONNX Runtime's run-option terminate flag, which its
/// kernels poll) and ends with `CancellationError`, and so does every later one.
public final class RunTermination: Sendable {
    /// The termination of the job the current task belongs to (nil: runs cannot be stopped).
    @TaskLocal public static var current: RunTermination?

    private struct State {
        var terminated = false
        /// Run options of the runs in progress, as bit patterns (OrtRunOptions pointers).
        var active: Set<UInt> = []
    }
    private let state = Mutex(State())
    private let runtime: ORTRuntime?

    public init() {
        runtime = try? ORTRuntime.get()
    }

    public var isTerminated: Bool { state.withLock { $0.terminated } }

    /// Sets the terminate flag of every run in progress and refuses later ones. Under the
    /// lock, so a run cannot release its options while they are being flagged.
    public func terminate() {
        state.withLock { state in
            state.terminated = true
            guard let runtime else { return }
            for bits in state.active {
                guard let options = OpaquePointer(bitPattern: bits) else { continue }
                try? runtime.check(runtime.api.RunOptionsSetTerminate(options))
            }
        }
    }

    /// Records a run's options; false (and nothing recorded) when already terminated.
    func register(_ options: OpaquePointer) -> Bool {
        state.withLock { state in
            guard !state.terminated else { return false }
            state.active.insert(UInt(bitPattern: options))
            return true
        }
    }

    /// Forgets a run's options; call before releasing them.
    func unregister(_ options: OpaquePointer) {
        _ = state.withLock { $0.active.remove(UInt(bitPattern: options)) }
    }
}
