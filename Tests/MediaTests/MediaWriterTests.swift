import Foundation
import Testing

@testable import Media

@Suite struct MediaWriterTests {
    /// The encoder's BGR → yuv420p conversion on slice threads gives the one-thread planes,
    /// byte for byte, at sizes where the bands split unevenly and at the smallest.
    @Test(arguments: [(640, 360), (130, 98), (16, 8)]) func threadedConversionIsExact(width: Int, height: Int) throws {
        var state: UInt32 = 12345
        let pixels = (0..<(width * height * 3)).map { index -> UInt8 in
            state = state &* 1_664_525 &+ 1_013_904_223
            // Smooth gradients with noise, so chroma filtering has something to average.
            return UInt8(truncatingIfNeeded: (index % (width * 3)) / 3 + (index / (width * 3)) + Int(state >> 29))
        }
        let frame = try Frame(width: width, height: height, pixels: pixels)
        let single = try ThreadedScaler.yuv420Planes(of: frame, threads: 1)
        #expect(single.count == width * height * 3 / 2)
        for threads in [2, 3, 8] {
            #expect(try ThreadedScaler.yuv420Planes(of: frame, threads: threads) == single, "\(threads) threads")
        }
    }

    @Test func mp4IsFaststart() throws {
        let directory = try TemporaryDirectory()
        let path = directory.file("out.mp4")
        try SyntheticMedia.writeClip(to: path, frameCount: 10)
        let data = try Data(contentsOf: URL(fileURLWithPath: path))
        let moov = try #require(data.range(of: Data("moov".utf8)))
        let mdat = try #require(data.range(of: Data("mdat".utf8)))
        #expect(moov.lowerBound < mdat.lowerBound)
        #expect(directory.contents() == ["out.mp4"])
    }

    @Test func oddSizeIsPaddedToEven() throws {
        let directory = try TemporaryDirectory()
        let path = directory.file("odd.mp4")
        let written = try SyntheticMedia.writeClip(to: path, width: 63, height: 47, frameCount: 3)
        let decoded = try #require(try VideoDecoder(path: path).next()).frame
        #expect(decoded.width == 64 && decoded.height == 48)
        // The original picture is intact in the top-left corner.
        var cropped = [UInt8]()
        for y in 0..<47 { cropped += decoded.pixels[(y * decoded.stride)..<(y * decoded.stride + 63 * 3)] }
        let inner = try Frame(width: 63, height: 47, pixels: cropped)
        #expect(SyntheticMedia.psnr(written[0], inner) > 35)
    }

    /// Pictures above 1080p get x264 settings that bound its look-ahead (memory); smaller
    /// ones keep the preset's. A 1440p clip still encodes and decodes frame for frame.
    @Test func largePicturesBoundTheEncodersLookAhead() throws {
        #expect(VideoTrack.x264MemoryParameters(width: 1920, height: 1080) == nil)
        #expect(VideoTrack.x264MemoryParameters(width: 1080, height: 1920) == nil)
        #expect(VideoTrack.x264MemoryParameters(width: 2560, height: 1440) == "rc-lookahead=5:sync-lookahead=0")
        #expect(VideoTrack.x264MemoryParameters(width: 3840, height: 2160) != nil)
        let directory = try TemporaryDirectory()
        let path = directory.file("large.mp4")
        let written = try SyntheticMedia.writeClip(to: path, width: 2560, height: 1440, frameCount: 8)
        let decoder = try VideoDecoder(path: path)
        var decoded = 0
        while let next = try decoder.next() {
            #expect(SyntheticMedia.psnr(written[decoded], next.frame) > 30)
            decoded += 1
        }
        #expect(decoded == 8)
    }

    @Test func droppedWriterLeavesNothing() throws {
        let directory = try TemporaryDirectory()
        let path = directory.file("never.mp4")
        do {
            let writer = try MediaWriter(path: path, video: VideoFormat(width: 32, height: 32, frameRate: Rational(25, 1)), audio: nil)
            try writer.append(SyntheticMedia.frame(width: 32, height: 32, index: 0))
            #expect(directory.contents().count == 1)  // the temporary exists while writing
        }
        #expect(directory.contents().isEmpty)
    }

    @Test func wrongFrameSizeFailsAndCleansUp() throws {
        let directory = try TemporaryDirectory()
        let path = directory.file("bad.mp4")
        let writer = try MediaWriter(path: path, video: VideoFormat(width: 32, height: 32, frameRate: Rational(25, 1)), audio: nil)
        #expect(throws: MediaError.invalidArgument("frame 0 is 16×16, the video is 32×32")) {
            try writer.append(SyntheticMedia.frame(width: 16, height: 16, index: 0))
        }
        #expect(directory.contents().isEmpty)
        #expect(throws: MediaError.self) { try writer.finish() }
        #expect(directory.contents().isEmpty)
    }

    @Test func finishWithoutFramesFails() throws {
        let directory = try TemporaryDirectory()
        let writer = try MediaWriter(
            path: directory.file("empty.mp4"), video: VideoFormat(width: 32, height: 32, frameRate: Rational(25, 1)), audio: nil)
        #expect(throws: MediaError.invalidArgument("no frames were appended")) { try writer.finish() }
        #expect(directory.contents().isEmpty)
    }

    @Test func invalidFormats() throws {
        let directory = try TemporaryDirectory()
        #expect(throws: MediaError.self) {
            try MediaWriter(path: directory.file("a.mp4"), video: VideoFormat(width: 0, height: 32, frameRate: Rational(25, 1)), audio: nil)
        }
        #expect(throws: MediaError.self) {
            try MediaWriter(path: directory.file("b.mp4"), video: VideoFormat(width: 32, height: 32, frameRate: Rational(0, 1)), audio: nil)
        }
        #expect(throws: MediaError.self) { try MediaWriter(path: directory.file("c.mp4"), video: nil, audio: nil) }
        #expect(throws: MediaError.self) {
            try MediaWriter(
                path: "/nonexistent-dir/d.mp4", video: VideoFormat(width: 32, height: 32, frameRate: Rational(25, 1)), audio: nil)
        }
        #expect(directory.contents().isEmpty)
    }

    @Test func existingOutputIsReplacedOnlyOnSuccess() throws {
        let directory = try TemporaryDirectory()
        let path = directory.file("out.mp4")
        try Data("previous".utf8).write(to: URL(fileURLWithPath: path))
        do {
            let writer = try MediaWriter(path: path, video: VideoFormat(width: 32, height: 32, frameRate: Rational(25, 1)), audio: nil)
            try writer.append(SyntheticMedia.frame(width: 32, height: 32, index: 0))
        }  // dropped: the old file stays
        #expect(try String(contentsOfFile: path, encoding: .utf8) == "previous")
        try SyntheticMedia.writeClip(to: path, width: 32, height: 32, frameCount: 2)
        #expect(try MediaProbe.probe(path).video?.frameCount == 2)
    }

    @Test func audioLengthSurvives() throws {
        let directory = try TemporaryDirectory()
        let path = directory.file("speech.mp4")
        let speech = SyntheticMedia.tone(frequency: 440, seconds: 1.2, sampleRate: 16_000)
        try SyntheticMedia.writeClip(to: path, frameCount: 30, audio: speech)
        let decoded = try AudioDecoder.decode(path, sampleRate: 16_000)
        // AAC adds at most a frame of padding.
        #expect(decoded.duration >= 1.15 && decoded.duration <= 1.3)
        #expect(abs(SyntheticMedia.frequency(of: decoded) - 440) < 2)
    }
}
