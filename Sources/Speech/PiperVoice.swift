import Foundation
import Inference

/// A Piper (VITS) voice: `NAME.onnx` plus its `NAME.onnx.json` config, checked against each
/// other when loaded.
public struct PiperVoice: Sendable {
    /// File name without `.onnx`, e.g. `en_US-lessac-medium`.
    public let name: String
    public let modelPath: String
    /// Output rate of the model.
    public let sampleRate: Int
    /// espeak-ng voice used to phonemise (`espeak.voice` in the config).
    public let espeakVoice: String
    /// Language code from the config (`language.code`, e.g. `en_US` → `en-us`), else the espeak voice.
    public let language: String
    public let noiseScale: Float
    public let lengthScale: Float
    public let noiseWidth: Float
    public let speakerCount: Int
    /// Phoneme (one Unicode scalar) → ids.
    public let phonemeIDs: [Unicode.Scalar: [Int64]]

    /// Reads and checks `modelPath` + ".json".
    public init(modelPath: String) throws {
        let configPath = modelPath + ".json"
        guard FileManager.default.isReadableFile(atPath: modelPath) else {
            throw SpeechError.invalidVoice(path: modelPath, reason: "the model file is missing or unreadable")
        }
        guard let data = FileManager.default.contents(atPath: configPath) else {
            throw SpeechError.invalidVoice(path: modelPath, reason: "its config \(configPath) is missing or unreadable")
        }
        let config: Config
        do {
            config = try JSONDecoder().decode(Config.self, from: data)
        } catch {
            throw SpeechError.invalidVoice(path: modelPath, reason: "its config is not a Piper config: \(Self.describe(error))")
        }
        if let type = config.phoneme_type, type != "espeak" {
            throw SpeechError.invalidVoice(path: modelPath, reason: "phoneme_type '\(type)' is not supported (only espeak)")
        }
        guard config.audio.sample_rate > 0, config.audio.sample_rate <= 192_000 else {
            throw SpeechError.invalidVoice(path: modelPath, reason: "sample_rate \(config.audio.sample_rate) is out of range")
        }
        var ids: [Unicode.Scalar: [Int64]] = [:]
        for (phoneme, values) in config.phoneme_id_map {
            let scalars = Array(phoneme.unicodeScalars)
            guard scalars.count == 1, !values.isEmpty else {
                throw SpeechError.invalidVoice(
                    path: modelPath, reason: "phoneme_id_map entry '\(phoneme)' must be one character with at least one id")
            }
            let symbolCount = config.num_symbols.map(Int64.init)
            if let bad = values.first(where: { id in id < 0 || (symbolCount.map { id >= $0 } ?? false) }) {
                throw SpeechError.invalidVoice(
                    path: modelPath, reason: "phoneme '\(phoneme)' has id \(bad), outside 0..<\(symbolCount.map(String.init) ?? "∞")")
            }
            ids[scalars[0]] = values
        }
        for required: Unicode.Scalar in ["^", "$", "_"] where ids[required] == nil {
            throw SpeechError.invalidVoice(path: modelPath, reason: "phoneme_id_map has no '\(required)' entry")
        }
        name = URL(fileURLWithPath: modelPath).deletingPathExtension().lastPathComponent
        self.modelPath = modelPath
        sampleRate = config.audio.sample_rate
        espeakVoice = config.espeak.voice
        language = LanguageCatalog.normalise(config.language?.code ?? config.espeak.voice)
        noiseScale = config.inference?.noise_scale ?? 0.667
        lengthScale = config.inference?.length_scale ?? 1
        noiseWidth = config.inference?.noise_w ?? 0.8
        speakerCount = max(1, config.num_speakers ?? 1)
        phonemeIDs = ids
    }

    /// Checks that a loaded model has Piper's signature and fits this config.
    func validate(_ session: InferenceSession) throws {
        func require(_ name: String, _ type: TensorElementType, rank: Int) throws {
            guard let input = session.inputs.first(where: { $0.name == name }) else {
                throw SpeechError.invalidVoice(
                    path: modelPath,
                    reason: "the model has no '\(name)' input (inputs: \(session.inputs.map(\.name).joined(separator: ", ")))")
            }
            guard input.elementType == type, input.rank == rank else {
                throw SpeechError.invalidVoice(path: modelPath, reason: "input '\(name)' is \(input), expected \(type) of rank \(rank)")
            }
        }
        try require("input", .int64, rank: 2)
        try require("input_lengths", .int64, rank: 1)
        try require("scales", .float32, rank: 1)
        if speakerCount > 1 {
            guard session.inputs.contains(where: { $0.name == "sid" }) else {
                throw SpeechError.invalidVoice(
                    path: modelPath, reason: "the config has \(speakerCount) speakers but the model has no 'sid' input")
            }
        }
        guard let output = session.outputs.first, output.elementType == .float32 else {
            throw SpeechError.invalidVoice(path: modelPath, reason: "the model's first output is not float32 audio")
        }
    }

    /// Piper's id sequence for one sentence of phonemes: `^ _ p1 _ p2 _ … pn _ $`.
    /// Phonemes missing from the map are skipped (as Piper does) and returned separately.
    public func ids(for phonemes: [Unicode.Scalar]) -> (ids: [Int64], missing: [Unicode.Scalar]) {
        let pad = phonemeIDs["_"] ?? []
        var ids = (phonemeIDs["^"] ?? []) + pad
        var missing: [Unicode.Scalar] = []
        for phoneme in phonemes {
            guard let mapped = phonemeIDs[phoneme] else {
                missing.append(phoneme)
                continue
            }
            ids += mapped + pad
        }
        ids += phonemeIDs["$"] ?? []
        return (ids, missing)
    }

    private static func describe(_ error: any Error) -> String {
        switch error {
        case DecodingError.keyNotFound(let key, let context):
            return "missing '\((context.codingPath + [key]).map(\.stringValue).joined(separator: "."))'"
        case DecodingError.typeMismatch(_, let context), DecodingError.valueNotFound(_, let context):
            return "wrong type at '\(context.codingPath.map(\.stringValue).joined(separator: "."))'"
        case DecodingError.dataCorrupted(let context):
            return context.debugDescription
        default:
            return "\(error)"
        }
    }

    // The config's JSON shape (Piper's field names).
    private struct Config: Decodable {
        struct Audio: Decodable { let sample_rate: Int }
        struct Espeak: Decodable { let voice: String }
        struct Inference: Decodable {
            let noise_scale: Float?
            let length_scale: Float?
            let noise_w: Float?
        }
        struct Language: Decodable { let code: String? }
        let audio: Audio
        let espeak: Espeak
        let inference: Inference?
        let language: Language?
        let phoneme_type: String?
        let num_symbols: Int?
        let num_speakers: Int?
        let phoneme_id_map: [String: [Int64]]
    }
}
