import FaceTracking
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Inference
import LipSync
import Logging
import Media
import NIOCore
import Pipeline
@testable import Server
import Speech
import Storage
import StorageTestSupport
import Testing
import VoiceConversion

@Suite struct LipSyncServerTests {
    static var fixtures: String {
        ProcessInfo.processInfo.environment["LIPSYNC_FIXTURES"]
            ?? URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
                .deletingLastPathComponent().appendingPathComponent(".fixtures").path
    }

    static let environment: InferenceEnvironment = {
        do { return try InferenceEnvironment(logger: Logger(label: "test.server"), runtimeLogLevel: .critical) }
        catch { preconditionFailure("ONNX Runtime did not start: \(error)") }
    }()

    /// The tiny stand-in models, loaded by the provider on first use.
    static func provider() -> PipelineProvider {
        PipelineProvider {
            let manifest = try ModelManifest(directory: fixtures + "/models")
            func session(_ kind: String) throws -> InferenceSession {
                try InferenceSession(environment: environment, modelPath: manifest.path(of: kind))
            }
            let voice = try VoiceConverter(
                embedder: SpeakerEmbedder(melSession: try session("speaker_mel"), encoderSession: try session("speaker_encoder")),
                content: try session("wavlm"), synthesizer: try session("freevc"))
            let renderer = LipSyncRenderer(melFrontEnd: MelFrontEnd(session: try session("wav2lip_mel")),
                                           generator: Wav2LipGenerator(session: try session("wav2lip")),
                                           detector: try BlazeFaceDetector(manifest: manifest, environment: environment))
            return LipSyncPipeline(speech: try SpeechService(engines: [EspeakSynthesizer()]), voice: voice, renderer: renderer)
        }
    }

    /// A server whose local storage is confined to `roots` (plus the fixtures) and whose
    /// request workspaces go to `workspaces` (a fresh folder, checked empty afterwards).
    func withServer(limiter: JobLimiter = JobLimiter(maxConcurrent: 2, maxQueued: 4), roots: [String] = [], gcs: GoogleCloudStore? = nil,
                    _ body: @Sendable (any TestClientProtocol, JobLimiter, PipelineProvider) async throws -> Void) async throws {
        let provider = Self.provider()
        let workspaces = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: workspaces) }
        let storage = StorageService(local: LocalStore(roots: roots + [Self.fixtures]), gcs: gcs, gcsUnavailable: "no credentials in this test", https: nil)
        let server = LipSyncServer(provider: provider, limiter: limiter, storage: storage, workspaceBase: workspaces)
        let app = Application(router: server.router())
        try await app.test(.router) { client in try await body(client, limiter, provider) }
        #expect(try FileManager.default.contentsOfDirectory(atPath: workspaces) == [], "a request workspace was left behind")
    }

    func post(_ client: any TestClientProtocol, _ json: String) async throws -> (HTTPResponse.Status, [String: Any], HTTPFields) {
        try await client.execute(uri: "/api/v1/lip-video", method: .post, headers: [.contentType: "application/json"],
                                 body: ByteBuffer(string: json)) { response in
            let object = (try? JSONSerialization.jsonObject(with: Data(buffer: response.body))) as? [String: Any] ?? [:]
            return (response.status, object, response.headers)
        }
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
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try await withServer(roots: [directory]) { client, _, _ in
            let (status, body, headers) = try await post(client, """
                {"word": "안녕하세요", "user_video_gs": "\(Self.fixtures)/faces/astronaut.png", "output_video_gs": "file://\(directory)/out.mp4", "tts_lang": "ko", "seed": 3}
                """)
            #expect(status == .ok, "\(body)")
            #expect(body["status"] as? String == "ok")
            #expect(body["output_video_gs"] as? String == "file://\(directory)/out.mp4")
            #expect(body["voice_mode"] as? String == "none")
            #expect((body["timings"] as? [String: Double])?["total"] != nil)
            #expect(headers[HTTPField.Name("X-Request-Id")!] == body["request_id"] as? String)
        }
        let info = try MediaProbe.probe(directory + "/out.mp4")
        #expect(info.video?.width == 512 && info.audio != nil)
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory) == ["out.mp4"])
    }

    @Test func gsInputAndOutputThroughTheEmulator() async throws {
        let emulator = try await GCSEmulator()
        let gcs = emulator.store()
        let bucket = GCSEmulator.bucket
        try await gcs.upload(Self.fixtures + "/faces/astronaut.png", bucket: bucket, object: "users/7/셀카.png", contentType: "image/png")
        try await withServer(gcs: gcs) { client, _, _ in
            var (status, body, _) = try await post(client, """
                {"word": "hello", "user_video_gs": "gs://\(bucket)/users/7/셀카.png", "output_video_gs": "gs://\(bucket)/out/7/hello world.mp4", "tts_lang": "en"}
                """)
            #expect(status == .ok, "\(body)")
            #expect(body["output_video_gs"] as? String == "gs://\(bucket)/out/7/hello world.mp4")
            let timings = body["timings"] as? [String: Double]
            #expect(timings?["fetch_input"] != nil && timings?["store_output"] != nil)
            (status, body, _) = try await post(client, """
                {"word": "hello", "user_video_gs": "gs://\(bucket)/users/7/missing.mp4", "output_video_gs": "gs://\(bucket)/out/7/x.mp4", "tts_lang": "en"}
                """)
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
            (#"{"word": 3, "user_video_gs": "/x.mp4", "output_video_gs": "/y.mp4", "tts_lang": "ko"}"#, .badRequest, "invalid_field", "word"),
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
        ]
        try await withServer(roots: [directory]) { client, _, _ in
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
        try await withServer(limiter: JobLimiter(maxConcurrent: 1, maxQueued: 0), roots: [directory]) { client, limiter, _ in
            try await limiter.acquire()  // the only slot is taken by another job
            let (status, body, headers) = try await post(client, """
                {"word": "hi", "user_video_gs": "\(Self.fixtures)/faces/astronaut.png", "output_video_gs": "\(directory)/y.mp4", "tts_lang": "en"}
                """)
            #expect(status == .tooManyRequests && errorCode(body).code == "busy")
            #expect(headers[.retryAfter] == "5")
            await limiter.release()
        }
    }

    @Test func healthReadinessAndPreload() async throws {
        try await withServer { client, _, _ in
            try await client.execute(uri: "/healthz", method: .get) { #expect($0.status == .ok) }
            try await client.execute(uri: "/readyz", method: .get) { #expect($0.status == .serviceUnavailable) }
            try await client.execute(uri: "/api/v1/preload-models", method: .post) { response in
                #expect(response.status == .ok)
                let body = try JSONSerialization.jsonObject(with: Data(buffer: response.body)) as? [String: String]
                #expect(body == ["status": "ok", "message": "models loaded"])
            }
            try await client.execute(uri: "/readyz", method: .get) { #expect($0.status == .ok) }
        }
    }
}
