import AsyncHTTPClient
import Foundation
import Hummingbird
import HummingbirdTesting
import Media
import Resilience
import Synchronization
import Testing

@testable import Speech

/// A local stand-in for translate.google.com's `batchexecute` speech call: decodes each
/// request's `f.req` form field as gTTS sends it and answers from a script, in the line
/// format Translate uses.
final class GTTSStub: Sendable {
    /// One request as the stub understood it.
    struct Seen: Sendable {
        let contentType: String?
        let rpcID: String?
        let text: String?
        let language: String?
        /// The third argument: nil for JSON null (normal speed), true for slow.
        let speed: Bool?
        let fourth: String?
    }

    enum Reply: Sendable {
        case audio
        case status(Int)
        case body(String)
        /// Valid framing whose payload is `null`, as Translate answers a refused call.
        case nullPayload
        case bytes(Int)
        case stall(Duration)
    }

    let script: Mutex<[Reply]>
    let seen = Mutex<[Seen]>([])
    let mp3: Data

    init(replies: [Reply], mp3: Data) {
        script = Mutex(replies)
        self.mp3 = mp3
    }

    /// Translate's framing: an anti-JSON guard, then length-prefixed JSON lines.
    static func frame(payload: Any) throws -> String {
        let call: [Any] = ["wrb.fr", GTTSSynthesizer.rpcID, payload, NSNull(), NSNull(), NSNull(), "generic"]
        let line = String(
            decoding: try JSONSerialization.data(withJSONObject: [call, ["di", 42], ["af.httprm", 41, "-123", 7]]),
            as: UTF8.self)
        return ")]}'\n\n\(line.utf8.count)\n\(line)\n25\n[[\"e\",4,null,null,131]]\n"
    }

    static func parse(_ body: String) -> (rpc: String?, arguments: [Any]?) {
        guard body.hasPrefix("f.req="), let json = String(body.dropFirst(6)).removingPercentEncoding,
            let outer = try? JSONSerialization.jsonObject(with: Data(json.utf8)) as? [[[Any]]],
            let call = outer.first?.first, call.count == 4, call[2] is NSNull, call[3] as? String == "generic",
            let arguments = call[1] as? String
        else { return (nil, nil) }
        return (call[0] as? String, try? JSONSerialization.jsonObject(with: Data(arguments.utf8)) as? [Any])
    }

    func application() -> some ApplicationProtocol {
        let router = Router()
        router.post("/_/TranslateWebserverUi/data/batchexecute") { request, _ -> Response in
            let bytes = try await request.body.collect(upTo: 1 << 20)
            let (rpc, arguments) = Self.parse(String(buffer: bytes))
            self.seen.withLock {
                $0.append(
                    Seen(
                        contentType: request.headers[.contentType], rpcID: rpc, text: arguments?.first as? String,
                        language: (arguments?.count ?? 0) > 1 ? arguments?[1] as? String : nil,
                        speed: (arguments?.count ?? 0) > 2 ? arguments?[2] as? Bool : nil,
                        fourth: (arguments?.count ?? 0) > 3 ? arguments?[3] as? String : nil))
            }
            let reply = self.script.withLock { $0.isEmpty ? .audio : $0.removeFirst() }
            let text: String
            switch reply {
            case .audio:
                let payload = String(decoding: try JSONSerialization.data(withJSONObject: [self.mp3.base64EncodedString()]), as: UTF8.self)
                text = try Self.frame(payload: payload)
            case .status(let code):
                return Response(status: .init(code: code), body: .init(byteBuffer: ByteBuffer(string: "scripted \(code)")))
            case .body(let body):
                text = body
            case .nullPayload:
                text = try Self.frame(payload: NSNull())
            case .bytes(let count):
                text = String(repeating: "x", count: count)
            case .stall(let duration):
                try await Task.sleep(for: duration)
                text = try Self.frame(payload: NSNull())
            }
            return Response(
                status: .ok, headers: [.contentType: "application/json; charset=utf-8"],
                body: .init(byteBuffer: ByteBuffer(string: text)))
        }
        return Application(router: router, configuration: .init(address: .hostname("127.0.0.1", port: 0)))
    }
}

