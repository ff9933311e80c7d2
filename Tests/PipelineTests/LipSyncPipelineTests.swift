import FaceTracking
import Foundation
import Inference
import LipSync
import Logging
import Media
import Pipeline
import Speech
import Synchronization
import TestFixtures
import Testing
import VoiceConversion

@Suite struct LipSyncPipelineTests {
    static var fixtures: String { TestFixtures.root }

    static var environment: InferenceEnvironment { TestFixtures.inference }

    func pipeline(withVoice: Bool = true) throws -> LipSyncPipeline {
        let manifest = try ModelManifest(directory: Self.fixtures + "/models")
        func session(_ kind: String) throws -> InferenceSession {
            try InferenceSession(environment: Self.environment, modelPath: manifest.path(of: kind))
        }
        let voice =
            withVoice
            ? try VoiceConverter(
                embedder: SpeakerEmbedder(melSession: try session("speaker_mel"), encoderSession: try session("speaker_encoder")),
                content: try session("wavlm"), synthesizer: try session("freevc")) : nil
        let renderer = LipSyncRenderer(
            melFrontEnd: MelFrontEnd(session: try session("wav2lip_mel")),
            generator: Wav2LipGenerator(session: try session("wav2lip")),
            detector: try BlazeFaceDetector(manifest: manifest, environment: Self.environment))
        return LipSyncPipeline(speech: try SpeechService(engines: [EspeakSynthesizer()]), voice: voice, renderer: renderer)
    }

    /// A 2 s selfie-like clip with a voice-like audio track.
    func clipWithVoice(in directory: String) throws -> String {
        let photo = try StillImage.decode(Self.fixtures + "/faces/astronaut.png").frame
        let voice = AudioBuffer(
            samples: (0..<32_000).map { i in
                let t = Double(i) / 16_000
                return Float(0.3 * (sin(2 * .pi * 140 * t) + 0.5 * sin(2 * .pi * 420 * t)) * (0.6 + 0.4 * sin(2 * .pi * 3 * t)))
            }, sampleRate: 16_000)
        let path = directory + "/selfie.mp4"
        let writer = try MediaWriter(path: path, video: VideoFormat(width: 400, height: 400, frameRate: Rational(25, 1)), audio: voice)
        for i in 0..<50 { try writer.append(try photo.cropped(x: 40 + i % 10, y: 20, width: 400, height: 400)) }
        try writer.finish()
        return path
    }

    func temporaryDirectory() throws -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("pipeline-\(UUID())").path
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    @Test func videoWithAVoiceIsConvertedAndLipSynced() async throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let output = directory + "/out.mp4"
        let result = try await pipeline().run(
            JobRequest(
                video: try clipWithVoice(in: directory), text: "안녕하세요", language: "ko",
                output: output, seed: 9))
        #expect(result.voiceMode == .freevc)
        #expect(result.voiceModeReason == nil)
        #expect(result.ttsEngine == .espeak)
        #expect(result.width == 400 && result.height == 400)
        #expect(result.timings.tts > 0 && result.timings.speakerEmbedding > 0 && result.timings.voiceConversion > 0)
        #expect(result.timings.total >= result.timings.render.total)
        let info = try MediaProbe.probe(output)
        #expect(info.video?.frameCount == result.frames)
        #expect(info.audio != nil)
    }

    @Test func photoKeepsTheTTSVoiceAndSaysWhy() async throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let result = try await pipeline().run(
            JobRequest(
                video: Self.fixtures + "/faces/astronaut.png", text: "hello", language: "en",
                output: directory + "/out.mp4"))
        #expect(result.voiceMode == VoiceMode.none)
        #expect(result.voiceModeReason == "the input has no audio track to take the voice from")
    }

    /// Every step reports its start and end, in the timing table's names, and the render its
    /// frames, up to the number written.
    @Test func progressFollowsTheSteps() async throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let clip = try clipWithVoice(in: directory)
        let events = Mutex<[JobProgress]>([])
        var request = JobRequest(video: clip, text: "hello there", language: "en", output: directory + "/out.mp4")
        request.progress = { event in events.withLock { $0.append(event) } }
        let result = try await pipeline().run(request)
        let seen = events.withLock { $0 }
        for step in ["text_to_speech", "speaker_embedding", "voice_conversion", "lip-sync_render"] {
            let started = seen.firstIndex(of: JobProgress(step: step, event: .started))
            let finished = seen.firstIndex(of: JobProgress(step: step, event: .finished))
            #expect(started != nil && finished != nil && started! < finished!, "\(step): \(seen)")
        }
        let frames = seen.compactMap { event -> RenderProgress? in
            if case .frames(let frames) = event.event { return frames }
            return nil
        }
        #expect(frames.first == RenderProgress(framesDone: 0, framesTotal: result.frames))
        #expect(frames.last == RenderProgress(framesDone: result.frames, framesTotal: result.frames))
        #expect(zip(frames, frames.dropFirst()).allSatisfy { $0.framesDone < $1.framesDone })
        #expect(seen.last == JobProgress(step: "lip-sync_render", event: .finished))
    }

    @Test func voiceModeNoneAndMissingModels() async throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let clip = try clipWithVoice(in: directory)
        let off = try await pipeline().run(
            JobRequest(video: clip, text: "hi", language: "en", output: directory + "/a.mp4", voiceMode: VoiceMode.none))
        #expect(off.voiceModeReason == "voice conversion was not requested")
        let missing = try await pipeline(withVoice: false).run(
            JobRequest(video: clip, text: "hi", language: "en", output: directory + "/b.mp4"))
        #expect(missing.voiceModeReason == "no voice conversion models are installed")
    }

    @Test func badTextFailsBeforeAnyWork() async throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        await #expect(throws: SpeechError.emptyText) {
            try await pipeline().run(
                JobRequest(video: Self.fixtures + "/faces/astronaut.png", text: "  ", language: "ko", output: directory + "/x.mp4"))
        }
        #expect(!FileManager.default.fileExists(atPath: directory + "/x.mp4"))
    }
}
