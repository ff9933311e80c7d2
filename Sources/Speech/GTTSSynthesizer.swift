public import AsyncHTTPClient
public import Foundation
public import Logging
import Media
import NIOCore
import NIOFoundationCompat
import NIOHTTP1
public import Resilience

/// gTTS-compatible speech: Google Translate's public text-to-speech call, as the original
/// Python server used it through the gTTS library. No API key; opt-in (`GTTS_ENABLED`),
/// because the text leaves this server for Google's public endpoint.
///
/// Each request is one `batchexecute` RPC (`jQ1olc`) of at most 100 characters; longer
/// text is cut at pausing punctuation, then at spaces, and the MP3 answers are decoded by
/// the Media module and joined. Connection failures, timeouts, 429 and 5xx are retried
/// with `retry`; every other failure is reported at once as `remoteFailure`, so
/// `SpeechService` treats it exactly as a Google Cloud TTS failure (espeak-ng fallback).
public struct GTTSSynthesizer: SpeechSynthesizer {
    public let engine = SpeechEngineID.gtts
    /// Base URL of Google Translate (a local stub in tests).
    public let endpoint: String
    /// Deadline of one HTTP attempt.
    public let timeout: Duration
    public let retry: RetryPolicy
    /// Largest answer accepted for one chunk of text.
    public let maxResponseBytes: Int
    /// Longest speech accepted, in seconds (as espeak-ng's limit).
    public let maxSeconds: Double
    /// Where each MP3 answer is written for the decoder (in a private folder per call).
    public let temporaryDirectory: String
    private let client: HTTPClient
    private let logger: Logger

    /// Most characters (Unicode scalars) in one request: gTTS's `GOOGLE_TTS_MAX_CHARS`.
    static let maxChunkCharacters = 100
    /// The `batchexecute` RPC id of Translate's speech call (gTTS's `GOOGLE_TTS_RPC`).
    static let rpcID = "jQ1olc"
    static let path = "/_/TranslateWebserverUi/data/batchexecute"
    /// Characters after which speech pauses, so text is cut there first (gTTS's tokenizer
    /// set, less the opening marks `¡ ¿ ( [`, which belong to what follows them).
    static let pausePunctuation: Set<Character> = [
        "!", ")", "]", "?", ".", ",", "…", "‥", "،", ";", ":", "—", "。", "，", "、", "：", "？", "！",
    ]
    /// Voices: Translate has one per language, spoken at normal or slow speed.
    public static let voices = ["normal", "slow"]

    /// Languages Translate speaks, as gTTS names them (`gtts/langs.py` plus its extra `zh`, `zh-TW`).
    static let languages = [
        "af", "am", "ar", "bg", "bn", "bs", "ca", "cs", "cy", "da", "de", "el", "en", "es", "et", "eu", "fi", "fr", "gl", "gu",
        "ha", "hi", "hr", "hu", "id", "is", "it", "iw", "ja", "jw", "km", "kn", "ko", "la", "lt", "lv", "ml", "mr", "ms", "my",
        "ne", "nl", "no", "pa", "pl", "pt", "pt-PT", "ro", "ru", "si", "sk", "sq", "sr", "su", "sv", "sw", "ta", "te", "th", "tl",
        "tr", "uk", "ur", "vi", "yue", "zh", "zh-CN", "zh-TW",
    ]
    /// Client codes (normalised) that gTTS maps to another code: its deprecated regional
    /// English/French/Spanish/Portuguese tags, and the ISO codes LanguageCatalog accepts for
    /// Translate's legacy ones (`he` → `iw`, `jv` → `jw`, `fil` → `tl`).
    static let aliases: [String: String] = [
        "en-us": "en", "en-gb": "en", "en-uk": "en", "en-au": "en", "en-ca": "en", "en-in": "en", "en-ie": "en", "en-nz": "en",
        "en-za": "en", "fr-fr": "fr", "fr-ca": "fr", "es-es": "es", "es-us": "es", "es-mx": "es", "es-419": "es", "pt-br": "pt",
        "zh-hans": "zh-CN", "zh-hant": "zh-TW", "zh-hk": "yue", "cmn": "zh-CN", "he": "iw", "jv": "jw", "fil": "tl", "nb": "no",
    ]
    private static let byLowercase: [String: String] = Dictionary(uniqueKeysWithValues: languages.map { ($0.lowercased(), $0) })

