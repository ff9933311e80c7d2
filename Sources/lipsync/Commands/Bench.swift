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

struct Bench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Time the whole job on the reference case: a 1080p, 30 fps, 159-frame clip with voice, \"안녕하세요\" in Korean.",
        discussion: """
            Makes the clip (a face photo on a 1920×1080 gradient, drifting, with an espeak-ng voice track), \
            runs the job --warmup times, then --runs times with no per-video cache and prints each step's \
            median, min and max; then runs it again on a fresh cache followed by a second request on the same \
            clip with --second-text, to show what caching the per-video work saves. Use full-size models \
            (scripts/prepare-models.sh): stand-in weights take the same time as real ones.
            """)

    @Option(help: "Models folder (overrides MODELS_DIR; default .deps/demo-models, as make demo prepares it).") var models: String?
    @Option(help: "Face photo for the clip.") var face = ".fixtures/faces/astronaut.png"
    @Option(help: "Frames in the clip (30 fps).") var frames = 159
    @Option(help: "Timed runs.") var runs = 3
    @Option(help: "Untimed runs first.") var warmup = 1
    @Option(help: "The phrase.") var text = "안녕하세요"
    @Option(name: .customLong("lang"), help: "Its language.") var language = "ko"
    @Option(name: .customLong("second-text"), help: "The phrase of the second (cached) request.") var secondText = "감사합니다"
    @Option(
        name: .customLong("cancel-after"), parsing: .upToNextOption,
        help: "Also cancel a long job after each of these many seconds and time how long it takes to stop.")
    var cancelAfter: [Double] = []
    @Option(
        help: ArgumentHelp(
            "Model precisions to time side by side, comma-separated (float32, float16, int8); default DEFAULT_PRECISION.",
            discussion: "Each precision loads its own pipeline; the runs alternate between them."))
    var precision: String?
    @Option(help: "Render with the next batch inferred while one is encoded: auto (on a GPU), on, off, or both (side by side).")
    var overlap = "auto"
    @Option(name: .customLong("cancel-text"), help: "The phrase of the cancelled jobs.")
    var cancelText = "안녕하세요. 오늘은 날씨가 정말 좋네요. 우리 같이 공원에 산책하러 갈까요? 저는 커피를 한 잔 마시고 싶어요."
    @OptionGroup var common: CommonOptions

    func run() async throws {
        guard cancelAfter.allSatisfy({ (0...600).contains($0) }) else { throw ValidationError("--cancel-after takes seconds 0…600") }
        guard runs >= 1, warmup >= 0, (1...3600).contains(frames) else {
            throw ValidationError("--runs ≥ 1, --warmup ≥ 0, --frames 1…3600")
        }
        guard let overlaps = ["auto": [Bool?.none], "on": [true], "off": [false], "both": [true, false]][overlap] else {
            throw ValidationError("--overlap must be auto, on, off or both")
        }
        var configuration = try common.configuration()
        let precisions =
            try precision.map { list in
                try list.split(separator: ",").map { name in
                    guard let value = ModelPrecision(rawValue: name.trimmingCharacters(in: .whitespaces).lowercased()) else {
                        throw ValidationError("--precision takes float32, float16 or int8, comma-separated; not '\(name)'")
                    }
                    return value
                }
            } ?? [configuration.precision]
        guard !precisions.isEmpty, Set(precisions).count == precisions.count else {
            throw ValidationError("--precision needs one or more different precisions")
        }
        configuration.modelsDirectory =
            models ?? (ProcessInfo.processInfo.environment["MODELS_DIR"] == nil ? ".deps/demo-models" : configuration.modelsDirectory)
        if common.logLevel == nil { configuration.logLevel = .warning }  // the tables are the output
        configuration.videoCacheEntries = 0  // timed runs measure the uncached job
        ProcessSetup.start(configuration)
        let environment = try startInference(configuration)
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("lipsync-bench-\(UUID())").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }

        try await reportingUserErrors("bench") {
            let pipelines = try precisions.map {
                try PipelineSetup.makePipeline(configuration, environment: environment, precision: $0)
            }
            let pipeline = pipelines[0]
            let variants = pipelines.indices.flatMap { index in overlaps.map { (index, $0) } }
            func variantName(_ variant: (Int, Bool?)) -> String {
                precisions[variant.0].rawValue + (overlaps.count > 1 ? (variant.1 == true ? " overlap" : " serial") : "")
            }
            let clip = directory + "/reference.mp4"
            let voice = try await ReferenceClip.voice(frames: frames, speech: pipeline.speech)
            try ReferenceClip.write(face: face, frames: frames, audio: voice, to: clip)

            // As the server runs a job: the input copied into a workspace, the output stored.
            let storage = StorageService(local: LocalStore(roots: [directory]), gcs: nil, https: nil)
            func job(_ phrase: String, on pipeline: LipSyncPipeline, _ name: String, overlap: Bool? = nil) async throws -> JobResult {
                var request = JobRequest(video: clip, text: phrase, language: language, output: directory + "/\(name).mp4")
                request.lipSync.overlap = overlap
                let line = ProgressLine()
                request.progress = line.handler
                defer { line.finish() }
                return try await pipeline.run(request, storage: storage, workspaceBase: directory, label: name)
            }
            for index in 0..<warmup {
                for variant in variants { _ = try await job(text, on: pipelines[variant.0], "warmup-\(index)", overlap: variant.1) }
            }
            // Side by side: each run times every variant in turn.
            var resultsByVariant = Array(repeating: [JobResult](), count: variants.count)
            for index in 0..<runs {
                for (position, variant) in variants.enumerated() {
                    resultsByVariant[position].append(try await job(text, on: pipelines[variant.0], "run-\(index)", overlap: variant.1))
                }
            }
            let results = resultsByVariant[0]

            let models = pipeline.models
            print(
                "lipsync bench — \(ReferenceClip.machine()); provider \(models.provider); models \(configuration.modelsDirectory)"
                    + (models.models.contains(where: \.standin) ? " (STAND-INS: random weights, same size and time)" : ""))
            let first = results[0]
            print(
                "input: 1920×1080 @ 30 fps, \(frames) frames, \(String(format: "%.2f", Double(frames) / 30)) s with voice; "
                    + "phrase \"\(text)\" (\(language)), TTS \(first.ttsEngine.rawValue), voice \(first.voiceMode.rawValue); "
                    + "output \(first.frames) frames \(first.width)×\(first.height)"
            )
            for (position, variant) in variants.enumerated() {
                let results = resultsByVariant[position]
                print("\n\(variantName(variant)): \(runs) runs after \(warmup) warm-up, no per-video cache:")
                print("step".padding(toLength: 22, withPad: " ", startingAt: 0) + "  median      min      max")
                for (index, row) in results[0].timings.rows.enumerated() {
                    let values = results.map { $0.timings.rows[index].seconds }.sorted()
                    print(
                        row.step.padding(toLength: 22, withPad: " ", startingAt: 0)
                            + String(format: "%8.3f %8.3f %8.3f s", Self.median(values), values[0], values[values.count - 1]))
                }
            }
            if variants.count > 1 {
                let columnWidth = variants.map { variantName($0).count + 2 }.max() ?? 14
                print("\nside by side (medians, s):")
                print(
                    "step".padding(toLength: 22, withPad: " ", startingAt: 0)
                        + variants.map { variantName($0).leftPadded(columnWidth) }.joined())
                for (index, row) in first.timings.rows.enumerated() {
                    let medians = resultsByVariant.map { Self.median($0.map { $0.timings.rows[index].seconds }.sorted()) }
                    print(
                        row.step.padding(toLength: 22, withPad: " ", startingAt: 0)
                            + medians.map { String(format: "%.3f", $0).leftPadded(columnWidth) }.joined())
                }
            }

            // Two requests on one cache: the second (a new phrase) reuses the per-video work.
            let cached = LipSyncPipeline(
                speech: pipeline.speech, voice: pipeline.voice, renderer: pipeline.renderer, limits: pipeline.limits,
                cache: VideoCache(capacity: 4))
            let cold = try await job(text, on: cached, "cache-first")
            let warm = try await job(secondText, on: cached, "cache-second")
            print(
                "\nsame clip, shared per-video cache: first request \"\(text)\", second request \"\(secondText)\" (cached: \(warm.cached))")
            print("step".padding(toLength: 22, withPad: " ", startingAt: 0) + "   first   second")
            for (a, b) in zip(cold.timings.rows, warm.timings.rows) {
                print(a.step.padding(toLength: 22, withPad: " ", startingAt: 0) + String(format: "%8.3f %8.3f s", a.seconds, b.seconds))
            }
            print("\nthe original Python server took 78.8 s on CPU and 12.0 s on a GPU for this case (its own report)")

            // Cancellation reaching native work: a long job cancelled mid-way, and how long it
            // takes to stop (model runs terminated, reads interrupted, loops checking).
            if !cancelAfter.isEmpty {
                print("\ncancelling a job of \"\(cancelText)\" (\(language)) part-way:")
                print("cancel after    stopped in   outcome")
            }
            for delay in cancelAfter {
                let clock = ContinuousClock()
                let task = Task { try await job(cancelText, on: pipeline, "cancel") }
                try await Task.sleep(for: .seconds(delay))
                let cancelled = clock.now
                task.cancel()
                let outcome: String
                switch await task.result {
                case .success: outcome = "finished before the cancel arrived"
                case .failure(let error as CancellationError): outcome = "cancelled (\(error))"
                case .failure(let error): outcome = "failed: \(error)"
                }
                print(String(format: "%10.2f s %12.3f s   ", delay, (clock.now - cancelled).seconds) + outcome)
            }
        }
    }

    /// The middle of `sorted` (the mean of the two middle values for an even count).
    static func median(_ sorted: [Double]) -> Double {
        sorted.count % 2 == 1 ? sorted[sorted.count / 2] : (sorted[sorted.count / 2 - 1] + sorted[sorted.count / 2]) / 2
    }
}

extension String {
    /// Right-aligned in `width` columns.
    fileprivate func leftPadded(_ width: Int) -> String { String(repeating: " ", count: max(0, width - count)) + self }
}
