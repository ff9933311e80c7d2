import Foundation

/// One request's temporary folder: inputs are downloaded and outputs rendered here, and the
/// whole folder is removed when the request ends — on success, on failure and on cancellation.
public struct RequestWorkspace: Sendable {
    public let directory: String

    /// Creates `<base>/lipsync-<label>-<random>` (mode 0700).
    public static func create(in base: String, label: String) throws -> RequestWorkspace {
        let safe = String(label.unicodeScalars.filter { CharacterSet.alphanumerics.contains($0) || $0 == "-" }.prefix(40))
        let directory = (base as NSString).appendingPathComponent("lipsync-\(safe.isEmpty ? "job" : safe)-\(UUID().uuidString.prefix(8))")
        do {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        } catch {
            throw StorageError.permissionDenied(base, reason: "cannot create a temporary folder: \(error.localizedDescription)")
        }
        return RequestWorkspace(directory: directory)
    }

    /// Runs `body` with a fresh workspace and removes it however `body` ends.
    public static func with<T: Sendable>(in base: String, label: String, _ body: (RequestWorkspace) async throws -> T) async throws -> T {
        let workspace = try create(in: base, label: label)
        defer { workspace.remove() }
        return try await body(workspace)
    }

    /// A path inside the workspace for `name` (its last path component only).
    public func path(_ name: String) -> String {
        let last = (name as NSString).lastPathComponent
        return (directory as NSString).appendingPathComponent(last.isEmpty || last == ".." ? "file" : last)
    }

    public func remove() {
        try? FileManager.default.removeItem(atPath: directory)
    }
}
