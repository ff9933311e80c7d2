import FaceTracking
public import Inference
public import LipSync
public import Logging

/// Which face detector a render uses.
public enum DetectorChoice: String, Sendable, CaseIterable {
    /// MediaPipe BlazeFace short-range: the default, ~100× cheaper than S3FD.
    case blazeface
    /// S3FD, the original system's detector.
    case s3fd
}

/// Builds the lip-sync stage from a models folder.
public enum LipSyncSetup {
    /// Loads the mel front end, the generator (`wav2lip`, or its `precision` variant: `wav2lip_fp16`, `wav2lip_int8`)
    /// and the detector; logs a warning for every stand-in (random-weight) model served.
    public static func makeRenderer(
        _ configuration: Configuration, environment: InferenceEnvironment, detector choice: DetectorChoice,
        precision: ModelPrecision = .float32, logger: Logger = Logger(label: "lipsync.models")
    ) throws -> LipSyncRenderer {
        let manifest = try ModelManifest(directory: configuration.modelsDirectory, verifyHashes: configuration.verifyModels)
        let options = configuration.sessionOptions()
        // Inputs sized by the job (the speech; S3FD's detection copy follows the video): no arena.
        let varyingOptions = configuration.sessionOptions(varyingShapes: true)
        let generatorKind = precision.generatorKind
        for kind in ["wav2lip_mel", generatorKind, choice.rawValue] where try manifest.entry(kind).standin {
            logger.warning(
                "serving a stand-in model with random weights: output is not a real lip-sync",
                metadata: ["model": "\(kind)", "folder": "\(manifest.directory)"])
        }
        let detector: any FaceDetector =
            switch choice {
            case .blazeface: try BlazeFaceDetector(manifest: manifest, environment: environment, options: options)
            case .s3fd: try S3FDDetector(manifest: manifest, environment: environment, options: varyingOptions)
            }
        return LipSyncRenderer(
            melFrontEnd: MelFrontEnd(
                session: try InferenceSession(
                    environment: environment, modelPath: manifest.path(of: "wav2lip_mel"), options: varyingOptions)),
            generator: Wav2LipGenerator(
                session: try InferenceSession(environment: environment, modelPath: manifest.path(of: generatorKind), options: options)),
            detector: detector)
    }
}
