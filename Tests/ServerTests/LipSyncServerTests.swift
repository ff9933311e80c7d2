import AsyncHTTPClient
import Composition
import FaceTracking
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Inference
import JobQueue
import LipSync
import Logging
import Media
import NIOCore
import NIOFoundationCompat
import NIOHTTP1
import Pipeline
import ServiceLifecycle
import Speech
import Storage
import StorageTestSupport
import Synchronization
import TestFixtures
import Testing
import VoiceConversion
import Yams

@testable import Server

@Suite struct LipSyncServerTests {
    static var fixtures: String { TestFixtures.root }

    static var environment: InferenceEnvironment { TestFixtures.inference }

    /// The tiny stand-in models, loaded by the registry (PipelineSetup) on first use.
    static func provider(store: JobStore? = nil) -> PipelineProvider {
        PipelineProvider {
            var configuration = Configuration(modelsDirectory: fixtures + "/models")
            configuration.executionProviders = [.cpu]
            return try PipelineSetup.makePipeline(
                configuration, environment: environment, store: store, logger: Logger(label: "test.models"))
        }
    }

    /// A server whose local storage is confined to `roots` (plus the fixtures) and whose
    /// request workspaces go to `workspaces` (a fresh folder, checked empty afterwards).
    func makeServer(
        limiter: JobLimiter = JobLimiter(maxConcurrent: 2, maxQueued: 4), roots: [String] = [], gcs: GoogleCloudStore? = nil,
        workspaces: String, jobTimeout: Duration = .seconds(120), jobs: AsyncJobs? = nil, playground: PlaygroundSettings? = nil
    ) -> LipSyncServer {
        let storage = StorageService(
            local: LocalStore(roots: roots + [Self.fixtures]), gcs: gcs, gcsUnavailable: "no credentials in this test", https: nil)
        return LipSyncServer(
            provider: Self.provider(), limiter: limiter, storage: storage, workspaceBase: workspaces, jobTimeout: jobTimeout, jobs: jobs,
            playground: playground)
    }