    public init(
        client: HTTPClient, endpoint: String = "https://translate.google.com", timeout: Duration = .seconds(10),
        retry: RetryPolicy = RetryPolicy(maxAttempts: 3, baseDelay: .milliseconds(250), maxDelay: .seconds(4)),
        maxResponseBytes: Int = 5 * 1024 * 1024, maxSeconds: Double = 120,
        temporaryDirectory: String = NSTemporaryDirectory(), logger: Logger = Logger(label: "lipsync.speech.gtts")
    ) {
        self.client = client
        self.endpoint = endpoint.hasSuffix("/") ? String(endpoint.dropLast()) : endpoint
        self.timeout = timeout
        self.retry = retry
        self.maxResponseBytes = max(1, maxResponseBytes)
        self.maxSeconds = maxSeconds
        self.temporaryDirectory = temporaryDirectory
        self.logger = logger
    }

    public func supportedLanguages() async throws -> [String] {
        Set(Self.languages.map { $0.lowercased() }).union(Self.aliases.keys).sorted()
    }

    /// Translate's code for a client code: an alias, the code itself, then its primary subtag.
    static func gttsLanguage(_ code: String) -> String? {
        let normalised = LanguageCatalog.normalise(code)
        var candidates = [normalised]
        if let primary = normalised.split(separator: "-").first.map(String.init), primary != normalised { candidates.append(primary) }
        for candidate in candidates {
            if let alias = aliases[candidate] { return alias }
            if let known = byLowercase[candidate] { return known }
        }
        return nil
    }

    public func synthesize(text: String, language: String, voice: String?) async throws -> SynthesizedSpeech {
        guard let languageCode = Self.gttsLanguage(language) else {
            throw SpeechError.unsupportedLanguage(language, supported: try await supportedLanguages())
        }
        let slow: Bool
        switch voice {
        case nil, "normal": slow = false
        case "slow": slow = true
        case let other?: throw SpeechError.voiceNotFound(engine: engine.rawValue, voice: other)
        }
        let chunks = Self.chunks(of: text)
        guard !chunks.isEmpty else { throw SpeechError.emptyText }
        var pieces: [Data] = []
        for chunk in chunks {
            let body = try Self.formBody(text: chunk, language: languageCode, slow: slow)
            pieces.append(try await retry.runRemoteSpeech(engine: "gTTS", logger: logger) { try await send(body) })
        }
        let audio = try decode(pieces)
        return SynthesizedSpeech(audio: audio, voice: slow ? "\(languageCode)-slow" : languageCode)
    }

    // MARK: Request

    /// Cuts `text` into pieces of at most `limit` Unicode scalars: clauses (ended by pausing
    /// punctuation) are packed together while they fit; a longer clause is packed word by
    /// word; a longer word is cut where the limit falls.
    static func chunks(of text: String, limit: Int = maxChunkCharacters) -> [String] {
        func length(_ string: some StringProtocol) -> Int { string.unicodeScalars.count }
        let whole = text.trimmingCharacters(in: .whitespacesAndNewlines)
        guard length(whole) > limit else { return whole.isEmpty ? [] : [whole] }

        // A clause ends after pausing punctuation; `.`, `,` and `:` only before white space,
        // so "3.5" and "10:30" stay whole.
        var clauses: [String] = [""]
        let characters = Array(whole)
        for (index, character) in characters.enumerated() {
            clauses[clauses.count - 1].append(character)
            guard pausePunctuation.contains(character) else { continue }
            let next = index + 1 < characters.count ? characters[index + 1] : " "
            if !".,:".contains(character) || next.isWhitespace { clauses.append("") }
        }
        var chunks: [String] = []
        var current = ""
        func flush() {
            let trimmed = current.trimmingCharacters(in: .whitespacesAndNewlines)
            if !trimmed.isEmpty { chunks.append(trimmed) }
            current = ""
        }
        for clause in clauses {
            if length((current + clause).trimmingCharacters(in: .whitespacesAndNewlines)) <= limit {
                current += clause
                continue
            }
            flush()
            for word in clause.split(whereSeparator: \.isWhitespace) {
                let joined = current.isEmpty ? String(word) : current + " " + word
                if length(joined) <= limit {
                    current = joined
                    continue
                }
                flush()
                var rest = Substring(word)
                while length(rest) > limit {
                    var piece = ""
                    while let next = rest.first, length(piece) + length(String(next)) <= limit {
                        piece.append(next)
                        rest = rest.dropFirst()
                    }
                    // A single grapheme longer than the limit is sent whole rather than split.
                    if piece.isEmpty, let next = rest.first {
                        piece.append(next)
                        rest = rest.dropFirst()
                    }
                    chunks.append(piece)
                }
                current = String(rest)
            }
        }
        flush()
        return chunks
    }

