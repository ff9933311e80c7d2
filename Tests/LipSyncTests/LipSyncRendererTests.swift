import FaceTracking
import Foundation
import Inference
import LipSync
import Media
import Testing

@Suite struct LipSyncRendererTests {
    func renderer() throws -> LipSyncRenderer {
        let manifest = try LipSyncFixtures.manifest()
        return LipSyncRenderer(
            melFrontEnd: MelFrontEnd(session: try LipSyncFixtures.session("wav2lip_mel")),
            generator: Wav2LipGenerator(session: try LipSyncFixtures.session("wav2lip")),
            detector: try BlazeFaceDetector(manifest: manifest, environment: LipSyncFixtures.environment))
    }

    /// A 20-frame 25 fps clip of the astronaut photo drifting 2 px per frame.
    func faceClip(in directory: String, frames: Int = 20) throws -> (path: String, frames: [Frame]) {
        let photo = try StillImage.decode(LipSyncFixtures.root + "/faces/astronaut.png").frame
        let path = directory + "/face.mp4"
        let writer = try MediaWriter(path: path, video: VideoFormat(width: 480, height: 480, frameRate: Rational(25, 1)), audio: nil)
        var written: [Frame] = []
        for i in 0..<frames {
            let frame = try photo.cropped(x: i, y: i, width: 480, height: 480)
            try writer.append(frame)
            written.append(frame)
        }
        try writer.finish()
        return (path, written)
    }

    func temporaryDirectory() throws -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("lipsync-render-\(UUID())").path
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    @Test func rendersAFullResolutionVideoWithTheSpeech() async throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let clip = try faceClip(in: directory)
        let speech = TestPattern.tone(frequency: 220, seconds: 1.2, sampleRate: 16_000)
        let output = directory + "/out.mp4"
        let result = try await renderer().render(video: clip.path, speech: speech, output: output)
        // 1.2 s → 97 mel frames → 27 chunks at 25 fps: longer than the 20-frame clip (ping-pong).
        #expect(result.frames == 27)
        #expect(result.sourceFramesDecoded == 20)
        #expect(result.track.boxes.allSatisfy { $0 != nil })
        #expect(result.track.detectedFrames == 5)  // keyframes 0, 5, 10, 15 and 19
        let info = try MediaProbe.probe(output)
        #expect(info.video?.frameCount == 27)
        #expect(info.video?.width == 480 && info.video?.height == 480)
        #expect(info.audio?.codec == "aac")
        #expect(abs((info.audio?.duration ?? 0) - 1.2) < 0.1)
        #expect(result.timings.total > 0 && result.timings.infer > 0)

