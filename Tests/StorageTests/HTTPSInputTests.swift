import Foundation
import Hummingbird
import HummingbirdTesting
import NIOCore
import Testing

@testable import Storage

/// Maps test host names to fixed addresses (the real resolver is used for IP literals and localhost).
struct TableResolver: HostResolver {
    let table: [String: [String]]
    func addresses(of host: String) async throws -> [String] {
        if let known = table[host] { return known }
        return try await SystemResolver().addresses(of: host)
    }
}

@Suite struct AddressPolicyTests {
    @Test(arguments: [
        "127.0.0.1", "127.8.9.10", "10.1.2.3", "172.16.5.4", "172.31.255.255", "192.168.1.1", "169.254.169.254", "100.64.0.1",
        "0.0.0.0", "224.0.0.1", "255.255.255.255", "198.18.0.1", "192.0.2.5",
        "::1", "::", "fe80::1", "fc00::1", "fd12:3456::1", "ff02::1", "::ffff:127.0.0.1", "::ffff:10.0.0.1", "::ffff:169.254.169.254",
        "64:ff9b::a9fe:a9fe", "64:ff9b:1::a00:1", "2001:db8::1", "2002:7f00:1::1", "not-an-address", "fe80::1%eth0",
    ])
    func nonPublicAddressesAreRefused(_ address: String) {
        #expect(AddressPolicy().refusal(address) != nil)
    }

    @Test(arguments: [
        "8.8.8.8", "142.250.74.78", "172.32.0.1", "100.128.0.1", "2607:f8b0:4004:800::200e", "::ffff:8.8.8.8", "64:ff9b::808:808",
    ])
    func publicAddressesAreAllowed(_ address: String) {
        #expect(AddressPolicy().refusal(address) == nil)
    }

    @Test func metadataAddressIsNamedInTheReason() {
        #expect(AddressPolicy().refusal("169.254.169.254") == "a link-local address (169.254.0.0/16, cloud metadata lives here)")
    }
}

@Suite struct HTTPSInputTests {
    static func target() -> String { NSTemporaryDirectory() + "https-\(UUID())" }

    @Test(arguments: [
        ("https://127.0.0.1/v.mp4", "127.0.0.1"), ("https://10.0.0.8/v.mp4", "10.0.0.8"),
        ("https://169.254.169.254/computeMetadata/v1/", "169.254.169.254"), ("https://[::1]:8443/v.mp4", "::1"),
        ("https://[::ffff:a9fe:a9fe]/", "::ffff:169.254.169.254"),
    ])
    func privateTargetsAreRefusedBeforeConnecting(_ uri: String, _ address: String) async throws {
        let input = HTTPSInput()
        let file = Self.target()
        do {
            try await input.download(try #require(URL(string: uri)), to: file)
            Issue.record("\(uri) was fetched")
        } catch let StorageError.refusedAddress(_, refused, _) {
            #expect(refused == address)
        }
        #expect(!FileManager.default.fileExists(atPath: file))
    }

    @Test func localhostByNameIsRefused() async throws {
        await #expect {
            try await HTTPSInput().download(URL(string: "https://localhost/v.mp4")!, to: Self.target())
        } throws: { error in
            guard case StorageError.refusedAddress(let host, _, _) = error else { return false }
            return host == "localhost"
        }
    }

