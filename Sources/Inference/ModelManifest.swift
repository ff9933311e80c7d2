import Foundation

/// A models folder written by tools/modelkit: ONNX files plus `manifest.json`, which lists
/// each model's file, precision, stand-in flag, signature and the preprocessing constants
/// the server needs (docs/modelkit.md). Constants are read from here, never restated in Swift.
public struct ModelManifest: Sendable {
    public struct Entry: Decodable, Sendable, Equatable {
        public let file: String
        public let kind: String
        public let version: Int
        public let precision: String
        /// Random weights (for tests and benchmarks), not a converted checkpoint.
        public let standin: Bool
        public let sha256: String
        /// Where the weights came from: `checkpoint` + `sha256` for converted checkpoints,
        /// `standin` for random weights, `package`/`member` for downloaded models.
        public let source: [String: String]?
    }

    public let directory: String
    public let entries: [String: Entry]
    private let preprocessingData: [String: Data]

    public init(directory: String) throws {
        let path = directory + "/manifest.json"
        guard let data = FileManager.default.contents(atPath: path) else {
            throw ModelManifestError.missing(path: path)
        }
        struct File: Decodable {
            let version: Int
            let models: [String: Entry]
        }
        let file: File
        do {
            file = try JSONDecoder().decode(File.self, from: data)
        } catch {
            throw ModelManifestError.invalid(path: path, reason: "\(error)")
        }
        guard file.version == 1 else { throw ModelManifestError.invalid(path: path, reason: "manifest version \(file.version) is not 1") }
        var preprocessing: [String: Data] = [:]
        if let root = try? JSONSerialization.jsonObject(with: data) as? [String: Any], let models = root["models"] as? [String: Any] {
            for (kind, value) in models {
                if let entry = value as? [String: Any], let object = entry["preprocessing"],
                   let encoded = try? JSONSerialization.data(withJSONObject: object) {
                    preprocessing[kind] = encoded
                }
            }
        }
        self.directory = directory
        self.entries = file.models
        self.preprocessingData = preprocessing
    }

    public func entry(_ kind: String) throws -> Entry {
        guard let entry = entries[kind] else {
            throw ModelManifestError.modelMissing(kind: kind, directory: directory, available: entries.keys.sorted())
        }
        return entry
    }

    /// Absolute path of a model's ONNX file.
    public func path(of kind: String) throws -> String {
        directory + "/" + (try entry(kind)).file
    }

    /// The model's preprocessing/post-processing constants decoded as `T`.
    public func preprocessing<T: Decodable>(_ type: T.Type, of kind: String) throws -> T {
        _ = try entry(kind)
        guard let data = preprocessingData[kind] else {
            throw ModelManifestError.invalid(path: directory + "/manifest.json", reason: "\(kind) has no preprocessing block")
        }
        do {
            return try JSONDecoder().decode(T.self, from: data)
        } catch {
            throw ModelManifestError.invalid(path: directory + "/manifest.json", reason: "\(kind) preprocessing: \(error)")
        }
    }
}

public enum ModelManifestError: Error, Equatable, Sendable, CustomStringConvertible {
    case missing(path: String)
    case invalid(path: String, reason: String)
    case modelMissing(kind: String, directory: String, available: [String])

    public var description: String {
        switch self {
        case .missing(let path):
            "no model manifest at \(path) (create the folder with tools/modelkit: convert, blazeface or standins)"
        case .invalid(let path, let reason): "\(path) is not a usable model manifest: \(reason)"
        case .modelMissing(let kind, let directory, let available):
            "the models folder \(directory) has no '\(kind)' model (it has: \(available.joined(separator: ", ")))"
        }
    }
}
