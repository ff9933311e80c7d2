public import FaceTracking
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
        let scanning = try makeScanning(configuration, manifest: manifest, environment: environment, detector: choice, logger: logger)
        return LipSyncRenderer(
            melFrontEnd: scanning.melFrontEnd,
            generator: try makeGenerator(configuration, manifest: manifest, environment: environment, precision: precision, logger: logger),
            detector: scanning.detector)
    }

    /// What `LipSyncRenderer.prepare` needs: the mel front end and the face detector.
    public static func makeScanning(
        _ configuration: Configuration, environment: InferenceEnvironment, detector choice: DetectorChoice,
        logger: Logger = Logger(label: "lipsync.models")
    ) throws -> (melFrontEnd: MelFrontEnd, detector: any FaceDetector) {
        try makeScanning(
            configuration, manifest: try ModelManifest(directory: configuration.modelsDirectory, verifyHashes: configuration.verifyModels),
            environment: environment, detector: choice, logger: logger)
    }

    private static func makeScanning(
        _ configuration: Configuration, manifest: ModelManifest, environment: InferenceEnvironment, detector choice: DetectorChoice,
        logger: Logger
    ) throws -> (melFrontEnd: MelFrontEnd, detector: any FaceDetector) {
        // Inputs sized by the job (the speech; S3FD's detection copy follows the video): no arena.
        let varyingOptions = configuration.sessionOptions(varyingShapes: true)
        warnAboutStandins(["wav2lip_mel", choice.rawValue], in: manifest, logger: logger)
        let detector: any FaceDetector =
            switch choice {
            case .blazeface: try BlazeFaceDetector(manifest: manifest, environment: environment, options: configuration.sessionOptions())
            case .s3fd: try S3FDDetector(manifest: manifest, environment: environment, options: varyingOptions)
            }
        let melFrontEnd = MelFrontEnd(
            session: try InferenceSession(environment: environment, modelPath: manifest.path(of: "wav2lip_mel"), options: varyingOptions))
        return (melFrontEnd, detector)
    }

    /// The generator of `precision` (its hash checked when `VERIFY_MODELS`).
    public static func makeGenerator(
        _ configuration: Configuration, environment: InferenceEnvironment, precision: ModelPrecision = .float32,
        logger: Logger = Logger(label: "lipsync.models")
    ) throws -> Wav2LipGenerator {
        try makeGenerator(
            configuration, manifest: try ModelManifest(directory: configuration.modelsDirectory, verifyHashes: configuration.verifyModels),
            environment: environment, precision: precision, logger: logger)
    }

    private static func makeGenerator(
        _ configuration: Configuration, manifest: ModelManifest, environment: InferenceEnvironment, precision: ModelPrecision,
        logger: Logger
    ) throws -> Wav2LipGenerator {
        warnAboutStandins([precision.generatorKind], in: manifest, logger: logger)
        return Wav2LipGenerator(
            session: try InferenceSession(
                environment: environment, modelPath: manifest.path(of: precision.generatorKind), options: configuration.sessionOptions()))
    }

    private static func warnAboutStandins(_ kinds: [String], in manifest: ModelManifest, logger: Logger) {
        for kind in kinds where (try? manifest.entry(kind).standin) == true {
            logger.warning(
                "serving a stand-in model with random weights: output is not a real lip-sync",
                metadata: ["model": "\(kind)", "folder": "\(manifest.directory)"])
        }
    }
}
