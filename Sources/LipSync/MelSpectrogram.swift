public import Inference
public import Media

/// Wav2Lip's normalised mel spectrogram of the speech: `bins` rows × `frames` columns,
/// 80 frames per second of 16 kHz audio (computed by the `wav2lip_mel` model).
public struct MelSpectrogram: Sendable, Equatable {
    public let bins: Int
    public let frames: Int
    /// Row-major [bins × frames].
    public let values: [Float]

    public init(bins: Int, frames: Int, values: [Float]) {
        self.bins = bins
        self.frames = frames
        self.values = values
    }

    /// Mel frames per video frame at `fps`, per the original: chunk i starts at
    /// ⌊i·80/fps⌋ and spans 16 frames; when a chunk would run past the end, the last 16
    /// frames are taken instead and chunking stops (reference/wav2lip.md §7).
    public static func chunkStarts(melFrames: Int, fps: Double, step: Int = 16, framesPerSecond: Double = 80) -> [Int] {
        guard melFrames >= step else { return [] }
        let multiplier = framesPerSecond / fps
        var starts: [Int] = []
        var i = 0
        while true {
            let start = Int(Double(i) * multiplier)
            if start + step > melFrames {
                starts.append(melFrames - step)
                return starts
            }
            starts.append(start)
            i += 1
        }
    }

    /// The [bins × step] window starting at `start`, row-major.
    public func chunk(at start: Int, step: Int = 16) -> [Float] {
        var chunk = [Float](repeating: 0, count: bins * step)
        for bin in 0..<bins {
            for t in 0..<step { chunk[bin * step + t] = values[bin * frames + start + t] }
        }
        return chunk
    }
}

/// Runs the `wav2lip_mel` front-end model.
public struct MelFrontEnd: Sendable {
    public let session: InferenceSession
    /// Sample rate the model expects (16 000).
    public let sampleRate: Int
    /// Shortest speech that yields one full 16-frame chunk: 15 hops past the first frame.
    public var minimumSamples: Int { 15 * 200 + 1 }

    public init(session: InferenceSession, sampleRate: Int = 16_000) {
        self.session = session
        self.sampleRate = sampleRate
    }

    /// The mel of `speech` (resampled to 16 kHz when needed; padded with silence to the
    /// shortest length that gives one chunk — the original would fail on shorter speech).
    public func spectrogram(of speech: AudioBuffer) throws -> MelSpectrogram {
        var audio = try AudioResampler.resample(speech, to: sampleRate)
        if audio.samples.count < minimumSamples {
            audio.samples += [Float](repeating: 0, count: minimumSamples - audio.samples.count)
        }
        let outputs = try session.run(["waveform": .float32(try Tensor(shape: [1, audio.samples.count], scalars: audio.samples))])
        guard let mel = outputs["mel"] else { throw LipSyncError.modelMismatch("the mel model has no 'mel' output") }
        let shape = mel.shape
        return MelSpectrogram(bins: shape[1], frames: shape[2], values: try mel.tensor(of: Float.self).scalars)
    }
}