@Suite struct GTTSSynthesizerTests {
    static let quickRetry = RetryPolicy(maxAttempts: 3, baseDelay: .milliseconds(5), maxDelay: .milliseconds(20))

    /// Translate's answer for one piece: 24 kHz mono MP3, here 0.5 s of a tone encoded by the Media module.
    static let mp3: Data = {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("gtts-test-\(UUID())")
        defer { try? FileManager.default.removeItem(at: folder) }
        do {
            try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
            let path = folder.appendingPathComponent("tone.mp3").path
            let writer = try MediaWriter(
                path: path, video: nil, audio: TestPattern.tone(frequency: 440, seconds: 0.5, sampleRate: 24_000),
                options: EncoderOptions(container: .mp3, audioCodec: .mp3))
            try writer.finish()
            return try Data(contentsOf: URL(fileURLWithPath: path))
        } catch {
            Issue.record("cannot make the MP3 fixture: \(error)")
            return Data()
        }
    }()

    func withStub(_ replies: [GTTSStub.Reply], _ body: @Sendable (GTTSStub, String) async throws -> Void) async throws {
        let stub = GTTSStub(replies: replies, mp3: Self.mp3)
        try await stub.application().test(.live) { client in
            let port = try #require(client.port)
            try await body(stub, "http://127.0.0.1:\(port)")
        }
    }

    @Test func sendsGTTSRequestAndDecodesTheMP3() async throws {
        try await withStub([]) { stub, endpoint in
            let gtts = GTTSSynthesizer(client: .shared, endpoint: endpoint + "/", retry: Self.quickRetry)
            let speech = try await gtts.synthesize(text: "안녕하세요", language: "ko", voice: nil)
            #expect(speech.audio.sampleRate == 24_000)
            #expect(abs(speech.audio.duration - 0.5) < 0.1)
            #expect(speech.voice == "ko")
            let request = try #require(stub.seen.withLock { $0.first })
            #expect(request.contentType == "application/x-www-form-urlencoded;charset=utf-8")
            #expect(request.rpcID == "jQ1olc")
            #expect(request.text == "안녕하세요")
            #expect(request.language == "ko")
            #expect(request.speed == nil)
            #expect(request.fourth == "null")
        }
    }

    @Test func formBodyIsGTTSs() throws {
        let body = try GTTSSynthesizer.formBody(text: "a b/c", language: "zh-CN", slow: false)
        let expected = #"[[["jQ1olc","[\"a b/c\",\"zh-CN\",null,\"null\"]",null,"generic"]]]"#
        #expect(body.removingPercentEncoding == "f.req=" + expected)
        #expect(body.dropFirst(6).allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || "-._~%".contains($0)) })
        let slow = try GTTSSynthesizer.formBody(text: "hi", language: "en", slow: true)
        #expect(slow.removingPercentEncoding == #"f.req=[[["jQ1olc","[\"hi\",\"en\",true,\"null\"]",null,"generic"]]]"#)
    }

