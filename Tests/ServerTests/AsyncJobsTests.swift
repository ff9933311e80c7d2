import AsyncHTTPClient
import Crypto
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import JobQueue
import Media
import NIOCore
import NIOFoundationCompat
import NIOHTTP1
import Pipeline
import Storage
import StorageTestSupport
import Synchronization
import TestFixtures
import Testing

@testable import Server

/// `/api/v2/jobs` end to end in one process: a live HTTP server, the queue's workers and the
/// webhook sender on a real store (SQLite file, or a fresh database on the tests' PostgreSQL).
@Suite struct AsyncJobsTests {
    enum Engine: String, CaseIterable { case sqlite, postgres }

    static func openStore(_ engine: Engine) async throws -> JobStore {
        let database: any SQLDatabase =
            switch engine {
            case .sqlite: try SQLiteDatabase(path: NSTemporaryDirectory() + "jobs-\(UUID().uuidString)/jobs.sqlite")
            case .postgres: try PostgresDatabase(url: try await PostgresServer.freshDatabase(), statementTimeout: .seconds(60))
            }
        let store = JobStore(database: database)
        try await store.migrate()
        return store
    }

    static let secret = "test-webhook-secret"

    /// Webhooks to loopback receivers over plain http (tests only).
    static func webhookSettings(retryBase: Duration = .milliseconds(200)) -> WebhookSettings {
        WebhookSettings(
            secret: secret, maxAttempts: 8, retryBase: retryBase, timeout: .seconds(5),
            guardrail: HTTPSInput(settings: .init(allowPlainHTTP: true), policy: AddressPolicy(treatedAsPublic: ["127.0.0.1"])))
    }

    struct Context {
        let port: Int
        let server: LipSyncServer
        let jobs: AsyncJobs
        let directory: String
    }

