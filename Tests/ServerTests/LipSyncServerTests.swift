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

    func withServer(limiter: JobLimiter = JobLimiter(maxConcurrent: 2, maxQueued: 4),
                    _ body: @Sendable (any TestClientProtocol, JobLimiter, PipelineProvider) async throws -> Void) async throws {
        let provider = Self.provider()
        let server = LipSyncServer(provider: provider, limiter: limiter)
        let app = Application(router: server.router())
        try await app.test(.router) { client in try await body(client, limiter, provider) }
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
        try await withServer { client, _, _ in
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

    @Test func badRequestsGetJSONErrors() async throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let photo = Self.fixtures + "/faces/astronaut.png"
        let text = directory + "/notes.mp4"
        try Data("not a video".utf8).write(to: URL(fileURLWithPath: text))
        try await withServer { client, _, _ in
            var (status, body, _) = try await post(client, "{not json")
            #expect(status == .badRequest && errorCode(body).code == "invalid_json")
            (status, body, _) = try await post(client, #"{"user_video_gs": "/x.mp4", "output_video_gs": "/y.mp4", "tts_lang": "ko"}"#)
            #expect(status == .badRequest && errorCode(body) == ("missing_field", "word"))
            (status, body, _) = try await post(client, #"{"word": 3, "user_video_gs": "/x.mp4", "output_video_gs": "/y.mp4", "tts_lang": "ko"}"#)
            #expect(status == .badRequest && errorCode(body) == ("invalid_field", "word"))
            (status, body, _) = try await post(client, """
                {"word": "hi", "user_video_gs": "gs://bucket/face.mp4", "output_video_gs": "/tmp/y.mp4", "tts_lang": "en"}
                """)
            #expect(status == .badRequest && errorCode(body) == ("unsupported_uri", "user_video_gs"))
            (status, body, _) = try await post(client, """
                {"word": "hi", "user_video_gs": "\(directory)/missing.mp4", "output_video_gs": "\(directory)/y.mp4", "tts_lang": "en"}
                """)
            #expect(status == .notFound && errorCode(body) == ("input_not_found", "user_video_gs"))
            (status, body, _) = try await post(client, """
                {"word": "hi", "user_video_gs": "\(photo)", "output_video_gs": "\(directory)/y.mp4", "tts_lang": "tlh"}
                """)
            #expect(status == .badRequest && errorCode(body) == ("unsupported_language", "tts_lang"))
            (status, body, _) = try await post(client, """
                {"word": "hi", "user_video_gs": "\(text)", "output_video_gs": "\(directory)/y.mp4", "tts_lang": "en"}
                """)
            #expect(status == .unprocessableContent && errorCode(body) == ("invalid_media", "user_video_gs"))
            (status, body, _) = try await post(client, """
                {"word": "hi", "user_video_gs": "\(photo)", "output_video_gs": "\(directory)/y.mp4", "tts_lang": "en", "tracking": "sometimes"}
                """)
            #expect(status == .badRequest && errorCode(body) == ("invalid_field", "tracking"))
            #expect(body["request_id"] as? String != nil)
        }
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory) == ["notes.mp4"])  // nothing half-written
    }

    @Test func fullQueueAnswers429() async throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try await withServer(limiter: JobLimiter(maxConcurrent: 1, maxQueued: 0)) { client, limiter, _ in
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
