/// How a session is built. Defaults suit a server: all graph optimisations, ORT's own
/// thread-count choice, CPU only.
public struct SessionOptions: Sendable, Equatable {
    public enum GraphOptimization: Sendable, Equatable {
        case disabled, basic, extended, all
    }

    /// Threads used inside one operator; 0 lets ORT choose (one per physical core).
    public var intraOpThreads: Int
    /// Threads used across independent operators (parallel execution only); 0 lets ORT choose.
    public var interOpThreads: Int
    public var graphOptimization: GraphOptimization
    /// Deterministic compute for tests and fidelity checks: ORT's deterministic kernels,
    /// one intra-op thread and sequential execution, so repeated runs give identical bits.
    /// (The C API has no global random seed; models that need noise take it as an input.)
    public var deterministic: Bool
    /// Providers in order of preference. CPU is always the final fallback, listed or not.
    public var providers: [ExecutionProvider]
    /// GPU ordinal used by the CUDA provider.
    public var cudaDeviceID: Int
    /// ORT's CPU arena: keeps the largest activations it has seen for reuse (faster repeated
    /// runs of one size; memory stays at the peak). Off: activations go back after each run.
    public var memoryArena = true
    /// ORT's memory pattern planning (one block per input shape, reused).
    public var memoryPattern = true
    /// Whether ORT's intra-op worker threads spin (busy-wait) for work between and after runs
    /// instead of sleeping. Off by default: measured on 2 cores, spinning threads take the CPU
    /// from the decoding, compositing and encoding that follow each generator batch (a word
    /// case's `lipsync sync` 2.4–2.6 s without spinning, 2.7–3.1 s with; docs/pipeline.md).
    public var spinning = false

    public init(
        intraOpThreads: Int = 0,
        interOpThreads: Int = 0,
        graphOptimization: GraphOptimization = .all,
        deterministic: Bool = false,
        providers: [ExecutionProvider] = [.cpu],
        cudaDeviceID: Int = 0
    ) {
        self.intraOpThreads = intraOpThreads
        self.interOpThreads = interOpThreads
        self.graphOptimization = graphOptimization
        self.deterministic = deterministic
        self.providers = providers
        self.cudaDeviceID = cudaDeviceID
    }

    /// The providers to try, in order, always ending with CPU.
    var providerChain: [ExecutionProvider] {
        var chain: [ExecutionProvider] = []
        for provider in providers where !chain.contains(provider) { chain.append(provider) }
        if chain.last != .cpu {
            chain.removeAll { $0 == .cpu }
            chain.append(.cpu)
        }
        return chain
    }
}
