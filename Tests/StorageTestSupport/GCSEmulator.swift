import AsyncHTTPClient
import Foundation
import Glibc
import NIOCore
import NIOHTTP1
public import Storage

/// A real Cloud Storage emulator (PyPI gcp-storage-emulator, installed into .venv by
/// `make setup`), started per test on a free loopback port with an in-memory bucket.
public final class GCSEmulator: Sendable {
    public static let bucket = "lipsync-test"
    public let endpoint: String
    private let process: Process

    static var executable: String {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        return root.appendingPathComponent(".venv/bin/gcp-storage-emulator").path
    }

    public init() async throws {
        guard FileManager.default.isExecutableFile(atPath: Self.executable) else {
            throw CocoaError(.fileNoSuchFile, userInfo: [NSFilePathErrorKey: Self.executable + " (run `make setup`)"])
        }
        let port = try Self.freePort()
        let process = Process()
        process.executableURL = URL(fileURLWithPath: Self.executable)
        process.arguments = ["start", "--port", "\(port)", "-H", "127.0.0.1", "--default-bucket", Self.bucket, "-M", "-q"]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        self.process = process
        self.endpoint = "http://127.0.0.1:\(port)"
        // Ready when the bucket list answers (the emulator takes ~1 s to start).
        for _ in 0..<100 {
            var request = HTTPClientRequest(url: endpoint + "/storage/v1/b")
            request.method = .GET
            if let response = try? await HTTPClient.shared.execute(request, timeout: .seconds(1)), response.status == .ok { return }
            try await Task.sleep(for: .milliseconds(100))
        }
        kill(process.processIdentifier, SIGKILL)
        throw CocoaError(.featureUnsupported, userInfo: [NSLocalizedDescriptionKey: "the GCS emulator did not start on port \(port)"])
    }

    /// The emulator does not stop on SIGTERM, and Foundation's waitUntilExit spins off the
    /// main thread on Linux: SIGKILL, then a bounded wait for Foundation to reap it.
    deinit {
        kill(process.processIdentifier, SIGKILL)
        for _ in 0..<200 where process.isRunning { usleep(10_000) }
    }

    public func store(settings: GoogleCloudStore.Settings = .init(), endpoint: String? = nil) -> GoogleCloudStore {
        var settings = settings
        settings.endpoint = endpoint ?? self.endpoint
        return GoogleCloudStore(settings: settings, client: .shared, tokens: nil)
    }

    /// A port free a moment ago (the emulator binds it next; another server could too).
    public static func freePort() throws -> Int {
        let refusing = try RefusingPort()
        defer { refusing.close() }
        return refusing.port
    }
}

/// Random bytes of a given size in a temporary file.
public func temporaryFile(bytes count: Int, seed: UInt64 = 1) throws -> String {
    var state = seed &+ 0x9E37_79B9_7F4A_7C15
    var data = Data(capacity: count)
    for _ in 0..<count {
        state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
        data.append(UInt8(truncatingIfNeeded: state >> 33))
    }
    let path = FileManager.default.temporaryDirectory.appendingPathComponent("storage-\(UUID().uuidString)").path
    try data.write(to: URL(fileURLWithPath: path))
    return path
}

/// A port that refuses connections while this value is open: a socket bound to it but not
/// listening (a connection gets a reset), so no other test's server can take the port over
/// meanwhile — as a port merely found free and closed again can be, under load.
public final class RefusingPort: Sendable {
    public let port: Int
    let descriptor: Int32

    public init() throws {
        let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(descriptor, $0, length) == 0 && getsockname(descriptor, $0, &length) == 0
            }
        }
        guard descriptor >= 0, bound else {
            if descriptor >= 0 { Glibc.close(descriptor) }
            throw CocoaError(.featureUnsupported)
        }
        self.descriptor = descriptor
        port = Int(UInt16(bigEndian: address.sin_port))
    }

    public func close() {
        Glibc.close(descriptor)
    }
}
