import ArgumentParser
import Composition
import FaceTracking
import Foundation
import Inference
import LipSync
import Logging
import Media
import Pipeline

/// The lip-sync stage on the reference case: a 1080p, 30 fps, 159-frame clip of a face and
/// about 1 s of speech, with full-size models (stand-in weights give identical FLOPs).
/// Prints each step's time and the generator's achieved FLOP rate.
@main
struct LipSyncBenchmark: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "sync-bench", abstract: "Time the lip-sync stage on a 1080p clip.")

    @Option(help: "Models folder with full-size models (modelkit standins --out DIR; blazeface --out DIR).") var models: String
    @Option(help: "Face photo (e.g. .fixtures/faces/astronaut.png).") var face: String
    @Option(help: "Frames in the clip.") var frames = 159
    @Option(help: "Seconds of speech.") var speech = 1.0
    @Option(help: "Face detector: blazeface or s3fd.") var detector = "blazeface"
    @Option(help: "Tracking: every, keyframes or static.") var tracking = TrackingChoice.keyframes
    @Option(help: "Generator batch size.") var batch = 8

    func run() async throws {
        FFmpegLog.route(to: Logger(label: "sync-bench.ffmpeg"), level: .error)
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("sync-bench-\(UUID())").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }

        let clip = directory + "/clip.mp4"
        try ReferenceClip.write(face: face, frames: frames, audio: nil, to: clip)

        var configuration = Configuration()
        configuration.modelsDirectory = models
        let environment = try InferenceEnvironment(logger: Logger(label: "sync-bench.onnxruntime"))
        guard let choice = DetectorChoice(rawValue: detector) else { throw ValidationError("--detector must be blazeface or s3fd") }
        let renderer = try LipSyncSetup.makeRenderer(configuration, environment: environment, detector: choice)
        let options = LipSyncOptions(tracking: TrackingOptions(mode: tracking.mode()), batchSize: batch)
        let result = try await renderer.render(
            video: clip, speech: TestPattern.tone(frequency: 180, seconds: speech, sampleRate: 16_000),
            output: directory + "/out.mp4", options: options)

        print(
            "Lip-sync stage — \(ReferenceClip.machine()); 1920×1080 @ 30 fps, \(frames)-frame clip, \(speech) s speech, "
                + "detector \(detector), tracking \(tracking.rawValue)"
        )
        print("output: \(result.frames) frames (decoded \(result.sourceFramesDecoded), detector ran on \(result.track.detectedFrames))")
        for row in result.timings.rows {
            print("  " + row.step.padding(toLength: 20, withPad: " ", startingAt: 0) + String(format: "%7.3f s", row.seconds))
        }
        let manifest =
            try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: models + "/manifest.json"))) as? [String: Any]
        if let entry = (manifest?["models"] as? [String: Any])?["wav2lip"] as? [String: Any], let flops = entry["flops_per_item"] as? Double
        {
            let rate = flops * Double(result.frames) / result.timings.infer / 1e9
            print(
                String(
                    format: "  generator: %.2f GFLOP per face × %d faces in %.3f s = %.1f GFLOP/s (crop + input assembly included)",
                    flops / 1e9, result.frames, result.timings.infer, rate))
        }
    }

}
