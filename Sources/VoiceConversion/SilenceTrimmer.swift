import Foundation
import Media

/// `librosa.effects.trim(y, top_db=20)` as FreeVC's convert.py runs it (librosa 0.8.1):
/// frame RMS over 2048 samples every 512, centred with reflect padding; a frame is voiced
/// when 10·log10(rms² / max rms²) > −top_db; the kept span runs from the first voiced frame
/// × 512 to min(length, (last voiced frame + 1) × 512). (reference/freevc.md §2)
public struct SilenceTrimmer: Sendable {
    public var topDB: Double = 20
    public var frameLength = 2048
    public var hopLength = 512

    public init(topDB: Double = 20) {
        self.topDB = topDB
    }

    /// The kept sample range (empty when everything is silent).
    public func voicedRange(_ samples: [Float]) -> Range<Int> {
        guard !samples.isEmpty else { return 0..<0 }
        let half = frameLength / 2
        // Reflect padding as numpy's np.pad(mode="reflect") (edge sample not repeated).
        func sample(_ index: Int) -> Double {
            var i = index
            let n = samples.count
            if n == 1 { return Double(samples[0]) }
            let period = 2 * (n - 1)
            i = ((i % period) + period) % period
            if i >= n { i = period - i }
            return Double(samples[i])
        }
        let frames = 1 + samples.count / hopLength
        var power = [Double](repeating: 0, count: frames)
        for t in 0..<frames {
            var sum = 0.0
            let start = t * hopLength - half
            for k in 0..<frameLength {
                let value = sample(start + k)
                sum += value * value
            }
            power[t] = sum / Double(frameLength)  // mean square = rms²
        }
        let reference = max(1e-10, power.max() ?? 0)
        let voiced = power.indices.filter { 10 * log10(max(1e-10, power[$0])) - 10 * log10(reference) > -topDB }
        guard let first = voiced.first, let last = voiced.last else { return 0..<0 }
        return (first * hopLength)..<min(samples.count, (last + 1) * hopLength)
    }
}
