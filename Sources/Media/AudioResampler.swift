internal import CFFmpeg

/// Sample-rate conversion of mono buffers (e.g. TTS at 22 050 Hz → 16 000 Hz for the
/// models) with libswresample.
public enum AudioResampler {
    public static func resample(_ buffer: AudioBuffer, to rate: Int) throws -> AudioBuffer {
        guard rate > 0, rate <= 384_000 else { throw MediaError.invalidArgument("sample rate \(rate) Hz is out of range") }
        guard buffer.sampleRate > 0 else { throw MediaError.invalidArgument("the buffer has no sample rate") }
        if rate == buffer.sampleRate { return buffer }
        var mono = AVChannelLayout()
        av_channel_layout_default(&mono, 1)
        let resampler = try Resampler(layout: mono, format: AV_SAMPLE_FMT_FLT, inputRate: buffer.sampleRate, outputRate: rate)
        var output: [Float] = []
        output.reserveCapacity(Int(Double(buffer.samples.count) * Double(rate) / Double(buffer.sampleRate)) + 64)
        try buffer.samples.withUnsafeBufferPointer { samples in
            var plane: UnsafePointer<UInt8>? = samples.baseAddress.map { UnsafeRawPointer($0).assumingMemoryBound(to: UInt8.self) }
            try withUnsafeMutablePointer(to: &plane) { planes in
                try resampler.run(input: planes, count: Int32(samples.count), appendingTo: &output)
            }
        }
        try resampler.flush(appendingTo: &output)
        return AudioBuffer(samples: output, sampleRate: rate)
    }
}