        // Blend mode: the upper face is the source's, the lower face is regenerated.
        let decoded = try VideoDecoder(path: output).frames(upTo: 1)[0].frame
        let box = try #require(result.track.boxes[0])
        func meanDifference(rows: Range<Int>) -> Double {
            var total = 0.0
            var count = 0.0
            for y in rows {
                for x in (box.x1 + box.width / 4)..<(box.x2 - box.width / 4) {
                    for c in 0..<3 {
                        total += abs(
                            Double(decoded.pixels[y * decoded.stride + x * 3 + c])
                                - Double(clip.frames[0].pixels[y * clip.frames[0].stride + x * 3 + c]))
                        count += 1
                    }
                }
            }
            return total / count
        }
        let upper = meanDifference(rows: box.y1..<(box.y1 + box.height / 3))
        let lower = meanDifference(rows: (box.y1 + box.height * 2 / 3)..<(box.y2 - box.height / 10))
        #expect(upper < 4, "upper face changed by \(upper)")
        #expect(lower > upper + 5, "lower face barely changed: \(lower) vs \(upper)")
    }

    /// Frames and faces prepared ahead (for a guessed speech length) give exactly the output
    /// of a plain render, whether the guess was short, right or long; a short guess is
    /// decoded again, a right or long one saves the decode and the detections.
    @Test(arguments: [0.6, 1.0, 1.6]) func preparedVideoGivesTheSameFrames(guessSeconds: Double) async throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let clip = try faceClip(in: directory, frames: 30)
        let speech = TestPattern.tone(frequency: 220, seconds: 1.0, sampleRate: 16_000)
        let renderer = try renderer()
        func frames(_ prepared: PreparedVideo?, _ name: String) async throws -> ([Int: [UInt8]], RenderedVideo) {
            let sink = FrameSink()
            var options = LipSyncOptions()
            options.frameSink = { index, frame in sink.add(index, frame.pixels) }
            let result = try await renderer.render(
                video: clip.path, speech: speech, output: directory + "/\(name).mp4", options: options, prepared: prepared)
            return (sink.frames, result)
        }
        let (plain, plainResult) = try await frames(nil, "plain")
        let prepared = try renderer.prepare(video: clip.path, expectedSpeechSamples: Int(guessSeconds * 16_000))
        let (ahead, aheadResult) = try await frames(prepared, "ahead")
        #expect(plain == ahead)
        #expect(plainResult.track.boxes == aheadResult.track.boxes)
        if guessSeconds == 1.0 {
            #expect(aheadResult.track.detectedFrames == 0)  // every key frame was detected ahead
        } else if guessSeconds > 1.0 {
            #expect(aheadResult.track.detectedFrames == 1)  // only the real last frame, a key frame of its own
        }
    }

    @Test func replaceModeOverwritesTheBox() async throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let clip = try faceClip(in: directory, frames: 6)
        var options = LipSyncOptions(composite: .replace)
        options.tracking = TrackingOptions(mode: .every)
        let result = try await renderer().render(
            video: clip.path, speech: TestPattern.tone(frequency: 220, seconds: 0.3, sampleRate: 16_000),
            output: directory + "/out.mp4", options: options)
        #expect(result.track.detectedFrames == result.sourceFramesDecoded)
        #expect(FileManager.default.fileExists(atPath: directory + "/out.mp4"))
    }

    @Test func badInputs() async throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let clip = try faceClip(in: directory, frames: 3)
        let renderer = try renderer()
        await #expect(throws: LipSyncError.emptySpeech) {
            try await renderer.render(video: clip.path, speech: AudioBuffer(samples: [], sampleRate: 16_000), output: directory + "/a.mp4")
        }
        await #expect(throws: LipSyncError.speechTooLong(seconds: 40, limit: 30)) {
            try await renderer.render(
                video: clip.path, speech: AudioBuffer(samples: [Float](repeating: 0.1, count: 640_000), sampleRate: 16_000),
                output: directory + "/b.mp4")
        }
        // A video without a face.
        let pattern = directory + "/pattern.mp4"
        let writer = try MediaWriter(path: pattern, video: VideoFormat(width: 160, height: 120, frameRate: Rational(25, 1)), audio: nil)
        for i in 0..<4 { try writer.append(TestPattern.frame(width: 160, height: 120, index: i)) }
        try writer.finish()
        await #expect(throws: FaceTrackingError.noFace(frame: 0)) {
            try await renderer.render(
                video: pattern, speech: TestPattern.tone(frequency: 220, seconds: 0.5, sampleRate: 16_000), output: directory + "/c.mp4")
        }
        // Nothing half-written.
        #expect(!FileManager.default.fileExists(atPath: directory + "/c.mp4"))
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory).filter { $0.contains("partial") }.isEmpty)
    }
}

/// Collects rendered frames by index (the render calls it from one task at a time).
final class FrameSink: @unchecked Sendable {
    private let lock = NSLock()
    private var stored: [Int: [UInt8]] = [:]
    func add(_ index: Int, _ pixels: [UInt8]) {
        lock.lock()
        stored[index] = pixels
        lock.unlock()
    }
    var frames: [Int: [UInt8]] {
        lock.lock()
        defer { lock.unlock() }
        return stored
    }
}
