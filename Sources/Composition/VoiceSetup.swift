public import Inference
public import Logging
public import VoiceConversion

/// Builds the voice conversion stage from a models folder, or reports why it cannot.
public enum VoiceSetup {
    /// The model kinds the converter loads from `manifest`: `wavlm`, `freevc`,
    /// `speaker_encoder`, `speaker_mel` — each in `precision`'s variant where the folder has
    /// it (`_fp16`, `_int8`), float32 for the rest: a missing variant never turns voice
    /// conversion off.
    public static func kinds(_ manifest: ModelManifest, precision: ModelPrecision) -> [String] {
        ["wavlm", "freevc", "speaker_encoder"].map { precision.variant($0, in: manifest) } + ["speaker_mel"]
    }

    /// The FreeVC converter when the folder has every model of `kinds`; nil otherwise (mode
    /// `none`). Logs a warning for every stand-in model served.
    public static func makeConverter(
        _ configuration: Configuration, environment: InferenceEnvironment, precision: ModelPrecision = .float32,
        logger: Logger = Logger(label: "lipsync.models")
    ) throws -> VoiceConverter? {
        let manifest = try ModelManifest(directory: configuration.modelsDirectory, verifyHashes: configuration.verifyModels)
        let kinds = kinds(manifest, precision: precision)
        guard kinds.allSatisfy({ manifest.entries[$0] != nil }) else { return nil }
        for kind in kinds where try manifest.entry(kind).standin {
            logger.warning(
                "serving a stand-in model with random weights: the voice is not really converted",
                metadata: ["model": "\(kind)", "folder": "\(manifest.directory)"])
        }
        let options = configuration.sessionOptions(varyingShapes: true)
        func session(_ kind: String) throws -> InferenceSession {
            try InferenceSession(environment: environment, modelPath: manifest.path(of: kind), options: options)
        }
        return try VoiceConverter(
            embedder: SpeakerEmbedder(melSession: try session("speaker_mel"), encoderSession: try session(kinds[2])),
            content: try session(kinds[0]), synthesizer: try session(kinds[1]))
    }
}