    /// A live server (real sockets: client disconnects are seen) on a free port.
    func withServer(
        limiter: JobLimiter = JobLimiter(maxConcurrent: 2, maxQueued: 4), roots: [String] = [], gcs: GoogleCloudStore? = nil,
        jobTimeout: Duration = .seconds(120),
        _ body: @Sendable (any TestClientProtocol, LipSyncServer) async throws -> Void
    ) async throws {
        let workspaces = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: workspaces) }
        let server = makeServer(limiter: limiter, roots: roots, gcs: gcs, workspaces: workspaces, jobTimeout: jobTimeout)
        let app = Application(router: server.router(), configuration: .init(address: .hostname("127.0.0.1", port: 0)))
        try await app.test(.live) { client in try await body(client, server) }
        #expect(
            try FileManager.default.contentsOfDirectory(atPath: workspaces).filter { !$0.hasSuffix(".lock") } == [],
            "a request workspace was left behind")
    }

    /// A job body (the original API's four fields, plus `extra` JSON members such as `, "crf": 30`).
    static func job(
        word: String = "hi", video: String = fixtures + "/faces/astronaut.png", output: String, lang: String = "en",
        extra: String = ""
    ) -> String {
        #"{"word": "\#(word)", "user_video_gs": "\#(video)", "output_video_gs": "\#(output)", "tts_lang": "\#(lang)"\#(extra)}"#
    }

    static func jobRequest(port: Int, _ json: String) -> HTTPClientRequest {
        var request = HTTPClientRequest(url: "http://127.0.0.1:\(port)/api/v1/lip-video")
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/json")
        request.body = .bytes(ByteBuffer(string: json))
        return request
    }

    /// A job request over its own connection (AsyncHTTPClient: the server closes a job's
    /// connection after answering, as it watches it for a client that hangs up).
    func post(_ client: any TestClientProtocol, _ json: String) async throws -> (HTTPResponse.Status, [String: Any], HTTPFields) {
        let response = try await HTTPClient.shared.execute(Self.jobRequest(port: try #require(client.port), json), timeout: .seconds(120))
        let body = try await response.body.collect(upTo: 1 << 20)
        let object = (try? JSONSerialization.jsonObject(with: Data(buffer: body))) as? [String: Any] ?? [:]
        var fields = HTTPFields()
        for header in response.headers {
            if let name = HTTPField.Name(header.name) { fields.append(HTTPField(name: name, value: header.value)) }
        }
        return (HTTPResponse.Status(code: Int(response.status.code)), object, fields)
    }

    func temporaryDirectory() throws -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("server-\(UUID())").path
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    func errorCode(_ body: [String: Any]) -> (code: String?, field: String?) {
        let error = body["error"] as? [String: Any]
        return (error?["code"] as? String, error?["field"] as? String)
    }

    @Test func goodRequestMakesAVideo() async throws {
        let frameCount = Mutex(0)
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try await withServer(roots: [directory]) { client, server in
            let (status, body, headers) = try await post(
                client,
                Self.job(
                    word: "안녕하세요", output: "file://\(directory)/out.mp4", lang: "ko",
                    extra: #", "seed": 3, "crf": 30, "preset": "ultrafast""#))
            #expect(status == .ok, "\(body)")
            #expect(server.executor.enqueuedCount > 0)  // the job ran on the job threads
            frameCount.withLock { $0 = body["frames"] as? Int ?? -1 }
            #expect(body["status"] as? String == "ok")
            #expect(body["output_video_gs"] as? String == "file://\(directory)/out.mp4")
            #expect(body["voice_mode"] as? String == "none")
            #expect((body["timings"] as? [String: Double])?["total"] != nil)
            #expect(headers[HTTPField.Name("X-Request-Id")!] == body["request_id"] as? String)
        }
        let info = try MediaProbe.probe(directory + "/out.mp4")
        #expect(info.video?.width == 512 && info.video?.height == 512 && info.audio != nil)
        // A photo is a 25 fps video: the output lasts as long as the speech, frame for frame
        // (within AAC's 64 ms frames at 16 kHz and its priming).
        let frames = try #require(info.video?.frameCount)
        let audio = try #require(info.audio?.duration)
        #expect(frames == frameCount.withLock { $0 })
        #expect(abs(Double(frames) / 25 - audio) < 0.2, "\(frames) frames vs \(audio) s of audio")
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory) == ["out.mp4"])
    }

    @Test func gsInputAndOutputThroughTheEmulator() async throws {
        let emulator = try await GCSEmulator()
        let gcs = emulator.store()
        let bucket = GCSEmulator.bucket
        try await gcs.upload(Self.fixtures + "/faces/astronaut.png", bucket: bucket, object: "users/7/셀카.png", contentType: "image/png")
        try await withServer(gcs: gcs) { client, _ in
            var (status, body, _) = try await post(
                client,
                Self.job(word: "hello", video: "gs://\(bucket)/users/7/셀카.png", output: "gs://\(bucket)/out/7/hello world.mp4"))
            #expect(status == .ok, "\(body)")
            #expect(body["output_video_gs"] as? String == "gs://\(bucket)/out/7/hello world.mp4")
            let timings = body["timings"] as? [String: Double]
            #expect(timings?["fetch_input"] != nil && timings?["store_output"] != nil)
            (status, body, _) = try await post(
                client,
                Self.job(word: "hello", video: "gs://\(bucket)/users/7/missing.mp4", output: "gs://\(bucket)/out/7/x.mp4"))
            #expect(status == .notFound && errorCode(body) == ("input_not_found", "user_video_gs"))
        }
        let metadata = try #require(try await gcs.metadata(bucket: bucket, object: "out/7/hello world.mp4"))
        #expect(metadata.contentType == "video/mp4")
        #expect(try await gcs.metadata(bucket: bucket, object: "out/7/x.mp4") == nil)
        let copy = try temporaryDirectory() + "/out.mp4"
        defer { try? FileManager.default.removeItem(atPath: (copy as NSString).deletingLastPathComponent) }
        try await gcs.download(bucket: bucket, object: "out/7/hello world.mp4", to: copy)
        let info = try MediaProbe.probe(copy)
        #expect(info.video?.width == 512 && info.audio != nil)
    }

    @Test func badRequestsGetJSONErrors() async throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let photo = Self.fixtures + "/faces/astronaut.png"
        let text = directory + "/notes.mp4"
        try Data("not a video".utf8).write(to: URL(fileURLWithPath: text))
        let out = directory + "/y.mp4"
        /// A body with the given input, output and language (+ extra JSON members).
        func job(_ input: String, _ output: String, lang: String = "en", extra: String = "") -> String {
            #"{"word": "hi", "user_video_gs": "\#(input)", "output_video_gs": "\#(output)", "tts_lang": "\#(lang)"\#(extra)}"#
        }
        let cases: [(body: String, status: HTTPResponse.Status, code: String, field: String?)] = [
            ("{not json", .badRequest, "invalid_json", nil),
            (#"{"user_video_gs": "/x.mp4", "output_video_gs": "/y.mp4", "tts_lang": "ko"}"#, .badRequest, "missing_field", "word"),
            (
                #"{"word": 3, "user_video_gs": "/x.mp4", "output_video_gs": "/y.mp4", "tts_lang": "ko"}"#, .badRequest, "invalid_field",
                "word"
            ),
            (job("s3://bucket/face.mp4", out), .badRequest, "invalid_uri", "user_video_gs"),
            (job("gs://bucket/face.mp4", out), .serviceUnavailable, "storage_not_configured", "user_video_gs"),
            (job(photo, "gs://bucket/out.mp4"), .serviceUnavailable, "storage_not_configured", "output_video_gs"),
            (job("/etc/passwd", out), .badRequest, "invalid_uri", "user_video_gs"),
            (job(photo, "file://\(directory)/../escape.mp4"), .badRequest, "invalid_uri", "output_video_gs"),
            (job(photo, directory + "/no/such/folder/y.mp4"), .notFound, "output_folder_not_found", "output_video_gs"),
            (job(directory + "/missing.mp4", out), .notFound, "input_not_found", "user_video_gs"),
            (job(photo, out, lang: "tlh"), .badRequest, "unsupported_language", "tts_lang"),
            (job(text, out), .unprocessableContent, "invalid_media", "user_video_gs"),
            (job(photo, out, extra: #", "tracking": "sometimes""#), .badRequest, "invalid_field", "tracking"),
            (job(photo, out, extra: #", "crf": 60"#), .badRequest, "invalid_field", "crf"),
            (job(photo, out, extra: #", "preset": "warp""#), .badRequest, "invalid_field", "preset"),
        ]
        try await withServer(roots: [directory]) { client, _ in
            for item in cases {
                let (status, body, _) = try await post(client, item.body)
                #expect(status == item.status && errorCode(body) == (item.code, item.field), "\(item.body) → \(status) \(body)")
                #expect(body["request_id"] as? String != nil)
            }
        }
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory) == ["notes.mp4"])  // nothing half-written
    }

    @Test func fullQueueAnswers429() async throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try await withServer(limiter: JobLimiter(maxConcurrent: 1, maxQueued: 0), roots: [directory]) { client, server in
            let held = try await HeldSlot.take(server.limiter)  // the only slot is taken by another job
            let (status, body, headers) = try await post(
                client,
                Self.job(output: "\(directory)/y.mp4"))
            #expect(status == .tooManyRequests && errorCode(body).code == "busy")
            #expect(headers[.retryAfter] == "5")
            await held.release()
        }
    }

    /// Admission by memory: a job whose estimate exceeds the whole budget is refused with the
    /// numbers, before anything is decoded; one that fits later waits for the memory and runs.
    @Test func jobsAreAdmittedByMemory() async throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let job = Self.job(output: "\(directory)/m.mp4")
        try await withServer(limiter: JobLimiter(maxConcurrent: 2, maxQueued: 0, memoryBudget: 64 << 20), roots: [directory]) { client, _ in
            let (status, body, _) = try await post(client, job)
            #expect(status == .contentTooLarge && errorCode(body).code == "job_too_large" && errorCode(body).field == "user_video_gs")
            let message = (body["error"] as? [String: Any])?["message"] as? String ?? ""
            #expect(message.contains("64 MiB") && message.contains("512×512") && message.contains("MAX_JOB_MEMORY_BYTES"), "\(message)")
        }
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory) == [])
        try await withServer(limiter: JobLimiter(maxConcurrent: 2, maxQueued: 0, memoryBudget: 2 << 30), roots: [directory]) {
            client, server in
            let held = try await HeldSlot.take(server.limiter, reserving: (2 << 30) - (100 << 20))  // another job's memory
            let answer = Task { try await post(client, job).0 }
            try await waitUntil { await server.limiter.waitingForMemory == 1 }
            #expect(await server.limiter.inFlight == 2)
            await held.release()
            #expect(try await answer.value == .ok)
            #expect(await server.limiter.snapshot.reservedBytes == 0)
        }
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory) == ["m.mp4"])
    }

    @Test func healthReadinessAndPreload() async throws {
        try await withServer { client, _ in
            try await client.execute(uri: "/healthz", method: .get) { #expect($0.status == .ok) }
            try await client.execute(uri: "/readyz", method: .get) { #expect($0.status == .serviceUnavailable) }
            try await client.execute(uri: "/api/v1/preload-models", method: .post) { response in
                #expect(response.status == .ok)
                let body = try JSONSerialization.jsonObject(with: Data(buffer: response.body)) as? [String: String]
                #expect(body == ["status": "ok", "message": "Models preloaded successfully"])  // the original's words
            }
            try await client.execute(uri: "/readyz", method: .get) { #expect($0.status == .ok) }
        }
        // Models loaded but a storage root gone: not ready, and why.
        try await withServer(roots: ["/nonexistent-\(UUID())"]) { client, server in
            _ = try await server.provider.pipeline()
            let (status, text) = try await get(client, "/readyz")
            #expect(status == .serviceUnavailable && text.contains("storage_not_ready") && text.contains("does not exist"), "\(text)")
        }
    }

    /// Request fields win over the configured defaults; absent ones take them.
    @Test func requestDefaultsComeFromConfiguration() throws {
        var defaults = LipSyncOptions()
        defaults.encoder.crf = 28
        defaults.tracking.mode = .every
        let storage = StorageService(local: LocalStore(roots: [Self.fixtures]), gcs: nil, https: nil)
        let server = LipSyncServer(
            provider: Self.provider(), limiter: JobLimiter(maxConcurrent: 1, maxQueued: 0), storage: storage,
            defaults: defaults, defaultVoiceMode: VoiceMode.none)
        func job(_ extra: String) throws -> JobRequest {
            let json = Self.job(output: Self.fixtures + "/x.mp4", extra: extra)
            return try server.makeJob(try JSONDecoder().decode(LipVideoRequest.self, from: Data(json.utf8)))
        }
        let plain = try job("")
        #expect(plain.voiceMode == VoiceMode.none && plain.lipSync.encoder.crf == 28 && plain.lipSync.tracking.mode == .every)
        let own = try job(#", "voice_mode": "freevc", "crf": 20, "tracking": "static""#)
        #expect(own.voiceMode == .freevc && own.lipSync.encoder.crf == 20 && own.lipSync.tracking.mode == .stationary)
    }

    @Test func readinessChecksCloudStorage() async throws {
        let emulator = try await GCSEmulator()
        #expect(
            await StorageService(local: LocalStore(roots: ["/"]), gcs: emulator.store(), https: nil, checksGCSReadiness: true)
                .readinessProblems(workspaceBase: NSTemporaryDirectory()).isEmpty)
        var settings = GoogleCloudStore.Settings()
        let refusing = try RefusingPort()  // nobody listens there, nor can while the test runs
        defer { refusing.close() }
        settings.endpoint = "http://127.0.0.1:\(refusing.port)"
        let unreachable = GoogleCloudStore(settings: settings, client: .shared, tokens: nil)
        let problems = await StorageService(local: LocalStore(roots: ["/"]), gcs: unreachable, https: nil, checksGCSReadiness: true)
            .readinessProblems(workspaceBase: "/nonexistent-\(UUID())")
        #expect(problems.count == 2)
        #expect(problems.contains { $0.contains("Cloud Storage is not reachable") })
        #expect(problems.contains { $0.contains("is not writable") })
    }

    func get(_ client: any TestClientProtocol, _ uri: String) async throws -> (HTTPResponse.Status, String) {
        let response = try await HTTPClient.shared.execute(
            HTTPClientRequest(url: "http://127.0.0.1:\(try #require(client.port))" + uri), timeout: .seconds(30))
        return (HTTPResponse.Status(code: Int(response.status.code)), String(buffer: try await response.body.collect(upTo: 1 << 20)))
    }

    @Test func metricsModelsAndCacheAfterTwoJobs() async throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try await withServer(roots: [directory]) { client, _ in
            var (status, text) = try await get(client, "/api/v1/models")
            #expect(status == .ok && text.contains(#""loaded":false"#))
            var first: [String: Any] = [:]
            for (index, word) in ["hello", "good morning"].enumerated() {
                let (status, body, _) = try await post(
                    client,
                    Self.job(word: "\(word)", output: "\(directory)/\(index).mp4"))
                #expect(status == .ok, "\(body)")
                #expect(body["cached"] as? Bool == (index == 1))  // the second job on the same photo reuses its detections
                if index == 0 { first = body }
            }
            #expect(first["frames"] != nil)
            (status, text) = try await get(client, "/metrics")
            #expect(status == .ok)
            #expect(text.contains(#"lipsync_http_requests_total{route="/api/v1/lip-video",status="200"} 2"#), "\(text)")
            #expect(text.contains(#"lipsync_http_requests_total{route="/api/v1/models",status="200"} 1"#))
            #expect(text.contains(#"lipsync_job_step_seconds_count{step="total"} 2"#))
            #expect(text.contains(#"lipsync_http_request_seconds_count{route="/api/v1/lip-video"} 2"#))
            #expect(text.contains(#"lipsync_job_step_seconds_bucket{step="track_faces",le="+Inf"} 2"#))
            #expect(text.contains("lipsync_jobs_in_flight 0") && text.contains("lipsync_jobs_queued 0"))
            #expect(text.contains("lipsync_models_loaded 1") && text.contains("lipsync_model_load_seconds "))
            #expect(text.contains("lipsync_video_cache_hits_total 1") && text.contains("lipsync_video_cache_misses_total 1"))
            (status, text) = try await get(client, "/api/v1/models")
            let report = try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])
            #expect(report["loaded"] as? Bool == true && report["provider"] as? String == "cpu")
            let models = try #require(report["models"] as? [[String: Any]])
            #expect(
                Set(models.compactMap { $0["kind"] as? String }) == [
                    "wav2lip_mel", "wav2lip", "blazeface", "speaker_mel", "speaker_encoder", "wavlm", "freevc",
                ])
            #expect(models.first { $0["kind"] as? String == "wav2lip" }?["standin"] as? Bool == true)
            _ = try await get(client, "/no/such/route")
            (status, text) = try await get(client, "/metrics")
            #expect(text.contains(#"lipsync_http_requests_total{route="unmatched",status="404"} 1"#))
        }
    }

    /// The OpenAPI document (parsed with Yams) describes exactly the routes the router has,
    /// and every reference in it resolves. (Its schemas generate the JSON types: make openapi-check.)
    @Test func openAPIDocumentMatchesTheRoutes() async throws {
        let workspaces = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: workspaces) }
        let store = JobStore(database: try SQLiteDatabase(path: workspaces + "/jobs.sqlite"))
        let router = makeServer(
            workspaces: workspaces, jobs: AsyncJobs(store: store, workers: 0), playground: PlaygroundSettings(directory: workspaces)
        ).router()
        let routes = Set(router.routes.map { "\($0.method.rawValue.uppercased()) \($0.path)" })
        let yaml = try #require(OpenAPIDocument.yaml)
        let document = try #require(try Yams.load(yaml: yaml) as? [String: Any])
        #expect(document["openapi"] as? String == "3.1.0")
        let paths = try #require(document["paths"] as? [String: Any])
        let methods: Set<String> = ["get", "post", "put", "delete", "patch"]
        var documented: Set<String> = []
        for (path, item) in paths {
            for method in (item as? [String: Any] ?? [:]).keys where methods.contains(method) {
                documented.insert("\(method.uppercased()) \(path)")
            }
        }
        #expect(documented == routes)
        #expect(Set(router.routes.map { $0.path.description }) == LipSyncServer.paths)
        // Every reference points at a schema, response, parameter… the document defines.
        let components = try #require(document["components"] as? [String: Any])
        func references(_ node: Any) -> [String] {
            if let map = node as? [String: Any] { return (map["$ref"] as? String).map { [$0] } ?? map.values.flatMap(references) }
            if let list = node as? [Any] { return list.flatMap(references) }
            return []
        }
        for reference in Set(references(document)) {
            let parts = reference.split(separator: "/").map(String.init)  // #/components/<kind>/<name>
            #expect(parts.count == 4 && (components[parts[2]] as? [String: Any])?[parts[3]] != nil, "\(reference)")
        }
        try await withServer { client, _ in
            let (status, text) = try await get(client, "/openapi.yaml")
            #expect(status == .ok && text == yaml)
        }
    }

    /// The deadline passes while the job waits for a slot (held by the test, so the timing
    /// does not depend on the machine): 504, nothing stored, the queue place freed.
    @Test func deadlineCancelsTheJob() async throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try await withServer(limiter: JobLimiter(maxConcurrent: 1, maxQueued: 1), roots: [directory], jobTimeout: .milliseconds(300)) {
            client, server in
            let held = try await HeldSlot.take(server.limiter)
            let (status, body, _) = try await post(
                client,
                Self.job(word: "hello there", output: "\(directory)/late.mp4"))
            #expect(status == .gatewayTimeout && errorCode(body).code == "deadline_exceeded", "\(body)")
            #expect(await server.limiter.queued == 0)
            await held.release()
            #expect(await server.limiter.inFlight == 0)
        }
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory) == [])
    }

    @Test func deadlineKeepsAResultThatBeatItToTheFinish() async throws {
        // The body finishes, ignoring cancellation, after the deadline: its value is kept.
        let value = try await LipSyncServer.withDeadline(.milliseconds(10)) { () async throws -> Int in
            let start = ContinuousClock.now
            while ContinuousClock.now - start < .milliseconds(100) {}  // busy, never checks cancellation
            return 7
        }
        #expect(value == 7)
        await #expect(throws: APIError.self) {
            try await LipSyncServer.withDeadline(.milliseconds(10)) { () async throws -> Int in
                try await Task.sleep(for: .seconds(5))
                return 1
            }
        }
    }

    /// A client that hangs up cancels its job, running or still queued: no output, no
    /// workspace, the slot and the queue place freed.
    @Test(arguments: [false, true]) func clientDisconnectCancelsTheJob(whileQueued: Bool) async throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let workspaces = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: workspaces) }
        let server = makeServer(limiter: JobLimiter(maxConcurrent: 1, maxQueued: 1), roots: [directory], workspaces: workspaces)
        _ = try await server.provider.pipeline()  // loaded, so the job itself is what runs
        let held = whileQueued ? try await HeldSlot.take(server.limiter) : nil  // another job holds the only slot
        let app = Application(router: server.router(), configuration: .init(address: .hostname("127.0.0.1", port: 0)))
        let text = String(repeating: "This sentence makes the speech long enough to outlast the client. ", count: 3)  // < 200 characters
        try await app.test(.live) { client in
            let request = Self.jobRequest(
                port: try #require(client.port),
                Self.job(word: "\(text)", output: "\(directory)/gone.mp4"))
            await #expect(throws: (any Error).self) {
                _ = try await HTTPClient.shared.execute(request, timeout: .milliseconds(whileQueued ? 300 : 100))
            }
            if whileQueued {
                try await waitUntil { await server.limiter.queued == 0 }
                await held?.release()
            }
            try await waitUntil { await server.limiter.inFlight == 0 }
            // The job's workspace goes as its task unwinds.
            try await waitUntil {
                (try? FileManager.default.contentsOfDirectory(atPath: workspaces).allSatisfy { $0.hasSuffix(".lock") }) == true
            }
        }
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory) == [])
        #expect(try FileManager.default.contentsOfDirectory(atPath: workspaces).filter { !$0.hasSuffix(".lock") } == [])
    }

    /// SIGTERM-style shutdown with a job accepted, run by the same assembly as `lipsync serve`
    /// (ServerAssembly): within the drain timeout the job finishes and its answer is sent; past
    /// it the job is cancelled and leaves nothing behind. (The job waits for the only slot,
    /// held by the test, so the timing does not depend on the machine's speed.)
    @Test(arguments: [true, false]) func shutdownDrainsOrCancelsTheAcceptedJob(drains: Bool) async throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let workspaces = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: workspaces) }
        var configuration = Configuration(modelsDirectory: Self.fixtures + "/models")
        configuration.executionProviders = [.cpu]
        configuration.host = "127.0.0.1"
        configuration.port = 0
        configuration.maxConcurrentJobs = 1
        configuration.maxQueuedJobs = 1
        configuration.drainTimeoutSeconds = drains ? 60 : 0
        configuration.storage.roots = [directory, Self.fixtures]
        configuration.storage.temporaryDirectory = workspaces
        configuration.storage.credentials = .emulator(endpoint: "http://127.0.0.1:9")  // no gs:// in this test
        let data = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: data) }
        configuration.queue.dataDirectory = data
        let assembly = try await ServerAssembly.build(configuration, environment: Self.environment)
        let server = assembly.server
        #expect(await server.provider.isLoaded)  // PRELOAD
        let held = try await HeldSlot.take(server.limiter)
        let (bound, binding) = AsyncStream<Int>.makeStream()
        let group = assembly.serviceGroup(signals: []) { channel in
            if let port = channel.localAddress?.port { binding.yield(port) }
        }
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { try await assembly.run(group) }
            let port = try #require(await bound.first { _ in true })
            let request = Self.jobRequest(port: port, Self.job(word: "goodbye", output: "\(directory)/out.mp4"))
            let answer = Task { try await HTTPClient.shared.execute(request, timeout: .seconds(60)).status }
            try await waitUntil { await server.limiter.queued == 1 }
            await group.triggerGracefulShutdown()
            if drains {
                // The drain has begun once the listener is closed: new connections are refused.
                let health = HTTPClientRequest(url: "http://127.0.0.1:\(port)/healthz")
                try await waitUntil { (try? await HTTPClient.shared.execute(health, timeout: .milliseconds(500))) == nil }
                await held.release()  // the job gets its slot during the drain and completes
                #expect(try await answer.value == .ok)
            } else {
                #expect((try? await answer.value) != .ok)  // cancelled: the connection closes unanswered
                await held.release()
            }
            try await tasks.waitForAll()
        }
        #expect(await !server.provider.isLoaded)  // released after the group stopped
        try await waitUntil { await server.limiter.inFlight == 0 }
        #expect(await server.limiter.queued == 0)
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory) == (drains ? ["out.mp4"] : []))
        #expect(try FileManager.default.contentsOfDirectory(atPath: workspaces).filter { !$0.hasSuffix(".lock") } == [])
    }
}
