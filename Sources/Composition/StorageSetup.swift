public import AsyncHTTPClient
import Foundation
public import Logging
import Media
import NIOCore
public import Storage
import Synchronization

/// Storage configuration (docs/storage.md).
public struct StorageSettings: Sendable, Equatable {
    /// `STORAGE_ROOTS`: colon-separated folders that local paths and file:// URIs must lie
    /// in (default: the working directory). `/` allows the whole filesystem.
    public var roots: [String] = [FileManager.default.currentDirectoryPath]
    /// `TEMP_DIR`: where per-request workspaces are made (default: the system's temporary folder).
    public var temporaryDirectory = NSTemporaryDirectory()
    /// `HTTPS_INPUT` (default false): accept https:// input URIs.
    public var httpsInput = false
    /// `HTTPS_INPUT_ALLOWED_HOSTS`: comma-separated host names (`*.example.com` for
    /// sub-domains) https:// inputs may come from; empty: any public host.
    public var httpsAllowedHosts: [String] = []
    /// `HTTPS_INPUT_MAX_REDIRECTS` (0–10, default 3) and `HTTPS_INPUT_TIMEOUT_SECONDS` (1–3600, default 120).
    public var httpsMaxRedirects = 3
    public var httpsTimeoutSeconds = 120
    /// `GCS_RESUMABLE_THRESHOLD_BYTES` (default 8 MiB): larger outputs use resumable uploads.
    public var gcsResumableThreshold: Int64 = 8 << 20
    /// `GCS_TIMEOUT_SECONDS` (1–3600, default 300): one whole Cloud Storage operation (a
    /// download or an upload, retries included).
    public var gcsTimeoutSeconds = 300
    /// `GCS_CONNECT_TIMEOUT_SECONDS` (1–60, default 5): establishing one connection; a refused
    /// connection fails at once (and is retried with backoff like any transport error).
    public var gcsConnectTimeoutSeconds = 5
    /// Cloud Storage credentials, from `STORAGE_EMULATOR_HOST`, `GOOGLE_APPLICATION_CREDENTIALS`
    /// or the metadata server (`GCE_METADATA_HOST`), in that order.
    public var credentials = GoogleCredentialSource.metadataServer(host: "metadata.google.internal")

    public init() {}

    mutating func read(_ environment: [String: String]) throws {
        if let value = environment["STORAGE_ROOTS"] {
            let roots = value.split(separator: ":").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
            guard !roots.isEmpty, roots.allSatisfy({ $0.hasPrefix("/") }) else {
                throw ConfigurationError.invalid(variable: "STORAGE_ROOTS", value: value, expected: "absolute folders separated by ':'")
            }
            self.roots = roots
        }
        if let value = environment["TEMP_DIR"], !value.isEmpty {
            guard value.hasPrefix("/") else {
                throw ConfigurationError.invalid(variable: "TEMP_DIR", value: value, expected: "an absolute folder")
            }
            temporaryDirectory = value
        }
        if let value = environment["HTTPS_INPUT"] { httpsInput = try Configuration.parseBool(value, variable: "HTTPS_INPUT") }
        if let value = environment["HTTPS_INPUT_ALLOWED_HOSTS"] {
            let hosts = value.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces).lowercased() }.filter { !$0.isEmpty }
            let valid = hosts.allSatisfy { host in
                let name = host.hasPrefix("*.") ? String(host.dropFirst(2)) : host
                return !name.isEmpty && name.allSatisfy { $0.isLetter || $0.isNumber || $0 == "." || $0 == "-" }
            }
            guard valid else {
                throw ConfigurationError.invalid(
                    variable: "HTTPS_INPUT_ALLOWED_HOSTS", value: value, expected: "host names such as media.example.com or *.example.com")
            }
            httpsAllowedHosts = hosts
        }
        if let value = environment["HTTPS_INPUT_MAX_REDIRECTS"] {
            httpsMaxRedirects = try Configuration.parseInteger(value, variable: "HTTPS_INPUT_MAX_REDIRECTS", in: 0...10)
        }
        if let value = environment["HTTPS_INPUT_TIMEOUT_SECONDS"] {
            httpsTimeoutSeconds = try Configuration.parseInteger(value, variable: "HTTPS_INPUT_TIMEOUT_SECONDS", in: 1...3600)
        }
        if let value = environment["GCS_RESUMABLE_THRESHOLD_BYTES"] {
            gcsResumableThreshold = Int64(
                try Configuration.parseInteger(value, variable: "GCS_RESUMABLE_THRESHOLD_BYTES", in: 0...(1 << 40)))
        }
        if let value = environment["GCS_CONNECT_TIMEOUT_SECONDS"] {
            gcsConnectTimeoutSeconds = try Configuration.parseInteger(value, variable: "GCS_CONNECT_TIMEOUT_SECONDS", in: 1...60)
        }
        if let value = environment["GCS_TIMEOUT_SECONDS"] {
            gcsTimeoutSeconds = try Configuration.parseInteger(value, variable: "GCS_TIMEOUT_SECONDS", in: 1...3600)
        }
        credentials = GoogleCredentialSource(environment: environment)
    }
}

