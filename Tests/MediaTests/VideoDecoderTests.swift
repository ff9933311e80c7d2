import Foundation
import Testing

@testable import Media

@Suite struct VideoDecoderTests {
    @Test func roundTripKeepsCountRateSizeAndPictures() throws {
        let directory = try TemporaryDirectory()
        let path = directory.file("clip.mp4")
        let written = try SyntheticMedia.writeClip(to: path, width: 96, height: 64, frameCount: 30)
        let decoder = try VideoDecoder(path: path)
        let frames = try decoder.allFrames()
        #expect(frames.count == 30)
        #expect(decoder.video.averageFrameRate == Rational(25, 1))
        for (original, decoded) in zip(written, frames) {
            #expect(decoded.frame.width == 96 && decoded.frame.height == 64)
            let psnr = SyntheticMedia.psnr(original, decoded.frame)
            #expect(psnr > 35, "frame \(decoded.index): \(psnr) dB")
            #expect(abs(decoded.frame.presentationTime - Double(decoded.index) / 25) < 1e-6)
        }
        #expect(try decoder.next() == nil)
    }

    /// Frames decoded into recycled buffers are the same pictures, and a recycled frame that
    /// someone still holds is never written over (it is copied instead). 8×8 is the size at
    /// which swscale writes past the last row (PictureConverter.overrun).
    @Test(arguments: [(96, 64), (8, 8)]) func recycledBuffersGiveTheSamePictures(width: Int, height: Int) throws {
        let directory = try TemporaryDirectory()
        let path = directory.file("clip.mp4")
        try SyntheticMedia.writeClip(to: path, width: width, height: height, frameCount: 24)
        let reference = try VideoDecoder(path: path).allFrames().map(\.frame)
        let decoder = try VideoDecoder(path: path)
        var held: [(Int, Frame)] = []
        var index = 0
        while let decoded = try decoder.next() {
            #expect(decoded.frame == reference[index], "frame \(index)")
            if index % 3 == 0 { held.append((index, decoded.frame)) }
            decoder.recycle([decoded.frame])
            index += 1
        }
        #expect(index == reference.count)
        for (index, frame) in held { #expect(frame == reference[index], "held frame \(index) changed") }
    }

    /// No more buffers are kept than the caller says it will still decode; each decode takes one.
    @Test func recyclingKeepsNoMoreThanTheLimit() throws {
        let directory = try TemporaryDirectory()
        let path = directory.file("clip.mp4")
        try SyntheticMedia.writeClip(to: path, frameCount: 12)
        let decoder = try VideoDecoder(path: path)
        let frames = try decoder.frames(upTo: 4).map(\.frame)
        decoder.recycle(frames, limit: 2)
        #expect(decoder.recycledBuffers == 2)
        _ = try decoder.next()
        #expect(decoder.recycledBuffers == 1)
        decoder.recycle(frames, limit: 0)
        #expect(decoder.recycledBuffers == 1)
        decoder.recycle(frames)
        #expect(decoder.recycledBuffers == 5)
    }

    @Test func decodesOnlyTheFramesAskedFor() throws {
        let directory = try TemporaryDirectory()
        let path = directory.file("clip.mp4")
        try SyntheticMedia.writeClip(to: path, frameCount: 60)
        let decoder = try VideoDecoder(path: path)
        let first = try decoder.frames(upTo: 10)
        #expect(first.map(\.index) == Array(0..<10))
        #expect(decoder.framesDecoded == 10)
        // Sequential reading goes on from there.
        #expect(try decoder.next()?.index == 10)
        // Asking for more than there are gives what there is.
        #expect(try decoder.frames(upTo: 1000).count == 49)
    }

    @Test func ntscTimestamps() throws {
        let directory = try TemporaryDirectory()
        let path = directory.file("ntsc.mp4")
        try SyntheticMedia.writeClip(to: path, frameRate: Rational(30000, 1001), frameCount: 12)
        let frames = try VideoDecoder(path: path).allFrames()
        #expect(frames.count == 12)
        for frame in frames {
            #expect(abs(frame.frame.presentationTime - Double(frame.index) * 1001 / 30000) < 1e-6)
        }
    }

    /// A phone-style file stores 64×48 pictures with a 90° display rotation; decoded frames
    /// must be 48×64 and upright (the stored picture turned clockwise).
    @Test func rotatedVideoComesOutUpright() throws {
        let directory = try TemporaryDirectory()
        let path = directory.file("phone.mp4")
        let stored = SyntheticMedia.orientationFrame(width: 64, height: 48)
        try SyntheticMedia.writeClip(to: path, frameCount: 3, options: EncoderOptions(displayRotation: 90)) { _ in stored }
        let decoded = try #require(try VideoDecoder(path: path).next())
        #expect(decoded.frame.width == 48 && decoded.frame.height == 64)
        let expected = stored.rotated(clockwise: 90)
        #expect(SyntheticMedia.psnr(expected, decoded.frame) > 35)
        // Stored top-left (dark) is now top-right.
        #expect(decoded.frame.pixel(x: 47, y: 0).0 < 40)
        #expect(decoded.frame.pixel(x: 0, y: 0).0 > 100)
    }

    @Test func downscaledDetectionCopy() throws {
        let directory = try TemporaryDirectory()
        let path = directory.file("clip.mp4")
        try SyntheticMedia.writeClip(to: path, width: 128, height: 96, frameCount: 2)
        let decoder = try VideoDecoder(path: path, options: DecodeOptions(detectionMaxSide: 32))
        let frame = try #require(try decoder.next())
        let detection = try #require(frame.detection)
        #expect(detection.width == 32 && detection.height == 24)
        #expect(detection.pixelFormat == .rgb24)
        #expect(frame.detectionScale == 0.25)
        // No upscaling when the picture is already small.
        let small = try #require(try VideoDecoder(path: path, options: DecodeOptions(detectionMaxSide: 512)).next())
        #expect(small.detectionScale == 1)
        #expect(small.detection?.width == 128)
    }

    @Test func rgbOutputSwapsChannels() throws {
        let directory = try TemporaryDirectory()
        let path = directory.file("clip.mp4")
        try SyntheticMedia.writeClip(to: path, frameCount: 1)
        let bgr = try #require(try VideoDecoder(path: path).next()).frame
        let rgb = try #require(try VideoDecoder(path: path, options: DecodeOptions(pixelFormat: .rgb24)).next()).frame
        #expect(bgr.pixel(x: 10, y: 10).0 == rgb.pixel(x: 10, y: 10).2)
        #expect(bgr.pixel(x: 10, y: 10).2 == rgb.pixel(x: 10, y: 10).0)
    }

    @Test func webmDecodes() throws {
        let directory = try TemporaryDirectory()
        let path = directory.file("clip.webm")
        try SyntheticMedia.writeClip(
            to: path, frameCount: 8, options: EncoderOptions(container: .webm, videoCodec: .vp9, audioCodec: .opus, crf: 20))
        #expect(try VideoDecoder(path: path).allFrames().count == 8)
    }

    @Test func audioOnlyFileHasNoVideo() throws {
        let directory = try TemporaryDirectory()
        let path = directory.file("voice.wav")
        try WAVFile.write(SyntheticMedia.tone(frequency: 200, seconds: 0.2, sampleRate: 16_000), to: path)
        #expect(throws: MediaError.noVideoStream) { try VideoDecoder(path: path) }
    }

    /// The container lists 40 frames but the data for the later ones is damaged: the
    /// decoder must say so rather than return a short clip silently.
    @Test func damagedDataIsReported() throws {
        let directory = try TemporaryDirectory()
        let path = directory.file("clip.mp4")
        try SyntheticMedia.writeClip(to: path, frameCount: 40, audio: nil)
        var data = try Data(contentsOf: URL(fileURLWithPath: path))
        // Overwrite the second half of the file (the media data; moov is at the front).
        let start = data.count / 2
        data.replaceSubrange(start..<data.count, with: [UInt8](repeating: 0xFF, count: data.count - start))
        try data.write(to: URL(fileURLWithPath: path))
        let error = #expect(throws: MediaError.self) { _ = try VideoDecoder(path: path).allFrames() }
        switch error {
        case .corrupt?, .truncated?: break
        default: Issue.record("expected corrupt or truncated, got \(String(describing: error))")
        }
    }

    @Test func frameRotationIsExact() throws {
        let frame = try Frame(width: 3, height: 2, pixels: Array(0..<18).map(UInt8.init))
        // Pixels numbered p0 p1 p2 / p3 p4 p5 (3 bytes each).
        func ids(_ f: Frame) -> [UInt8] { stride(from: 0, to: f.pixels.count, by: 3).map { f.pixels[$0] / 3 } }
        #expect(ids(frame.rotated(clockwise: 90)) == [3, 0, 4, 1, 5, 2])
        #expect(ids(frame.rotated(clockwise: 180)) == [5, 4, 3, 2, 1, 0])
        #expect(ids(frame.rotated(clockwise: 270)) == [2, 5, 1, 4, 0, 3])
        #expect(frame.rotated(clockwise: 360) == frame)
        #expect(frame.rotated(clockwise: 90).width == 2)
    }

    @Test func frameRejectsShortBuffers() {
        #expect(throws: MediaError.self) { try Frame(width: 4, height: 4, pixels: [UInt8](repeating: 0, count: 47)) }
        #expect(throws: MediaError.self) { try Frame(width: 0, height: 4, pixels: []) }
    }
}
