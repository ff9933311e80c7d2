import ArgumentParser
import AsyncHTTPClient
import Composition
import FaceTracking
import Foundation
import Hummingbird
import Inference
import LipSync
import Logging
import Media
import Pipeline
import Server
import ServiceLifecycle
import Speech
import Storage
import UserFacingErrors
import VoiceConversion

struct Sync: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run the lip-sync stage alone: make the face in a video mouth the given speech.",
        discussion: """
            Reads models from --models (or MODELS_DIR, default ./models; create it with tools/modelkit). \
            Writes an H.264+AAC MP4 at the input's resolution with the speech as its audio, and prints \
            the time of each step. The video may also be a still photo (25 fps). Exits with status 1 \
            and the reason on standard error for bad input (no face, no frames, empty or too long \
            speech, a box outside the frame).
            """)

    @Option(help: "Input video (or photo) with one face.") var video: String
    @Option(help: "Speech audio (any format FFmpeg reads; resampled to 16 kHz).") var audio: String
    @Option(help: "Output MP4.") var out: String
    @Option(help: "Models folder (overrides MODELS_DIR).") var models: String?
    @Option(
        name: .customLong("dump-frames"),
        help: "Also write every output frame before encoding as raw BGR (frame_NNNNN.bgr) into this folder (parity checks).")
    var dumpFrames: String?
    @OptionGroup var lipSync: LipSyncFlags
    @OptionGroup var common: CommonOptions

    func run() async throws {
        var configuration = try common.configuration()
        if let models { configuration.modelsDirectory = models }
        ProcessSetup.start(configuration)
        var options = try lipSync.renderOptions(configuration)
        let choice = try lipSync.detectorChoice()
        if let folder = dumpFrames {
            try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
            options.frameSink = { index, frame in
                let bytes = (0..<frame.height).flatMap { y in frame.pixels[(y * frame.stride)..<(y * frame.stride + frame.width * 3)] }
                try Data(bytes).write(to: URL(fileURLWithPath: folder + String(format: "/frame_%05d.bgr", index)))
            }
        }
        let environment = try startInference(configuration)
        try await reportingUserErrors("sync") {
            // The generator loads on a thread of its own while the video is scanned for faces,
            // which needs only the mel front end and the detector (docs/lipsync.md, "sync").
            let precision = try lipSync.precision.chosen(configuration)
            let settings = configuration
            let generator = Task.detached { [environment] in
                try LipSyncSetup.makeGenerator(settings, environment: environment, precision: precision)
            }
            let scanning: (melFrontEnd: MelFrontEnd, detector: any FaceDetector)
            let prepared: PreparedVideo
            let speech: AudioBuffer
            do {
                scanning = try LipSyncSetup.makeScanning(configuration, environment: environment, detector: choice)
                speech = try AudioDecoder.decode(audio, sampleRate: 16_000, limits: configuration.mediaLimits)
                try LipSyncRenderer.checkSpeech(speech, options: options)  // before the video is scanned
                prepared = try LipSyncRenderer.prepare(
                    video: video, expectedSpeechSamples: speech.samples.count, options: options,
                    melFrontEnd: scanning.melFrontEnd, detector: scanning.detector, margin: 0)
            } catch {
                _ = try? await generator.value  // its load errors are not this failure's
                throw error
            }
            let renderer = LipSyncRenderer(
                melFrontEnd: scanning.melFrontEnd, generator: try await generator.value, detector: scanning.detector)
            let line = ProgressLine()
            var options = options
            options.progress = line.renderHandler
            let result = try await renderer.render(video: video, speech: speech, output: out, options: options, prepared: prepared)
            line.finish()
            print(
                "wrote \(out): \(result.frames) frames (\(result.sourceFramesDecoded) decoded), \(result.width)×\(result.height) "
                    + "at \(result.frameRate) fps; detector ran on \(prepared.detectorCalls + result.track.detectedFrames) frames"
            )
            print("step                  seconds")
            for row in result.timings.rows {
                print(row.step.padding(toLength: 20, withPad: " ", startingAt: 0) + String(format: "%8.3f", row.seconds))
            }
        }
    }
}
