import Foundation

/// Reads inputs and writes outputs named by URI.
public protocol ObjectStore: Sendable {
    /// A local file holding the object's bytes, inside `workspace` (removed with it): a copy
    /// of a local file, or a download.
    func read(_ uri: StorageURI, into workspace: RequestWorkspace) async throws -> String
    /// Stores `file` at `uri`; on failure nothing is left under the destination's name.
    func write(_ file: String, to uri: StorageURI, contentType: String) async throws
    func exists(_ uri: StorageURI) async throws -> Bool
}

/// The server's storage: routes each URI to local files, Cloud Storage or the https:// input
/// fetcher, by scheme. A scheme whose backend is not configured gets a clear error.
public struct StorageService: ObjectStore {
    public let local: LocalStore
    public let gcs: GoogleCloudStore?
    /// Why gs:// cannot be used, when `gcs` is nil.
    public let gcsUnavailable: String
    /// nil: https:// inputs are switched off.
    public let https: HTTPSInput?
    /// Whether readiness checks Cloud Storage: true when credentials were configured
    /// explicitly (emulator, key file) — then unusable credentials or an unreachable service
    /// make the server unready; the metadata-server fallback is not checked, as most hosts
    /// have none and may use local paths only.
    public let checksGCSReadiness: Bool

    public init(
        local: LocalStore, gcs: GoogleCloudStore?, gcsUnavailable: String = "gs:// storage is not configured", https: HTTPSInput?,
        checksGCSReadiness: Bool = false
    ) {
        self.local = local
        self.gcs = gcs
        self.gcsUnavailable = gcsUnavailable
        self.https = https
        self.checksGCSReadiness = checksGCSReadiness
    }

    public func read(_ uri: StorageURI, into workspace: RequestWorkspace) async throws -> String {
        switch uri {
        case .local(let path):
            // A copy: the job (and the per-video cache keyed by its hash) sees one snapshot,
            // even if the file is replaced while the job runs.
            let resolved = try local.resolveInput(path)
            let file = workspace.path("input-" + Self.fileName(path))
            do {
                try FileManager.default.copyItem(atPath: resolved, toPath: file)
            } catch {
                try? FileManager.default.removeItem(atPath: file)
                if StorageError.isOutOfSpace(error) { throw StorageError.noSpace(Self.workspaceFolder) }
                throw StorageError.permissionDenied(
                    path, reason: "could not copy it into the job's workspace: \(error.localizedDescription)")
            }
            return file
        case .gcs(let bucket, let object):
            let file = workspace.path("input-" + Self.fileName(object))
            try await requireGCS(uri).download(bucket: bucket, object: object, to: file)
            return file
        case .https(let url):
            guard let https else {
                throw StorageError.unsupportedURI(
                    uri.description, reason: "https:// inputs are switched off (HTTPS_INPUT=true enables them)")
            }
            let file = workspace.path("input-" + Self.fileName(url.lastPathComponent))
            try await https.download(url, to: file)
            return file
        }
    }

    public func write(_ file: String, to uri: StorageURI, contentType: String) async throws {
        switch uri {
        case .local(let path):
            try local.write(file, to: path)
        case .gcs(let bucket, let object):
            try await requireGCS(uri).upload(file, bucket: bucket, object: object, contentType: contentType)
        case .https:
            throw StorageError.unsupportedURI(uri.description, reason: "https:// is for inputs only; write to gs:// or a local path")
        }
    }

    public func exists(_ uri: StorageURI) async throws -> Bool {
        switch uri {
        case .local(let path): local.exists(path)
        case .gcs(let bucket, let object): try await requireGCS(uri).metadata(bucket: bucket, object: object) != nil
        case .https: throw StorageError.unsupportedURI(uri.description, reason: "existence checks are for gs:// and local paths")
        }
    }

    /// Checks an output destination before any work is done (a bad output URI fails fast).
    public func checkOutput(_ uri: StorageURI) throws {
        switch uri {
        case .local(let path): _ = try local.resolveOutput(path)
        case .gcs: _ = try requireGCS(uri)
        case .https:
            throw StorageError.unsupportedURI(uri.description, reason: "https:// is for inputs only; write to gs:// or a local path")
        }
    }

    /// What keeps the storage from serving jobs now (empty: ready): the workspace folder must
    /// be writable, every root must exist, and explicitly configured Cloud Storage (emulator,
    /// service-account key) must answer or give a token. gs:// without credentials is not a
    /// problem here — a deployment may use local paths only; such requests get their own error.
    public func readinessProblems(workspaceBase: String) async -> [String] {
        var problems: [String] = []
        if access(workspaceBase, W_OK | X_OK) != 0 { problems.append("the temporary folder \(workspaceBase) is not writable") }
        for root in local.roots where !local.isDirectory(root) { problems.append("the storage root \(root) does not exist") }
        if checksGCSReadiness {
            if let gcs {
                do { try await gcs.checkReachable() } catch { problems.append("Cloud Storage is not reachable: \(error)") }
            } else {
                problems.append("Cloud Storage cannot be used: \(gcsUnavailable)")
            }
        }
        return problems
    }

    func requireGCS(_ uri: StorageURI) throws -> GoogleCloudStore {
        guard let gcs else { throw StorageError.noCredentials(reason: gcsUnavailable) }
        return gcs
    }

    /// How messages name the folder of the request workspaces.
    public static let workspaceFolder = "the server's temporary folder (TEMP_DIR)"

    /// The last path component, kept to safe characters (its extension helps FFmpeg probing).
    static func fileName(_ name: String) -> String {
        let last = name.split(separator: "/").last.map(String.init) ?? ""
        let safe = String(
            last.unicodeScalars.map { CharacterSet.alphanumerics.contains($0) || "._-".unicodeScalars.contains($0) ? Character($0) : "_" }
                .suffix(80))
        return safe.isEmpty || safe.allSatisfy({ $0 == "." }) ? "object" : safe
    }
}
