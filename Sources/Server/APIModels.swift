import Pipeline

/// The original system's request (`POST /api/v1/lip-video`), plus optional fields for the
/// stages' options.
public struct LipVideoRequest: Decodable, Sendable {
    public let word: String
    public let user_video_gs: String
    public let output_video_gs: String
    public let tts_lang: String
    public let tts_engine: String?
    public let tts_voice: String?
    public let voice_mode: String?
    public let seed: UInt64?
    public let tracking: String?
    public let composite: String?
    public let pads: [Int]?
    /// Output quality: x264 constant rate factor 0–51 (lower is better) and preset.
    public let crf: Int?
    public let preset: String?
}

struct LipVideoResponse: Encodable {
    let status: String
    let output_video_gs: String
    let request_id: String
    let frames: Int
    let width: Int
    let height: Int
    let tts_engine: String
    let voice_mode: String
    let voice_mode_reason: String?
    let tts_fallback_reason: String?
    let cached: Bool
    let timings: [String: Double]
}

/// GET /api/v1/models: the model registry's report.
struct ModelsResponse: Encodable {
    let loaded: Bool
    let provider: String?
    let load_seconds: Double?
    let models: [ModelReport.Model]
}
