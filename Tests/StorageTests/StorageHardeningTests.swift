import AsyncHTTPClient
import Dispatch
import Foundation
import Glibc
import NIOCore
import NIOPosix
import Resilience
import StorageTestSupport
import Testing

@testable import Storage

/// Names the filesystem or a reader would trip over are refused before any work.
@Suite struct StorageNameTests {
    @Test(arguments: [
        "/srv/a\u{85}b.mp4", "/srv/\u{9B}31m.mp4", "gs://bucket/x\u{80}.mp4", "out\u{7F}.mp4",
    ])
    func c1AndDeleteControlsAreRefused(_ text: String) {
        #expect(throws: StorageError.invalidURI(text, reason: "it contains control characters")) { try StorageURI(parsing: text) }
    }

    @Test(arguments: ["/srv/invoice\u{202E}4pm.exe", "gs://bucket/a\u{2066}b", "clips/\u{200F}x.mp4", "file:///srv/%E2%80%AEx.mp4"])
    func bidirectionalControlsAreRefused(_ text: String) throws {
        let error = #expect(throws: StorageError.self) { try StorageURI(parsing: text) }
        #expect("\(String(describing: error))".contains("bidirectional control") || "\(String(describing: error))".contains("control"))
    }

    @Test func namesOverTheFilesystemLimitAreRefusedUpFront() throws {
        let long = String(repeating: "n", count: 256)
        let error = #expect(throws: StorageError.self) { try StorageURI(parsing: "/tmp/" + long + ".mp4") }
        guard case .invalidURI(_, let reason)? = error else {
            Issue.record("got \(String(describing: error))")
            return
        }
        #expect(reason.contains("260 bytes long; the limit is 255"))
        #expect(throws: StorageError.self) { try StorageURI(parsing: "file:///tmp/" + long) }
        // 255 bytes of UTF-8 (85 three-byte characters) is the longest name, and it can be written.
        let longest = String(repeating: "한", count: 85)
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("names-\(UUID())").path
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let source = folder + "/source.bin"
        try Data([1, 2, 3]).write(to: URL(fileURLWithPath: source))
        guard case .local(let path) = try StorageURI(parsing: folder + "/" + longest) else {
            Issue.record("not local")
            return
        }
        try LocalStore(roots: [folder], maxInputBytes: 1 << 20).write(source, to: path)
        #expect(FileManager.default.contents(atPath: path) == Data([1, 2, 3]))
    }
}

/// Workspaces a killed process left behind are removed at start-up; live ones are not.
@Suite struct WorkspaceSweepTests {
    static func base() throws -> String {
        let base = FileManager.default.temporaryDirectory.appendingPathComponent("sweep-\(UUID())").path
        try FileManager.default.createDirectory(atPath: base, withIntermediateDirectories: true)
        return base
    }

    @Test func deadProcessesWorkspacesGoLiveOnesStay() throws {
        let base = try Self.base()
        defer { try? FileManager.default.removeItem(atPath: base) }
        // A process that is gone: no lock file (pid 2^22+7 is above Linux's pid_max).
        let dead = base + "/lipsync-4194311-job-abcd1234"
        // A process whose lock file exists but is not held any more (killed with SIGKILL).
        let killed = base + "/lipsync-4194312-job-dcba4321"
        FileManager.default.createFile(atPath: base + "/lipsync-4194312.lock", contents: nil)
        // A live process: its lock is held (a second open file description in this process
        // holds it, as another process would).
        let live = base + "/lipsync-4194313-job-11112222"
        let descriptor = open(base + "/lipsync-4194313.lock", O_RDWR | O_CREAT, 0o600)
        #expect(descriptor >= 0 && flock(descriptor, LOCK_EX) == 0)
        defer { close(descriptor) }
        // This process's own, current workspace, and things that are not workspaces.
        let mine = try RequestWorkspace.create(in: base, label: "current")
        for path in [dead, killed, live, base + "/lipsync-bench-xyz", base + "/other"] {
            try FileManager.default.createDirectory(atPath: path + "/inner", withIntermediateDirectories: true)
        }
        FileManager.default.createFile(atPath: base + "/lipsync-4194311-file", contents: Data([1]))

        let removed = try RequestWorkspace.sweepStale(in: base)
        #expect(Set(removed) == [dead, killed])
        let left = Set(try FileManager.default.contentsOfDirectory(atPath: base))
        #expect(!left.contains("lipsync-4194311-job-abcd1234") && !left.contains("lipsync-4194312-job-dcba4321"))
        #expect(
            left.isSuperset(of: [
                "lipsync-4194313-job-11112222", "lipsync-bench-xyz", "other", "lipsync-4194311-file",
                (mine.directory as NSString).lastPathComponent,
            ]))
        // Once the live process is gone, its workspace goes too.
        flock(descriptor, LOCK_UN)
        #expect(try RequestWorkspace.sweepStale(in: base) == [live])
        mine.remove()
    }

    @Test func ownPidFromBeforeThisProcessStartedIsStale() throws {
        let base = try Self.base()
        defer { try? FileManager.default.removeItem(atPath: base) }
        let start = try #require(RequestWorkspace.processStartTime())
        #expect(start < Date().timeIntervalSince1970 && start > Date().timeIntervalSince1970 - 86_400 * 30)
        let old = base + "/lipsync-\(getpid())-job-00000000"
        try FileManager.default.createDirectory(atPath: old, withIntermediateDirectories: true)
        try FileManager.default.setAttributes([.modificationDate: Date(timeIntervalSince1970: start - 60)], ofItemAtPath: old)
        let current = try RequestWorkspace.create(in: base, label: "now")
        #expect(try RequestWorkspace.sweepStale(in: base) == [old])
        #expect(FileManager.default.fileExists(atPath: current.directory))
        current.remove()
    }
}

