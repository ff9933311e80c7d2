import Foundation
public import Media

/// What every engine's output goes through before the models see it: resampling to the
/// models' rate, trimming of leading and trailing silence, and peak normalisation.
public struct SpeechPostProcessor: Sendable, Equatable {
    /// Output rate (16 000 Hz: FreeVC, WavLM and Wav2Lip's audio front end).
    public var sampleRate: Int
    /// A 10 ms frame is silent when its RMS is this many dB below the loudest frame's.
    public var silenceThresholdDB: Double
    /// Audio kept before the first and after the last non-silent frame, in seconds.
    public var margin: Double
    /// Peak amplitude after normalisation (0.891 = −1 dBFS).
    public var targetPeak: Float

    public init(sampleRate: Int = 16_000, silenceThresholdDB: Double = 40, margin: Double = 0.03, targetPeak: Float = 0.891) {
        self.sampleRate = sampleRate
        self.silenceThresholdDB = silenceThresholdDB
        self.margin = margin
        self.targetPeak = targetPeak
    }

    public func process(_ input: AudioBuffer) throws -> AudioBuffer {
        let resampled = try AudioResampler.resample(input, to: sampleRate)
        let trimmed = try trim(resampled)
        guard let peak = trimmed.samples.map(abs).max(), peak > 0 else { throw SpeechError.silentOutput }
        let gain = targetPeak / peak
        return AudioBuffer(samples: trimmed.samples.map { $0 * gain }, sampleRate: sampleRate)
    }

    /// Cuts leading and trailing frames quieter than the threshold, keeping `margin`.
    func trim(_ buffer: AudioBuffer) throws -> AudioBuffer {
        let frame = max(1, buffer.sampleRate / 100)
        let frames = buffer.samples.count / frame + (buffer.samples.count % frame == 0 ? 0 : 1)
        guard frames > 0 else { throw SpeechError.silentOutput }
        let rms: [Double] = (0..<frames).map { index in
            let range = (index * frame)..<min(buffer.samples.count, (index + 1) * frame)
            let energy = buffer.samples[range].reduce(0.0) { $0 + Double($1) * Double($1) }
            return (energy / Double(range.count)).squareRoot()
        }
        guard let loudest = rms.max(), loudest > 1e-6 else { throw SpeechError.silentOutput }
        let threshold = loudest * pow(10, -silenceThresholdDB / 20)
        guard let first = rms.firstIndex(where: { $0 >= threshold }), let last = rms.lastIndex(where: { $0 >= threshold }) else {
            throw SpeechError.silentOutput
        }
        let keep = Int(margin * Double(buffer.sampleRate))
        let start = max(0, first * frame - keep)
        let end = min(buffer.samples.count, (last + 1) * frame + keep)
        return AudioBuffer(samples: Array(buffer.samples[start..<end]), sampleRate: buffer.sampleRate)
    }
}
