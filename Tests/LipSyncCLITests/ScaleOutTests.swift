import AsyncHTTPClient
import Foundation
import NIOCore
import NIOFoundationCompat
import TestFixtures
import Testing

/// Many processes on one PostgreSQL, as deployed: `lipsync serve` and `lipsync worker`
/// processes (the built binary) share a fresh database on the tests' PostgreSQL server.
@Suite(.serialized) struct ScaleOutTests {
    /// A running `lipsync` process, its output in a file.
    final class Running: @unchecked Sendable {
        let process = Process()
        let log: String
        let port: Int?

        init(_ arguments: [String], environment: [String: String], log: String, port: Int? = nil) throws {
            self.log = log
            self.port = port
            process.executableURL = LipSyncCommandTests.binary
            process.arguments = arguments
            process.environment = ProcessInfo.processInfo.environment.merging(environment) { _, new in new }
            FileManager.default.createFile(atPath: log, contents: nil)
            let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: log))
            process.standardOutput = handle
            process.standardError = handle
            process.standardInput = FileHandle.nullDevice
            try process.run()
        }

        var pid: Int32 { process.processIdentifier }
        var output: String { (try? String(contentsOfFile: log, encoding: .utf8)) ?? "" }

        func kill(_ signal: Int32) { Glibc.kill(process.processIdentifier, signal) }

        func stop() { TestFixtures.stop(pid: process.processIdentifier) }
    }

    /// Servers and worker processes on one database (by default two servers and one worker,
    /// every process with one queue worker).
    struct Cluster {
        let directory: String
        let database: String
        let servers: [Running]
        let workers: [Running]
        var worker: Running { workers[0] }

        static func start(
            servers serverCount: Int = 2, serverWorkers: Int = 1, workers workerCount: Int = 1, lease: Int = 3, drainSeconds: Int = 60
        ) async throws -> Cluster {
            let directory = NSTemporaryDirectory() + "scaleout-\(UUID().uuidString)"
            try FileManager.default.createDirectory(atPath: directory + "/work", withIntermediateDirectories: true)
            let database = try await PostgresServer.freshDatabase()
            let environment = [
                "DATABASE_URL": database, "WORKERS": "1", "JOB_LEASE_SECONDS": "\(lease)", "JOB_POLL_INTERVAL_MS": "200",
                "STORAGE_ROOTS": "\(directory):\(TestFixtures.root)", "TEMP_DIR": directory + "/work", "MODELS_DIR": TestFixtures.models,
                "EXECUTION_PROVIDERS": "cpu", "LOG_LEVEL": "info", "MAX_CONCURRENT_JOBS": "1", "INTRA_OP_THREADS": "1",
                "DRAIN_TIMEOUT_SECONDS": "\(drainSeconds)",
            ]
            var servers: [Running] = []
            for index in 0..<serverCount {
                let port = try PostgresServer.freePort()
                var env = environment
                env["PORT"] = "\(port)"
                env["WORKERS"] = "\(serverWorkers)"
                servers.append(try Running(["serve"], environment: env, log: "\(directory)/serve\(index).log", port: port))
            }
            let workers = try (0..<workerCount).map {
                try Running(["worker"], environment: environment, log: "\(directory)/worker\($0).log")
            }
            let cluster = Cluster(directory: directory, database: database, servers: servers, workers: workers)
            do {
                for server in servers {
                    try await waitFor("\(server.log) ready", seconds: 120) { (try? await call(server, "GET", "/readyz").status) == 200 }
                }
                for worker in workers {
                    try await waitFor("the worker process running", seconds: 120) { worker.output.contains("starting") }
                }
            } catch {
                for process in servers + workers { Issue.record("\(process.log):\n\(process.output.suffix(3000))") }
                cluster.stop()
                throw error
            }
            return cluster
        }

        /// Runs `sql` in the cluster's database (psql): its unaligned output.
        func sql(_ sql: String) throws -> String {
            let name = String(database.split(separator: "/").last?.split(separator: "?").first ?? "")
            return try PostgresServer.shared.get().psql(sql, database: name)
        }

        func stop() {
            for process in servers + workers { process.stop() }
            try? FileManager.default.removeItem(atPath: directory)
        }
    }

    static func call(_ server: Running, _ method: String, _ path: String, body: String? = nil) async throws
        -> (status: Int, json: [String: Any])
    {
        var request = HTTPClientRequest(url: "http://127.0.0.1:\(server.port ?? 0)\(path)")
        request.method = .RAW(value: method)
        if let body { request.body = .bytes(ByteBuffer(string: body)) }
        let response = try await HTTPClient.shared.execute(request, timeout: .seconds(30))
        let data = try await response.body.collect(upTo: 1 << 20)
        return (Int(response.status.code), (try? JSONSerialization.jsonObject(with: Data(buffer: data))) as? [String: Any] ?? [:])
    }

    static func waitFor(_ what: String, seconds: Int, _ condition: () async -> Bool) async throws {
        let deadline = ContinuousClock.now + .seconds(seconds)
        while ContinuousClock.now < deadline {
            if await condition() { return }
            try await Task.sleep(for: .milliseconds(50))
        }
        Issue.record("\(what): not within \(seconds) s")
        throw CancellationError()
    }

    static func body(output: String, word: String = "hi") -> String {
        let video = TestFixtures.root + "/faces/astronaut.png"
        return #"{"word": "\#(word)", "user_video_gs": "\#(video)", "output_video_gs": "\#(output)", "tts_lang": "en"}"#
    }

    static func isMP4(_ path: String) -> Bool {
        guard let data = FileManager.default.contents(atPath: path), data.count > 1000 else { return false }
        return String(decoding: data[4..<8], as: UTF8.self) == "ftyp"
    }

    /// 30 jobs sent to both servers: every one succeeds, on its first attempt, with a valid output.
    @Test func jobsSentToTwoServersRunExactlyOnce() async throws {
        let cluster = try await Cluster.start()
        defer { cluster.stop() }
        var ids: [String] = []
        for index in 0..<30 {
            let server = cluster.servers[index % 2]
            let (status, job) = try await Self.call(
                server, "POST", "/api/v2/jobs", body: Self.body(output: "\(cluster.directory)/out\(index).mp4"))
            #expect(status == 202)
            ids.append(try #require(job["id"] as? String))
        }
        try await Self.waitFor("30 jobs finished", seconds: 300) {
            let (_, list) = (try? await Self.call(cluster.servers[0], "GET", "/api/v2/jobs?status=succeeded&limit=100")) ?? (0, [:])
            return (list["jobs"] as? [Any])?.count == 30
        }
        for (index, id) in ids.enumerated() {
            let (_, job) = try await Self.call(cluster.servers[1], "GET", "/api/v2/jobs/\(id)")
            #expect(job["status"] as? String == "succeeded" && job["attempts"] as? Int == 1, "\(job)")
            #expect(Self.isMP4("\(cluster.directory)/out\(index).mp4"))
        }
        // Each of the three processes recorded some of them; none recorded one twice.
        let recorded = (cluster.servers + cluster.workers).map { $0.output.components(separatedBy: "job recorded").count - 1 }
        #expect(recorded.reduce(0, +) == 30, "\(recorded)")
    }

    /// kill -9 of the process running a job (after its lease expires another process takes the
    /// job: attempt 2), or SIGTERM with no drain time (the job goes back to the queue at once,
    /// its attempt not counted): either way the job finishes elsewhere, with one output.
    @Test(arguments: [SIGKILL, SIGTERM])
    func jobOfAStoppedWorkerFinishesElsewhere(signal: Int32) async throws {
        let cluster = try await Cluster.start(lease: signal == SIGKILL ? 3 : 30, drainSeconds: 0)
        defer { cluster.stop() }
        let phrase = Array(repeating: "this sentence makes the job run for a few seconds", count: 3).joined(separator: ", ")
        let output = "\(cluster.directory)/long.mp4"
        let (status, job) = try await Self.call(cluster.servers[0], "POST", "/api/v2/jobs", body: Self.body(output: output, word: phrase))
        #expect(status == 202)
        let id = try #require(job["id"] as? String)
        var owner = ""
        try await Self.waitFor("the job running", seconds: 60) {
            owner = (try? cluster.sql("SELECT lease_owner FROM jobs WHERE id = '\(id)' AND status = 'running'")) ?? ""
            return !owner.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty
        }
        let everyone = cluster.servers + cluster.workers
        let victim = try #require(everyone.first { owner.contains("-\($0.pid)-") }, "owner \(owner)")
        victim.kill(signal)
        let survivor = try #require(cluster.servers.first { $0 !== victim })
        try await Self.waitFor("the job finished elsewhere", seconds: 120) {
            let (_, job) = (try? await Self.call(survivor, "GET", "/api/v2/jobs/\(id)")) ?? (0, [:])
            return ["succeeded", "failed", "cancelled"].contains(job["status"] as? String ?? "")
        }
        let (_, done) = try await Self.call(survivor, "GET", "/api/v2/jobs/\(id)")
        #expect(done["status"] as? String == "succeeded" && done["attempts"] as? Int == (signal == SIGKILL ? 2 : 1), "\(done)")
        if signal == SIGTERM {
            #expect(victim.output.contains("job released back to the queue"))
        }
        #expect(Self.isMP4(output))
        let outputs = try FileManager.default.contentsOfDirectory(atPath: cluster.directory).filter { $0.hasSuffix(".mp4") }
        #expect(outputs == ["long.mp4"])
    }

    /// `make bench-queue` (LIPSYNC_QUEUE_BENCH=1): submit→start latency with an idle worker
    /// process, and jobs per minute with 1, 2 and 3 worker processes, on the tiny models.
    @Test(.enabled(if: ProcessInfo.processInfo.environment["LIPSYNC_QUEUE_BENCH"] != nil))
    func queueBenchmark() async throws {
        var report = ["LipSync queue benchmark (PostgreSQL on loopback, tiny models, debug build of lipsync)"]
        do {
            let cluster = try await Cluster.start(servers: 1, serverWorkers: 0, workers: 1)
            defer { cluster.stop() }
            for index in 0..<60 {
                let (_, job) = try await Self.call(
                    cluster.servers[0], "POST", "/api/v2/jobs", body: Self.body(output: "\(cluster.directory)/lat\(index).mp4"))
                let id = try #require(job["id"] as? String)
                try await Self.waitFor("job \(index) finished", seconds: 60) {
                    ((try? await Self.call(cluster.servers[0], "GET", "/api/v2/jobs/\(id)").json["status"]) as? String) == "succeeded"
                }
            }
            let micros = try cluster.sql("SELECT started_at - created_at FROM jobs ORDER BY seq OFFSET 10").split(separator: "\n")
                .compactMap { Double($0) }.sorted()
            func percentile(_ p: Double) -> Double { micros[min(micros.count - 1, Int(Double(micros.count) * p))] / 1000 }
            report.append(
                String(
                    format: "submit→start, idle worker process, %d jobs (first 10 dropped): p50 %.1f ms, p99 %.1f ms, max %.1f ms",
                    micros.count, percentile(0.5), percentile(0.99), micros.last.map { $0 / 1000 } ?? 0))
        }
        for workers in 1...3 {
            let cluster = try await Cluster.start(servers: 1, serverWorkers: 0, workers: workers)
            defer { cluster.stop() }
            let clock = ContinuousClock()
            let started = clock.now
            for index in 0..<60 {
                _ = try await Self.call(
                    cluster.servers[0], "POST", "/api/v2/jobs", body: Self.body(output: "\(cluster.directory)/t\(index).mp4"))
            }
            try await Self.waitFor("60 jobs", seconds: 600) {
                let (_, list) = (try? await Self.call(cluster.servers[0], "GET", "/api/v2/jobs?status=succeeded&limit=100")) ?? (0, [:])
                return (list["jobs"] as? [Any])?.count == 60
            }
            let seconds = (clock.now - started).timeInterval
            report.append(
                String(format: "%d worker process(es): 60 jobs in %.1f s = %.0f jobs/minute", workers, seconds, 60 / seconds * 60))
        }
        print(report.joined(separator: "\n"))
    }
}

extension Duration {
    var timeInterval: Double { Double(components.seconds) + Double(components.attoseconds) / 1e18 }
}
