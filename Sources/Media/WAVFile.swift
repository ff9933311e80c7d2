import Foundation

/// WAV helpers for tests and debugging. Reading goes through FFmpeg (`AudioDecoder`), so
/// there is one parser of outside audio; writing is a plain RIFF header plus samples.
public enum WAVFile {
    public enum Encoding: Sendable {
        /// IEEE float, as FreeVC writes its output.
        case float32
        /// 16-bit signed PCM; samples are clipped to [-1, 1), scaled by 32 768 and rounded.
        case pcm16
    }

    /// The file's audio as mono Float32 at its own rate (or `sampleRate`).
    public static func read(_ path: String, sampleRate: Int? = nil, limits: MediaLimits = MediaLimits()) throws -> AudioBuffer {
        try AudioDecoder.decode(path, sampleRate: sampleRate, limits: limits)
    }

    /// Writes `buffer` as a mono WAV file, atomically (temporary file, then rename).
    public static func write(_ buffer: AudioBuffer, to path: String, encoding: Encoding = .float32) throws {
        guard buffer.sampleRate > 0 else { throw MediaError.invalidArgument("the buffer has no sample rate") }
        let bytesPerSample = encoding == .float32 ? 4 : 2
        let dataBytes = buffer.samples.count * bytesPerSample
        guard dataBytes <= Int(UInt32.max) - 44 else { throw MediaError.invalidArgument("audio too long for a WAV file") }
        var data = Data(capacity: 44 + dataBytes)
        func append<T: FixedWidthInteger>(_ value: T) { withUnsafeBytes(of: value.littleEndian) { data.append(contentsOf: $0) } }
        data.append(contentsOf: Array("RIFF".utf8))
        append(UInt32(36 + dataBytes))
        data.append(contentsOf: Array("WAVE".utf8))
        data.append(contentsOf: Array("fmt ".utf8))
        append(UInt32(16))
        append(UInt16(encoding == .float32 ? 3 : 1))  // WAVE_FORMAT_IEEE_FLOAT / PCM
        append(UInt16(1))  // channels
        append(UInt32(buffer.sampleRate))
        append(UInt32(buffer.sampleRate * bytesPerSample))
        append(UInt16(bytesPerSample))
        append(UInt16(bytesPerSample * 8))
        data.append(contentsOf: Array("data".utf8))
        append(UInt32(dataBytes))
        switch encoding {
        case .float32:
            for sample in buffer.samples { append(sample.bitPattern) }
        case .pcm16:
            // ×32768 with clamping mirrors the readers' int16 ÷ 32768 (librosa, soundfile).
            for sample in buffer.samples { append(Int16(clamping: Int((max(-1, min(1, sample)) * 32768).rounded()))) }
        }
        try AtomicFile.write(data, to: path)
    }
}

/// Writing through a temporary sibling file that is renamed into place on success only, so
/// readers never see a partial file.
enum AtomicFile {
    static func temporaryPath(for path: String) -> String {
        let url = URL(fileURLWithPath: path)
        return url.deletingLastPathComponent()
            .appendingPathComponent(".\(url.lastPathComponent).partial-\(UUID().uuidString)").path
    }

    static func write(_ data: Data, to path: String) throws {
        let temporary = temporaryPath(for: path)
        do {
            try data.write(to: URL(fileURLWithPath: temporary))
            try commit(temporary, to: path)
        } catch {
            try? FileManager.default.removeItem(atPath: temporary)
            let code = ((error as NSError).userInfo[NSUnderlyingErrorKey] as? NSError)?.code ?? (error as NSError).code
            if (error as? CocoaError)?.code == .fileWriteOutOfSpace || code == Int(ENOSPC) || code == Int(EDQUOT) {
                throw MediaError.noSpace(path: path)
            }
            throw MediaError.writeFailed(path: path, reason: "\(error)")
        }
    }

    /// Renames `temporary` over `path` (atomic on one file system).
    static func commit(_ temporary: String, to path: String) throws {
        guard rename(temporary, path) == 0 else {
            let reason = String(cString: strerror(errno))
            try? FileManager.default.removeItem(atPath: temporary)
            throw MediaError.writeFailed(path: path, reason: reason)
        }
    }
}
