import Pipeline

/// Loads the pipeline (all models) once — at start-up when preloading, else on first use —
/// with a single load even when the first requests arrive together.
public actor PipelineProvider {
    private let load: @Sendable () async throws -> LipSyncPipeline
    private var task: Task<LipSyncPipeline, Error>?

    public init(load: @escaping @Sendable () async throws -> LipSyncPipeline) {
        self.load = load
    }

    public func pipeline() async throws -> LipSyncPipeline {
        if let task { return try await task.value }
        let task = Task { try await load() }
        self.task = task
        do {
            return try await task.value
        } catch {
            self.task = nil  // a failed load is retried by the next request
            throw error
        }
    }

    public var isLoaded: Bool {
        get async {
            guard let task else { return false }
            return (try? await task.value) != nil
        }
    }
}
