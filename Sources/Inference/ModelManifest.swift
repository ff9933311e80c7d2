import Crypto
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
    /// Whether `path(of:)` checks each file's SHA-256 against its entry.
    public let verifiesHashes: Bool
    private let preprocessingData: [String: Data]

    /// Reads `directory/manifest.json`. Every entry's `file` must be a plain name inside the
    /// folder; with `verifyHashes` each model file is hashed when its path is asked for
    /// (about 1 s per GB on one core) and must match its `sha256`.
    public init(directory: String, verifyHashes: Bool = true) throws {
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
        for (kind, entry) in file.models {
            guard Self.isPlainFileName(entry.file) else {
                throw ModelManifestError.invalid(
                    path: path, reason: "\(kind): the file '\(entry.file)' is not a file name inside the models folder")
            }
            let isLowercaseHex = entry.sha256.utf8.allSatisfy { (0x30...0x39).contains($0) || (0x61...0x66).contains($0) }
            guard entry.sha256.count == 64, isLowercaseHex else {
                throw ModelManifestError.invalid(path: path, reason: "\(kind): sha256 is not 64 lowercase hex digits")
            }
        }
        var preprocessing: [String: Data] = [:]
        if let root = try? JSONSerialization.jsonObject(with: data) as? [String: Any], let models = root["models"] as? [String: Any] {
            for (kind, value) in models {
                if let entry = value as? [String: Any], let object = entry["preprocessing"],
                    let encoded = try? JSONSerialization.data(withJSONObject: object)
                {
                    preprocessing[kind] = encoded
                }
            }
        }
        self.directory = directory
        self.entries = file.models
        self.verifiesHashes = verifyHashes
        self.preprocessingData = preprocessing
    }

    public func entry(_ kind: String) throws -> Entry {
        guard let entry = entries[kind] else {
            throw ModelManifestError.modelMissing(kind: kind, directory: directory, available: entries.keys.sorted())
        }
        return entry
    }

    /// Path of a model's ONNX file: a regular file inside the folder (symlinks resolved,
    /// and refused when they lead out of it), whose SHA-256 matches the manifest when
    /// `verifiesHashes`.
    public func path(of kind: String) throws -> String {
        let entry = try entry(kind)
        let path = directory + "/" + entry.file
        guard let folder = Self.realPath(directory), let real = Self.realPath(path) else {
            throw ModelManifestError.fileMissing(kind: kind, path: path)
        }
        guard real.hasPrefix(folder.hasSuffix("/") ? folder : folder + "/") else {
            throw ModelManifestError.outsideFolder(kind: kind, path: path)
        }
        var info = stat()
        guard stat(real, &info) == 0, info.st_mode & S_IFMT == S_IFREG else { throw ModelManifestError.fileMissing(kind: kind, path: path) }
        if verifiesHashes {
            let actual = try Self.sha256(ofFile: real)
            guard actual == entry.sha256 else {
                throw ModelManifestError.hashMismatch(kind: kind, path: path, expected: entry.sha256, actual: actual)
            }
        }
        return path
    }

    /// A name without folders, not `.`/`..`, no control characters.
    static func isPlainFileName(_ name: String) -> Bool {
        !name.isEmpty && name != "." && name != ".." && !name.contains("/") && name.utf8.count <= 255
            && !name.unicodeScalars.contains { $0.properties.generalCategory == .control }
    }

    static func realPath(_ path: String) -> String? {
        guard let resolved = realpath(path, nil) else { return nil }
        defer { free(resolved) }
        return String(cString: resolved)
    }

    /// SHA-256 of a file as lowercase hex, read in 1 MiB pieces through one reused buffer (a
    /// fresh 4 MiB `Data` per read, as before, was mapped and faulted in each time: 11 000 page
    /// faults for the 44 MB int8 generator).
    public static func sha256(ofFile path: String) throws -> String {
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { throw ModelManifestError.fileMissing(kind: "", path: path) }
        defer { close(descriptor) }
        var hasher = SHA256()
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 20, alignment: 64)
        defer { buffer.deallocate() }
        while true {
            let count = read(descriptor, buffer.baseAddress, buffer.count)
            if count < 0, errno == EINTR { continue }
            guard count >= 0 else {
                throw ModelManifestError.unreadable(path: path, reason: String(cString: strerror(errno)))
            }
            if count == 0 { break }
            hasher.update(bufferPointer: UnsafeRawBufferPointer(rebasing: buffer[0..<count]))
        }
        return hasher.finalize().map { String(format: "%02x", $0) }.joined()
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
    case fileMissing(kind: String, path: String)
    /// The entry's file (or the symlink it is) leads outside the models folder.
    case outsideFolder(kind: String, path: String)
    case hashMismatch(kind: String, path: String, expected: String, actual: String)
    /// Reading the file for its hash failed.
    case unreadable(path: String, reason: String)

    public var description: String {
        switch self {
        case .missing(let path):
            "no model manifest at \(path) (create the folder with tools/modelkit: convert, blazeface or standins)"
        case .invalid(let path, let reason): "\(path) is not a usable model manifest: \(reason)"
        case .modelMissing(let kind, let directory, let available):
            "the models folder \(directory) has no '\(kind)' model (it has: \(available.joined(separator: ", ")))"
                + (kind.hasSuffix("_int8") ? "; write the int8 variants with `modelkit quantize` (docs/modelkit.md)" : "")
        case .fileMissing(let kind, let path): "the \(kind) model file \(path) is missing or not a regular file"
        case .outsideFolder(let kind, let path): "the \(kind) model file \(path) lies outside the models folder"
        case .hashMismatch(let kind, let path, let expected, let actual):
            "the \(kind) model file \(path) has SHA-256 \(actual), not the manifest's \(expected): the file was changed or damaged"
        case .unreadable(let path, let reason): "the model file \(path) cannot be read: \(reason)"
        }
    }
}
