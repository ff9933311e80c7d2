import FuzzSupport
import Media

// The WAV reader (`WAVFile.read`, which goes through FFmpeg's demuxers and `AudioDecoder`):
// the file is named `.wav` as the speech engines' outputs are (docs/fuzzing.md, `fuzz-wav`).
// What it reads must survive `WAVFile.write` and a second read unchanged (float32), or with
// the same number of samples (16-bit PCM).

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzWAV(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    guard let data, size > 0 else { return 0 }
    FuzzLogging.install()
    let path = FuzzWorkspace.write(UnsafeBufferPointer(start: data, count: size), name: "input.wav")
    defer { FuzzWorkspace.remove(path) }

    guard let audio = try? WAVFile.read(path, limits: fuzzLimits) else { return 0 }
    require(audio.sampleRate > 0, "read a buffer with sample rate \(audio.sampleRate)")
    require(
        Double(audio.samples.count) <= (fuzzLimits.maxDurationSeconds + 1) * Double(audio.sampleRate),
        "\(audio.samples.count) samples at \(audio.sampleRate) Hz exceed the duration limit")
    if let resampled = try? WAVFile.read(path, sampleRate: 16_000, limits: fuzzLimits) {
        require(resampled.sampleRate == 16_000, "resampled to \(resampled.sampleRate) Hz, asked for 16 kHz")
    }

    // Round trip through the writer (bounded so a long file does not slow the fuzzer down).
    guard !audio.samples.isEmpty, audio.samples.count <= 1 << 16 else { return 0 }
    let copy = FuzzWorkspace.path("copy.wav")
    defer { FuzzWorkspace.remove(copy) }
    do {
        try WAVFile.write(audio, to: copy, encoding: .float32)
        let again = try WAVFile.read(copy)
        require(again.sampleRate == audio.sampleRate, "float32 copy reads back at \(again.sampleRate) Hz, wrote \(audio.sampleRate)")
        require(
            again.samples.count == audio.samples.count,
            "float32 copy reads back \(again.samples.count) samples, wrote \(audio.samples.count)")
        // Bit for bit, except NaN payloads and the sign of zero (-0.0 was seen to come back as
        // 0.0: the same silence).
        for (a, b) in zip(again.samples, audio.samples) where a.bitPattern != b.bitPattern && !(a.isNaN && b.isNaN) && !(a == 0 && b == 0) {
            require(false, "float32 copy changed a sample: \(b) → \(a)")
        }
        try WAVFile.write(audio, to: copy, encoding: .pcm16)
        let pcm = try WAVFile.read(copy)
        require(
            pcm.samples.count == audio.samples.count, "pcm16 copy reads back \(pcm.samples.count) samples, wrote \(audio.samples.count)")
    } catch {
        require(false, "a WAV file this module wrote cannot be read back: \(error)")
    }
    return 0
}
