/// What the model registry loaded: every model's kind, file, precision, whether it is a
/// stand-in (random weights) and the checkpoint it was converted from, plus the execution
/// provider in use. Served by GET /api/v1/models and logged at start-up.
public struct ModelReport: Sendable, Codable, Equatable {
    public struct Model: Sendable, Codable, Equatable {
        public let kind: String
        public let file: String
        public let precision: String
        public let standin: Bool
        /// The source checkpoint's file name (converted models only).
        public let checkpoint: String?
        /// SHA-256 of the ONNX file, as the manifest gives it.
        public let sha256: String
        /// Whether the file was hashed at load and matched `sha256` (VERIFY_MODELS).
        public let sha256Verified: Bool

        public init(
            kind: String, file: String, precision: String, standin: Bool, checkpoint: String?, sha256: String,
            sha256Verified: Bool
        ) {
            self.kind = kind
            self.file = file
            self.precision = precision
            self.standin = standin
            self.checkpoint = checkpoint
            self.sha256 = sha256
            self.sha256Verified = sha256Verified
        }

        enum CodingKeys: String, CodingKey {
            case kind, file, precision, standin, checkpoint, sha256
            case sha256Verified = "sha256_verified"
        }
    }

    /// `cpu` or `cuda`: where the lip-sync generator runs.
    public var provider: String
    public var models: [Model]
    public var loadSeconds: Double?

    public init(provider: String = "cpu", models: [Model] = [], loadSeconds: Double? = nil) {
        self.provider = provider
        self.models = models
        self.loadSeconds = loadSeconds
    }

    enum CodingKeys: String, CodingKey {
        case provider, models
        case loadSeconds = "load_seconds"
    }
}
