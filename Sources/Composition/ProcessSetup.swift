/// What every lipsync process sets up first: logging, and how the C allocator hands memory
/// back.
public enum ProcessSetup {
    public static func start(_ configuration: Configuration) {
        LoggingSetup.bootstrap(configuration)
        returnLargeBlocks()
    }

    /// Blocks of 1 MiB and more (frames, tensors, model weights while they load) come from
    /// their own mappings and go back to the system when freed. By default glibc raises
    /// this threshold to the largest block freed so far (up to 32 MiB), after which frames
    /// and tensors stay in the heap when freed: measured on the full-size models, `lipsync
    /// voice` peaked at 2.11 GB with glibc's default and 1.50 GB with this (docs/memory.md).
    static func returnLargeBlocks() {
        _ = glibcMallopt(glibcMmapThreshold, 1 << 20)
    }
}

/// glibc's `mallopt` and `M_MMAP_THRESHOLD` (malloc.h, which the Glibc module does not export).
@_silgen_name("mallopt") private func glibcMallopt(_ parameter: Int32, _ value: Int32) -> Int32
private let glibcMmapThreshold: Int32 = -3
