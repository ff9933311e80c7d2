import Foundation

@testable import Media

/// Test media made by code (the module's TestPattern), written with its own encoder.
enum SyntheticMedia {
    static func frame(width: Int, height: Int, index: Int) -> Frame {
        TestPattern.frame(width: width, height: height, index: index)
    }

    /// A picture whose quadrants differ, to check orientation: top-left dark, bottom-right bright.
    static func orientationFrame(width: Int, height: Int) -> Frame {
        var pixels = [UInt8](repeating: 0, count: width * height * 3)
        for y in 0..<height {
            for x in 0..<width {
                let value = UInt8((x < width / 2 ? 0 : 100) + (y < height / 2 ? 0 : 120) + 20)
                let offset = (y * width + x) * 3
                pixels[offset] = value
                pixels[offset + 1] = value
                pixels[offset + 2] = value
            }
        }
        return Frame(unchecked: width, height, width * 3, .bgr24, 0, pixels)
    }

    static func tone(frequency: Double, seconds: Double, sampleRate: Int) -> AudioBuffer {
        TestPattern.tone(frequency: frequency, seconds: seconds, sampleRate: sampleRate)
    }

    /// Writes `frameCount` synthetic frames (and optionally a tone) to `path`.
    @discardableResult
    static func writeClip(
        to path: String, width: Int = 64, height: Int = 48, frameRate: Rational = Rational(25, 1),
        frameCount: Int = 25, audio: AudioBuffer? = tone(frequency: 440, seconds: 1, sampleRate: 48_000),
        options: EncoderOptions = EncoderOptions(), frame makeFrame: ((Int) -> Frame)? = nil
    ) throws -> [Frame] {
        let writer = try MediaWriter(
            path: path, video: VideoFormat(width: width, height: height, frameRate: frameRate), audio: audio, options: options)
        var frames: [Frame] = []
        for index in 0..<frameCount {
            let frame = makeFrame?(index) ?? self.frame(width: width, height: height, index: index)
            try writer.append(frame)
            frames.append(frame)
        }
        try writer.finish()
        return frames
    }

    /// Peak signal-to-noise ratio of two same-size frames, in dB.
    static func psnr(_ a: Frame, _ b: Frame) -> Double {
        precondition(a.width == b.width && a.height == b.height, "sizes differ")
        var squared = 0.0
        for y in 0..<a.height {
            for x in 0..<(a.width * 3) {
                let d = Double(a.pixels[y * a.stride + x]) - Double(b.pixels[y * b.stride + x])
                squared += d * d
            }
        }
        let mse = squared / Double(a.width * a.height * 3)
        return mse == 0 ? .infinity : 10 * log10(255 * 255 / mse)
    }

    /// Dominant frequency by counting upward zero crossings.
    static func frequency(of buffer: AudioBuffer, skipping seconds: Double = 0.1) -> Double {
        let start = Int(seconds * Double(buffer.sampleRate))
        let end = buffer.samples.count - start
        guard end > start + 1 else { return 0 }
        var crossings: [Int] = []
        for i in (start + 1)..<end where buffer.samples[i - 1] < 0 && buffer.samples[i] >= 0 { crossings.append(i) }
        guard let first = crossings.first, let last = crossings.last, crossings.count > 1 else { return 0 }
        return Double(crossings.count - 1) * Double(buffer.sampleRate) / Double(last - first)
    }

    /// A valid 2×2 RGB PNG (stored deflate block), for "an image renamed .mp4".
    static func png() -> Data {
        func crc32(_ bytes: [UInt8]) -> UInt32 {
            var crc: UInt32 = 0xFFFF_FFFF
            for byte in bytes {
                crc ^= UInt32(byte)
                for _ in 0..<8 { crc = (crc >> 1) ^ (crc & 1 == 1 ? 0xEDB8_8320 : 0) }
            }
            return ~crc
        }
        func bigEndian(_ value: UInt32) -> [UInt8] { [24, 16, 8, 0].map { UInt8((value >> $0) & 0xFF) } }
        func chunk(_ type: String, _ body: [UInt8]) -> [UInt8] {
            let typed = Array(type.utf8) + body
            return bigEndian(UInt32(body.count)) + typed + bigEndian(crc32(typed))
        }
        let raw: [UInt8] = [0, 255, 0, 0, 0, 255, 0, 0, 0, 0, 255, 255, 255, 255]  // two rows, filter byte 0
        var adlerA: UInt32 = 1
        var adlerB: UInt32 = 0
        for byte in raw {
            adlerA = (adlerA + UInt32(byte)) % 65521
            adlerB = (adlerB + adlerA) % 65521
        }
        let length = UInt16(raw.count)
        let zlib: [UInt8] =
            [0x78, 0x01, 0x01, UInt8(length & 0xFF), UInt8(length >> 8), UInt8(~length & 0xFF), UInt8(~length >> 8)]
            + raw + bigEndian(adlerB << 16 | adlerA)
        let header: [UInt8] = bigEndian(2) + bigEndian(2) + [8, 2, 0, 0, 0]
        return Data([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A] + chunk("IHDR", header) + chunk("IDAT", zlib) + chunk("IEND", []))
    }
}

/// A fresh directory removed when the value goes away.
final class TemporaryDirectory {
    let path: String

    init() throws {
        path = FileManager.default.temporaryDirectory.appendingPathComponent("lipsync-media-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    deinit { try? FileManager.default.removeItem(atPath: path) }

    func file(_ name: String) -> String { path + "/" + name }

    /// Names in the directory (hidden temporaries included).
    func contents() -> [String] { ((try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []).sorted() }
}
