import CEspeakNG

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

    /// Initialises the library once (later calls return the same info).
    public func start() throws -> EspeakInfo {
        if let info { return info }
        // Retrieval mode: audio comes back to us, nothing plays. DONT_EXIT: a missing data
        // directory must be an error, not a process exit.
        let rate = espeak_Initialize(AUDIO_OUTPUT_RETRIEVAL, 0, nil, Int32(espeakINITIALIZE_DONT_EXIT))
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

    /// Every installed voice.
    public func voices() throws -> [EspeakVoice] {
        _ = try start()
        guard let list = espeak_ListVoices(nil) else { return [] }
        var voices: [EspeakVoice] = []
        var index = 0
        while let entry = list[index] {
            let voice = entry.pointee
            voices.append(EspeakVoice(
                name: voice.name.map { String(cString: $0) } ?? "",
                identifier: voice.identifier.map { String(cString: $0) } ?? "",
                languages: Self.languages(voice.languages)))
            index += 1
        }
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
}
