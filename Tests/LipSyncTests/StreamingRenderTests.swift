import FaceTracking
import Foundation
import Inference
import LipSync
import Media
import Testing

/// The streaming render gives exactly the frames of the whole-clip render it replaced: every
/// needed frame decoded into memory, tracked, then generated batch by batch (the reference
/// below, the previous `render` loop kept as a test oracle) — whatever the schedule, the
/// batch size memory allows, and whether frames come back from the spill.
@Suite struct StreamingRenderTests {
    let base = LipSyncRendererTests()

    /// The previous render: all needed frames held, then batches of `batchSize`.
    func referenceFrames(video: String, speech: AudioBuffer, options: LipSyncOptions, renderer: LipSyncRenderer) throws -> [Int: [UInt8]] {
        let mel = try renderer.melFrontEnd.spectrogram(of: speech)
        let decodeOptions = DecodeOptions(pixelFormat: .bgr24, detectionMaxSide: options.detectionMaxSide)
        let (frames, rate): ([DecodedFrame], Rational) = try {
            do {
                let decoder = try VideoDecoder(path: video, options: decodeOptions)
                let rate = decoder.video.averageFrameRate
                return (try decoder.frames(upTo: MelSpectrogram.chunkStarts(melFrames: mel.frames, fps: rate.value).count), rate)
            } catch MediaError.notAVideo {
                return ([try StillImage.decode(video, options: decodeOptions)], Rational(25, 1))
            }
        }()
        let starts = MelSpectrogram.chunkStarts(melFrames: mel.frames, fps: rate.value)
        let schedule = FrameSchedule(outputCount: starts.count, sourceCount: frames.count, order: options.frameOrder)
        let track = try FaceTracker(detector: renderer.detector, options: options.tracking).track(frames)
        let compositor = FaceCompositor(mode: options.composite)
        var result: [Int: [UInt8]] = [:]
        for batchStart in stride(from: 0, to: starts.count, by: options.batchSize) {
            let outputs = Array(batchStart..<min(starts.count, batchStart + options.batchSize))
            let withFace = outputs.filter { track.boxes[schedule.sourceIndices[$0]] != nil }
            let faces = try withFace.map {
                try renderer.generator.faceCrop(frames[schedule.sourceIndices[$0]].frame, box: track.boxes[schedule.sourceIndices[$0]]!)
            }
            let generated = try renderer.generator.generate(faces: faces, mels: withFace.map { mel.chunk(at: starts[$0]) })
            var byOutput: [Int: Frame] = [:]
            for (i, face) in zip(withFace, generated) { byOutput[i] = face }
            for i in outputs {
                var picture = frames[schedule.sourceIndices[i]].frame
                if let box = track.boxes[schedule.sourceIndices[i]], let face = byOutput[i] {
                    try compositor.composite(face, into: &picture, box: box)
                }
                result[i] = picture.pixels
            }
        }
        return result
    }

    func streamed(
        video: String, speech: AudioBuffer, options: LipSyncOptions, renderer: LipSyncRenderer, output: String,
        prepared: PreparedVideo? = nil
    ) async throws -> ([Int: [UInt8]], RenderedVideo) {
        let sink = FrameSink()
        var options = options
        options.frameSink = { index, frame in sink.add(index, frame.pixels) }
        let result = try await renderer.render(video: video, speech: speech, output: output, options: options, prepared: prepared)
        return (sink.frames, result)
    }

