import Foundation
import JobQueue
import Synchronization
import TestFixtures
import Testing

/// The store's contract, run against both engines: SQLite (a file in a temporary folder) and
/// a real PostgreSQL server (TestFixtures.PostgresServer, one fresh database per test).
enum Engine: String, CaseIterable, CustomTestStringConvertible {
    case sqlite, postgres
    var testDescription: String { rawValue }

    func open() async throws -> any SQLDatabase {
        switch self {
        case .sqlite: try SQLiteDatabase(path: NSTemporaryDirectory() + "jobs-\(UUID().uuidString)/jobs.sqlite")
        case .postgres: try PostgresDatabase(url: try await PostgresServer.freshDatabase(), statementTimeout: .seconds(60))
        }
    }
}

/// A clock the tests move by hand (leases expire without waiting).
final class TestClock: Sendable {
    private let time = Mutex(Date(timeIntervalSince1970: 1_800_000_000))
    var now: Date { time.withLock { $0 } }
    func advance(_ seconds: Double) { time.withLock { $0 += seconds } }
}

func withStore(_ engine: Engine, _ body: (JobStore, TestClock) async throws -> Void) async throws {
    let database = try await engine.open()
    let clock = TestClock()
    let store = JobStore(database: database, now: { clock.now })
    do {
        try await store.migrate()
        try await body(store, clock)
    } catch {
        await database.close()
        throw error
    }
    await database.close()
}