    /// A live server on `store` with `workers` queue workers (0: nothing runs the jobs).
    func withJobServer(
        store: JobStore, workers: Int = 1, lease: Duration = .seconds(30), limiter: JobLimiter = JobLimiter(maxConcurrent: 2, maxQueued: 4),
        webhooks: WebhookSettings = AsyncJobsTests.webhookSettings(), directory given: String? = nil, sharedCache: Bool = false,
        playground: Bool = false, uploadLimit: Int? = nil,
        _ body: @Sendable (Context) async throws -> Void
    ) async throws {
        let directory = given ?? NSTemporaryDirectory() + "jobs-out-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory + "/work", withIntermediateDirectories: true)
        defer { if given == nil { try? FileManager.default.removeItem(atPath: directory) } }
        let jobs = AsyncJobs(
            store: store, workers: workers, lease: lease, pollInterval: .milliseconds(100), eventsInterval: .milliseconds(50),
            webhooks: webhooks)
        let storage = StorageService(
            local: LocalStore(roots: [directory, directory + "/playground", TestFixtures.root]), gcs: nil, gcsUnavailable: "no gs:// here",
            https: nil)
        let server = LipSyncServer(
            provider: LipSyncServerTests.provider(store: sharedCache ? store : nil), limiter: limiter, storage: storage,
            workspaceBase: directory + "/work",
            jobTimeout: .seconds(120), jobs: jobs,
            playground: playground ? PlaygroundSettings(directory: directory + "/playground", limits: Self.limits(uploadLimit)) : nil)
        let running = Task { try await JobWorkers(server: server, jobs: jobs).run() }
        defer { running.cancel() }
        let app = Application(router: server.router(), configuration: .init(address: .hostname("127.0.0.1", port: 0)))
        try await app.test(.live) { client in
            try await body(Context(port: try #require(client.port), server: server, jobs: jobs, directory: directory))
        }
        running.cancel()
        _ = await running.result
    }

    static func limits(_ maxFileBytes: Int?) -> MediaLimits {
        var limits = MediaLimits()
        if let maxFileBytes { limits.maxFileBytes = maxFileBytes }
        return limits
    }

    static func job(output: String, word: String = "hi", extra: String = "") -> String {
        LipSyncServerTests.job(word: word, output: output, extra: extra)
    }

    /// One HTTP exchange: status, headers and the JSON body.
    static func call(
        _ port: Int, _ method: HTTPMethod, _ path: String, body: String? = nil, headers: [(String, String)] = []
    ) async throws -> (status: Int, json: [String: Any], headers: HTTPHeaders) {
        var request = HTTPClientRequest(url: "http://127.0.0.1:\(port)\(path)")
        request.method = method
        for (name, value) in headers { request.headers.add(name: name, value: value) }
        if let body { request.body = .bytes(ByteBuffer(string: body)) }
        let response = try await HTTPClient.shared.execute(request, timeout: .seconds(30))
        let data = try await response.body.collect(upTo: 1 << 20)
        let json = (try? JSONSerialization.jsonObject(with: Data(buffer: data))) as? [String: Any] ?? [:]
        return (Int(response.status.code), json, response.headers)
    }

    static func errorCode(_ json: [String: Any]) -> String? { (json["error"] as? [String: Any])?["code"] as? String }

    /// Polls the job until `condition` holds (60 s at most: the tests share two cores).
    static func waitForJob(_ port: Int, _ id: String, until condition: ([String: Any]) -> Bool) async throws -> [String: Any] {
        for _ in 0..<600 {
            let (_, job, _) = try await call(port, .GET, "/api/v2/jobs/\(id)")
            if condition(job) { return job }
            try await Task.sleep(for: .milliseconds(100))
        }
        Issue.record("job \(id) did not reach the expected state within 60 s")
        return [:]
    }

    static func isFinal(_ job: [String: Any]) -> Bool {
        ["succeeded", "failed", "cancelled"].contains(job["status"] as? String ?? "")
    }

    @Test(arguments: Engine.allCases)
    func submittedJobRunsOnceWithIdempotency(_ engine: Engine) async throws {
        let store = try await Self.openStore(engine)
        try await withJobServer(store: store) { context in
            let body = Self.job(output: context.directory + "/out.mp4", extra: #", "metadata": {"order": 42, "tags": ["a"]}"#)
            let key = [("Idempotency-Key", "order-42")]
            let (status, job, headers) = try await Self.call(context.port, .POST, "/api/v2/jobs", body: body, headers: key)
            #expect(status == 202 && job["status"] as? String == "queued")
            let id = try #require(job["id"] as? String)
            #expect(headers.first(name: "Location") == "/api/v2/jobs/\(id)")
            let done = try await Self.waitForJob(context.port, id, until: Self.isFinal)
            #expect(done["status"] as? String == "succeeded" && done["attempts"] as? Int == 1)
            #expect((done["metadata"] as? [String: Any])?["order"] as? Int == 42)
            let result = try #require(done["result"] as? [String: Any])
            #expect((result["frames"] as? Int ?? 0) > 0 && result["output_video_gs"] as? String == context.directory + "/out.mp4")
            #expect((done["progress"] as? [String: Any])?["fraction"] as? Double == 1)
            #expect(FileManager.default.fileExists(atPath: context.directory + "/out.mp4"))
            // The same key and body: the same job, not a second one.
            let again = try await Self.call(context.port, .POST, "/api/v2/jobs", body: body, headers: key)
            #expect(again.status == 200 && again.json["id"] as? String == id && again.json["status"] as? String == "succeeded")
            // The same key with another body: refused.
            let other = try await Self.call(
                context.port, .POST, "/api/v2/jobs", body: Self.job(output: context.directory + "/x.mp4"), headers: key)
            #expect(other.status == 409 && Self.errorCode(other.json) == "idempotency_conflict")
            let list = try await Self.call(context.port, .GET, "/api/v2/jobs")
            #expect((list.json["jobs"] as? [Any])?.count == 1)
        }
        await store.database.close()
    }

    @Test func eventsFollowTheJobToItsEnd() async throws {
        let store = try await Self.openStore(.sqlite)
        try await withJobServer(store: store, workers: 0) { context in
            let body = Self.job(output: context.directory + "/out.mp4", word: "hello there, this is a somewhat longer phrase to render")
            let (_, job, _) = try await Self.call(context.port, .POST, "/api/v2/jobs", body: body)
            let id = try #require(job["id"] as? String)
            // Connect while it is queued, then let a worker take it.
            var request = HTTPClientRequest(url: "http://127.0.0.1:\(context.port)/api/v2/jobs/\(id)/events")
            request.method = .GET
            let response = try await HTTPClient.shared.execute(request, timeout: .seconds(120))
            #expect(response.headers.first(name: "Content-Type") == "text/event-stream")
            var oneWorker = context.jobs
            oneWorker.workers = 1
            let worker = Task { [oneWorker] in try await JobWorkers(server: context.server, jobs: oneWorker).run() }
            defer { worker.cancel() }
            let text = String(buffer: try await response.body.collect(upTo: 4 << 20))  // ends after the final state
            let events = text.components(separatedBy: "\n\n").filter { $0.hasPrefix("event: ") }
            let decoded = try events.map { event -> (name: String, job: [String: Any]) in
                let lines = event.split(separator: "\n")
                let data = try #require(lines.first { $0.hasPrefix("data: ") }?.dropFirst(6))
                return (
                    String(lines[0].dropFirst(7)), try #require(try JSONSerialization.jsonObject(with: Data(data.utf8)) as? [String: Any])
                )
            }
            let statuses = decoded.filter { $0.name == "status" }.map { $0.job["status"] as? String ?? "" }
            #expect(statuses == ["queued", "running", "succeeded"])
            let fractions = decoded.compactMap { ($0.job["progress"] as? [String: Any])?["fraction"] as? Double }
            #expect(fractions == fractions.sorted() && fractions.last == 1)
        }
        await store.database.close()
    }

    @Test func cancelQueuedAndRunningJobs() async throws {
        let store = try await Self.openStore(.sqlite)
        // Memory admission holds the running job after its input is fetched (the budget is
        // taken by the test), so it is surely running when the cancel comes.
        let limiter = JobLimiter(maxConcurrent: 2, maxQueued: 4, memoryBudget: 1 << 40)
        let held = try await HeldSlot.take(limiter, reserving: (1 << 40) - 1)
        try await withJobServer(store: store, workers: 1, lease: .seconds(2), limiter: limiter) { context in
            let (_, running, _) = try await Self.call(
                context.port, .POST, "/api/v2/jobs", body: Self.job(output: context.directory + "/running.mp4"))
            let runningID = try #require(running["id"] as? String)
            _ = try await Self.waitForJob(context.port, runningID) { $0["status"] as? String == "running" }
            let (_, queued, _) = try await Self.call(
                context.port, .POST, "/api/v2/jobs", body: Self.job(output: context.directory + "/queued.mp4"))
            let queuedID = try #require(queued["id"] as? String)
            let cancelQueued = try await Self.call(context.port, .DELETE, "/api/v2/jobs/\(queuedID)")
            #expect(cancelQueued.status == 200 && cancelQueued.json["status"] as? String == "cancelled")
            let cancelRunning = try await Self.call(context.port, .DELETE, "/api/v2/jobs/\(runningID)")
            #expect(cancelRunning.status == 200 && cancelRunning.json["cancel_requested"] as? Bool == true)
            let stopped = try await Self.waitForJob(context.port, runningID, until: Self.isFinal)
            #expect(stopped["status"] as? String == "cancelled" && stopped["result"] is NSNull)
            let again = try await Self.call(context.port, .DELETE, "/api/v2/jobs/\(runningID)")
            #expect(again.status == 200)  // cancelling a cancelled job changes nothing
            #expect(try FileManager.default.contentsOfDirectory(atPath: context.directory) == ["work"])  // nothing stored
            #expect(try await store.job(id: queuedID)?.startedAt == nil)  // the queued one never started
        }
        await held.release()
        await store.database.close()
    }

    @Test func badRequestsGetClearErrors() async throws {
        let store = try await Self.openStore(.sqlite)
        try await withJobServer(store: store, workers: 0, webhooks: WebhookSettings()) { context in
            let good = Self.job(output: context.directory + "/out.mp4")
            let big = String(repeating: "x", count: 5000)
            let cases: [(body: String, headers: [(String, String)], status: Int, code: String)] = [
                ("not json", [], 400, "invalid_json"),
                ("[1, 2]", [], 400, "invalid_json"),
                (good.dropLast() + #", "metadata": [1]}"#, [], 400, "invalid_metadata"),
                (good.dropLast() + #", "metadata": {"big": "\#(big)"}}"#, [], 400, "metadata_too_large"),
                (good.dropLast() + #", "webhook_url": "https://example.com/h"}"#, [], 400, "webhooks_not_configured"),
                (good, [("Idempotency-Key", String(repeating: "k", count: 256))], 400, "invalid_idempotency_key"),
                (#"{"user_video_gs": "a.mp4"}"#, [], 400, "missing_field"),
                (Self.job(output: "/etc/out.mp4"), [], 400, "invalid_uri"),
            ]
            for item in cases {
                let (status, json, _) = try await Self.call(context.port, .POST, "/api/v2/jobs", body: item.body, headers: item.headers)
                #expect(status == item.status && Self.errorCode(json) == item.code, "\(item.body.prefix(80)): \(json)")
            }
            let gets: [(String, Int, String)] = [
                ("/api/v2/jobs/not-a-uuid", 400, "invalid_job_id"),
                ("/api/v2/jobs/\(UUID().uuidString.lowercased())", 404, "job_not_found"),
                ("/api/v2/jobs?status=done", 400, "invalid_status"),
                ("/api/v2/jobs?limit=0", 400, "invalid_limit"),
                ("/api/v2/jobs?limit=101", 400, "invalid_limit"),
                ("/api/v2/jobs?cursor=%%%", 400, "invalid_cursor"),
                ("/api/v2/jobs?cursor=czA", 400, "invalid_cursor"),  // "s0"
            ]
            for (path, status, code) in gets {
                let answer = try await Self.call(context.port, .GET, path)
                #expect(answer.status == status && Self.errorCode(answer.json) == code, "\(path): \(answer.json)")
            }
            #expect(try await store.list(limit: 10).isEmpty)  // nothing was queued
        }
        await store.database.close()
    }

    @Test func webhookGuardRefusesPrivateAddresses() async throws {
        let store = try await Self.openStore(.sqlite)
        let strict = WebhookSettings(secret: Self.secret)  // the production guard: public addresses only
        try await withJobServer(store: store, workers: 0, webhooks: strict) { context in
            for url in ["http://example.com/h", "https://127.0.0.1/h", "https://169.254.169.254/latest", "https://user:pw@example.com/"] {
                let body = Self.job(output: context.directory + "/out.mp4").dropLast() + #", "webhook_url": "\#(url)"}"#
                let (status, json, _) = try await Self.call(context.port, .POST, "/api/v2/jobs", body: String(body))
                #expect(status == 400 && Self.errorCode(json) == "invalid_webhook_url", "\(url): \(json)")
            }
        }
        await store.database.close()
    }

    /// The receiver is down (nothing listens) for the first delivery and up later: the job's
    /// webhook arrives once, signed, after retries kept in the store.
    @Test func webhookIsSignedAndRetriedUntilTheReceiverIsUp() async throws {
        let store = try await Self.openStore(.sqlite)
        let receiverPort = try PostgresServer.freePort()
        let received = Mutex<[(headers: HTTPFields, body: Data)]>([])
        try await withJobServer(store: store) { context in
            let hook = "http://127.0.0.1:\(receiverPort)/hook"
            let body = Self.job(output: context.directory + "/out.mp4").dropLast() + #", "webhook_url": "\#(hook)"}"#
            let (status, job, _) = try await Self.call(context.port, .POST, "/api/v2/jobs", body: String(body))
            #expect(status == 202)
            let id = try #require(job["id"] as? String)
            let failed = try await Self.waitForJob(context.port, id) { (($0["webhook"] as? [String: Any])?["attempts"] as? Int ?? 0) >= 1 }
            #expect((failed["webhook"] as? [String: Any])?["state"] as? String == "pending")
            // Now the receiver comes up.
            let router = Router()
            router.post("/hook") { request, _ -> HTTPResponse.Status in
                let data = Data(buffer: try await request.body.collect(upTo: 1 << 20))
                received.withLock { $0.append((request.headers, data)) }
                return .noContent
            }
            let receiver = Application(router: router, configuration: .init(address: .hostname("127.0.0.1", port: receiverPort)))
            let listening = Task { try await receiver.run() }
            let delivered = try await Self.waitForJob(context.port, id) {
                ($0["webhook"] as? [String: Any])?["state"] as? String == "delivered"
            }
            #expect(((delivered["webhook"] as? [String: Any])?["attempts"] as? Int ?? 0) >= 2)
            listening.cancel()
            _ = await listening.result
            let deliveries = received.withLock { $0 }
            #expect(deliveries.count == 1)
            let delivery = try #require(deliveries.first)
            let signature = try #require(delivery.headers[HTTPField.Name("LipSync-Signature")!])
            let parts = Dictionary(
                uniqueKeysWithValues: signature.split(separator: ",").map { part in
                    let pair = part.split(separator: "=", maxSplits: 1)
                    return (String(pair[0]), String(pair[1]))
                })
            let time = try #require(parts["t"])
            var message = Data("\(time).".utf8)
            message.append(delivery.body)
            let expected = HMAC<SHA256>.authenticationCode(for: message, using: SymmetricKey(data: Data(Self.secret.utf8)))
            #expect(parts["v1"] == expected.map { String(format: "%02x", $0) }.joined())
            let sent = try #require(try JSONSerialization.jsonObject(with: delivery.body) as? [String: Any])
            #expect(sent["id"] as? String == id && sent["status"] as? String == "succeeded")
            #expect(abs((Double(time) ?? 0) - Date().timeIntervalSince1970) < 120)
        }
        await store.database.close()
    }

    @Test func unreachableStoreAnswers503AndLosesNothing() async throws {
        let port = try PostgresServer.freePort()
        let database = try PostgresDatabase(url: "postgres://lipsync@127.0.0.1:\(port)/none", statementTimeout: .seconds(1))
        try await withJobServer(store: JobStore(database: database), workers: 0) { context in
            let (status, json, headers) = try await Self.call(
                context.port, .POST, "/api/v2/jobs", body: Self.job(output: context.directory + "/out.mp4"))
            #expect(status == 503 && Self.errorCode(json) == "store_unavailable" && headers.first(name: "Retry-After") == "5")
            let ready = try await Self.call(context.port, .GET, "/readyz")
            #expect(ready.status == 503)
            let list = try await Self.call(context.port, .GET, "/api/v2/jobs")
            #expect(list.status == 503)
        }
        await database.close()
    }

    /// SQLite, the embedded default: jobs queued by a server that then stops run when the next one starts.
    @Test func queuedJobsSurviveARestart() async throws {
        let path = NSTemporaryDirectory() + "jobs-\(UUID().uuidString)/jobs.sqlite"
        let output = NSTemporaryDirectory() + "restart-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: output) }
        let first = JobStore(database: try SQLiteDatabase(path: path))
        try await first.migrate()
        let ids = Mutex<[String]>([])
        try await withJobServer(store: first, workers: 0, directory: output) { context in
            for index in 0..<3 {
                let (status, job, _) = try await Self.call(
                    context.port, .POST, "/api/v2/jobs", body: Self.job(output: "\(output)/out\(index).mp4"))
                #expect(status == 202)
                if let id = job["id"] as? String { ids.withLock { $0.append(id) } }
            }
        }
        await first.database.close()
        let second = JobStore(database: try SQLiteDatabase(path: path))
        try await second.migrate()
        try await withJobServer(store: second, workers: 1, directory: output) { context in
            for id in ids.withLock({ $0 }) {
                let done = try await Self.waitForJob(context.port, id, until: Self.isFinal)
                #expect(done["status"] as? String == "succeeded", "\(done)")
            }
        }
        await second.database.close()
        #expect(ids.withLock { $0.count } == 3)
        #expect(Set(try FileManager.default.contentsOfDirectory(atPath: output)) == ["work", "out0.mp4", "out1.mp4", "out2.mp4"])
    }

    /// A worker that vanished (its claim made directly in the store, never renewed): once the
    /// lease runs out a live worker takes the job, as attempt 2, and finishes it.
    @Test func jobOfAVanishedWorkerRunsAgainElsewhere() async throws {
        let store = try await Self.openStore(.sqlite)
        try await withJobServer(store: store, workers: 0, lease: .seconds(1)) { context in
            let (_, job, _) = try await Self.call(
                context.port, .POST, "/api/v2/jobs", body: Self.job(output: context.directory + "/out.mp4"))
            let id = try #require(job["id"] as? String)
            let ghost = try #require(try await store.claim(worker: "vanished", lease: .seconds(1), maxAttempts: 3))
            #expect(ghost.id == id)
            var oneWorker = context.jobs
            oneWorker.workers = 1
            let worker = Task { [oneWorker] in try await JobWorkers(server: context.server, jobs: oneWorker).run() }
            defer { worker.cancel() }
            let done = try await Self.waitForJob(context.port, id, until: Self.isFinal)
            #expect(done["status"] as? String == "succeeded" && done["attempts"] as? Int == 2)
            // The vanished worker comes back and tries to record: fenced out.
            #expect(try await store.finish(id: id, attempt: 1, outcome: .failed(code: "late", message: "late")) == false)
            #expect(try await store.job(id: id)?.status == .succeeded)
        }
        await store.database.close()
    }

    /// Two servers with their own pipelines on one store: the second sees the clip the first
    /// processed as cached (its face detections came from the store's video cache).
    @Test(arguments: Engine.allCases)
    func perVideoWorkIsSharedThroughTheStore(_ engine: Engine) async throws {
        let store = try await Self.openStore(engine)
        let output = NSTemporaryDirectory() + "shared-cache-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: output) }
        for (index, expectCached) in [false, true].enumerated() {
            try await withJobServer(store: store, directory: output, sharedCache: true) { context in
                let (_, job, _) = try await Self.call(
                    context.port, .POST, "/api/v2/jobs", body: Self.job(output: "\(output)/o\(index).mp4"))
                let done = try await Self.waitForJob(context.port, try #require(job["id"] as? String), until: Self.isFinal)
                #expect(done["status"] as? String == "succeeded")
                #expect((done["result"] as? [String: Any])?["cached"] as? Bool == expectCached, "job \(index): \(done)")
            }
        }
        #expect(try await store.database.query("SELECT key FROM video_cache", []).count == 1)
        await store.database.close()
    }

    /// The upload route against broken and hostile bodies: every one a clear 4xx, nothing kept.
    @Test func uploadsRefuseBrokenAndHostileBodies() async throws {
        let store = try await Self.openStore(.sqlite)
        let photo = try Data(contentsOf: URL(fileURLWithPath: TestFixtures.root + "/faces/astronaut.png"))
        try await withJobServer(store: store, workers: 0, playground: true, uploadLimit: photo.count + 10) { context in
            func multipart(_ parts: [(headers: String, body: Data)], boundary: String = "XyZ", close: Bool = true) -> Data {
                var data = Data()
                for part in parts {
                    data += Data("--\(boundary)\r\n\(part.headers)\r\n\r\n".utf8) + part.body + Data("\r\n".utf8)
                }
                if close { data += Data("--\(boundary)--\r\n".utf8) }
                return data
            }
            func upload(_ body: Data, type: String = "multipart/form-data; boundary=XyZ") async throws -> (Int, [String: Any]) {
                var request = HTTPClientRequest(url: "http://127.0.0.1:\(context.port)/api/v2/uploads")
                request.method = .POST
                request.headers.add(name: "Content-Type", value: type)
                request.body = .bytes(ByteBuffer(data: body))
                let response = try await HTTPClient.shared.execute(request, timeout: .seconds(30))
                let data = try await response.body.collect(upTo: 1 << 20)
                return (Int(response.status.code), (try? JSONSerialization.jsonObject(with: Data(buffer: data))) as? [String: Any] ?? [:])
            }
            let file = #"Content-Disposition: form-data; name="file"; filename="../../../etc/evil.mp4""#
            let cases: [(String, Data, String, Int, String)] = [
                ("not multipart", photo, "image/png", 415, "invalid_upload"),
                ("no boundary", photo, "multipart/form-data", 415, "invalid_upload"),
                ("no parts", Data("--XyZ--\r\n".utf8), "multipart/form-data; boundary=XyZ", 400, "invalid_upload"),
                ("garbage", Data("\u{0}\u{1}not multipart at all".utf8), "multipart/form-data; boundary=XyZ", 400, "invalid_upload"),
                (
                    "other part only", multipart([(#"Content-Disposition: form-data; name="other""#, photo)]),
                    "multipart/form-data; boundary=XyZ", 400, "invalid_upload"
                ),
                ("empty file", multipart([(file, Data())]), "multipart/form-data; boundary=XyZ", 400, "invalid_upload"),
                (
                    "too large", multipart([(file, photo + Data(count: 100))]), "multipart/form-data; boundary=XyZ", 413,
                    "upload_too_large"
                ),
                ("not media", multipart([(file, Data("hello".utf8))]), "multipart/form-data; boundary=XyZ", 422, "invalid_media"),
                (
                    "truncated", multipart([(file, photo)], close: false).prefix(2000), "multipart/form-data; boundary=XyZ", 400,
                    "invalid_upload"
                ),
            ]
            for (name, body, type, status, code) in cases {
                let (got, json) = try await upload(body, type: type)
                #expect(got == status && Self.errorCode(json) == code, "\(name): \(got) \(json)")
            }
            // A good upload whose name tries to climb out: stored under a fresh name, in the uploads folder.
            let (status, json) = try await upload(multipart([(file, photo)]))
            #expect(status == 201)
            let uri = try #require(json["uri"] as? String)
            #expect(uri.hasPrefix(context.directory + "/playground/uploads/") && uri.hasSuffix(".mp4") && !uri.contains(".."))
            let kept = try FileManager.default.contentsOfDirectory(atPath: context.directory + "/playground/uploads")
            #expect(kept.count == 1, "\(kept)")  // nothing partial left by the refused ones
        }
        await store.database.close()
    }

    @Test func progressIsOneFractionOfTheWholeJob() {
        var tracker = ProgressTracker()
        let renderHalf = JobProgress(step: "lip-sync_render", event: .frames(.init(framesDone: 50, framesTotal: 100)))
        let changes = [
            tracker.apply(.init(step: "fetch_input", event: .started)),
            tracker.apply(.init(step: "text_to_speech", event: .finished)),
        ]
        #expect(changes == [true, true] && tracker.fraction == 0.15)
        let half = tracker.apply(renderHalf)
        #expect(half && abs(tracker.fraction - 0.625) < 1e-9)
        let same = tracker.apply(renderHalf)
        #expect(!same)
        _ = tracker.apply(.init(step: "voice_conversion", event: .started))  // never backwards
        #expect(abs(tracker.fraction - 0.625) < 1e-9)
        _ = tracker.apply(.init(step: "store_output", event: .finished))
        #expect(tracker.fraction == 1)
    }
}
