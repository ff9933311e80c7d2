import AsyncHTTPClient
public import Foundation
public import Logging
import NIOCore
import NIOHTTP1

/// Downloads an https:// input without letting a request reach the server's own network:
/// every hop (the first URL and each redirect) is resolved here, all its addresses must be
/// public (`AddressPolicy`), and the connection is pinned to the checked address (so a DNS
/// answer that changes between check and connect cannot redirect it). Redirects are followed
/// by hand, at most `maxRedirects`; size and time are limited.
public struct HTTPSInput: Sendable {
    public struct Settings: Sendable {
        public var maxRedirects: Int
        public var maxBytes: Int64
        public var timeout: Duration
        /// Host names allowed (exact, or `*.example.com` for sub-domains); empty: any public host.
        public var allowedHosts: [String]
        /// Plain http:// (tests only; production inputs are https).
        public var allowPlainHTTP: Bool

        public init(
            maxRedirects: Int = 3, maxBytes: Int64 = 2 << 30, timeout: Duration = .seconds(120), allowedHosts: [String] = [],
            allowPlainHTTP: Bool = false
        ) {
            self.maxRedirects = maxRedirects
            self.maxBytes = maxBytes
            self.timeout = timeout
            self.allowedHosts = allowedHosts
            self.allowPlainHTTP = allowPlainHTTP
        }
    }

    public let settings: Settings
    public let policy: AddressPolicy
    let resolver: any HostResolver
    let logger: Logger

    public init(
        settings: Settings = Settings(), policy: AddressPolicy = AddressPolicy(), resolver: any HostResolver = SystemResolver(),
        logger: Logger = Logger(label: "lipsync.storage.https")
    ) {
        self.settings = settings
        self.policy = policy
        self.resolver = resolver
        self.logger = logger
    }

    /// Fetches `url` into `file`.
    public func download(_ url: URL, to file: String) async throws {
        let original = url.absoluteString
        var current = url
        let deadline = ContinuousClock.now + settings.timeout  // the whole download, every hop and the body
        for _ in 0...settings.maxRedirects {
            let (host, address) = try await checkedAddress(for: current, original: original)
            var configuration = HTTPClient.Configuration(
                redirectConfiguration: .disallow, timeout: .init(connect: .seconds(10), read: .seconds(30)))
            configuration.dnsOverride = [host: address]
            let client = HTTPClient(eventLoopGroup: HTTPClient.defaultEventLoopGroup, configuration: configuration)
            do {
                let next = try await fetchOnce(current, client: client, to: file, original: original, deadline: deadline)
                try await client.shutdown()
                guard let next else { return }
                logger.debug("\(original): redirected to \(next.absoluteString)")
                current = next
            } catch {
                try? await client.shutdown()
                throw error
            }
        }
        throw StorageError.tooManyRedirects(original, limit: settings.maxRedirects)
    }

    /// The host of `url` and the one public address the connection will use.
    func checkedAddress(for url: URL, original: String) async throws -> (host: String, address: String) {
        let scheme = url.scheme?.lowercased()
        guard scheme == "https" || (scheme == "http" && settings.allowPlainHTTP) else {
            throw StorageError.unsupportedURI(url.absoluteString, reason: "only https:// inputs are fetched")
        }
        guard url.user == nil, url.password == nil else {
            throw StorageError.invalidURI(url.absoluteString, reason: "credentials in URLs are not accepted")
        }
        guard let host = url.host?.lowercased(), !host.isEmpty else { throw StorageError.invalidURI(url.absoluteString, reason: "no host") }
        let bare = host.hasPrefix("[") && host.hasSuffix("]") ? String(host.dropFirst().dropLast()) : host
        if !settings.allowedHosts.isEmpty, !settings.allowedHosts.contains(where: { Self.matches(bare, pattern: $0.lowercased()) }) {
            throw StorageError.unsupportedURI(url.absoluteString, reason: "host \(bare) is not in HTTPS_INPUT_ALLOWED_HOSTS")
        }
        let addresses = try await resolver.addresses(of: bare)
        guard let first = addresses.first else { throw StorageError.upstream(original, status: nil, message: "\(bare) has no addresses") }
        for address in addresses {
            if let reason = policy.refusal(address) { throw StorageError.refusedAddress(host: bare, address: address, reason: reason) }
        }
        return (bare, first)
    }

    /// One request: nil when the body was saved, else the redirect target.
    func fetchOnce(_ url: URL, client: HTTPClient, to file: String, original: String, deadline: ContinuousClock.Instant) async throws
        -> URL?
    {
        var request = HTTPClientRequest(url: url.absoluteString)
        request.method = .GET
        let response: HTTPClientResponse
        do {
            let left = deadline - ContinuousClock.now
            guard left > .zero else { throw StorageError.timedOut(original) }
            response = try await client.execute(request, timeout: .nanoseconds(left.nanosecondsValue))
        } catch let error as HTTPClientError where error == .deadlineExceeded || error == .readTimeout || error == .connectTimeout {
            throw StorageError.timedOut(original)
        } catch let error as StorageError {
            throw error
        } catch is CancellationError {
            throw CancellationError()
        } catch {
            throw StorageError.upstream(original, status: nil, message: "\(error)")
        }
        switch response.status.code {
        case 200:
            if let length = response.headers.first(name: "Content-Length").flatMap(Int64.init), length > settings.maxBytes {
                throw StorageError.tooLarge(original, limit: settings.maxBytes)
            }
            try await GoogleCloudStore.stream(response.body, to: file, limit: settings.maxBytes, uri: original, deadline: deadline)
            return nil
        case 301, 302, 303, 307, 308:
            guard let location = response.headers.first(name: "Location"), let next = URL(string: location, relativeTo: url)?.absoluteURL
            else {
                throw StorageError.upstream(original, status: Int(response.status.code), message: "redirect without a usable Location")
            }
            return next
        case 404, 410: throw StorageError.notFound(original)
        case 401, 403: throw StorageError.permissionDenied(original, reason: "HTTP \(response.status.code)")
        default: throw StorageError.upstream(original, status: Int(response.status.code), message: response.status.reasonPhrase)
        }
    }

    static func matches(_ host: String, pattern: String) -> Bool {
        if pattern.hasPrefix("*.") { return host.hasSuffix(pattern.dropFirst(1)) && host.count > pattern.count - 1 }
        return host == pattern
    }
}
