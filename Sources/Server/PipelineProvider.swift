public import Pipeline

/// Loads the pipeline (all models) once — at start-up when preloading, else on first use —
/// with a single load even when the first requests arrive together.
public actor PipelineProvider {
    private let load: @Sendable () async throws -> LipSyncPipeline
    private var task: Task<LipSyncPipeline, any Error>?
    /// The loaded pipeline, once a load has finished.
    public private(set) var loaded: LipSyncPipeline?

    public init(load: @escaping @Sendable () async throws -> LipSyncPipeline) {
        self.load = load
    }

    public func pipeline() async throws -> LipSyncPipeline {
        if let loaded { return loaded }
        if let task { return try await task.value }
        let task = Task { try await load() }
        self.task = task
        do {
            let pipeline = try await task.value
            loaded = pipeline
            return pipeline
        } catch {
            self.task = nil  // a failed load is retried by the next request
            throw error
        }
    }

    public var isLoaded: Bool { loaded != nil }

    /// Drops the models (at shutdown, after the last job); a later request loads them again.
    public func release() {
        task = nil
        loaded = nil
    }
}