func newJob(_ body: String = #"{"word":"hi"}"#, key: String? = nil, webhook: String? = nil) -> NewJob {
    NewJob(request: body, metadata: #"{"tag":1}"#, webhookURL: webhook, idempotencyKey: key, requestHash: String(body.hashValue))
}

@Suite("Job store (SQLite and PostgreSQL)")
struct JobStoreTests {
    @Test(arguments: Engine.allCases)
    func migrationsAreVersionedAndRunOnce(_ engine: Engine) async throws {
        try await withStore(engine) { store, _ in
            #expect(try await store.migrate().isEmpty)  // withStore applied every version already
            let rows = try await store.database.query("SELECT version FROM schema_migrations ORDER BY version", [])
            #expect(rows.map { $0["version"] } == [.integer(1), .integer(2)])
        }
    }

    @Test(arguments: Engine.allCases)
    func submitClaimFinish(_ engine: Engine) async throws {
        try await withStore(engine) { store, clock in
            let (queued, created) = try await store.submit(newJob())
            #expect(created && queued.status == .queued && queued.attempts == 0 && queued.metadata == #"{"tag":1}"#)
            let claimed = try #require(try await store.claim(worker: "w1", lease: .seconds(30), maxAttempts: 3))
            #expect(claimed.id == queued.id && claimed.status == .running && claimed.attempts == 1 && claimed.leaseOwner == "w1")
            #expect(try await store.claim(worker: "w2", lease: .seconds(30), maxAttempts: 3) == nil)
            clock.advance(1)
            #expect(
                try await store.heartbeat(id: claimed.id, attempt: 1, lease: .seconds(30), progress: ("text_to_speech", 0.25))
                    == .held(cancelRequested: false))
            let running = try #require(try await store.job(id: queued.id))
            #expect(running.progressStep == "text_to_speech" && running.progressFraction == 0.25)
            #expect(try await store.finish(id: claimed.id, attempt: 1, outcome: .succeeded(result: #"{"ok":true}"#)))
            let done = try #require(try await store.job(id: queued.id))
            #expect(done.status == .succeeded && done.result == #"{"ok":true}"# && done.progressFraction == 1)
            #expect(done.finishedAt == clock.now && done.webhookState == nil)
            // Once finished, the attempt owns nothing: no second result.
            #expect(try await store.finish(id: claimed.id, attempt: 1, outcome: .failed(code: "x", message: "y")) == false)
        }
    }

    @Test(arguments: Engine.allCases)
    func idempotencyKeys(_ engine: Engine) async throws {
        try await withStore(engine) { store, _ in
            let first = try await store.submit(newJob(key: "order-42"))
            let again = try await store.submit(newJob(key: "order-42"))
            #expect(first.created && !again.created && again.record.id == first.record.id)
            await #expect(throws: IdempotencyConflict.self) { try await store.submit(newJob(#"{"word":"other"}"#, key: "order-42")) }
            #expect(try await store.list(limit: 10).count == 1)
        }
    }

    @Test(arguments: Engine.allCases)
    func expiredLeaseIsClaimedAgainThenFailsAsWorkerLost(_ engine: Engine) async throws {
        try await withStore(engine) { store, clock in
            let job = try await store.submit(newJob()).record
            _ = try await store.claim(worker: "w1", lease: .seconds(10), maxAttempts: 2)
            clock.advance(11)
            let second = try #require(try await store.claim(worker: "w2", lease: .seconds(10), maxAttempts: 2))
            #expect(second.id == job.id && second.attempts == 2 && second.leaseOwner == "w2")
            // The first worker comes back: fenced out.
            #expect(try await store.heartbeat(id: job.id, attempt: 1, lease: .seconds(10)) == .lost)
            #expect(try await store.finish(id: job.id, attempt: 1, outcome: .succeeded(result: "{}")) == false)
            clock.advance(11)
            #expect(try await store.claim(worker: "w3", lease: .seconds(10), maxAttempts: 2) == nil)
            let lost = try #require(try await store.job(id: job.id))
            #expect(lost.status == .failed && lost.errorCode == "worker_lost" && lost.attempts == 2)
        }
    }

    @Test(arguments: Engine.allCases)
    func cancelQueuedAndRunning(_ engine: Engine) async throws {
        try await withStore(engine) { store, _ in
            let queued = try await store.submit(newJob()).record
            let running = try await store.submit(newJob(#"{"b":1}"#)).record
            let claimed = try #require(try await store.claim(worker: "w", lease: .seconds(30), maxAttempts: 3))
            #expect(claimed.id == queued.id)  // oldest first
            // `queued` is running now; cancel the other while it is still queued.
            #expect(try await store.cancel(id: running.id)?.status == .cancelled)
            #expect(try await store.claim(worker: "w", lease: .seconds(30), maxAttempts: 3) == nil)
            let asked = try #require(try await store.cancel(id: queued.id))
            #expect(asked.status == .running && asked.cancelRequested)
            #expect(try await store.heartbeat(id: queued.id, attempt: 1, lease: .seconds(30)) == .held(cancelRequested: true))
            #expect(try await store.finish(id: queued.id, attempt: 1, outcome: .cancelled))
            #expect(try await store.job(id: queued.id)?.status == .cancelled)
            #expect(try await store.cancel(id: "no-such-job") == nil)
        }
    }

    @Test(arguments: Engine.allCases)
    func releasedJobRunsAgainWithoutCountingAnAttempt(_ engine: Engine) async throws {
        try await withStore(engine) { store, _ in
            let job = try await store.submit(newJob()).record
            _ = try await store.claim(worker: "w1", lease: .seconds(30), maxAttempts: 3)
            #expect(try await store.release(id: job.id, attempt: 1))
            let again = try #require(try await store.claim(worker: "w2", lease: .seconds(30), maxAttempts: 3))
            #expect(again.id == job.id && again.attempts == 1)
        }
    }

    @Test(arguments: Engine.allCases)
    func releasingACancelRequestedJobEndsIt(_ engine: Engine) async throws {
        try await withStore(engine) { store, _ in
            let job = try await store.submit(newJob(webhook: "https://example.com/h")).record
            _ = try await store.claim(worker: "w1", lease: .seconds(30), maxAttempts: 3)
            _ = try await store.cancel(id: job.id)
            #expect(try await store.release(id: job.id, attempt: 1))
            let ended = try #require(try await store.job(id: job.id))
            #expect(ended.status == .cancelled && ended.finishedAt != nil && ended.webhookState == .pending)
            #expect(try await store.claim(worker: "w2", lease: .seconds(30), maxAttempts: 3) == nil)
        }
    }

    @Test(arguments: Engine.allCases)
    func listingIsNewestFirstWithCursorsAndStatus(_ engine: Engine) async throws {
        try await withStore(engine) { store, _ in
            var ids: [String] = []
            for index in 0..<5 { ids.append(try await store.submit(newJob(#"{"n":\#(index)}"#)).record.id) }
            _ = try await store.cancel(id: ids[1])
            let page1 = try await store.list(limit: 2)
            #expect(page1.map(\.id) == [ids[4], ids[3]])
            let page2 = try await store.list(limit: 2, before: page1.last?.sequence)
            #expect(page2.map(\.id) == [ids[2], ids[1]])
            let page3 = try await store.list(limit: 2, before: page2.last?.sequence)
            #expect(page3.map(\.id) == [ids[0]])
            #expect(try await store.list(status: .cancelled, limit: 10).map(\.id) == [ids[1]])
        }
    }

    @Test(arguments: Engine.allCases)
    func webhookDeliveriesAreClaimedRetriedAndRecorded(_ engine: Engine) async throws {
        try await withStore(engine) { store, clock in
            let job = try await store.submit(newJob(webhook: "https://example.com/hook")).record
            _ = try await store.claim(worker: "w", lease: .seconds(30), maxAttempts: 3)
            #expect(try await store.claimWebhook(lease: .seconds(60)) == nil)  // not final yet
            try await store.finish(id: job.id, attempt: 1, outcome: .failed(code: "no_face", message: "no face"))
            let due = try #require(try await store.claimWebhook(lease: .seconds(60)))
            #expect(due.id == job.id && due.webhookState == .pending && due.webhookAttempts == 0)
            #expect(try await store.claimWebhook(lease: .seconds(60)) == nil)  // hidden while one sender has it
            try await store.recordWebhook(id: job.id, attempts: 0, delivered: false, retryAt: clock.now + 15, error: "HTTP 503")
            #expect(try await store.claimWebhook(lease: .seconds(60)) == nil)
            clock.advance(16)
            let retry = try #require(try await store.claimWebhook(lease: .seconds(60)))
            #expect(retry.webhookAttempts == 1 && retry.webhookLastError == "HTTP 503")
            try await store.recordWebhook(id: job.id, attempts: 1, delivered: true, retryAt: nil, error: nil)
            let summary = try await store.summary()
            #expect(summary.webhooks == [.delivered: 1] && summary.byStatus == [.failed: 1])
        }
    }

    @Test(arguments: Engine.allCases)
    func concurrentClaimersTakeEachJobOnce(_ engine: Engine) async throws {
        try await withStore(engine) { store, _ in
            for index in 0..<40 { _ = try await store.submit(newJob(#"{"n":\#(index)}"#)) }
            let taken = try await withThrowingTaskGroup(of: [String].self) { group in
                for worker in 0..<4 {
                    group.addTask {
                        var mine: [String] = []
                        while let job = try await store.claim(worker: "w\(worker)", lease: .seconds(60), maxAttempts: 3) {
                            mine.append(job.id)
                        }
                        return mine
                    }
                }
                return try await group.reduce(into: []) { $0 += $1 }
            }
            #expect(taken.count == 40 && Set(taken).count == 40)
        }
    }

    @Test(arguments: Engine.allCases)
    func sharedVideoCacheKeepsTheMostRecentlyUsed(_ engine: Engine) async throws {
        try await withStore(engine) { store, clock in
            #expect(try await store.cachedValue("a") == nil)
            try await store.saveCachedValue("a", "1", keep: 2)
            clock.advance(1)
            try await store.saveCachedValue("b", "2", keep: 2)
            clock.advance(1)
            #expect(try await store.cachedValue("a") == "1")  // used: now the most recent
            clock.advance(1)
            try await store.saveCachedValue("c", "3", keep: 2)  // "b" is the least recently used
            #expect(try await store.cachedValue("b") == nil)
            #expect(try await store.cachedValue("a") == "1")
            #expect(try await store.cachedValue("c") == "3")
            try await store.saveCachedValue("c", "4", keep: 2)
            #expect(try await store.cachedValue("c") == "4")
        }
    }

    @Test func unreachablePostgresIsStoreUnavailable() async throws {
        let port = try PostgresServer.freePort()
        let database = try PostgresDatabase(url: "postgres://lipsync@127.0.0.1:\(port)/none", statementTimeout: .seconds(2))
        let clock = ContinuousClock()
        let start = clock.now
        await #expect(throws: StoreUnavailable.self) { try await JobStore(database: database).ping() }
        #expect(clock.now - start < .seconds(120))  // answers (not hangs); generous: the suite shares two cores
        await database.close()
    }

    @Test func databaseURLsAreChecked() throws {
        for bad in ["mysql://u@h/db", "postgres:///db", "postgres://h/db", "postgres://u@h/db?sslmode=bogus", "not a url"] {
            #expect(throws: InvalidDatabaseURL.self, "\(bad)") { try PostgresDatabase(url: bad) }
        }
    }

    @Test func sqlitePlaceholdersAreNumbered() {
        #expect(SQLiteDatabase.positional("a = $1 AND b = $12 OR c = '$'") == "a = ?1 AND b = ?12 OR c = '$'")
    }
}
