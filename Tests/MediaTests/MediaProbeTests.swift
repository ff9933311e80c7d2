import Foundation
import Media
import Testing

@Suite struct MediaProbeTests {
    @Test func h264AacMP4() throws {
        let directory = try TemporaryDirectory()
        let path = directory.file("clip.mp4")
        try SyntheticMedia.writeClip(to: path, frameCount: 50)
        let info = try MediaProbe.probe(path)
        #expect(info.container.contains("mp4"))
        let video = try info.requireVideo()
        #expect(video.codec == "h264")
        #expect(video.width == 64 && video.height == 48)
        #expect(video.rotation == 0)
        #expect(video.averageFrameRate == Rational(25, 1))
        #expect(video.frameCount == 50)
        #expect(!video.variableFrameRate)
        #expect(abs(video.duration - 2.0) < 0.05)
        let audio = try info.requireAudio()
        #expect(audio.codec == "aac")
        #expect(audio.sampleRate == 48_000)
        #expect(audio.channels == 1)
    }

    @Test func ntscRateIsExact() throws {
        let directory = try TemporaryDirectory()
        let path = directory.file("ntsc.mp4")
        try SyntheticMedia.writeClip(to: path, frameRate: Rational(30000, 1001), frameCount: 30)
        let video = try MediaProbe.probe(path).requireVideo()
        #expect(video.averageFrameRate == Rational(30000, 1001))
        #expect(video.frameCount == 30)
    }

    @Test func rotatedPhoneVideo() throws {
        let directory = try TemporaryDirectory()
        let path = directory.file("phone.mp4")
        try SyntheticMedia.writeClip(to: path, width: 64, height: 48, frameCount: 5, options: EncoderOptions(displayRotation: 90))
        let video = try MediaProbe.probe(path).requireVideo()
        #expect(video.rotation == 90)
        #expect(video.width == 64 && video.height == 48)
        #expect(video.displayWidth == 48 && video.displayHeight == 64)
    }

    @Test func vp9OpusWebMCountsFramesOnDemand() throws {
        let directory = try TemporaryDirectory()
        let path = directory.file("clip.webm")
        try SyntheticMedia.writeClip(
            to: path, frameCount: 20, options: EncoderOptions(container: .webm, videoCodec: .vp9, audioCodec: .opus, crf: 30))
        let info = try MediaProbe.probe(path)
        #expect(info.container.contains("webm"))
        #expect(info.video?.codec == "vp9")
        #expect(info.audio?.codec == "opus")
        #expect(info.video?.frameCount == nil)  // Matroska records no count
        #expect(try MediaProbe.countFrames(path) == 20)
    }

    @Test func quickTimeMOV() throws {
        let directory = try TemporaryDirectory()
        let path = directory.file("clip.mov")
        try SyntheticMedia.writeClip(to: path, frameCount: 10, options: EncoderOptions(container: .mov))
        let info = try MediaProbe.probe(path)
        #expect(info.container.contains("mov"))
        #expect(info.video?.frameCount == 10)
    }

    @Test func videoWithoutAudio() throws {
        let directory = try TemporaryDirectory()
        let path = directory.file("silent.mp4")
        try SyntheticMedia.writeClip(to: path, frameCount: 5, audio: nil)
        let info = try MediaProbe.probe(path)
        #expect(info.video != nil)
        #expect(info.audio == nil)
        #expect(throws: MediaError.noAudioStream) { try info.requireAudio() }
    }

    @Test func audioOnlyFiles() throws {
        let directory = try TemporaryDirectory()
        let tone = SyntheticMedia.tone(frequency: 300, seconds: 0.5, sampleRate: 22_050)
        let wav = directory.file("voice.wav")
        try WAVFile.write(tone, to: wav)
        let m4a = directory.file("voice.m4a")
        let writer = try MediaWriter(path: m4a, video: nil, audio: tone, options: EncoderOptions(container: .m4a))
        try writer.finish()
        for path in [wav, m4a] {
            let info = try MediaProbe.probe(path)
            #expect(info.video == nil)
            #expect(info.audio != nil)
            #expect(throws: MediaError.noVideoStream) { try info.requireVideo() }
        }
    }

    // MARK: Bad input

