import AsyncHTTPClient
public import Foundation
import NIOCore
import NIOHTTP1

extension HTTPSInput {
    /// Checks `url` as every https:// input is checked (scheme, no credentials, allowed
    /// hosts, every address public), without fetching anything.
    public func check(_ url: URL) async throws {
        _ = try await checkedAddress(for: url, original: url.absoluteString)
    }

    /// POSTs `body` to `url` under the same guard as inputs: the address is checked and the
    /// connection pinned to it, no redirect is followed, and the whole exchange has
    /// `timeout`. Returns the response status; the response body is read and dropped (at most 64 KiB).
    public func post(_ url: URL, body: Data, headers: [(String, String)], timeout: Duration) async throws -> Int {
        let (host, address) = try await checkedAddress(for: url, original: url.absoluteString)
        var configuration = HTTPClient.Configuration(redirectConfiguration: .disallow, timeout: .init(connect: .seconds(10)))
        configuration.dnsOverride = [host: address]
        configuration.connectionPool.retryConnectionEstablishment = false  // a refused connection fails now
        let client = HTTPClient(eventLoopGroup: HTTPClient.defaultEventLoopGroup, configuration: configuration)
        do {
            var request = HTTPClientRequest(url: url.absoluteString)
            request.method = .POST
            for (name, value) in headers { request.headers.add(name: name, value: value) }
            request.body = .bytes(ByteBuffer(data: body))
            let response = try await client.execute(request, timeout: .nanoseconds(timeout.nanosecondsValue))
            _ = try? await response.body.collect(upTo: 64 * 1024)
            try await client.shutdown()
            return Int(response.status.code)
        } catch {
            try? await client.shutdown()
            throw error
        }
    }
}
