import Foundation
public import Inference
public import Logging
import Media

/// Neural voices in Piper's format, found in a directory (`NAME.onnx` + `NAME.onnx.json`).
/// Text is phonemised with libespeak-ng's IPA output, split into sentences as Piper does
/// (clause punctuation kept, a space after clause-ending commas), mapped to ids, and each
/// sentence is run through the model; the sentences' audio is concatenated.
public final class PiperSynthesizer: SpeechSynthesizer, @unchecked Sendable {
    // @unchecked: all stored properties are immutable after init; sessions are Sendable.
    public let engine = SpeechEngineID.piper
    public let voices: [PiperVoice]
    private let sessions: [String: InferenceSession]
    private let runtime: EspeakRuntime
    private let logger: Logger

    /// Loads every voice in `directory`. A voice that cannot be used is an error here, at
    /// start-up, rather than on a request.
    public init(
        directory: String, environment: InferenceEnvironment, options: SessionOptions = SessionOptions(),
        runtime: EspeakRuntime = .shared, logger: Logger = Logger(label: "lipsync.speech.piper")
    ) throws {
        let names: [String]
        do {
            names = try FileManager.default.contentsOfDirectory(atPath: directory).filter { $0.hasSuffix(".onnx") }.sorted()
        } catch {
            throw SpeechError.invalidVoice(path: directory, reason: "the voice directory cannot be read")
        }
        var voices: [PiperVoice] = []
        var sessions: [String: InferenceSession] = [:]
        for name in names {
            let voice = try PiperVoice(modelPath: directory + "/" + name)
            let session: InferenceSession
            do {
                session = try InferenceSession(environment: environment, modelPath: voice.modelPath, options: options)
            } catch let error as InferenceError {
                throw SpeechError.invalidVoice(path: voice.modelPath, reason: error.description)
            }
            try voice.validate(session)
            voices.append(voice)
            sessions[voice.name] = session
        }
        self.voices = voices
        self.sessions = sessions
        self.runtime = runtime
        self.logger = logger
    }

    public func supportedLanguages() async throws -> [String] {
        Array(Set(voices.flatMap { [$0.language, String($0.language.split(separator: "-").first ?? "")] })).sorted()
    }

    /// `voice` is a voice name (file name without `.onnx`); otherwise the first voice whose
    /// language matches the code exactly, then by primary subtag (`en` finds `en-us`).
    public func voice(language: String, name: String?) throws -> PiperVoice {
        if let name {
            guard let voice = voices.first(where: { $0.name == name }) else {
                throw SpeechError.voiceNotFound(engine: "piper", voice: name)
            }
            return voice
        }
        let code = LanguageCatalog.normalise(language)
        let primary = code.split(separator: "-").first.map(String.init) ?? code
        if let voice = voices.first(where: { $0.language == code })
            ?? voices.first(where: { $0.language.hasPrefix(primary + "-") || $0.language == primary })
        {
            return voice
        }
        throw SpeechError.unsupportedLanguage(language, supported: Array(Set(voices.map(\.language))).sorted())
    }

    public func synthesize(text: String, language: String, voice name: String?) async throws -> SynthesizedSpeech {
        let voice = try voice(language: language, name: name)
        guard let session = sessions[voice.name] else { throw SpeechError.voiceNotFound(engine: "piper", voice: voice.name) }
        var samples: [Float] = []
        for sentence in try await sentenceIDs(text, voice: voice) {
            samples += try run(session, voice: voice, ids: sentence)
        }
        return SynthesizedSpeech(audio: AudioBuffer(samples: samples, sampleRate: voice.sampleRate), voice: voice.name)
    }

    /// Piper's id sequences, one per sentence.
    public func sentenceIDs(_ text: String, voice: PiperVoice) async throws -> [[Int64]] {
        let clauses = try await runtime.phonemes(text, voiceName: voice.espeakVoice)
        var sentences: [[Unicode.Scalar]] = []
        var current: [Unicode.Scalar] = []
        for clause in clauses {
            // Piper compares decomposed code points (NFD), one id per scalar.
            current += Array(clause.phonemes.decomposedStringWithCanonicalMapping.unicodeScalars)
            if let terminator = clause.terminator { current += Array(String(terminator).unicodeScalars) }
            if clause.endsSentence {
                sentences.append(current)
                current = []
            } else if clause.terminator != nil {
                current.append(" ")
            }
        }
        if !current.isEmpty { sentences.append(current) }
        return sentences.map { sentence in
            let (ids, missing) = voice.ids(for: sentence)
            if !missing.isEmpty {
                logger.debug(
                    "phonemes missing from the voice's map were skipped",
                    metadata: ["voice": "\(voice.name)", "missing": "\(String(String.UnicodeScalarView(missing)))"])
            }
            return ids
        }
    }

    private func run(_ session: InferenceSession, voice: PiperVoice, ids: [Int64]) throws -> [Float] {
        var feeds: [String: TensorValue] = [
            "input": .int64(try Tensor(shape: [1, ids.count], scalars: ids)),
            "input_lengths": .int64(try Tensor(shape: [1], scalars: [Int64(ids.count)])),
            "scales": .float32(try Tensor(shape: [3], scalars: [voice.noiseScale, voice.lengthScale, voice.noiseWidth])),
        ]
        if session.inputs.contains(where: { $0.name == "sid" }) {
            feeds["sid"] = .int64(try Tensor(shape: [1], scalars: [0]))
        }
        do {
            let outputs = try session.run(feeds, outputs: [session.outputs[0].name])
            guard let audio = outputs[session.outputs[0].name] else { return [] }
            return try audio.tensor(of: Float.self).scalars
        } catch let error as InferenceError {
            throw SpeechError.synthesisFailed(engine: "piper", reason: error.description)
        }
    }
}