    @Test func slowVoiceAndLanguageMapping() async throws {
        try await withStub([]) { stub, endpoint in
            let gtts = GTTSSynthesizer(client: .shared, endpoint: endpoint, retry: Self.quickRetry)
            let speech = try await gtts.synthesize(text: "你好", language: "zh_cn", voice: "slow")
            #expect(speech.voice == "zh-CN-slow")
            let request = try #require(stub.seen.withLock { $0.first })
            #expect(request.language == "zh-CN")
            #expect(request.speed == true)
        }
        #expect(GTTSSynthesizer.gttsLanguage("en-US") == "en")
        #expect(GTTSSynthesizer.gttsLanguage("zh-TW") == "zh-TW")
        #expect(GTTSSynthesizer.gttsLanguage("pt-pt") == "pt-PT")
        #expect(GTTSSynthesizer.gttsLanguage("pt-BR") == "pt")
        #expect(GTTSSynthesizer.gttsLanguage("he") == "iw")
        #expect(GTTSSynthesizer.gttsLanguage("de-AT") == "de")
        #expect(GTTSSynthesizer.gttsLanguage("xx") == nil)
        let gtts = GTTSSynthesizer(client: .shared)
        let supported = try await gtts.supportedLanguages()
        for code in ["ko", "en", "ja", "zh-cn", "zh-tw", "es", "fr", "de", "it", "pt", "ru"] { #expect(supported.contains(code)) }
    }

    @Test func unknownLanguageAndVoiceAreRefusedBeforeAnyRequest() async throws {
        try await withStub([]) { stub, endpoint in
            let gtts = GTTSSynthesizer(client: .shared, endpoint: endpoint, retry: Self.quickRetry)
            let error = await #expect(throws: SpeechError.self) { try await gtts.synthesize(text: "hi", language: "xx", voice: nil) }
            guard case .unsupportedLanguage("xx", let supported)? = error else {
                Issue.record("got \(String(describing: error))")
                return
            }
            #expect(supported.contains("ko"))
            await #expect(throws: SpeechError.voiceNotFound(engine: "gtts", voice: "en-US-Wavenet-A")) {
                try await gtts.synthesize(text: "hi", language: "en", voice: "en-US-Wavenet-A")
            }
            #expect(stub.seen.withLock { $0.isEmpty })
        }
    }

    @Test func longTextIsSentInPiecesOfAtMost100Characters() async throws {
        let text =
            "Hello, this is my own voice, and this is my face; the quick brown fox jumps over the lazy dog again and again. "
            + "It was a bright cold day in April, and the clocks were striking thirteen, while everybody waited for the train "
            + "that never came to the little station at the end of the line."
        #expect(text.count > 200)
        try await withStub([]) { stub, endpoint in
            let gtts = GTTSSynthesizer(client: .shared, endpoint: endpoint, retry: Self.quickRetry)
            let speech = try await gtts.synthesize(text: text, language: "en", voice: nil)
            let pieces = stub.seen.withLock { $0.compactMap(\.text) }
            #expect(pieces.count >= 3)
            #expect(pieces.allSatisfy { $0.unicodeScalars.count <= 100 && !$0.isEmpty })
            #expect(pieces.joined(separator: " ").split(separator: " ") == text.split(separator: " "))
            // The MP3 answers are joined: one 0.5 s tone per piece.
            #expect(abs(speech.audio.duration - 0.5 * Double(pieces.count)) < 0.15 * Double(pieces.count))
        }
    }

    @Test func chunksCutAtPunctuationThenSpaces() {
        #expect(GTTSSynthesizer.chunks(of: "  short  ") == ["short"])
        let clauses = GTTSSynthesizer.chunks(of: "One two three. Four five six, seven 3.5 eight.", limit: 20)
        #expect(clauses == ["One two three.", "Four five six,", "seven 3.5 eight."])
        let words = GTTSSynthesizer.chunks(of: "aaaa bbbb cccc dddd eeee", limit: 10)
        #expect(words == ["aaaa bbbb", "cccc dddd", "eeee"])
        let unbroken = GTTSSynthesizer.chunks(of: String(repeating: "가", count: 25), limit: 10)
        #expect(unbroken.map(\.count) == [10, 10, 5])
        let cjk = GTTSSynthesizer.chunks(of: "今日は良い天気です。明日も晴れるでしょう。", limit: 12)
        #expect(cjk == ["今日は良い天気です。", "明日も晴れるでしょう。"])
    }

