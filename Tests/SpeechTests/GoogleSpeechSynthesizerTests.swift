import AsyncHTTPClient
import Foundation
import Hummingbird
import HummingbirdTesting
import Media
import NIOFoundationCompat
import Synchronization
import Testing

@testable import Speech

/// A local stand-in for texttospeech.googleapis.com: checks each request against the
/// documented shape and answers from a script (status codes, then a WAV).
final class GoogleStub: Sendable {
    struct Seen: Sendable {
        let path: String
        let query: String?
        let authorization: String?
        let contentType: String?
        let body: GoogleSpeechSynthesizer.RequestBody?
    }

    let script: Mutex<[Int]>
    let seen = Mutex<[Seen]>([])
    let wav: Data

    init(statuses: [Int], wav: Data) {
        script = Mutex(statuses)
        self.wav = wav
    }

    func application() -> some ApplicationProtocol {
        let router = Router()
        router.post("/v1/text:synthesize") { request, _ -> Response in
            let bytes = try await request.body.collect(upTo: 1 << 20)
            let body = try? JSONDecoder().decode(GoogleSpeechSynthesizer.RequestBody.self, from: Data(buffer: bytes))
            self.seen.withLock {
                $0.append(
                    Seen(
                        path: request.uri.path, query: request.uri.query, authorization: request.headers[.authorization],
                        contentType: request.headers[.contentType], body: body))
            }
            let status = self.script.withLock { $0.isEmpty ? 200 : $0.removeFirst() }
            if status != 200 {
                let error = #"{"error":{"code":\#(status),"message":"scripted failure \#(status)","status":"UNAVAILABLE"}}"#
                return Response(
                    status: .init(code: status), headers: [.contentType: "application/json"],
                    body: .init(byteBuffer: ByteBuffer(string: error)))
            }
            let reply = #"{"audioContent":"\#(self.wav.base64EncodedString())","timepoints":[]}"#
            return Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(string: reply)))
        }
        return Application(router: router, configuration: .init(address: .hostname("127.0.0.1", port: 0)))
    }
}

@Suite struct GoogleSpeechSynthesizerTests {
    /// A LINEAR16 WAV as Google returns it: 24 kHz 16-bit mono with a RIFF header.
    static func linear16() throws -> Data {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("google-\(UUID()).wav").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        try WAVFile.write(TestPattern.tone(frequency: 440, seconds: 0.5, sampleRate: 24_000), to: path, encoding: .pcm16)
        return try Data(contentsOf: URL(fileURLWithPath: path))
    }

    func withStub(statuses: [Int], _ body: @Sendable (GoogleStub, String) async throws -> Void) async throws {
        let stub = GoogleStub(statuses: statuses, wav: try Self.linear16())
        try await stub.application().test(.live) { client in
            let port = try #require(client.port)
            try await body(stub, "http://127.0.0.1:\(port)")
        }
    }

    @Test func sendsTheDocumentedRequestAndDecodesLinear16() async throws {
        try await withStub(statuses: []) { stub, endpoint in
            let google = GoogleSpeechSynthesizer(client: .shared, credentials: .apiKey("k3y/with+chars"), endpoint: endpoint)
            let speech = try await google.synthesize(text: "안녕하세요", language: "ko", voice: nil)
            #expect(speech.audio.sampleRate == 24_000)
            #expect(abs(speech.audio.duration - 0.5) < 0.01)
            #expect(speech.voice == "ko-KR")
            let request = try #require(stub.seen.withLock { $0.first })
            #expect(request.path == "/v1/text:synthesize")
            #expect(request.query == "key=k3y/with%2Bchars")
            #expect(request.authorization == nil)
            #expect(request.contentType?.hasPrefix("application/json") == true)
            #expect(
                request.body
                    == .init(
                        input: .init(text: "안녕하세요"), voice: .init(languageCode: "ko-KR", name: nil),
                        audioConfig: .init(audioEncoding: "LINEAR16", sampleRateHertz: 24_000)))
        }
    }

    @Test func bearerTokenAndVoiceName() async throws {
        try await withStub(statuses: []) { stub, endpoint in
            let google = GoogleSpeechSynthesizer(client: .shared, credentials: .accessToken({ "ya29.token" }), endpoint: endpoint)
            _ = try await google.synthesize(text: "hello", language: "en-gb", voice: "en-GB-Standard-A")
            let request = try #require(stub.seen.withLock { $0.first })
            #expect(request.authorization == "Bearer ya29.token")
            #expect(request.query == nil)
            #expect(request.body?.voice == .init(languageCode: "en-GB", name: "en-GB-Standard-A"))
        }
    }

    @Test func retriesTransientFailures() async throws {
        try await withStub(statuses: [503, 429]) { stub, endpoint in
            let google = GoogleSpeechSynthesizer(
                client: .shared, credentials: .apiKey("k"), endpoint: endpoint, retryDelay: .milliseconds(10))
            let speech = try await google.synthesize(text: "hello", language: "en", voice: nil)
            #expect(speech.audio.samples.count > 0)
            #expect(stub.seen.withLock { $0.count } == 3)
        }
    }

    @Test func givesUpAfterMaxAttempts() async throws {
        try await withStub(statuses: [500, 500, 500, 500]) { stub, endpoint in
            let google = GoogleSpeechSynthesizer(
                client: .shared, credentials: .apiKey("k"), endpoint: endpoint, maxAttempts: 3, retryDelay: .milliseconds(5))
            await #expect(
                throws: SpeechError.remoteFailure(engine: "google", status: 500, message: "scripted failure 500", retryable: true)
            ) {
                try await google.synthesize(text: "hello", language: "en", voice: nil)
            }
            #expect(stub.seen.withLock { $0.count } == 3)
        }
    }

    @Test func clientErrorsAreNotRetried() async throws {
        try await withStub(statuses: [403]) { stub, endpoint in
            let google = GoogleSpeechSynthesizer(
                client: .shared, credentials: .apiKey("bad"), endpoint: endpoint, retryDelay: .milliseconds(5))
            await #expect(
                throws: SpeechError.remoteFailure(engine: "google", status: 403, message: "scripted failure 403", retryable: false)
            ) {
                try await google.synthesize(text: "hello", language: "en", voice: nil)
            }
            #expect(stub.seen.withLock { $0.count } == 1)
        }
    }

    @Test func unreachableServerIsARetryableFailure() async throws {
        // Nothing listens on port 9 (discard) of loopback here.
        let google = GoogleSpeechSynthesizer(
            client: .shared, credentials: .apiKey("k"), endpoint: "http://127.0.0.1:9",
            timeout: .seconds(2), maxAttempts: 2, retryDelay: .milliseconds(5))
        let error = await #expect(throws: SpeechError.self) { try await google.synthesize(text: "hello", language: "en", voice: nil) }
        guard case .remoteFailure("google", nil, _, true)? = error else {
            Issue.record("got \(String(describing: error))")
            return
        }
    }

    @Test func languageCodes() {
        #expect(GoogleSpeechSynthesizer.googleLanguage("ko") == "ko-KR")
        #expect(GoogleSpeechSynthesizer.googleLanguage("zh-CN") == "cmn-CN")
        #expect(GoogleSpeechSynthesizer.googleLanguage("en_gb") == "en-GB")
        #expect(GoogleSpeechSynthesizer.googleLanguage("sw") == "sw")
    }
}
