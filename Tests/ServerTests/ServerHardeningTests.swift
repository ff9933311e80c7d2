import FaceTracking
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Inference
import LipSync
import Media
import Pipeline
import Speech
import Storage
import Testing
import VoiceConversion

@testable import Server

/// What one hostile request or connection can no longer do (issue 14).
@Suite struct ServerHardeningTests {
    let base = LipSyncServerTests()

    @Test func hostileFieldsGetSpecificErrorsBeforeAnyWork() async throws {
        let directory = try base.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let photo = LipSyncServerTests.fixtures + "/faces/astronaut.png"
        let out = directory + "/y.mp4"
        func job(word: String = "hi", output: String? = nil, lang: String = "en", extra: String = "") -> String {
            let body: [String: Any] = ["word": word, "user_video_gs": photo, "output_video_gs": output ?? out, "tts_lang": lang]
            let json = String(decoding: (try? JSONSerialization.data(withJSONObject: body)) ?? Data("{}".utf8), as: UTF8.self)
            return String(json.dropLast()) + extra + "}"
        }
        let emoji = String(repeating: "😀", count: 200)
        let cases: [(body: String, status: HTTPResponse.Status, code: String, field: String?)] = [
            (job(extra: #", "tts_voice": "../../../../dev/zero""#), .badRequest, "invalid_tts", "tts_voice"),
            (job(extra: #", "tts_voice": "/etc/passwd""#), .badRequest, "invalid_tts", "tts_voice"),
            // google is not configured here
            (job(extra: #", "tts_engine": "google", "tts_voice": "x/../y""#), .badRequest, "invalid_tts", "tts_engine"),
            (job(word: emoji, lang: "ko"), .badRequest, "invalid_text", "word"),
            (job(output: directory + "/" + String(repeating: "n", count: 300) + ".mp4"), .badRequest, "invalid_uri", "output_video_gs"),
            (job(output: directory + "/a\u{202E}4pm.mp4"), .badRequest, "invalid_uri", "output_video_gs"),
            (job(output: directory + "/a\u{85}.mp4"), .badRequest, "invalid_uri", "output_video_gs"),
        ]
        let englishEmoji = job(word: emoji, lang: "en")
        try await base.withServer(roots: [directory]) { client, _ in
            for item in cases {
                let clock = ContinuousClock()
                let start = clock.now
                let (status, body, _) = try await base.post(client, item.body)
                let seen = "\(item.body.prefix(120)) → \(status) \(body)"
                #expect(status == item.status && base.errorCode(body) == (item.code, item.field), "\(seen)")
                #expect(clock.now - start < .seconds(20))
            }
            // Emoji in English are spoken by name: a normal answer or a clear 4xx, never a 5xx.
            let (status, body, _) = try await base.post(client, englishEmoji)
            #expect(status.code < 500, "\(status) \(body)")
        }
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory).allSatisfy { $0 == "y.mp4" })
    }

    /// Every module's errors describe themselves; the server maps them through one path.
    @Test func errorsDescribeThemselves() {
        let cases: [(any Error, Int, String, String?)] = [
            (SpeechError.unsupportedLanguage("xx", supported: ["en"]), 400, "unsupported_language", "tts_lang"),
            (SpeechError.emptyText, 400, "invalid_text", "word"),
            (SpeechError.voiceNotFound(engine: "espeak", voice: "x"), 400, "invalid_tts", "tts_voice"),
            (SpeechError.remoteFailure(engine: "google", status: 503, message: "down", retryable: true), 502, "tts_failed", nil),
            (MediaError.zeroFrames, 422, "invalid_media", "user_video_gs"),
            (FaceTrackingError.noFace(frame: 3), 422, "no_face", "user_video_gs"),
            (VoiceConversionError.tooLittleVoice(seconds: 0.1, minimum: 1), 422, "invalid_media", "user_video_gs"),
            (LipSyncError.speechTooLong(seconds: 40, limit: 30), 400, "invalid_text", "word"),
            (LipSyncError.noFrames, 422, "invalid_media", "user_video_gs"),
            (JobStorageError(side: .input, error: .notFound("gs://b/x")), 404, "input_not_found", "user_video_gs"),
            (JobStorageError(side: .output, error: .notFound("gs://b/")), 404, "output_folder_not_found", "output_video_gs"),
            (JobStorageError(side: .input, error: .timedOut("gs://b/x")), 504, "storage_timeout", "user_video_gs"),
            (JobTooLargeError(estimateBytes: 2 << 30, budgetBytes: 1 << 30), 413, "job_too_large", "user_video_gs"),
            (InvalidOption(field: "tracking", expected: "every"), 400, "invalid_field", "tracking"),
            (ModelManifestError.missing(path: "/m/manifest.json"), 503, "models_unavailable", nil),
        ]
        for (error, status, code, field) in cases {
            let api = LipSyncServer.apiError(for: error)
            #expect(api.status.code == status && api.code == code && api.field == field, "\(error) → \(api)")
            #expect(!api.status.reasonPhrase.isEmpty)
        }
        // The server's own faults: a generic message, never the details.
        for error: any Error in [
            LipSyncError.modelMismatch("secret detail"), InferenceError.runtime(code: 6, message: "secret detail"),
            MediaError.writeFailed(path: "/srv/secret", reason: "EIO"), CocoaError(.fileReadUnknown),
        ] {
            let api = LipSyncServer.apiError(for: error)
            #expect(api.status.code == 500 && api.code == "internal_error" && !api.message.contains("secret"), "\(error) → \(api)")
        }
    }

    @Test func diskFullIs507NamingTheSide() {
        let temp = LipSyncServer.apiError(for: MediaError.noSpace(path: "writing /tmp/w/output.mp4"))
        #expect(temp.status.code == 507 && temp.code == "insufficient_storage" && temp.field == nil && temp.message.contains("TEMP_DIR"))
        let output = LipSyncServer.apiError(for: JobStorageError(side: .output, error: .noSpace("the output folder /srv/out")))
        #expect(output.status.code == 507 && output.field == "output_video_gs" && output.message.contains("/srv/out"))
        let input = LipSyncServer.apiError(for: JobStorageError(side: .input, error: .noSpace(StorageService.workspaceFolder)))
        #expect(input.status.code == 507 && input.field == nil && input.message.contains("TEMP_DIR"))
        #expect(StorageError.isOutOfSpace(CocoaError(.fileWriteOutOfSpace)))
        #expect(StorageError.isOutOfSpace(NSError(domain: NSPOSIXErrorDomain, code: Int(ENOSPC))))
        #expect(!StorageError.isOutOfSpace(NSError(domain: NSPOSIXErrorDomain, code: Int(EACCES))))
    }

    // MARK: - Connections

    /// A live server with short connection limits (one second by default).
    func withQuickTimeouts(
        idle: Duration = .seconds(1), body bodyTimeout: Duration = .seconds(1),
        _ body: @Sendable (Int) async throws -> Void
    ) async throws {
        let workspaces = try base.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: workspaces) }
        let storage = StorageService(local: LocalStore(roots: [LipSyncServerTests.fixtures]), gcs: nil, https: nil)
        let server = LipSyncServer(
            provider: LipSyncServerTests.provider(), limiter: JobLimiter(maxConcurrent: 1, maxQueued: 1), storage: storage,
            workspaceBase: workspaces, timeouts: ConnectionTimeouts(idle: idle, body: bodyTimeout))
        try await server.application(host: "127.0.0.1", port: 0).test(.live) { client in try await body(try #require(client.port)) }
    }

    @Test func idleKeepAliveConnectionsAreClosed() async throws {
        try await withQuickTimeouts { port in
            let connection = try RawConnection(port: port)
            // Kept alive after an answer (a second request is served on it)…
            for _ in 0..<2 {
                try connection.send("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
                let answer = try await connection.read(until: "\"ok\"", within: .seconds(10))
                #expect(answer.hasPrefix("HTTP/1.1 200"), "\(answer)")
            }
            // …then closed once idle for the idle second.
            _ = try await connection.waitForClose(within: .seconds(15))
        }
    }

    @Test func slowHeadersAreCutOff() async throws {
        try await withQuickTimeouts { port in
            let connection = try RawConnection(port: port)
            try connection.send("GET /healthz HTTP/1.1\r\n")
            // One header byte every 300 ms: the request head never completes, the connection
            // is cut however long the drip goes on (1 s; 20 s of slack for a busy machine).
            let clock = ContinuousClock()
            let start = clock.now
            var closed = false
            while !closed, clock.now - start < .seconds(20) {
                if (try? connection.send("a")) == nil {
                    closed = true
                    break
                }
                closed = try await connection.isClosed(within: .milliseconds(300))
            }
            #expect(closed)
        }
    }

    @Test func slowBodyGets408() async throws {
        // The idle limit is far away: on a machine busy with the whole suite the drip may
        // pause for a second, which must not end the connection before the body limit does.
        try await withQuickTimeouts(idle: .seconds(20)) { port in
            let connection = try RawConnection(port: port)
            try connection.send(
                "POST /api/v1/lip-video HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 500\r\n\r\n{")
            // A byte every 200 ms keeps the connection active but the body never completes.
            var answer = ""
            let deadline = ContinuousClock.now + .seconds(30)  // the 408 comes after 1 s; slack for a busy machine
            while ContinuousClock.now < deadline {
                _ = try? connection.send(" ")
                answer += (try? await connection.read(until: "}", within: .milliseconds(200))) ?? ""
                if answer.contains("body_timeout") { break }
            }
            #expect(answer.hasPrefix("HTTP/1.1 408"), "\(answer)")
            #expect(answer.contains("\"code\":\"body_timeout\""))
        }
    }

    /// With the idle limit far away, a connection that closes after its answer was closed
    /// for that reason, and one that asked to be kept serves a second request.
    @Test func http10ConnectionsCloseAfterTheAnswer() async throws {
        try await withQuickTimeouts(idle: .seconds(60)) { port in
            for request in ["GET /healthz HTTP/1.0\r\n\r\n", "GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"] {
                let connection = try RawConnection(port: port)
                try connection.send(request)
                let answer = try await connection.read(until: "\"ok\"", within: .seconds(10))
                #expect(answer.contains(" 200 "))
                _ = try await connection.waitForClose(within: .seconds(20))
            }
            // HTTP/1.0 asking for keep-alive is kept.
            let kept = try RawConnection(port: port)
            for _ in 0..<2 {
                try kept.send("GET /healthz HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
                let answer = try await kept.read(until: "\"ok\"", within: .seconds(10))
                #expect(answer.contains(" 200 "), "\(answer)")
            }
        }
    }
}

/// A raw TCP client for what HTTP client libraries will not do (drip bytes, hold idle).
/// Waits by polling without blocking and sleeping between polls: a blocked thread of the
/// cooperative pool would starve the server under test, whose handlers run there too.
final class RawConnection: @unchecked Sendable {
    // @unchecked: used by one test task at a time.
    let descriptor: Int32
    private var buffered = ""

    init(port: Int) throws {
        descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard connected == 0 else {
            close(descriptor)
            throw POSIXError(.ECONNREFUSED)
        }
    }

    deinit { close(descriptor) }

    func send(_ text: String) throws {
        let sent = text.utf8CString.withUnsafeBufferPointer {
            Glibc.send(descriptor, $0.baseAddress, $0.count - 1, Int32(MSG_NOSIGNAL | MSG_DONTWAIT))
        }
        guard sent == text.utf8.count else { throw POSIXError(.EPIPE) }
    }

    /// Reads until `marker` has arrived or `time` passed; returns what arrived.
    func read(until marker: String, within time: Duration) async throws -> String {
        let deadline = ContinuousClock.now + time
        while !buffered.contains(marker), ContinuousClock.now < deadline {
            guard let chunk = receive() else {
                try await Task.sleep(for: .milliseconds(10))
                continue
            }
            if chunk.isEmpty { break }
            buffered += chunk
        }
        defer { buffered = "" }
        return buffered
    }

    /// Time until the server closes the connection (throws if it stays open).
    func waitForClose(within time: Duration) async throws -> Duration {
        let clock = ContinuousClock()
        let start = clock.now
        while clock.now - start < time {
            if let chunk = receive(), chunk.isEmpty { return clock.now - start }
            try await Task.sleep(for: .milliseconds(10))
        }
        throw POSIXError(.ETIMEDOUT)
    }

    func isClosed(within time: Duration) async throws -> Bool {
        (try? await waitForClose(within: time)) != nil
    }

    /// "" at end of stream (or a reset), nil when nothing is there now.
    private func receive() -> String? {
        var bytes = [UInt8](repeating: 0, count: 4096)
        let count = recv(descriptor, &bytes, bytes.count, Int32(MSG_DONTWAIT))
        if count < 0 { return errno == EAGAIN || errno == EWOULDBLOCK ? nil : "" }
        return count == 0 ? "" : String(decoding: bytes.prefix(count), as: UTF8.self)
    }
}
