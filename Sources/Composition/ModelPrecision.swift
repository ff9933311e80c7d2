public import Inference

/// Which variant of the models a process loads (`DEFAULT_PRECISION`, `--precision`):
/// float32 (the converted originals), float16 (for GPUs) or int8 (statically quantized by
/// `modelkit quantize`, for CPUs). docs/modelkit.md has each variant's fidelity.
public enum ModelPrecision: String, Sendable, CaseIterable {
    case float32
    case float16
    case int8

    /// The variant's kind suffix in a models folder's manifest.
    public var suffix: String {
        switch self {
        case .float32: ""
        case .float16: "_fp16"
        case .int8: "_int8"
        }
    }

    /// The Wav2Lip generator's kind: this precision's variant, which the folder must have.
    public var generatorKind: String { "wav2lip" + suffix }

    /// `kind`'s variant in this precision when the folder has it, else `kind` itself.
    public func variant(_ kind: String, in manifest: ModelManifest) -> String {
        manifest.entries[kind + suffix] != nil ? kind + suffix : kind
    }
}
