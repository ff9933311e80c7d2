import Foundation
public import Inference
public import Media

/// How TTS speech becomes the user's voice.
public enum VoiceMode: String, Sendable, Equatable, CaseIterable, Codable {
    /// FreeVC: WavLM content + the user's speaker embedding → speech in the user's voice.
    case freevc
    /// Pass the TTS voice through unchanged (no voice models installed, or asked for).
    case none
}

/// Per-step wall times of a conversion, in seconds.
public struct VoiceTimings: Sendable, Equatable, Codable {
    public var embedding = 0.0
    public var content = 0.0
    public var synthesis = 0.0
}

/// Converted speech and how it was made.
public struct ConvertedSpeech: Sendable {
    /// 16 kHz mono.
    public let audio: AudioBuffer
    public let mode: VoiceMode
    public let timings: VoiceTimings
}

/// The voice conversion stage (FreeVC's convert.py): speaker embedding from the trimmed
/// reference, WavLM content of the source speech, SynthesizerTrn with seeded Gaussian noise.
/// Long speech is converted in windows split at its quietest points and joined with short
/// crossfades, so WavLM's attention never sees more than `windowSeconds`.
public struct VoiceConverter: Sendable {
    public let embedder: SpeakerEmbedder
    public let content: InferenceSession
    public let synthesizer: InferenceSession
    /// Shortest voiced reference accepted, in seconds.
    public var minimumVoiceSeconds = 1.0
    /// Longest piece converted in one WavLM call, in seconds.
    public var windowSeconds = 12.0
    /// Crossfade between pieces, in seconds.
    public var crossfadeSeconds = 0.02
    /// Longest speech accepted, in seconds.
    public var maxSpeechSeconds = 60.0

    /// Checks that the models fit together: WavLM's feature width is the synthesizer's
    /// content width, and the speaker encoder's embedding is the synthesizer's speaker width.
    public init(embedder: SpeakerEmbedder, content: InferenceSession, synthesizer: InferenceSession) throws {
        func width(_ tensors: [TensorInfo], _ name: String, axis: Int) -> Int? {
            tensors.first { $0.name == name }.flatMap { $0.shape.count > axis ? $0.shape[axis] : nil }
        }
        let features = width(content.outputs, "content", axis: 1)
        let expected = width(synthesizer.inputs, "content", axis: 1)
        guard features != nil, features == expected else {
            throw VoiceConversionError.modelMismatch(
                "WavLM gives \(features.map(String.init) ?? "?")-wide features, the synthesizer takes \(expected.map(String.init) ?? "?")")
        }
        let embedding = width(embedder.encoderSession.outputs, "embedding", axis: 1)
        let speakerWidth = width(synthesizer.inputs, "speaker", axis: 1)
        guard embedding != nil, embedding == speakerWidth else {
            throw VoiceConversionError.modelMismatch(
                "the speaker encoder gives \(embedding.map(String.init) ?? "?") values, "
                    + "the synthesizer takes \(speakerWidth.map(String.init) ?? "?")"
            )
        }
        self.embedder = embedder
        self.content = content
        self.synthesizer = synthesizer
    }

    /// The speaker embedding of `reference` (any rate; trimmed as convert.py trims).
    public func speakerEmbedding(of reference: AudioBuffer) throws -> [Float] {
        let voice = try AudioResampler.resample(reference, to: 16_000)
        let range = SilenceTrimmer().voicedRange(voice.samples)
        // librosa keeps an all-silent signal whole (every frame is at the floor); treat it as no voice.
        let seconds = Self.rms(Array(voice.samples[range])) < 1e-4 ? 0 : Double(range.count) / 16_000
        guard seconds >= minimumVoiceSeconds else {
            throw VoiceConversionError.tooLittleVoice(seconds: seconds, minimum: minimumVoiceSeconds)
        }
        return try embedder.embedding(of: Array(voice.samples[range]))
    }

