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

/// The lip-sync options shared by `sync` and `generate`. Unset ones take the `DEFAULT_*`
/// settings, as a request's absent fields do (docs/configuration.md).
struct LipSyncFlags: ParsableArguments {
    @Option(help: "Face detector: blazeface (default) or s3fd (the original's).") var detector: String = "blazeface"
    @Option(
        help: "Tracking: every (each frame, like the original), keyframes, static (first frame only); default DEFAULT_TRACKING (keyframes)."
    )
    var tracking: TrackingChoice?
    @Option(name: .customLong("keyframe-interval"), help: "Detect every N-th frame in keyframes mode (default 5).") var keyframeInterval:
        Int?
    @Flag(name: .customLong("no-smooth"), help: "Turn off the 5-frame box smoothing (the original's --nosmooth).") var noSmooth = false
    @Option(parsing: .upToNextOption, help: "Pads around the face: top bottom left right (default DEFAULT_PADS, 0 10 0 0).") var pads:
        [Int] = []
    @Option(parsing: .upToNextOption, help: "Fixed face box instead of detection: top bottom left right (the original's --box).") var box:
        [Int] = []
    @Option(help: "Compositing: blend (feathered lower face) or replace (whole box, the original's); default DEFAULT_COMPOSITE (blend).")
    var composite: CompositeMode?
    @Option(help: "When the speech outlasts the video: pingpong (default) or loop (the original's).") var order: FrameOrder?
    @Option(name: .customLong("on-missing-face"), help: "fail (default) or pass (leave frames without a face unchanged).")
    var onMissingFace: String = "fail"
    @Option(help: "Faces per generator call.") var batch = 8
    @Option(name: .customLong("detection-side"), help: "Longer side of the copy faces are detected on; 0 = full resolution.")
    var detectionSide = 320
    @OptionGroup var precision: PrecisionFlags
    @Option(help: "Infer the next generator batch while one is composited and encoded: auto (on a GPU), on, off.")
    var overlap = "auto"

    func detectorChoice() throws -> DetectorChoice {
        guard let choice = DetectorChoice(rawValue: detector) else { throw ValidationError("--detector must be blazeface or s3fd") }
        return choice
    }

    func renderOptions(_ configuration: Configuration) throws -> LipSyncOptions {
        guard ["fail", "pass"].contains(onMissingFace) else { throw ValidationError("--on-missing-face must be fail or pass") }
        guard batch >= 1, detectionSide >= 0 else { throw ValidationError("--batch must be ≥ 1 and --detection-side ≥ 0") }
        var options = configuration.lipSyncDefaults
        do {
            let overrides = JobOverrides(
                tracking: tracking, keyframeInterval: keyframeInterval, composite: composite,
                pads: try pads.isEmpty ? nil : JobOverrides.pads(pads, field: "--pads"), order: order)
            options = try overrides.apply(to: options) { "--" + $0.replacingOccurrences(of: "_", with: "-") }
        } catch {
            throw ValidationError(error.description)
        }
        if !box.isEmpty {
            guard box.count == 4 else { throw ValidationError("--box takes four numbers: top bottom left right") }
            options.tracking.mode = .box(FaceBox(x1: box[2], y1: box[0], x2: box[3], y2: box[1]))
        }
        options.tracking.smoothing = !noSmooth
        options.tracking.missingFace = onMissingFace == "pass" ? .passThrough : .fail
        options.batchSize = batch
        options.detectionMaxSide = detectionSide == 0 ? nil : detectionSide
        guard let choice = ["auto": Bool?.none, "on": true, "off": false][overlap] else {
            throw ValidationError("--overlap must be auto, on or off")
        }
        options.overlap = choice
        return options
    }
}

/// `--precision` and its older spelling `--float16` (sync, generate, voice).
struct PrecisionFlags: ParsableArguments {
    @Option(help: "Model variants: float32, float16 (for GPUs) or int8 (for CPUs; `modelkit quantize`); default DEFAULT_PRECISION.")
    var precision: ModelPrecision?
    @Flag(help: "Use the float16 models (for GPUs); the same as --precision float16.") var float16 = false

    /// --precision, --float16, else DEFAULT_PRECISION.
    func chosen(_ configuration: Configuration) -> ModelPrecision {
        float16 ? .float16 : precision ?? configuration.precision
    }

    func validate() throws {
        if float16, let precision, precision != .float16 {
            throw ValidationError("--float16 and --precision \(precision.rawValue) contradict each other; give one")
        }
    }
}
