import Foundation
public import Inference
import Media

/// FreeVC's speaker embedding of a reference voice (speaker_encoder/voice_encoder.py
/// `embed_utterance`, reference/freevc.md §6): 160-frame partial utterances every 77 frames
/// (rate 1.3/s), the last one dropped when it covers less than 75 % of its span (and there
/// is more than one), the waveform zero-padded to the last partial's end, the power mel of
/// the padded waveform (`speaker_mel` model), each partial embedded (`speaker_encoder`
/// model), then the mean re-normalised to unit length.
public struct SpeakerEmbedder: Sendable {
    public let melSession: InferenceSession
    public let encoderSession: InferenceSession
    public static let samplesPerFrame = 160
    public static let partialFrames = 160
    public static let rate = 1.3
    public static let minimumCoverage = 0.75

    public init(melSession: InferenceSession, encoderSession: InferenceSession) {
        self.melSession = melSession
        self.encoderSession = encoderSession
    }

    /// Mel-frame ranges of the partials for `sampleCount` samples, exactly as
    /// compute_partial_slices(n_samples, rate=1.3, min_coverage=0.75).
    public static func partialRanges(sampleCount: Int) -> [Range<Int>] {
        let frames = Int((Double(sampleCount + 1) / Double(samplesPerFrame)).rounded(.up))
        let step = Int((16_000 / rate / Double(samplesPerFrame)).rounded(.toNearestOrEven))  // np.round → 77
        let limit = max(1, frames - partialFrames + step + 1)
        var ranges = stride(from: 0, to: limit, by: step).map { $0..<($0 + partialFrames) }
        if let last = ranges.last, ranges.count > 1 {
            let start = last.lowerBound * samplesPerFrame
            let coverage = Double(sampleCount - start) / Double(partialFrames * samplesPerFrame)
            if coverage < minimumCoverage { ranges.removeLast() }
        }
        return ranges
    }

    /// The unit-length 256-value embedding of 16 kHz `voice`.
    public func embedding(of voice: [Float]) throws -> [Float] {
        let ranges = Self.partialRanges(sampleCount: voice.count)
        guard let last = ranges.last else { throw VoiceConversionError.tooLittleVoice(seconds: 0, minimum: 0.5) }
        var padded = voice
        let end = last.upperBound * Self.samplesPerFrame
        if end >= padded.count { padded += [Float](repeating: 0, count: end - padded.count) }
        let melOutput = try melSession.run(["waveform": .float32(try Tensor(shape: [1, padded.count], scalars: padded))])
        guard let mel = try melOutput["mel"]?.tensor(of: Float.self) else {
            throw VoiceConversionError.modelMismatch("speaker_mel has no 'mel' output")
        }
        let bins = mel.shape[2]
        var batch: [Float] = []
        batch.reserveCapacity(ranges.count * Self.partialFrames * bins)
        for range in ranges {
            batch += mel.scalars[(range.lowerBound * bins)..<(range.upperBound * bins)]
        }
        let output = try encoderSession.run(["mels": .float32(try Tensor(shape: [ranges.count, Self.partialFrames, bins], scalars: batch))])
        guard let partials = try output["embedding"]?.tensor(of: Float.self) else {
            throw VoiceConversionError.modelMismatch("speaker_encoder has no 'embedding' output")
        }
        let width = partials.shape[1]
        var mean = [Double](repeating: 0, count: width)
        for n in 0..<ranges.count {
            for i in 0..<width { mean[i] += Double(partials.scalars[n * width + i]) }
        }
        let norm = mean.reduce(0) { $0 + $1 * $1 }.squareRoot()
        return mean.map { Float($0 / max(norm, 1e-12)) }
    }
}
