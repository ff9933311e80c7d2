internal import CEspeakNG
import Foundation
public import Media

/// A voice installed in espeak-ng's data directory.
public struct EspeakVoice: Sendable, Equatable {
    /// Human-readable name, e.g. "Korean".
    public let name: String
    /// Voice file identifier, e.g. "sit/ko".
    public let identifier: String
    /// Language codes the voice speaks, most preferred first, e.g. ["ko"].
    public let languages: [String]
}

/// What the loaded libespeak-ng is and where its data lives.
public struct EspeakInfo: Sendable, Equatable {
    public let version: String
    public let dataPath: String
    /// Sample rate of the audio espeak-ng synthesises.
    public let sampleRate: Int
}

/// The process's libespeak-ng. The library keeps global state and is not thread-safe, so
/// every call goes through this one actor; `shared` exists because the C state it guards
/// is itself process-wide.
public actor EspeakRuntime {
    public static let shared = EspeakRuntime()

    private var info: EspeakInfo?
    /// The installed voices, read once (espeak_ListVoices scans the data directory).
    private var installedVoices: [EspeakVoice]?
    /// The voice selected last; selecting it again is skipped.
    private var currentVoice: String?

    /// Initialises the library once (later calls return the same info).
    public func start() throws -> EspeakInfo {
        if let info { return info }
        // Synchronous mode: espeak_Synth returns when the audio has been handed to the
        // callback, nothing plays. (Retrieval mode queues to espeak-ng's own thread and
        // espeak_Synchronize then polls, costing ~20 ms per call — measured.) DONT_EXIT: a
        // missing data directory must be an error, not a process exit.
        let rate = espeak_Initialize(AUDIO_OUTPUT_SYNCHRONOUS, 0, nil, Int32(espeakINITIALIZE_DONT_EXIT))
        var pathPointer: UnsafePointer<CChar>?
        let versionPointer = espeak_Info(&pathPointer)
        let dataPath = pathPointer.map { String(cString: $0) } ?? "unknown"
        guard rate > 0 else {
            throw SpeechError.espeakUnavailable("initialisation failed (data path \(dataPath))")
        }
        let info = EspeakInfo(
            version: versionPointer.map { String(cString: $0) } ?? "unknown",
            dataPath: dataPath, sampleRate: Int(rate))
        self.info = info
        return info
    }

    /// `espeakPHONEMES_IPA`: phonemes as IPA (the header's macro is not imported into Swift).
    static let ipaPhonemes: Int32 = 0x02

    /// Lets espeak-ng's text reader finish what a stopped synthesis left in it.
    private func flushReader() {
        let sentinel = Array(".".utf8CString)
        sentinel.withUnsafeBufferPointer { buffer in
            var cursor: UnsafeRawPointer? = buffer.baseAddress.map(UnsafeRawPointer.init)
            _ = espeak_TextToPhonemes(&cursor, espeakCHARS_UTF8, Self.ipaPhonemes)
        }
    }

    /// Every installed voice.
    public func voices() throws -> [EspeakVoice] {
        if let installedVoices { return installedVoices }
        _ = try start()
        guard let list = espeak_ListVoices(nil) else { return [] }
        var voices: [EspeakVoice] = []
        var index = 0
        while let entry = list[index] {
            let voice = entry.pointee
            voices.append(
                EspeakVoice(
                    name: voice.name.map { String(cString: $0) } ?? "",
                    identifier: voice.identifier.map { String(cString: $0) } ?? "",
                    languages: Self.languages(voice.languages)))
            index += 1
        }
        installedVoices = voices
        return voices
    }

    /// Voices whose language list includes `language` exactly or as a prefix ("en" matches "en-us").
    public func voices(forLanguage language: String) throws -> [EspeakVoice] {
        let wanted = language.lowercased()
        return try voices().filter { voice in
            voice.languages.contains { $0 == wanted || $0.hasPrefix(wanted + "-") }
        }
    }

    /// espeak packs languages as repeated [priority byte][zero-terminated name], ending
    /// with a zero priority byte.
    private static func languages(_ packed: UnsafePointer<CChar>?) -> [String] {
        guard var cursor = packed else { return [] }
        var result: [String] = []
        while cursor.pointee != 0 {
            cursor += 1  // priority byte
            let name = String(cString: cursor)
            if name.isEmpty { break }
            result.append(name.lowercased())
            cursor += name.utf8.count + 1
        }
        return result
    }

    /// Installed espeak-ng languages (every language of every voice).
    public func languages() throws -> Set<String> {
        Set(try voices().flatMap(\.languages))
    }

    /// Speaks `text` with the voice `voiceName` (an installed espeak-ng voice or language,
    /// see `select`) at `rate` words per minute (80–450) and `pitch` (0–100). Plain text
    /// only: SSML and phoneme input are off.
    ///
    /// The library cannot be interrupted from outside, but it hands over audio every few
    /// milliseconds of speech: the callback stops it (return 1) when the calling task is
    /// cancelled (a deadline, a client that left, a drain) or when the audio passes
    /// `maxSeconds`, so no synthesis outlives its job or grows without bound.
    public func synthesize(_ text: String, voiceName: String, rate: Int, pitch: Int, maxSeconds: Double = 120) throws -> AudioBuffer {
        let info = try start()
        try select(voiceName)
        espeak_SetParameter(espeakRATE, Int32(max(80, min(450, rate))), 0)
        espeak_SetParameter(espeakPITCH, Int32(max(0, min(100, pitch))), 0)
        let collector = SampleCollector(limit: Int(maxSeconds * Double(info.sampleRate)))
        espeak_SetSynthCallback { samples, count, events in
            // The collector travels as the synthesis call's user_data on every event.
            guard let events, let user = events.pointee.user_data else { return 0 }
            let collector = Unmanaged<SampleCollector>.fromOpaque(user).takeUnretainedValue()
            if let samples, count > 0 { collector.samples.append(contentsOf: UnsafeBufferPointer(start: samples, count: Int(count))) }
            // Runs on the calling task's thread, inside espeak_Synth: the task is current.
            if Task.isCancelled { collector.stopped = .cancelled }
            if collector.samples.count > collector.limit { collector.stopped = .tooLong }
            return collector.stopped == nil ? 0 : 1
        }
        let context = Unmanaged.passRetained(collector)
        defer { context.release() }
        let status = text.withCString { pointer in
            espeak_Synth(pointer, strlen(pointer) + 1, 0, POS_CHARACTER, 0, UInt32(espeakCHARS_UTF8), nil, context.toOpaque())
        }
        if collector.stopped != nil {
            // Stopped mid-text: espeak-ng keeps what it had read of the clause, and the next
            // phonemisation would start with it (measured: a stray word before "hello";
            // espeak_Cancel does not clear it, and espeak_Terminate + espeak_Initialize
            // hangs). One throw-away phonemisation takes it up.
            flushReader()
        }
        switch collector.stopped {
        case .cancelled: throw CancellationError()
        case .tooLong: throw SpeechError.speechTooLong(limitSeconds: maxSeconds)
        case nil: break
        }
        guard status == EE_OK else {
            throw SpeechError.synthesisFailed(engine: "espeak-ng", reason: "espeak_Synth returned \(status.rawValue)")
        }
        return AudioBuffer(samples: collector.samples.map { Float($0) / 32768 }, sampleRate: info.sampleRate)
    }

    /// IPA phonemes of `text`, clause by clause, with the punctuation that ended each
    /// clause (espeak-ng's own clause splitting; the punctuation is read back from the text
    /// each call consumed, since espeak-ng 1.51 lacks the terminator API of Piper's fork).
    public func phonemes(_ text: String, voiceName: String) throws -> [PhonemeClause] {
        _ = try start()
        try select(voiceName)
        var clauses: [PhonemeClause] = []
        let bytes = Array(text.utf8CString)
        try bytes.withUnsafeBufferPointer { buffer in
            guard let base = buffer.baseAddress else { return }
            var cursor: UnsafeRawPointer? = UnsafeRawPointer(base)
            while let position = cursor, position.load(as: CChar.self) != 0 {
                let before = position
                guard let result = espeak_TextToPhonemes(&cursor, espeakCHARS_UTF8, Self.ipaPhonemes) else { break }
                let consumedEnd = cursor ?? UnsafeRawPointer(base + buffer.count - 1)
                var consumed = String(decoding: UnsafeRawBufferPointer(start: before, count: consumedEnd - before), as: UTF8.self)
                // espeak-ng reads one character past the clause (it keeps it for the next
                // call), so the punctuation is the last non-space character before that one.
                if cursor != nil, !consumed.isEmpty { consumed.removeLast() }
                let ipa = String(cString: result).trimmingCharacters(in: .whitespaces)
                let terminator = consumed.trimmingCharacters(in: .whitespacesAndNewlines).last.flatMap {
                    PhonemeClause.terminators.contains($0) ? $0 : nil
                }
                clauses.append(PhonemeClause(phonemes: ipa, terminator: terminator))
                if consumedEnd <= before {
                    throw SpeechError.synthesisFailed(engine: "espeak-ng", reason: "phonemisation made no progress")
                }
            }
        }
        return clauses
    }

    /// The installed voice a caller names: a language code (`en-gb`, `ko`), a voice name
    /// (`Korean`) or a voice file identifier (`sit/ko`), compared without case against
    /// espeak-ng's own list; nil for anything else. Only names that pass here reach the
    /// library: given an unknown name, espeak-ng tries it as a file path.
    public func installedVoice(_ requested: String) throws -> EspeakVoice? {
        let wanted = requested.lowercased()
        let list = try voices()
        return list.first { $0.languages.contains(wanted) }
            ?? list.first { $0.name.lowercased() == wanted || $0.identifier.lowercased() == wanted }
    }

    /// Selects an installed voice (see `installedVoice`); any other name is refused. A
    /// language code selects espeak-ng's best voice for it, a name or identifier that
    /// voice — always through the voice list, never through a file name.
    private func select(_ voiceName: String) throws {
        if currentVoice == voiceName { return }
        currentVoice = nil
        let code = voiceName.lowercased()
        guard let voice = try installedVoice(voiceName) else {
            throw SpeechError.voiceNotFound(engine: "espeak-ng", voice: voiceName)
        }
        let byLanguage = voice.languages.contains(code)
        let status = (byLanguage ? code : voice.languages.first ?? code).withCString { language in
            voice.name.withCString { name in
                var spec = espeak_VOICE()
                spec.languages = language
                if !byLanguage { spec.name = name }
                return espeak_SetVoiceByProperties(&spec)
            }
        }
        guard status == EE_OK else { throw SpeechError.voiceNotFound(engine: "espeak-ng", voice: voiceName) }
        currentVoice = voiceName
    }
}

/// One clause of phonemised text.
public struct PhonemeClause: Sendable, Equatable {
    /// IPA, words separated by spaces, stress marks included.
    public let phonemes: String
    /// The punctuation that ended the clause in the text (. , ? ! ; :), if any.
    public let terminator: Character?

    static let terminators: Set<Character> = [".", ",", "?", "!", ";", ":"]

    /// Whether the clause ends a sentence.
    public var endsSentence: Bool { terminator == "." || terminator == "?" || terminator == "!" }
}

/// Receives espeak-ng's audio blocks during one synthesis call (on the actor's thread).
private final class SampleCollector {
    enum Stop { case cancelled, tooLong }
    var samples: [Int16] = []
    var stopped: Stop?
    let limit: Int

    init(limit: Int) { self.limit = limit }
}
