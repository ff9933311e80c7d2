import AsyncHTTPClient
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import NIOHTTP1
import Resilience
import StorageTestSupport
import Synchronization
import Testing

@testable import Storage

/// A fault-injecting proxy in front of the emulator: forwards every request, except that a
/// script can answer a request with a 503 instead, before or after forwarding it (the latter
/// is a lost answer: the emulator did the work, the client does not know). Session URIs in
/// Location headers are rewritten to point back at the proxy.
final class FaultyProxy: Sendable {
    enum Fault: Sendable { case failBeforeForwarding, failAfterForwarding, cutBodyHalfway }
    struct Seen: Sendable {
        let method: String
        let path: String
        let contentRange: String?
        let authorization: String?
    }

    let upstream: String
    /// (method, n-th request of that method counting from 1) → fault.
    let faults: Mutex<[String: [Int: Fault]]>
    let seen = Mutex<[Seen]>([])
    let ownEndpoint = Mutex("")

    init(upstream: String, faults: [String: [Int: Fault]]) {
        self.upstream = upstream
        self.faults = Mutex(faults)
    }

    func count(_ method: String) -> Int { seen.withLock { $0.filter { $0.method == method }.count } }

    func application() -> some ApplicationProtocol {
        let router = Router()
        router.on("**", method: .get) { try await self.forward($0, $1) }
        router.on("**", method: .post) { try await self.forward($0, $1) }
        router.on("**", method: .put) { try await self.forward($0, $1) }
        return Application(router: router, configuration: .init(address: .hostname("127.0.0.1", port: 0)))
    }

    func forward(_ request: Request, _ context: BasicRequestContext) async throws -> Response {
        let method = request.method.rawValue
        let entry = Seen(
            method: method, path: request.uri.path, contentRange: request.headers[.contentRange],
            authorization: request.headers[.authorization])
        let number = seen.withLock {
            $0.append(entry)
            return $0.filter { $0.method == method }.count
        }
        let fault = faults.withLock { $0[method]?[number] }
        let body = try await request.body.collect(upTo: 64 << 20)
        if fault == .failBeforeForwarding { return Self.unavailable() }
        var outgoing = HTTPClientRequest(url: upstream + request.uri.description)
        outgoing.method = HTTPMethod(rawValue: method)
        for field in request.headers where !["host", "content-length"].contains(field.name.canonicalName) {
            outgoing.headers.add(name: field.name.rawName, value: field.value)
        }
        if body.readableBytes > 0 || method != "GET" { outgoing.body = .bytes(body) }
        let response = try await HTTPClient.shared.execute(outgoing, timeout: .seconds(30))
        let payload = try await response.body.collect(upTo: 64 << 20)
        if fault == .failAfterForwarding { return Self.unavailable() }
        if fault == .cutBodyHalfway {
            // The status and the full length go out, then half the bytes, then the connection drops.
            struct Dropped: Error {}
            let half = payload.getSlice(at: payload.readerIndex, length: payload.readableBytes / 2) ?? ByteBuffer()
            return Response(
                status: .ok, headers: [.contentLength: "\(payload.readableBytes)"],
                body: ResponseBody { writer in
                    try await writer.write(half)
                    throw Dropped()
                })
        }
        var headers = HTTPFields()
        for header in response.headers
        where !["content-length", "transfer-encoding", "connection", "server", "date"].contains(header.name.lowercased()) {
            guard let name = HTTPField.Name(header.name) else { continue }
            var value = header.value
            if name == .location { value = value.replacingOccurrences(of: upstream, with: ownEndpoint.withLock { $0 }) }
            headers[name] = value
        }
        return Response(status: .init(code: Int(response.status.code)), headers: headers, body: .init(byteBuffer: payload))
    }

    static func unavailable() -> Response {
        let body = #"{"error":{"code":503,"message":"injected failure"}}"#
        return Response(
            status: .serviceUnavailable, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(string: body)))
    }

    /// Runs `body` with the proxy listening; its endpoint is the argument.
    func run(_ body: @Sendable (String) async throws -> Void) async throws {
        try await application().test(.live) { client in
            let port = try #require(client.port)
            ownEndpoint.withLock { $0 = "http://127.0.0.1:\(port)" }
            try await body("http://127.0.0.1:\(port)")
        }
    }
}

extension RetryPolicy {
    /// Retries without the production waits.
    static let fast = RetryPolicy(maxAttempts: 4, baseDelay: .milliseconds(5), maxDelay: .milliseconds(20))
}