    @Test func missingAndEmptyFiles() throws {
        let directory = try TemporaryDirectory()
        #expect(throws: MediaError.fileNotFound(path: directory.file("none.mp4"))) { try MediaProbe.probe(directory.file("none.mp4")) }
        #expect(throws: MediaError.fileNotFound(path: directory.path)) { try MediaProbe.probe(directory.path) }
        let empty = directory.file("empty.mp4")
        _ = FileManager.default.createFile(atPath: empty, contents: Data())
        #expect(throws: MediaError.emptyFile(path: empty)) { try MediaProbe.probe(empty) }
    }

    @Test func randomBytesAreNotMedia() throws {
        let directory = try TemporaryDirectory()
        let path = directory.file("random.mp4")
        var generator = SystemRandomNumberGenerator()
        _ = FileManager.default.createFile(
            atPath: path, contents: Data((0..<65_536).map { _ in UInt8.random(in: 0...255, using: &generator) }))
        let error = #expect(throws: MediaError.self) { try MediaProbe.probe(path) }
        guard case .notMediaFile? = error else {
            Issue.record("expected notMediaFile, got \(String(describing: error))")
            return
        }
    }

    @Test func pngRenamedMP4IsAStillImage() throws {
        let directory = try TemporaryDirectory()
        let path = directory.file("photo.mp4")
        _ = FileManager.default.createFile(atPath: path, contents: SyntheticMedia.png())
        let error = #expect(throws: MediaError.self) { try MediaProbe.probe(path) }
        guard case .notAVideo(let format)? = error else {
            Issue.record("expected notAVideo, got \(String(describing: error))")
            return
        }
        #expect(format.contains("png"))
        #expect(error?.description.contains("still image") == true)
    }

    @Test func truncatedMP4() throws {
        let directory = try TemporaryDirectory()
        let full = directory.file("full.mp4")
        try SyntheticMedia.writeClip(to: full, frameCount: 50)
        let data = try Data(contentsOf: URL(fileURLWithPath: full))
        let cut = directory.file("cut.mp4")
        try data.prefix(data.count / 2).write(to: URL(fileURLWithPath: cut))
        let error = #expect(throws: MediaError.self) { try MediaProbe.probe(cut) }
        guard case .truncated? = error else {
            Issue.record("expected truncated, got \(String(describing: error))")
            return
        }
    }

    /// A YUV4MPEG2 header declaring 10 000 × 10 000 (the body is never read).
    @Test func hugeDeclaredSizeIsRejected() throws {
        let directory = try TemporaryDirectory()
        let path = directory.file("huge.y4m")
        _ = FileManager.default.createFile(
            atPath: path, contents: Data("YUV4MPEG2 W10000 H10000 F25:1 Ip A1:1 C420jpeg\nFRAME\n".utf8) + Data(count: 4096))
        #expect(throws: MediaError.dimensionsTooLarge(width: 10_000, height: 10_000, limit: 4096)) { try MediaProbe.probe(path) }
    }

    @Test func limitsAreEnforced() throws {
        let directory = try TemporaryDirectory()
        let path = directory.file("clip.mp4")
        try SyntheticMedia.writeClip(to: path, frameCount: 50)
        let bytes = try #require(try FileManager.default.attributesOfItem(atPath: path)[.size] as? Int)
        #expect(throws: MediaError.fileTooLarge(bytes: bytes, limit: 1000)) {
            try MediaProbe.probe(path, limits: MediaLimits(maxFileBytes: 1000))
        }
        let long = #expect(throws: MediaError.self) { try MediaProbe.probe(path, limits: MediaLimits(maxDurationSeconds: 1)) }
        guard case .durationTooLong(_, 1)? = long else {
            Issue.record("got \(String(describing: long))")
            return
        }
        #expect(throws: MediaError.tooManyFrames(count: 50, limit: 10)) {
            try MediaProbe.probe(path, limits: MediaLimits(maxFrameCount: 10))
        }
        #expect(throws: MediaError.dimensionsTooLarge(width: 64, height: 48, limit: 32)) {
            try MediaProbe.probe(path, limits: MediaLimits(maxDimension: 32))
        }
    }

    @Test func videoInfoEncodesAsJSON() throws {
        let directory = try TemporaryDirectory()
        let path = directory.file("clip.mp4")
        try SyntheticMedia.writeClip(to: path, frameCount: 5)
        let info = try MediaProbe.probe(path)
        let decoded = try JSONDecoder().decode(VideoInfo.self, from: JSONEncoder().encode(info))
        #expect(decoded == info)
    }
}