    /// `speech` (any rate) spoken with the voice `embedding`; `seed` makes the noise, so the
    /// same seed gives the same audio. Loudness is matched to `referenceRMS` when given, and
    /// peaks are kept below 0.99.
    public func convert(_ speech: AudioBuffer, embedding: [Float], seed: UInt64, referenceRMS: Float? = nil) throws -> ConvertedSpeech {
        guard !speech.samples.isEmpty, speech.sampleRate > 0 else { throw VoiceConversionError.emptySpeech }
        guard speech.duration <= maxSpeechSeconds else {
            throw VoiceConversionError.speechTooLong(seconds: speech.duration, limit: maxSpeechSeconds)
        }
        let source = try AudioResampler.resample(speech, to: 16_000).samples
        var timings = VoiceTimings()
        var generator = SeededNormal(seed: seed)
        var output: [Float] = []
        for piece in Self.pieces(of: source, window: Int(windowSeconds * 16_000)) {
            let clock = ContinuousClock()
            var padded = Array(source[piece])
            if padded.count < 400 { padded += [Float](repeating: 0, count: 400 - padded.count) }
            let start = clock.now
            let contentOutput = try content.run(["waveform": .float32(try Tensor(shape: [1, padded.count], scalars: padded))])
            guard let features = contentOutput["content"] else { throw VoiceConversionError.modelMismatch("wavlm has no 'content' output") }
            let contentDone = clock.now
            let frames = features.shape[2]
            let noiseChannels = synthesizer.inputs.first { $0.name == "noise" }?.shape[1] ?? 192
            let noise = (0..<(noiseChannels * frames)).map { _ in generator.next() }
            let audio = try synthesizer.run([
                "content": features,
                "speaker": .float32(try Tensor(shape: [1, embedding.count], scalars: embedding)),
                "noise": .float32(try Tensor(shape: [1, noiseChannels, frames], scalars: noise)),
            ])
            guard let samples = try audio["audio"]?.tensor(of: Float.self).scalars else {
                throw VoiceConversionError.modelMismatch("freevc has no 'audio' output")
            }
            timings.content += (contentDone - start).seconds
            timings.synthesis += (clock.now - contentDone).seconds
            output = Self.join(output, samples, crossfade: Int(crossfadeSeconds * 16_000))
        }
        if let referenceRMS { output = Self.matchLoudness(output, to: referenceRMS) }
        return ConvertedSpeech(audio: AudioBuffer(samples: output, sampleRate: 16_000), mode: .freevc, timings: timings)
    }

    /// Root mean square of a buffer.
    public static func rms(_ samples: [Float]) -> Float {
        guard !samples.isEmpty else { return 0 }
        return Float((samples.reduce(0.0) { $0 + Double($1) * Double($1) } / Double(samples.count)).squareRoot())
    }

    /// Scaled to `target` RMS, then limited so no peak exceeds 0.99.
    static func matchLoudness(_ samples: [Float], to target: Float) -> [Float] {
        let current = rms(samples)
        guard current > 1e-6, target > 0 else { return samples }
        var gain = target / current
        let peak = (samples.map(abs).max() ?? 0) * gain
        if peak > 0.99 { gain *= 0.99 / peak }
        return samples.map { $0 * gain }
    }

    /// Ranges of at most `window` samples, split at the quietest 10 ms frame of each
    /// window's last quarter.
    static func pieces(of samples: [Float], window: Int) -> [Range<Int>] {
        guard samples.count > window, window > 1600 else { return [0..<samples.count] }
        var ranges: [Range<Int>] = []
        var start = 0
        while samples.count - start > window {
            let searchFrom = start + window * 3 / 4
            var best = start + window
            var bestEnergy = Double.infinity
            var position = searchFrom
            while position + 160 <= start + window {
                let energy = samples[position..<(position + 160)].reduce(0.0) { $0 + Double($1) * Double($1) }
                if energy < bestEnergy {
                    bestEnergy = energy
                    best = position + 80
                }
                position += 160
            }
            ranges.append(start..<best)
            start = best
        }
        ranges.append(start..<samples.count)
        return ranges
    }

    /// Appends `next` with a linear crossfade over the overlap.
    static func join(_ head: [Float], _ next: [Float], crossfade: Int) -> [Float] {
        let overlap = min(crossfade, head.count, next.count)
        guard overlap > 0 else { return head + next }
        var result = Array(head.dropLast(overlap))
        for i in 0..<overlap {
            let t = Float(i + 1) / Float(overlap + 1)
            result.append(head[head.count - overlap + i] * (1 - t) + next[i] * t)
        }
        return result + next.dropFirst(overlap)
    }
}

/// Standard normal samples from a seeded 64-bit generator (SplitMix64 + Box–Muller): the
/// same seed gives the same noise on every machine.
public struct SeededNormal: Sendable {
    private var state: UInt64
    private var spare: Float?

    public init(seed: UInt64) {
        state = seed
    }

    private mutating func uniform() -> Double {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        z ^= z >> 31
        return (Double(z >> 11) + 0.5) / Double(1 << 53)
    }

    public mutating func next() -> Float {
        if let spare {
            self.spare = nil
            return spare
        }
        let u = uniform()
        let v = uniform()
        let radius = (-2 * log(u)).squareRoot()
        spare = Float(radius * sin(2 * Double.pi * v))
        return Float(radius * cos(2 * Double.pi * v))
    }
}
