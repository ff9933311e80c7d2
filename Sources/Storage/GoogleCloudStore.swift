public import AsyncHTTPClient
import Crypto
import Foundation
public import Logging
import NIOCore
import NIOFoundationCompat
import NIOHTTP1
public import Resilience

/// Object names in Cloud Storage URLs: every byte but RFC 3986's unreserved characters is
/// percent-encoded, `/` included (it is part of the name, not a path separator).
enum GCSName {
    static let unreserved = CharacterSet(charactersIn: "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")

    static func queryEncoded(_ text: String) -> String {
        text.addingPercentEncoding(withAllowedCharacters: unreserved) ?? text
    }
}

/// Cloud Storage through its JSON API on AsyncHTTPClient: streaming media download, simple
/// upload for small files and the resumable protocol for large ones, every upload guarded by
/// `ifGenerationMatch` so that retrying it is safe; retries with backoff on 408/429/5xx and
/// connection errors.
public struct GoogleCloudStore: Sendable {
    public struct Settings: Sendable {
        /// https://storage.googleapis.com, or an emulator's address.
        public var endpoint: String
        /// Files above this size use the resumable protocol.
        public var resumableThreshold: Int64
        /// Size of each resumable chunk (a multiple of 256 KiB, as GCS requires).
        public var chunkSize: Int
        public var maxInputBytes: Int64
        /// The whole operation (a download, an upload, a metadata read), retries and backoff
        /// included; each HTTP request gets what is left of it.
        public var requestTimeout: Duration
        public var retry: RetryPolicy

        public init(
            endpoint: String = "https://storage.googleapis.com", resumableThreshold: Int64 = 8 << 20, chunkSize: Int = 8 << 20,
            maxInputBytes: Int64 = 2 << 30, requestTimeout: Duration = .seconds(300), retry: RetryPolicy = RetryPolicy()
        ) {
            self.endpoint = endpoint
            self.resumableThreshold = resumableThreshold
            self.chunkSize = max(256 << 10, chunkSize / (256 << 10) * (256 << 10))
            self.maxInputBytes = maxInputBytes
            self.requestTimeout = requestTimeout
            self.retry = retry
        }
    }

    public let settings: Settings
    let client: HTTPClient
    /// nil: no Authorization header (an emulator).
    let tokens: (any AccessTokenProvider)?
    let logger: Logger

    public init(
        settings: Settings, client: HTTPClient, tokens: (any AccessTokenProvider)?, logger: Logger = Logger(label: "lipsync.storage.gcs")
    ) {
        self.settings = settings
        self.client = client
        self.tokens = tokens
        self.logger = logger
    }

    /// A store for `source`: the emulator's endpoint, or Google's with a token provider.
    public static func make(
        source: GoogleCredentialSource, settings: Settings, client: HTTPClient,
        logger: Logger = Logger(label: "lipsync.storage.gcs")
    ) async throws -> GoogleCloudStore {
        var settings = settings
        switch source {
        case .emulator(let endpoint):
            settings.endpoint = endpoint
            return GoogleCloudStore(settings: settings, client: client, tokens: nil, logger: logger)
        case .serviceAccount(let file):
            let key = try ServiceAccountKey.load(file)
            return GoogleCloudStore(
                settings: settings, client: client, tokens: try await ServiceAccountTokenProvider(key: key, client: client), logger: logger)
        case .metadataServer(let host):
            return GoogleCloudStore(
                settings: settings, client: client, tokens: MetadataServerTokenProvider(host: host, client: client), logger: logger)
        }
    }

    // MARK: - Operations

    /// Succeeds when Cloud Storage can be used now: a token can be had (service account,
    /// metadata server), or the emulator answers.
    public func checkReachable() async throws {
        if let tokens {
            _ = try await tokens.accessToken()
            return
        }
        let response: HTTPClientResponse
        do {
            response = try await client.execute(
                HTTPClientRequest(url: "\(settings.endpoint)/storage/v1/b?project=lipsync"), timeout: .seconds(5))
        } catch {
            throw StorageError.upstream(settings.endpoint, status: nil, message: "\(error)")
        }
        _ = try? await response.body.collect(upTo: 1 << 20)
        guard response.status.code < 500 else {
            throw StorageError.upstream(settings.endpoint, status: Int(response.status.code), message: response.status.reasonPhrase)
        }
    }