    @Test func transientFailureIsRetried() async throws {
        try await withStub([.status(503), .status(429)]) { stub, endpoint in
            let gtts = GTTSSynthesizer(client: .shared, endpoint: endpoint, retry: Self.quickRetry)
            let speech = try await gtts.synthesize(text: "hello", language: "en", voice: nil)
            #expect(speech.audio.samples.count > 0)
            #expect(stub.seen.withLock { $0.count } == 3)
        }
    }

    @Test func givesUpAfterMaxAttempts() async throws {
        try await withStub([.status(500), .status(500), .status(500), .status(500)]) { stub, endpoint in
            let gtts = GTTSSynthesizer(client: .shared, endpoint: endpoint, retry: Self.quickRetry)
            let expected = SpeechError.remoteFailure(engine: "gtts", status: 500, message: "Internal Server Error", retryable: true)
            await #expect(throws: expected) {
                try await gtts.synthesize(text: "hello", language: "en", voice: nil)
            }
            #expect(stub.seen.withLock { $0.count } == 3)
        }
    }

    @Test func clientErrorIsNotRetried() async throws {
        try await withStub([.status(400)]) { stub, endpoint in
            let gtts = GTTSSynthesizer(client: .shared, endpoint: endpoint, retry: Self.quickRetry)
            await #expect(throws: SpeechError.remoteFailure(engine: "gtts", status: 400, message: "Bad Request", retryable: false)) {
                try await gtts.synthesize(text: "hello", language: "en", voice: nil)
            }
            #expect(stub.seen.withLock { $0.count } == 1)
        }
    }

    @Test(arguments: [
        ("<html>sorry</html>", "no jQ1olc answer"),
        (")]}'\n\n12\n[[\"wrb.fr\",\"jQ1olc\"\n", "the jQ1olc line is not a JSON array of calls"),
        (#"[["wrb.fr","jQ1olc","{\"a\":1}",null]]"#, "the jQ1olc payload is not a JSON array holding a string"),
        (#"[["wrb.fr","jQ1olc","[\"not base64!\"]",null]]"#, "the audio is not base64"),
    ])
    func malformedResponseIsAClearError(body: String, reason: String) async throws {
        try await withStub([.body(body)]) { stub, endpoint in
            let gtts = GTTSSynthesizer(client: .shared, endpoint: endpoint, retry: Self.quickRetry)
            let expected = SpeechError.remoteFailure(
                engine: "gtts", status: 200, message: "malformed response: \(reason)", retryable: false)
            await #expect(throws: expected) { try await gtts.synthesize(text: "hello", language: "en", voice: nil) }
            #expect(stub.seen.withLock { $0.count } == 1)
            #expect(expected.description == "gtts failed with HTTP 200: malformed response: \(reason)")
        }
    }

    @Test func refusedCallAndUndecodableAudio() async throws {
        try await withStub([.nullPayload, .body(try GTTSStub.frame(payload: #"["\#(Data("not an mp3".utf8).base64EncodedString())"]"#))]) {
            stub, endpoint in
            let gtts = GTTSSynthesizer(client: .shared, endpoint: endpoint, retry: Self.quickRetry)
            let refused = SpeechError.remoteFailure(engine: "gtts", status: 200, message: "the response has no audio", retryable: false)
            await #expect(throws: refused) {
                try await gtts.synthesize(text: "hello", language: "en", voice: nil)
            }
            let error = await #expect(throws: SpeechError.self) { try await gtts.synthesize(text: "hello", language: "en", voice: nil) }
            guard case .remoteFailure("gtts", 200, let message, false)? = error else {
                Issue.record("got \(String(describing: error))")
                return
            }
            #expect(message.hasPrefix("the audio cannot be decoded"))
        }
    }

    @Test func oversizedResponseIsRefused() async throws {
        try await withStub([.bytes(200_000)]) { stub, endpoint in
            let gtts = GTTSSynthesizer(client: .shared, endpoint: endpoint, retry: Self.quickRetry, maxResponseBytes: 64 * 1024)
            await #expect(
                throws: SpeechError.remoteFailure(
                    engine: "gtts", status: 200, message: "the response is larger than 65536 bytes",
                    retryable: false)
            ) {
                try await gtts.synthesize(text: "hello", language: "en", voice: nil)
            }
            #expect(stub.seen.withLock { $0.count } == 1)
        }
    }

    @Test func slowAnswerTimesOutAndIsRetried() async throws {
        try await withStub([.stall(.seconds(6)), .stall(.seconds(6))]) { stub, endpoint in
            let gtts = GTTSSynthesizer(
                client: .shared, endpoint: endpoint, timeout: .milliseconds(200),
                retry: RetryPolicy(maxAttempts: 2, baseDelay: .milliseconds(5), maxDelay: .milliseconds(5)))
            let clock = ContinuousClock()
            let start = clock.now
            let error = await #expect(throws: SpeechError.self) { try await gtts.synthesize(text: "hello", language: "en", voice: nil) }
            // Two 200 ms attempts, not one of the stub's 6 s stalls (any bound below 6 s tells; the
            // suites run in parallel on two cores and were seen to take 4.1 s).
            #expect(clock.now - start < .seconds(6))
            guard case .remoteFailure("gtts", nil, _, true)? = error else {
                Issue.record("got \(String(describing: error))")
                return
            }
            #expect(stub.seen.withLock { $0.count } == 2)
        }
    }

    @Test func speechLongerThanTheLimitIsRefused() async throws {
        try await withStub([]) { _, endpoint in
            let gtts = GTTSSynthesizer(client: .shared, endpoint: endpoint, retry: Self.quickRetry, maxSeconds: 0.3)
            await #expect(throws: SpeechError.speechTooLong(limitSeconds: 0.3)) {
                try await gtts.synthesize(text: "hello", language: "en", voice: nil)
            }
        }
    }

    @Test func unreachableServerIsARetryableFailure() async throws {
        // Nothing listens on port 9 (discard) of loopback here.
        let gtts = GTTSSynthesizer(
            client: .shared, endpoint: "http://127.0.0.1:9", timeout: .seconds(2),
            retry: RetryPolicy(maxAttempts: 2, baseDelay: .milliseconds(5), maxDelay: .milliseconds(5)))
        let error = await #expect(throws: SpeechError.self) { try await gtts.synthesize(text: "hello", language: "en", voice: nil) }
        guard case .remoteFailure("gtts", nil, _, true)? = error else {
            Issue.record("got \(String(describing: error))")
            return
        }
    }

    @Test func outageFallsBackToEspeakLikeGoogle() async throws {
        try await withStub([.status(503), .status(503), .status(503)]) { _, endpoint in
            let gtts = GTTSSynthesizer(client: .shared, endpoint: endpoint, retry: Self.quickRetry)
            let service = try SpeechService(engines: [EspeakSynthesizer(), gtts], defaultEngine: .gtts)
            let result = try await service.synthesize(text: "hello", language: "en")
            #expect(result.engine == .espeak)
            #expect(result.fallbackReason == "gtts failed with HTTP 503: Service Unavailable")
        }
    }

    @Test func temporaryFilesAreRemoved() async throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("gtts-tmp-\(UUID())")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        try await withStub([.audio, .body(try GTTSStub.frame(payload: #"["\#(Data("junk".utf8).base64EncodedString())"]"#))]) {
            _, endpoint in
            let gtts = GTTSSynthesizer(client: .shared, endpoint: endpoint, retry: Self.quickRetry, temporaryDirectory: folder.path)
            _ = try await gtts.synthesize(text: "hello", language: "en", voice: nil)
            _ = try? await gtts.synthesize(text: "hello", language: "en", voice: nil)
            #expect(try FileManager.default.contentsOfDirectory(atPath: folder.path).isEmpty)
        }
    }
}