/// Builds the storage service from the configuration.
public enum StorageSetup {
    /// Local files, Cloud Storage (when credentials are usable; else gs:// URIs get a clear
    /// error naming why) and https:// inputs when switched on. Input sizes follow `MAX_INPUT_BYTES`.
    public static func makeService(
        _ configuration: Configuration, client: HTTPClient? = nil,
        logger: Logger = Logger(label: "lipsync.storage")
    ) async -> StorageService {
        let client = client ?? storageClient(connectTimeoutSeconds: configuration.storage.gcsConnectTimeoutSeconds)
        let settings = configuration.storage
        let maxBytes = Int64(configuration.mediaLimits.maxFileBytes)
        let local = LocalStore(roots: settings.roots, maxInputBytes: maxBytes)
        let gcsSettings = GoogleCloudStore.Settings(
            resumableThreshold: settings.gcsResumableThreshold, maxInputBytes: maxBytes,
            requestTimeout: .seconds(settings.gcsTimeoutSeconds))
        var gcs: GoogleCloudStore?
        var unavailable = "gs:// storage is not configured"
        do {
            gcs = try await GoogleCloudStore.make(source: settings.credentials, settings: gcsSettings, client: client)
        } catch {
            unavailable = "\(error)"
            logger.warning("gs:// URIs cannot be used", metadata: ["reason": "\(error)"])
        }
        let https =
            settings.httpsInput
            ? HTTPSInput(
                settings: .init(
                    maxRedirects: settings.httpsMaxRedirects, maxBytes: maxBytes, timeout: .seconds(settings.httpsTimeoutSeconds),
                    allowedHosts: settings.httpsAllowedHosts))
            : nil
        let explicit: Bool
        if case .metadataServer = settings.credentials { explicit = false } else { explicit = true }
        return StorageService(local: local, gcs: gcs, gcsUnavailable: unavailable, https: https, checksGCSReadiness: explicit)
    }

    /// One HTTP client per connect timeout for the process's life (clients are never shut
    /// down, like `HTTPClient.shared`). Unlike `.shared` it fails a refused or unreachable
    /// connection within the connect timeout instead of retrying it until the request's
    /// deadline: the storage layer retries with backoff itself, within GCS_TIMEOUT_SECONDS.
    static func storageClient(connectTimeoutSeconds: Int) -> HTTPClient {
        clients.withLock { clients in
            if let client = clients[connectTimeoutSeconds] { return client }
            var configuration = HTTPClient.Configuration()
            configuration.timeout = .init(connect: .seconds(Int64(connectTimeoutSeconds)), read: .seconds(60))
            configuration.connectionPool.retryConnectionEstablishment = false
            let client = HTTPClient(eventLoopGroup: HTTPClient.defaultEventLoopGroup, configuration: configuration)
            clients[connectTimeoutSeconds] = client
            return client
        }
    }

    private static let clients = Mutex<[Int: HTTPClient]>([:])
}