    /// Downloads the object to `file`, streaming; a retry starts the file over.
    public func download(bucket: String, object: String, to file: String) async throws {
        let uri = "gs://\(bucket)/\(object)"
        let url = "\(settings.endpoint)/storage/v1/b/\(GCSName.queryEncoded(bucket))/o/\(GCSName.queryEncoded(object))?alt=media"
        try await retrying(uri) { _ in
            let response = try await send(.GET, url, uri: uri)
            try await expect(response, [.ok], uri: uri)
            if let length = response.headers.first(name: "Content-Length").flatMap(Int64.init), length > settings.maxInputBytes {
                throw StorageError.tooLarge(uri, limit: settings.maxInputBytes)
            }
            do {
                try await Self.stream(response.body, to: file, limit: settings.maxInputBytes, uri: uri)
            } catch let error as StorageError {
                // A connection lost mid-body is retried like one lost before the answer.
                switch error {
                case .timedOut, .upstream(_, nil, _): throw GCSFailure.transport(error)
                default: throw error
                }
            }
        }
    }

    /// The object's metadata (nil when it does not exist).
    public func metadata(bucket: String, object: String) async throws -> ObjectMetadata? {
        let uri = "gs://\(bucket)/\(object)"
        let url = "\(settings.endpoint)/storage/v1/b/\(GCSName.queryEncoded(bucket))/o/\(GCSName.queryEncoded(object))"
        return try await retrying(uri) { _ in
            let response = try await send(.GET, url, uri: uri)
            if response.status == .notFound { return nil }
            try await expect(response, [.ok], uri: uri)
            let body = try await response.body.collect(upTo: 1 << 20)
            return try JSONDecoder().decode(ObjectMetadata.self, from: Data(buffer: body))
        }
    }

    /// Uploads `file` as the object: simple upload up to `resumableThreshold`, resumable
    /// above. The upload is conditional on the generation seen before it starts, so a retry
    /// after a lost answer cannot overwrite a newer object; a retry that finds its own bytes
    /// already there (same MD5) counts as success.
    public func upload(_ file: String, bucket: String, object: String, contentType: String) async throws {
        let uri = "gs://\(bucket)/\(object)"
        let size = try Self.fileSize(file)
        let md5 = try Self.md5Base64(file)
        let generation = try await metadata(bucket: bucket, object: object)?.generation ?? "0"
        do {
            if size <= settings.resumableThreshold {
                try await simpleUpload(file, size: size, bucket: bucket, object: object, contentType: contentType, generation: generation)
            } else {
                try await resumableUpload(
                    file, size: size, bucket: bucket, object: object, contentType: contentType, generation: generation)
            }
        } catch GCSFailure.preconditionFailed {
            guard let now = try await metadata(bucket: bucket, object: object), now.md5Hash == md5 else { throw StorageError.conflict(uri) }
            logger.debug("upload of \(uri) had already landed (precondition failed, same MD5)")
        } catch {
            throw GCSFailure.unwrap(error)
        }
    }

    /// The JSON API's upload URL for `object`, written only if its generation is still `generation`.
    func uploadURL(bucket: String, object: String, type: String, generation: String) -> String {
        "\(settings.endpoint)/upload/storage/v1/b/\(GCSName.queryEncoded(bucket))/o?uploadType=\(type)"
            + "&name=\(GCSName.queryEncoded(object))&ifGenerationMatch=\(generation)"
    }

    func simpleUpload(_ file: String, size: Int64, bucket: String, object: String, contentType: String, generation: String) async throws {
        let uri = "gs://\(bucket)/\(object)"
        let url = uploadURL(bucket: bucket, object: object, type: "media", generation: generation)
        let bytes = try Self.read(file, offset: 0, count: Int(size))
        try await retrying(uri) { _ in
            let response = try await send(.POST, url, uri: uri, headers: [("Content-Type", contentType)], body: bytes)
            try await expect(response, [.ok, .created], uri: uri)
        }
    }

