public import AsyncHTTPClient
import Foundation
public import Logging
import Media
import NIOCore
import NIOFoundationCompat
import NIOHTTP1
import Resilience

/// Google Cloud Text-to-Speech over its REST API (`POST /v1/text:synthesize`, LINEAR16).
/// Optional and remote: needs an API key or an OAuth2 access token. Retries 429, 5xx,
/// timeouts and connection failures with exponential backoff and jitter; other errors are
/// reported at once with Google's message.
public struct GoogleSpeechSynthesizer: SpeechSynthesizer {
    public enum Credentials: Sendable {
        /// Sent as the `key` query parameter.
        case apiKey(String)
        /// Sent as `Authorization: Bearer …`; called per request so a cached token can refresh.
        case accessToken(@Sendable () async throws -> String)
    }

    public let engine = SpeechEngineID.google
    public let endpoint: String
    public let credentials: Credentials
    /// Sample rate requested from Google (LINEAR16).
    public let sampleRate: Int
    /// Deadline of one HTTP attempt.
    public let timeout: Duration
    /// Attempts in all (first try plus retries).
    public let maxAttempts: Int
    /// First retry delay's ceiling; doubled per retry, with full jitter (`RetryPolicy`).
    public let retryDelay: Duration
    private let client: HTTPClient
    private let logger: Logger

    /// Client codes → Google `languageCode`. Other codes are passed through unchanged.
    static let languageCodes: [String: String] = [
        "ko": "ko-KR", "en": "en-US", "ja": "ja-JP", "zh": "cmn-CN", "zh-cn": "cmn-CN", "zh-tw": "cmn-TW", "zh-hk": "yue-HK",
        "es": "es-ES", "fr": "fr-FR", "de": "de-DE", "it": "it-IT", "pt": "pt-BR", "ru": "ru-RU", "hi": "hi-IN",
        "vi": "vi-VN", "th": "th-TH", "id": "id-ID", "nl": "nl-NL", "pl": "pl-PL", "tr": "tr-TR", "ar": "ar-XA",
    ]

    public init(
        client: HTTPClient, credentials: Credentials, endpoint: String = "https://texttospeech.googleapis.com",
        sampleRate: Int = 24_000, timeout: Duration = .seconds(10), maxAttempts: Int = 3,
        retryDelay: Duration = .milliseconds(250), logger: Logger = Logger(label: "lipsync.speech.google")
    ) {
        self.client = client
        self.credentials = credentials
        self.endpoint = endpoint.hasSuffix("/") ? String(endpoint.dropLast()) : endpoint
        self.sampleRate = sampleRate
        self.timeout = timeout
        self.maxAttempts = max(1, maxAttempts)
        self.retryDelay = retryDelay
        self.logger = logger
    }

    public func supportedLanguages() async throws -> [String] {
        Self.languageCodes.keys.sorted()
    }

    /// Google's voice names are letters, digits and hyphens (`ko-KR-Neural2-A`); nothing
    /// else is sent on.
    static func isVoiceName(_ name: String) -> Bool {
        (1...64).contains(name.utf8.count)
            && name.utf8.allSatisfy { byte in
                byte == UInt8(ascii: "-") || (0x30...0x39).contains(byte) || (0x41...0x5A).contains(byte) || (0x61...0x7A).contains(byte)
            }
    }

    static func googleLanguage(_ code: String) -> String {
        let normalised = LanguageCatalog.normalise(code)
        if let mapped = languageCodes[normalised] { return mapped }
        // Keep the client's region but Google's casing: "en-gb" → "en-GB".
        let parts = normalised.split(separator: "-")
        guard parts.count == 2 else { return normalised }
        return "\(parts[0])-\(parts[1].uppercased())"
    }

    public func synthesize(text: String, language: String, voice: String?) async throws -> SynthesizedSpeech {
        if let voice, !Self.isVoiceName(voice) { throw SpeechError.voiceNotFound(engine: "google", voice: voice) }
        let languageCode = Self.googleLanguage(language)
        let body = RequestBody(
            input: .init(text: text),
            voice: .init(languageCode: languageCode, name: voice),
            audioConfig: .init(audioEncoding: "LINEAR16", sampleRateHertz: sampleRate))
        let payload = try JSONEncoder().encode(body)
        let retry = RetryPolicy(maxAttempts: maxAttempts, baseDelay: retryDelay, maxDelay: retryDelay * 16)
        let wav = try await retry.runRemoteSpeech(engine: "Google TTS", logger: logger) { try await send(payload) }
        return SynthesizedSpeech(audio: try decodeWAV(wav), voice: voice ?? languageCode)
    }

    private func send(_ payload: Data) async throws -> Data {
        var url = endpoint + "/v1/text:synthesize"
        var request = HTTPClientRequest(url: url)
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/json; charset=utf-8")
        switch credentials {
        case .apiKey(let key):
            let encoded =
                key.addingPercentEncoding(withAllowedCharacters: .urlQueryAllowed.subtracting(CharacterSet(charactersIn: "&=+"))) ?? key
            url += "?key=" + encoded
            request.url = url
        case .accessToken(let token):
            request.headers.add(name: "Authorization", value: "Bearer \(try await token())")
        }
        request.body = .bytes(ByteBuffer(data: payload))
        let response: HTTPClientResponse
        let bytes: ByteBuffer
        do {
            response = try await client.execute(
                request,
                timeout: .nanoseconds(Int64(timeout.components.seconds * 1_000_000_000 + timeout.components.attoseconds / 1_000_000_000)))
            bytes = try await response.body.collect(upTo: 50 * 1024 * 1024)
        } catch {
            throw SpeechError.remoteFailure(engine: "google", status: nil, message: "request failed: \(error)", retryable: true)
        }
        let data = Data(buffer: bytes)
        let status = Int(response.status.code)
        guard status == 200 else {
            let message = (try? JSONDecoder().decode(ErrorBody.self, from: data).error.message) ?? response.status.reasonPhrase
            throw SpeechError.remoteFailure(engine: "google", status: status, message: message, retryable: status == 429 || status >= 500)
        }
        guard let reply = try? JSONDecoder().decode(ResponseBody.self, from: data),
            let audio = Data(base64Encoded: reply.audioContent), !audio.isEmpty
        else {
            throw SpeechError.remoteFailure(engine: "google", status: status, message: "the response has no audioContent", retryable: false)
        }
        return audio
    }

    /// LINEAR16 arrives as a WAV file (RIFF header + PCM); decode it with the Media module,
    /// the one parser of outside audio.
    private func decodeWAV(_ data: Data) throws -> AudioBuffer {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("google-tts-\(UUID().uuidString).wav").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        do {
            try data.write(to: URL(fileURLWithPath: path))
            return try AudioDecoder.decode(path)
        } catch {
            throw SpeechError.remoteFailure(
                engine: "google", status: 200, message: "the audio cannot be decoded: \(error)", retryable: false)
        }
    }

    struct RequestBody: Codable, Equatable {
        struct Input: Codable, Equatable { let text: String }
        struct Voice: Codable, Equatable {
            let languageCode: String
            let name: String?
        }
        struct AudioConfig: Codable, Equatable {
            let audioEncoding: String
            let sampleRateHertz: Int
        }
        let input: Input
        let voice: Voice
        let audioConfig: AudioConfig
    }

    private struct ResponseBody: Decodable { let audioContent: String }
    private struct ErrorBody: Decodable {
        struct Detail: Decodable { let message: String }
        let error: Detail
    }
}
