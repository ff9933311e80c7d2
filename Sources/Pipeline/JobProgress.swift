public import LipSync

/// One change in a job's progress: a step started or finished, or the render wrote more
/// frames. Steps are named as in the timing table's keys (`text_to_speech`,
/// `voice_conversion`, `lip-sync_render`, …), so the CLI's progress line, the server's job
/// status and the timing table speak of the same steps.
public struct JobProgress: Sendable, Equatable {
    public enum Event: Sendable, Equatable {
        case started
        /// The render's frames so far (only for `lip-sync_render`).
        case frames(RenderProgress)
        case finished
    }

    public var step: String
    public var event: Event

    public init(step: String, event: Event) {
        self.step = step
        self.event = event
    }
}

/// Receives a job's progress (from the job's own threads; keep it quick).
public typealias JobProgressHandler = @Sendable (JobProgress) -> Void

extension JobProgress {
    /// Reports `step` to `handler` around `body`.
    static func step<T>(_ name: String, _ handler: JobProgressHandler?, _ body: () async throws -> T) async rethrows -> T {
        handler?(JobProgress(step: name, event: .started))
        let value = try await body()
        handler?(JobProgress(step: name, event: .finished))
        return value
    }
}
