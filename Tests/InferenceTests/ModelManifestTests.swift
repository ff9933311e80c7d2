import Crypto
import Foundation
import Inference
import Testing

/// The models folder is not trusted blindly: manifest entries stay inside it and every
/// file's SHA-256 is checked when it is loaded.
@Suite struct ModelManifestTests {
    /// A copy of the fixture folder's manifest and blazeface model in a fresh folder, with
    /// `edit` applied to the blazeface entry.
    static func folder(_ edit: (inout [String: Any]) -> Void = { _ in }) throws -> String {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("models-\(UUID())").path
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: try Fixtures.path("models/blazeface.onnx"), toPath: folder + "/blazeface.onnx")
        let data = try Data(contentsOf: URL(fileURLWithPath: try Fixtures.path("models/manifest.json")))
        var root = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        var models = try #require(root["models"] as? [String: Any])
        var entry = try #require(models["blazeface"] as? [String: Any])
        edit(&entry)
        root["models"] = ["blazeface": entry]
        try JSONSerialization.data(withJSONObject: root).write(to: URL(fileURLWithPath: folder + "/manifest.json"))
        return folder
    }

    @Test func intactFolderLoadsAndVerifies() throws {
        let folder = try Self.folder()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let manifest = try ModelManifest(directory: folder)
        #expect(manifest.verifiesHashes)
        #expect(try manifest.path(of: "blazeface") == folder + "/blazeface.onnx")
        #expect(try ModelManifest.sha256(ofFile: folder + "/blazeface.onnx") == manifest.entries["blazeface"]?.sha256)
    }

    @Test(arguments: ["../blazeface.onnx", "/etc/passwd", "sub/blazeface.onnx", "..", ".", "", "a\u{0}b"])
    func entriesNamingOtherPlacesAreRefused(file: String) throws {
        let folder = try Self.folder { $0["file"] = file }
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let error = #expect(throws: ModelManifestError.self) { try ModelManifest(directory: folder) }
        #expect("\(String(describing: error))".contains("not a file name inside the models folder"))
    }

    @Test func symlinkLeadingOutIsRefused() throws {
        let outside = FileManager.default.temporaryDirectory.appendingPathComponent("outside-\(UUID()).onnx").path
        try FileManager.default.copyItem(atPath: try Fixtures.path("models/blazeface.onnx"), toPath: outside)
        defer { try? FileManager.default.removeItem(atPath: outside) }
        let folder = try Self.folder { $0["file"] = "linked.onnx" }
        defer { try? FileManager.default.removeItem(atPath: folder) }
        try FileManager.default.createSymbolicLink(atPath: folder + "/linked.onnx", withDestinationPath: outside)
        let manifest = try ModelManifest(directory: folder)
        #expect(throws: ModelManifestError.outsideFolder(kind: "blazeface", path: folder + "/linked.onnx")) {
            try manifest.path(of: "blazeface")
        }
        // A symlink inside the folder is fine.
        try FileManager.default.removeItem(atPath: folder + "/linked.onnx")
        try FileManager.default.createSymbolicLink(atPath: folder + "/linked.onnx", withDestinationPath: folder + "/blazeface.onnx")
        #expect(try manifest.path(of: "blazeface") == folder + "/linked.onnx")
    }

    @Test func fileHashesCrossReadBoundaries() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("hash-\(UUID())").path
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        for size in [0, 1, (1 << 20) - 1, 1 << 20, (5 << 19) + 7] {
            let data = Data((0..<size).map { UInt8(truncatingIfNeeded: $0 &* 2_654_435_761 >> 13) })
            let path = folder + "/\(size).bin"
            try data.write(to: URL(fileURLWithPath: path))
            let expected = SHA256.hash(data: data).map { String(format: "%02x", $0) }.joined()
            #expect(try ModelManifest.sha256(ofFile: path) == expected, "\(size) bytes")
        }
        // A folder opens but cannot be read: a clear error, not a crash or an empty hash.
        #expect(throws: ModelManifestError.unreadable(path: folder, reason: "Is a directory")) { try ModelManifest.sha256(ofFile: folder) }
        #expect(throws: ModelManifestError.fileMissing(kind: "", path: folder + "/none")) {
            try ModelManifest.sha256(ofFile: folder + "/none")
        }
    }

    @Test func wrongHashIsRefusedUnlessVerificationIsOff() throws {
        let wrong = String(repeating: "ab", count: 32)
        let folder = try Self.folder { $0["sha256"] = wrong }
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let error = #expect(throws: ModelManifestError.self) { try ModelManifest(directory: folder).path(of: "blazeface") }
        guard case .hashMismatch(let kind, _, let expected, let actual)? = error else {
            Issue.record("got \(String(describing: error))")
            return
        }
        #expect(kind == "blazeface" && expected == wrong && actual.count == 64 && actual != wrong)
        #expect(try ModelManifest(directory: folder, verifyHashes: false).path(of: "blazeface") == folder + "/blazeface.onnx")
    }

    @Test func changedFileIsRefused() throws {
        let folder = try Self.folder()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let handle = try #require(FileHandle(forWritingAtPath: folder + "/blazeface.onnx"))
        try handle.seekToEnd()
        try handle.write(contentsOf: Data([0]))
        try handle.close()
        #expect(throws: ModelManifestError.self) { try ModelManifest(directory: folder).path(of: "blazeface") }
    }

    @Test(arguments: ["", "xyz", String(repeating: "A", count: 64), String(repeating: "0", count: 63)])
    func malformedHashesAreRefused(sha: String) throws {
        let folder = try Self.folder { $0["sha256"] = sha }
        defer { try? FileManager.default.removeItem(atPath: folder) }
        #expect(throws: ModelManifestError.self) { try ModelManifest(directory: folder) }
    }

    @Test func missingFileAndFolderAreNamed() throws {
        let folder = try Self.folder()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        try FileManager.default.removeItem(atPath: folder + "/blazeface.onnx")
        #expect(throws: ModelManifestError.fileMissing(kind: "blazeface", path: folder + "/blazeface.onnx")) {
            try ModelManifest(directory: folder).path(of: "blazeface")
        }
    }
}