    /// (speech seconds, order, frame memory): forward only; ping-pong and loop past the
    /// 12-frame clip (spilled frames come back); memory for 1, 2 and 16 frames per batch.
    @Test(arguments: [
        (0.3, FrameOrder.pingPong, 128 << 20), (1.4, .pingPong, 128 << 20), (1.4, .loop, 128 << 20),
        (1.4, .pingPong, 480 * 480 * 3), (1.1, .loop, 2 * 480 * 480 * 3),
    ])
    func sameFramesAsTheWholeClipRender(seconds: Double, order: FrameOrder, memory: Int) async throws {
        let directory = try base.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let clip = try base.faceClip(in: directory, frames: 12)
        let speech = TestPattern.tone(frequency: 220, seconds: seconds, sampleRate: 16_000)
        let renderer = try base.renderer()
        var options = LipSyncOptions(frameOrder: order)
        options.frameMemoryBytes = memory
        let expected = try referenceFrames(video: clip.path, speech: speech, options: LipSyncOptions(frameOrder: order), renderer: renderer)
        let (frames, result) = try await streamed(
            video: clip.path, speech: speech, options: options, renderer: renderer,
            output: directory + "/out.mp4")
        #expect(frames.count == expected.count && result.frames == expected.count)
        #expect(frames == expected)
        #expect(try MediaProbe.probe(directory + "/out.mp4").video?.frameCount == expected.count)
        // The spill went with the render.
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory).sorted() == ["face.mp4", "out.mp4"])
    }

    @Test func stillPhotoAndEveryFrameTracking() async throws {
        let directory = try base.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let renderer = try base.renderer()
        let speech = TestPattern.tone(frequency: 220, seconds: 0.7, sampleRate: 16_000)
        let photo = LipSyncFixtures.root + "/faces/astronaut.png"
        let expected = try referenceFrames(video: photo, speech: speech, options: LipSyncOptions(), renderer: renderer)
        let (frames, _) = try await streamed(
            video: photo, speech: speech, options: LipSyncOptions(), renderer: renderer, output: directory + "/p.mp4")
        #expect(frames == expected)

        let clip = try base.faceClip(in: directory, frames: 9)
        var every = LipSyncOptions(composite: .replace)
        every.tracking = TrackingOptions(mode: .every)
        let expectedEvery = try referenceFrames(video: clip.path, speech: speech, options: every, renderer: renderer)
        let (framesEvery, _) = try await streamed(
            video: clip.path, speech: speech, options: every, renderer: renderer, output: directory + "/e.mp4")
        #expect(framesEvery == expectedEvery)
    }

    /// A 12-frame face clip in a new folder, 1.4 s of speech (past the clip: ping-pong), the renderer.
    func twelveFrameClip() throws -> (directory: String, clip: String, speech: AudioBuffer, renderer: LipSyncRenderer) {
        let directory = try base.temporaryDirectory()
        let clip = try base.faceClip(in: directory, frames: 12)
        return (directory, clip.path, TestPattern.tone(frequency: 220, seconds: 1.4, sampleRate: 16_000), try base.renderer())
    }

    /// Compositing and encoding one batch while the next is inferred changes nothing in the
    /// output: the same frames with and without the overlap, and as the reference.
    @Test func overlapGivesTheSameFrames() async throws {
        let (directory, clip, speech, renderer) = try twelveFrameClip()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        var options = LipSyncOptions()
        options.batchSize = 4  // several batches, so several overlaps
        let expected = try referenceFrames(video: clip, speech: speech, options: LipSyncOptions(), renderer: renderer)
        options.overlap = true
        let (overlapped, first) = try await streamed(
            video: clip, speech: speech, options: options, renderer: renderer, output: directory + "/a.mp4")
        options.overlap = false
        let (serial, second) = try await streamed(
            video: clip, speech: speech, options: options, renderer: renderer, output: directory + "/b.mp4")
        #expect(overlapped.count == expected.count && overlapped == expected && serial == expected)
        #expect(first.frames == second.frames && first.timings.infer > 0 && second.timings.infer > 0)
    }

    /// Cancelling the job (its `RunTermination`) reaches the inference running on the overlap's
    /// own thread: the render stops with CancellationError and leaves no output.
    @Test func terminatingTheJobStopsTheOverlappedInference() async throws {
        let (directory, clip, speech, renderer) = try twelveFrameClip()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        var options = LipSyncOptions()
        options.batchSize = 2
        options.overlap = true
        let termination = RunTermination()
        options.progress = { progress in if progress.framesDone > 0 { termination.terminate() } }
        let output = directory + "/cancelled.mp4"
        await #expect(throws: CancellationError.self) {
            try await RunTermination.$current.withValue(termination) {
                _ = try await renderer.render(video: clip, speech: speech, output: output, options: options)
            }
        }
        #expect(!FileManager.default.fileExists(atPath: output))
    }

    /// The batch size is cut by frame memory: the default batch of 8 frames of 1080p fits in
    /// the default 64 MiB, 6 of 1440p, 2 of 4K; with the overlap two batches share it.
    @Test func batchFollowsFrameMemory() {
        let options = LipSyncOptions()
        #expect(options.overlap == nil)  // auto: on
        #expect(options.batchSize == 8)
        #expect(options.framesPerBatch(width: 1920, height: 1080, overlapping: true) == 5)
        #expect(options.framesPerBatch(width: 3840, height: 2160, overlapping: true) == 1)
        #expect(options.framesPerBatch(width: 1920, height: 1080) == 8)
        #expect(options.framesPerBatch(width: 2560, height: 1440) == 6)
        #expect(options.framesPerBatch(width: 3840, height: 2160) == 2)
        var tiny = options
        tiny.frameMemoryBytes = 1
        #expect(tiny.framesPerBatch(width: 64, height: 64) == 1)
    }
}
