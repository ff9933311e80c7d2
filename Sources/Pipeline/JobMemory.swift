import Media
public import UserFacingErrors
public import VoiceConversion

/// What one job adds to the process's memory, estimated from its input before any frame is
/// decoded. Calibrated on peak-RSS measurements of `lipsync generate` with the full-size
/// models (docs/memory.md): the models themselves are shared by every job and not counted;
/// what a job adds is a fixed part (speech, mel, the generator's batch tensors, codec
/// contexts), voice conversion (bounded by its 12 s window, so the worst case is used: the
/// speech is not known yet), and a part proportional to the picture (the batch of
/// full-resolution frames, the decoder's reference frames, x264's look-ahead).
public struct JobMemoryModel: Sendable, Equatable {
    public var fixedBytes: Int
    public var voiceConversionBytes: Int
    public var bytesPerPixel: Int

    /// `fastModelMemory`: ONNX Runtime keeps activation arenas at their largest size
    /// (`MODEL_MEMORY=fast`), measured +250 MB per job over `lean` on the long phrase.
    public init(fastModelMemory: Bool = true) {
        fixedBytes = (fastModelMemory ? 350 : 100) << 20
        voiceConversionBytes = 150 << 20
        bytesPerPixel = 130
    }

    /// The estimate for a `width`×`height` input (a still photo counts as one frame size too).
    public func estimate(width: Int, height: Int, voiceConversion: Bool) -> Int {
        fixedBytes + (voiceConversion ? voiceConversionBytes : 0) + max(1, width) * max(1, height) * bytesPerPixel
    }
}

/// Admission of a running job by its memory estimate (the server's job limiter); jobs run
/// without one in the CLI.
public protocol MemoryAdmission: Sendable {
    /// Waits until `bytes` fit beside the other running jobs' estimates; throws
    /// `JobTooLargeError` when they never could, `CancellationError` when cancelled waiting.
    func reserve(bytes: Int) async throws
}

/// A job whose memory estimate exceeds what all jobs together may use (`MAX_JOB_MEMORY_BYTES`).
public struct JobTooLargeError: UserFacingError {
    public var estimateBytes: Int
    public var budgetBytes: Int
    public var width: Int
    public var height: Int

    public init(estimateBytes: Int, budgetBytes: Int, width: Int = 0, height: Int = 0) {
        self.estimateBytes = estimateBytes
        self.budgetBytes = budgetBytes
        self.width = width
        self.height = height
    }

    public var description: String {
        let size = width > 0 ? "a \(width)×\(height) video " : ""
        return "the job needs about \(Self.megabytes(estimateBytes)) of memory for \(size)"
            + "but the server runs jobs in at most \(Self.megabytes(budgetBytes)) (MAX_JOB_MEMORY_BYTES); send a smaller video"
    }

    public var code: String { "job_too_large" }
    public var httpStatus: Int { 413 }
    public var field: String? { "user_video_gs" }

    static func megabytes(_ bytes: Int) -> String { "\((bytes + (1 << 19)) >> 20) MiB" }
}

extension LipSyncPipeline {
    /// The input's memory estimate: probes the file or photo (no decoding) and uses the pipeline's model.
    public func memoryEstimate(of path: String, voiceMode: VoiceMode?) throws -> (bytes: Int, width: Int, height: Int) {
        let video = try MediaProbe.probe(path, limits: limits, acceptStillImages: true).requireVideo()
        let converts = voice != nil && voiceMode != VoiceMode.none
        return (memory.estimate(width: video.width, height: video.height, voiceConversion: converts), video.width, video.height)
    }
}