    /// `f.req=<percent-encoded JSON>`: `[[["jQ1olc","<args>",null,"generic"]]]` where `<args>`
    /// is itself the JSON text of `[text, language, null or true (slow), "null"]`.
    static func formBody(text: String, language: String, slow: Bool) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.withoutEscapingSlashes]
        let arguments = String(decoding: try encoder.encode(RPCArguments(text: text, language: language, slow: slow)), as: UTF8.self)
        let request = String(decoding: try encoder.encode(RPCRequest(arguments: arguments)), as: UTF8.self)
        let unreserved = CharacterSet(charactersIn: "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")
        guard let encoded = request.addingPercentEncoding(withAllowedCharacters: unreserved) else {
            throw SpeechError.synthesisFailed(engine: "gtts", reason: "the text cannot be form-encoded")
        }
        return "f.req=" + encoded
    }

    private func send(_ body: String) async throws -> Data {
        var request = HTTPClientRequest(url: endpoint + Self.path)
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/x-www-form-urlencoded;charset=utf-8")
        // The endpoint serves Translate's web page; gTTS presents itself as a browser too.
        request.headers.add(name: "User-Agent", value: "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko)")
        request.body = .bytes(ByteBuffer(string: body))
        // The whole attempt (answer and body) within `timeout`: the task is cancelled when it
        // passes, whatever the connection is doing.
        let noAnswer = SpeechError.remoteFailure(engine: "gtts", status: nil, message: "no answer within \(timeout)", retryable: true)
        let (status, reason, bytes) = try await withTimeLimit(timeout, timeout: noAnswer) {
            [client, request, timeout, maxResponseBytes] () async throws -> (Int, String, ByteBuffer) in
            let response: HTTPClientResponse
            do {
                response = try await client.execute(request, timeout: .nanoseconds(Self.nanoseconds(timeout)))
            } catch {
                throw Self.transportFailure(error)
            }
            let status = Int(response.status.code)
            do {
                return (status, response.status.reasonPhrase, try await response.body.collect(upTo: maxResponseBytes))
            } catch is NIOTooManyBytesError {
                throw SpeechError.remoteFailure(
                    engine: "gtts", status: status, message: "the response is larger than \(maxResponseBytes) bytes", retryable: false)
            } catch {
                throw Self.transportFailure(error)
            }
        }
        guard status == 200 else {
            throw SpeechError.remoteFailure(
                engine: "gtts", status: status, message: reason,
                retryable: status == 429 || status >= 500)
        }
        return try Self.audio(fromResponse: Data(buffer: bytes))
    }

    /// A failure before any answer: retryable unless the URL itself is unusable.
    private static func transportFailure(_ error: any Error) -> any Error {
        if error is CancellationError || Task.isCancelled { return CancellationError() }
        let permanent = (error as? HTTPClientError).map { [HTTPClientError.invalidURL, .emptyHost, .emptyScheme].contains($0) } ?? false
        return SpeechError.remoteFailure(engine: "gtts", status: nil, message: "request failed: \(error)", retryable: !permanent)
    }

    private static func nanoseconds(_ duration: Duration) -> Int64 {
        duration.components.seconds * 1_000_000_000 + duration.components.attoseconds / 1_000_000_000
    }

    // MARK: Response

    /// The MP3 in a `batchexecute` answer: text lines (a `)]}'` guard, lengths, JSON arrays);
    /// the line that names `jQ1olc` is `[["wrb.fr","jQ1olc","<payload>",…],…]` and the
    /// payload is the JSON text of `["<base64 MP3>"]`.
    static func audio(fromResponse data: Data) throws -> Data {
        func malformed(_ reason: String) -> SpeechError {
            .remoteFailure(engine: "gtts", status: 200, message: "malformed response: \(reason)", retryable: false)
        }
        guard let text = String(data: data, encoding: .utf8) else { throw malformed("not UTF-8 text") }
        guard let line = text.split(whereSeparator: \.isNewline).first(where: { $0.contains("\"\(rpcID)\"") }) else {
            throw malformed("no \(rpcID) answer")
        }
        guard let outer = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [Any],
            let call = outer.first as? [Any], call.count > 2
        else {
            throw malformed("the \(rpcID) line is not a JSON array of calls")
        }
        guard let payload = call[2] as? String else {
            // Translate answers an RPC it refuses (an unknown language, a blocked caller) with a null payload.
            throw SpeechError.remoteFailure(engine: "gtts", status: 200, message: "the response has no audio", retryable: false)
        }
        guard let inner = try? JSONSerialization.jsonObject(with: Data(payload.utf8)) as? [Any],
            let base64 = inner.first as? String
        else {
            throw malformed("the \(rpcID) payload is not a JSON array holding a string")
        }
        guard let audio = Data(base64Encoded: base64), !audio.isEmpty else { throw malformed("the audio is not base64") }
        return audio
    }

    /// Decodes each MP3 answer with the Media module, the one parser of outside audio, and
    /// joins the samples. gTTS joins the files instead; decoding them one by one keeps one
    /// answer's ID3 tag or gapless header from corrupting the stream of the next. The files
    /// live in a folder only this process can read, removed before returning.
    private func decode(_ pieces: [Data]) throws -> AudioBuffer {
        let folder = URL(fileURLWithPath: temporaryDirectory).appendingPathComponent("gtts-\(UUID().uuidString)")
        do {
            try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: false, attributes: [.posixPermissions: 0o700])
        } catch {
            throw SpeechError.synthesisFailed(engine: "gtts", reason: "cannot create a temporary folder in \(temporaryDirectory): \(error)")
        }
        defer { try? FileManager.default.removeItem(at: folder) }
        var joined: AudioBuffer?
        for (index, mp3) in pieces.enumerated() {
            let file = folder.appendingPathComponent("piece-\(index).mp3")
            do {
                try mp3.write(to: file, options: .withoutOverwriting)
            } catch {
                throw SpeechError.synthesisFailed(engine: "gtts", reason: "cannot write the audio to \(folder.path): \(error)")
            }
            let spoken = joined?.duration ?? 0
            let audio: AudioBuffer
            do {
                let limits = MediaLimits(maxFileBytes: max(mp3.count, 1), maxDurationSeconds: max(maxSeconds - spoken, 0.001))
                // Later pieces at the first one's rate, should Translate ever answer with another.
                audio = try AudioDecoder.decode(file.path, sampleRate: joined?.sampleRate, limits: limits)
            } catch MediaError.durationTooLong {
                throw SpeechError.speechTooLong(limitSeconds: maxSeconds)
            } catch let error as CancellationError {
                throw error
            } catch {
                throw SpeechError.remoteFailure(
                    engine: "gtts", status: 200, message: "the audio cannot be decoded: \(error)", retryable: false)
            }
            try? FileManager.default.removeItem(at: file)
            if joined == nil { joined = audio } else { joined?.samples.append(contentsOf: audio.samples) }
        }
        guard let joined else { throw SpeechError.emptyText }
        return joined
    }

    /// `[text, language, speed, "null"]`: speed is JSON `true` for slow speech, else `null`.
    struct RPCArguments: Encodable {
        let text: String
        let language: String
        let slow: Bool

        func encode(to encoder: any Encoder) throws {
            var container = encoder.unkeyedContainer()
            try container.encode(text)
            try container.encode(language)
            if slow { try container.encode(true) } else { try container.encodeNil() }
            try container.encode("null")
        }
    }

    /// `[[[rpc id, arguments, null, "generic"]]]`.
    struct RPCRequest: Encodable {
        let arguments: String

        func encode(to encoder: any Encoder) throws {
            var outer = encoder.unkeyedContainer()
            var batch = outer.nestedUnkeyedContainer()
            var call = batch.nestedUnkeyedContainer()
            try call.encode(GTTSSynthesizer.rpcID)
            try call.encode(arguments)
            try call.encodeNil()
            try call.encode("generic")
        }
    }
}

extension RetryPolicy {
    /// One request of a remote TTS engine (Google, gTTS), repeated while it fails with a
    /// retryable `remoteFailure` (connection errors, timeouts, 429, 5xx) and attempts remain.
    func runRemoteSpeech<T: Sendable>(engine: String, logger: Logger, _ request: @Sendable () async throws -> T) async throws -> T {
        try await run(
            retryable: { error in
                if case SpeechError.remoteFailure(_, _, _, true) = error { return .zero }
                return nil
            },
            onRetry: { error, attempt, wait in
                logger.warning("\(engine) attempt \(attempt) failed, retrying", metadata: ["error": "\(error)", "delay": "\(wait)"])
            },
            { _ in try await request() })
    }
}