/// Cloud Storage that cannot be reached answers quickly and within the operation's bound.
@Suite struct GoogleCloudStoreTimeoutTests {
    static let client: HTTPClient = {
        var configuration = HTTPClient.Configuration()
        configuration.timeout = .init(connect: .seconds(2), read: .seconds(30))
        configuration.connectionPool.retryConnectionEstablishment = false
        return HTTPClient(eventLoopGroup: HTTPClient.defaultEventLoopGroup, configuration: configuration)
    }()

    /// A port nobody listens on: every attempt is refused at once, the retries back off, and
    /// the error arrives in seconds (it took 458 s before connect failures stopped being
    /// retried until each request's deadline).
    @Test func refusedConnectionFailsFast() async throws {
        let refusing = try RefusingPort()
        defer { refusing.close() }
        let port = refusing.port
        // An operation bound far away: what ends the download is the refusals, not the bound.
        let store = GoogleCloudStore(
            settings: .init(endpoint: "http://127.0.0.1:\(port)", requestTimeout: .seconds(600)), client: Self.client, tokens: nil)
        let clock = ContinuousClock()
        let start = clock.now
        let error = await #expect(throws: StorageError.self) {
            try await store.download(bucket: "bucket", object: "in.mp4", to: "/dev/null")
        }
        // Five refused attempts and their backoff (≤ 7.5 s): seconds alone, tens of seconds on a
        // machine busy with the whole suite — not the 600 s each attempt waited before.
        #expect(clock.now - start < .seconds(90))
        guard case .upstream(_, nil, _)? = error else {
            Issue.record("got \(String(describing: error))")
            return
        }
    }

    /// A server that accepts and never answers: the whole operation, retries included, ends
    /// at GCS_TIMEOUT_SECONDS.
    @Test func silentServerEndsAtTheOperationBound() async throws {
        let group = MultiThreadedEventLoopGroup.singleton
        let silent = try await ServerBootstrap(group: group).bind(host: "127.0.0.1", port: 0).get()
        defer { silent.close(promise: nil) }
        let port = try #require(silent.localAddress?.port)
        // 100 attempts of 1 s each would take minutes; the operation bound ends it after 1 s.
        let retry = RetryPolicy(maxAttempts: 100, baseDelay: .milliseconds(1), maxDelay: .milliseconds(2))
        let store = GoogleCloudStore(
            settings: .init(endpoint: "http://127.0.0.1:\(port)", requestTimeout: .seconds(1), retry: retry),
            client: Self.client, tokens: nil)
        let clock = ContinuousClock()
        let start = clock.now
        await #expect(throws: StorageError.timedOut("gs://bucket/in.mp4")) {
            try await store.download(bucket: "bucket", object: "in.mp4", to: "/dev/null")
        }
        #expect(clock.now - start < .seconds(50))
    }

}

/// The time limit answers at the limit even when the work ignores its cancellation.
@Suite struct TimeLimitTests {
    struct Late: Error {}

    @Test func theLimitDoesNotWaitForWorkThatIgnoresCancellation() async throws {
        let clock = ContinuousClock()
        let start = clock.now
        await #expect(throws: Late.self) {
            try await withTimeLimit(.milliseconds(100), timeout: Late()) { () async throws -> Int in
                // Not cancellable: resumed only after 60 s, whatever happens to the task.
                await withCheckedContinuation { continuation in
                    DispatchQueue.global().asyncAfter(deadline: .now() + 60) { continuation.resume() }
                }
                return 1
            }
        }
        // Below the work's 60 s; generous: the suites share two threads, and tests that wait on
        // subprocesses (the CLI, the leak check) hold one of them for up to ~30 s.
        #expect(clock.now - start < .seconds(50))
        #expect(try await withTimeLimit(.seconds(5), timeout: Late()) { 7 } == 7)
        struct Failure: Error {}
        await #expect(throws: Failure.self) {
            try await withTimeLimit(.seconds(5), timeout: Late()) { () async throws -> Int in throw Failure() }
        }
    }

    @Test func cancellingTheCallerEndsAtOnce() async throws {
        let task = Task {
            try await withTimeLimit(.seconds(60), timeout: Late()) { () async throws -> Int in
                try await Task.sleep(for: .seconds(60))
                return 1
            }
        }
        task.cancel()
        await #expect(throws: CancellationError.self) { try await task.value }
    }
}