    func resumableUpload(_ file: String, size: Int64, bucket: String, object: String, contentType: String, generation: String) async throws
    {
        let uri = "gs://\(bucket)/\(object)"
        let start = uploadURL(bucket: bucket, object: object, type: "resumable", generation: generation)
        let metadata = try JSONEncoder().encode(["name": object, "contentType": contentType])
        let session: String = try await retrying(uri) { _ in
            let response = try await send(
                .POST, start, uri: uri,
                headers: [
                    ("Content-Type", "application/json; charset=UTF-8"), ("X-Upload-Content-Type", contentType),
                    ("X-Upload-Content-Length", "\(size)"),
                ],
                body: ByteBuffer(data: metadata))
            try await expect(response, [.ok, .created], uri: uri)
            guard let location = response.headers.first(name: "Location") else {
                throw StorageError.upstream(
                    uri, status: Int(response.status.code), message: "resumable upload started without a session URI")
            }
            return location
        }
        var offset: Int64 = 0
        var failures = 0
        while true {
            let count = Int(min(Int64(settings.chunkSize), size - offset))
            let chunk = try Self.read(file, offset: offset, count: count)
            let range = size == 0 ? "bytes */0" : "bytes \(offset)-\(offset + Int64(count) - 1)/\(size)"
            do {
                let response = try await send(.PUT, session, uri: uri, headers: [("Content-Range", range)], body: chunk)
                if let next = try await Self.committed(response, uri: uri) {
                    offset = next
                    failures = 0
                    continue
                }
                try await expect(response, [.ok, .created], uri: uri)
                return
            } catch {
                guard settings.retry.isRetryable(error) != nil else { throw error }
                failures += 1
                guard failures < settings.retry.maxAttempts else { throw error }
                logger.notice(
                    "upload of \(uri) interrupted at byte \(offset) (\(GCSFailure.unwrap(error))); asking the session how much arrived")
                try await Task.sleep(for: settings.retry.delay(attempt: failures - 1))
                // Where did the server get to? (It may have stored the chunk whose answer we lost.)
                let status: Int64? = try await retrying(uri) { _ in
                    let response = try await send(
                        .PUT, session, uri: uri, headers: [("Content-Range", "bytes */\(size)")], body: ByteBuffer())
                    if let next = try await Self.committed(response, uri: uri) { return next }
                    try await expect(response, [.ok, .created], uri: uri)
                    return nil
                }
                guard let resumed = status else { return }
                logger.notice("resuming upload of \(uri) at byte \(resumed) of \(size)")
                offset = resumed
            }
        }
    }

    /// For a 308 (Resume Incomplete): the first byte not yet stored; nil for any other status.
    static func committed(_ response: HTTPClientResponse, uri: String) async throws -> Int64? {
        guard response.status.code == 308 else { return nil }
        _ = try? await response.body.collect(upTo: 1 << 20)
        guard let range = response.headers.first(name: "Range") else { return 0 }
        guard let last = range.split(separator: "-").last.flatMap({ Int64($0) }) else {
            throw StorageError.upstream(uri, status: 308, message: "unreadable Range header '\(range)'")
        }
        return last + 1
    }

    // MARK: - HTTP

    func send(_ method: HTTPMethod, _ url: String, uri: String, headers: [(String, String)] = [], body: ByteBuffer? = nil) async throws
        -> HTTPClientResponse
    {
        var request = HTTPClientRequest(url: url)
        request.method = method
        for (name, value) in headers { request.headers.add(name: name, value: value) }
        if let tokens { request.headers.add(name: "Authorization", value: "Bearer " + (try await tokens.accessToken())) }
        if let body {
            request.body = .bytes(body)
        } else if method == .POST || method == .PUT {
            request.headers.add(name: "Content-Length", value: "0")
        }
        do {
            return try await client.execute(request, timeout: .nanoseconds(settings.requestTimeout.nanosecondsValue))
        } catch let error as HTTPClientError where error == .deadlineExceeded || error == .readTimeout || error == .connectTimeout {
            throw GCSFailure.transport(StorageError.timedOut(uri))
        } catch is CancellationError {
            throw CancellationError()
        } catch let error as StorageError {
            throw error
        } catch {
            throw GCSFailure.transport(StorageError.upstream(uri, status: nil, message: "\(error)"))
        }
    }

    /// Throws the status's meaning unless it is one of `good`.
    func expect(_ response: HTTPClientResponse, _ good: [HTTPResponseStatus], uri: String) async throws {
        guard !good.contains(response.status) else { return }
        let body = (try? await response.body.collect(upTo: 64 << 10)).map { String(buffer: $0) } ?? ""
        let message = Self.errorMessage(body) ?? response.status.reasonPhrase
        let code = Int(response.status.code)
        switch code {
        case 404: throw StorageError.notFound(uri)
        case 401, 403: throw StorageError.permissionDenied(uri, reason: message)
        case 412: throw GCSFailure.preconditionFailed
        case 408, 429, 500...599:
            let retryAfter = response.headers.first(name: "Retry-After").flatMap(Int.init).map { Duration.seconds(min($0, 60)) }
            throw GCSFailure.retryable(StorageError.upstream(uri, status: code, message: message), retryAfter: retryAfter)
        default: throw StorageError.upstream(uri, status: code, message: message)
        }
    }

    /// `{"error":{"message":…}}`, as the JSON API reports failures.
    static func errorMessage(_ body: String) -> String? {
        struct Envelope: Decodable {
            struct Inner: Decodable { let message: String? }
            let error: Inner?
        }
        return (try? JSONDecoder().decode(Envelope.self, from: Data(body.utf8)))?.error?.message
    }