    @Test func plainHTTPIsRefused() async throws {
        await #expect(throws: StorageError.unsupportedURI("http://example.com/v.mp4", reason: "only https:// inputs are fetched")) {
            try await HTTPSInput().download(URL(string: "http://example.com/v.mp4")!, to: Self.target())
        }
    }

    /// A loopback server plays a public host ("media.public.test"); its redirects lead to
    /// private places, which must be refused at that hop.
    func withServer(_ settings: HTTPSInput.Settings = .init(allowPlainHTTP: true), _ body: @Sendable (HTTPSInput, Int) async throws -> Void)
        async throws
    {
        let router = Router()
        router.get("/video.mp4") { _, _ in Response(status: .ok, body: .init(byteBuffer: ByteBuffer(repeating: 7, count: 5000))) }
        router.get("/to-internal") { request, _ in
            let port = request.head.authority?.split(separator: ":").last ?? "80"
            return Response(status: .found, headers: [.location: "http://internal.corp.test:\(port)/video.mp4"])
        }
        router.get("/to-metadata") { _, _ in
            Response(status: .temporaryRedirect, headers: [.location: "http://169.254.169.254/computeMetadata/v1/"])
        }
        router.get("/to-self") { _, _ in Response(status: .movedPermanently, headers: [.location: "/video.mp4"]) }
        router.get("/loop") { _, _ in Response(status: .found, headers: [.location: "/loop"]) }
        router.get("/missing") { _, _ in Response(status: .notFound) }
        // Headers at once, then a byte every 50 ms for 5 s: only a whole-download deadline stops it.
        router.get("/drip") { _, _ in
            Response(
                status: .ok,
                body: ResponseBody { writer in
                    for _ in 0..<100 {
                        try await writer.write(ByteBuffer(repeating: 1, count: 1))
                        try await Task.sleep(for: .milliseconds(50))
                    }
                    try await writer.finish(nil)
                })
        }
        let app = Application(router: router, configuration: .init(address: .hostname("127.0.0.1", port: 0)))
        try await app.test(.live) { client in
            let port = try #require(client.port)
            let input = HTTPSInput(
                settings: settings, policy: AddressPolicy(treatedAsPublic: ["127.0.0.1"]),
                resolver: TableResolver(table: ["media.public.test": ["127.0.0.1"], "internal.corp.test": ["10.0.0.7"]]))
            try await body(input, port)
        }
    }

    @Test func publicHostIsFetchedAndRelativeRedirectsFollowed() async throws {
        try await withServer { input, port in
            for path in ["video.mp4", "to-self"] {
                let file = Self.target()
                defer { try? FileManager.default.removeItem(atPath: file) }
                try await input.download(URL(string: "http://media.public.test:\(port)/\(path)")!, to: file)
                #expect(FileManager.default.contents(atPath: file) == Data(repeating: 7, count: 5000))
            }
        }
    }

    @Test func redirectToAPrivateHostIsRefused() async throws {
        try await withServer { input, port in
            await #expect(
                throws: StorageError.refusedAddress(
                    host: "internal.corp.test", address: "10.0.0.7", reason: "a private address (10.0.0.0/8)")
            ) {
                try await input.download(URL(string: "http://media.public.test:\(port)/to-internal")!, to: Self.target())
            }
            await #expect(
                throws: StorageError.refusedAddress(
                    host: "169.254.169.254", address: "169.254.169.254",
                    reason: "a link-local address (169.254.0.0/16, cloud metadata lives here)")
            ) {
                try await input.download(URL(string: "http://media.public.test:\(port)/to-metadata")!, to: Self.target())
            }
        }
    }

    @Test func redirectLoopsSizeAndMissingObjects() async throws {
        try await withServer(.init(maxRedirects: 2, maxBytes: 1000, allowPlainHTTP: true)) { input, port in
            let base = "http://media.public.test:\(port)"
            await #expect(throws: StorageError.tooManyRedirects(base + "/loop", limit: 2)) {
                try await input.download(URL(string: base + "/loop")!, to: Self.target())
            }
            await #expect(throws: StorageError.tooLarge(base + "/video.mp4", limit: 1000)) {
                try await input.download(URL(string: base + "/video.mp4")!, to: Self.target())
            }
            await #expect(throws: StorageError.notFound(base + "/missing")) {
                try await input.download(URL(string: base + "/missing")!, to: Self.target())
            }
        }
    }

    @Test func hostAllowlistIsEnforced() async throws {
        try await withServer(.init(allowedHosts: ["*.example.com", "cdn.test"], allowPlainHTTP: true)) { input, port in
            let uri = "http://media.public.test:\(port)/video.mp4"
            await #expect(throws: StorageError.unsupportedURI(uri, reason: "host media.public.test is not in HTTPS_INPUT_ALLOWED_HOSTS")) {
                try await input.download(URL(string: uri)!, to: Self.target())
            }
        }
        #expect(HTTPSInput.matches("videos.example.com", pattern: "*.example.com"))
        #expect(!HTTPSInput.matches("example.com.evil.net", pattern: "*.example.com"))
        #expect(!HTTPSInput.matches("evilexample.com", pattern: "*.example.com"))
    }

    @Test func aDrippingBodyIsCutOffAtTheDeadline() async throws {
        try await withServer(.init(timeout: .milliseconds(500), allowPlainHTTP: true)) { input, port in
            let uri = "http://media.public.test:\(port)/drip"
            let started = ContinuousClock.now
            await #expect(throws: StorageError.timedOut(uri)) {
                try await input.download(URL(string: uri)!, to: Self.target())
            }
            #expect(ContinuousClock.now - started < .seconds(4))  // the drip alone lasts 5 s
        }
    }
}
