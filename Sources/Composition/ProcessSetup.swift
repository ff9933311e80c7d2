import Inference

/// What every lipsync process sets up first: logging, and how the C allocator hands memory
/// back.
public enum ProcessSetup {
    public static func start(_ configuration: Configuration) {
        LoggingSetup.bootstrap(configuration)
        returnLargeBlocks()
        if !configuration.hugePages { disableHugePages() }
    }

    /// Turns transparent huge pages off for this process (`PR_SET_THP_DISABLE`, inherited by
    /// children). x264 asks for huge pages for its frame buffers (`madvise`); with the kernel's
    /// usual `defrag=madvise` the first touch of each 2 MiB page may compact memory and then
    /// clears all of it, which on the word case cost 0.3–0.6 s of system time per process and
    /// made the encode vary from 0.5 to 1.0 s. Returns whether the kernel accepted it.
    @discardableResult
    public static func disableHugePages() -> Bool {
        glibcPrctl(prSetTHPDisable, 1, 0, 0, 0) == 0
    }

    /// Whether transparent huge pages are off for this process (`PR_GET_THP_DISABLE`).
    public static var hugePagesDisabled: Bool {
        glibcPrctl(prGetTHPDisable, 0, 0, 0, 0) == 1
    }

    /// Blocks of 1 MiB and more (frames, tensors, model weights while they load) come from
    /// their own mappings and go back to the system when freed. By default glibc raises
    /// this threshold to the largest block freed so far (up to 32 MiB), after which frames
    /// and tensors stay in the heap when freed: measured on the full-size models, `lipsync
    /// voice` peaked at 2.11 GB with glibc's default and 1.50 GB with this (docs/memory.md).
    /// During model runs the threshold is 32 MiB (`RunHeap`: activations are reused from the
    /// heap between layers, and the heap is trimmed when the run ends).
    static func returnLargeBlocks() {
        RunHeap.shared.install(outside: 1 << 20, during: 32 << 20)
    }
}

/// `prctl(2)` with its five arguments spelled out (the C declaration is variadic).
@_silgen_name("prctl") private func glibcPrctl(_ option: Int32, _ a2: UInt, _ a3: UInt, _ a4: UInt, _ a5: UInt) -> Int32
private let prSetTHPDisable: Int32 = 41
private let prGetTHPDisable: Int32 = 42