    func retrying<T: Sendable>(_ uri: String, _ operation: @escaping @Sendable (Int) async throws -> T) async throws -> T {
        try await withTimeLimit(settings.requestTimeout, timeout: StorageError.timedOut(uri)) {
            try await retryingUnbounded(uri, operation)
        }
    }

    private func retryingUnbounded<T: Sendable>(_ uri: String, _ operation: @Sendable (Int) async throws -> T) async throws -> T {
        do {
            return try await settings.retry.run(
                retryable: { settings.retry.isRetryable($0) },
                onRetry: { [logger] error, attempt, wait in
                    logger.notice("retrying \(uri) (attempt \(attempt + 1) after \(wait)): \(GCSFailure.unwrap(error))")
                }, operation)
        } catch {
            throw GCSFailure.unwrap(error)
        }
    }

    // MARK: - Files

    /// Streams a response body into `file`. Connection failures while receiving become
    /// `timedOut`/`upstream` (no status); past `deadline` the download stops as `timedOut`.
    static func stream(
        _ body: HTTPClientResponse.Body, to file: String, limit: Int64, uri: String,
        deadline: ContinuousClock.Instant? = nil
    ) async throws {
        guard FileManager.default.createFile(atPath: file, contents: nil), let handle = FileHandle(forWritingAtPath: file) else {
            throw StorageError.permissionDenied(file, reason: "cannot create the download file")
        }
        defer { try? handle.close() }
        var received: Int64 = 0
        do {
            for try await buffer in body {
                if let deadline, ContinuousClock.now > deadline { throw StorageError.timedOut(uri) }
                received += Int64(buffer.readableBytes)
                guard received <= limit else { throw StorageError.tooLarge(uri, limit: limit) }
                do {
                    try handle.write(contentsOf: Data(buffer: buffer))
                } catch {
                    // The local side failed, not the connection: never retried as a transfer error.
                    if StorageError.isOutOfSpace(error) { throw StorageError.noSpace(StorageService.workspaceFolder) }
                    throw StorageError.permissionDenied(file, reason: "cannot write the download: \(error.localizedDescription)")
                }
            }
        } catch let error as StorageError {
            throw error
        } catch is CancellationError {
            throw CancellationError()
        } catch let error as HTTPClientError where error == .deadlineExceeded || error == .readTimeout {
            throw StorageError.timedOut(uri)
        } catch {
            throw StorageError.upstream(uri, status: nil, message: "the connection failed while receiving: \(error)")
        }
    }

    static func fileSize(_ file: String) throws -> Int64 {
        guard let size = (try? FileManager.default.attributesOfItem(atPath: file))?[.size] as? NSNumber else {
            throw StorageError.notFound(file)
        }
        return size.int64Value
    }

    static func read(_ file: String, offset: Int64, count: Int) throws -> ByteBuffer {
        guard let handle = FileHandle(forReadingAtPath: file) else { throw StorageError.notFound(file) }
        defer { try? handle.close() }
        try handle.seek(toOffset: UInt64(offset))
        let data = try handle.read(upToCount: count) ?? Data()
        return ByteBuffer(data: data)
    }

    static func md5Base64(_ file: String) throws -> String {
        guard let handle = FileHandle(forReadingAtPath: file) else { throw StorageError.notFound(file) }
        defer { try? handle.close() }
        var hash = Insecure.MD5()
        while let data = try handle.read(upToCount: 1 << 20), !data.isEmpty { hash.update(data: data) }
        return Data(hash.finalize()).base64EncodedString()
    }
}

/// Cloud Storage's object resource, the fields we use.
public struct ObjectMetadata: Sendable, Decodable, Equatable {
    public let name: String
    public let bucket: String
    public let generation: String
    public let size: String?
    public let contentType: String?
    public let md5Hash: String?
}

/// Failures the retry loop looks at before they become `StorageError`s.
enum GCSFailure: Error {
    case retryable(StorageError, retryAfter: Duration?)
    case transport(StorageError)
    case preconditionFailed

    static func unwrap(_ error: any Error) -> any Error {
        switch error {
        case GCSFailure.retryable(let inner, _), GCSFailure.transport(let inner): inner
        default: error
        }
    }
}

extension RetryPolicy {
    /// The minimum wait before retrying `error`, or nil when it must not be retried.
    func isRetryable(_ error: any Error) -> Duration? {
        switch error {
        case GCSFailure.retryable(_, let after): after ?? .zero
        case GCSFailure.transport: .zero
        default: nil
        }
    }
}

extension Duration {
    var nanosecondsValue: Int64 {
        components.seconds * 1_000_000_000 + components.attoseconds / 1_000_000_000
    }
}
