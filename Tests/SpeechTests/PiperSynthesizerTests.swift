import Foundation
import Inference
import Media
import Testing

@testable import Speech

@Suite struct PiperSynthesizerTests {
    func synthesizer() throws -> PiperSynthesizer {
        try PiperSynthesizer(directory: SpeechFixtures.piperDirectory, environment: SpeechFixtures.environment)
    }

    @Test func loadsVoicesFromTheDirectory() throws {
        let piper = try synthesizer()
        #expect(piper.voices.map(\.name) == ["standin-en_US", "standin-ko_KR"])
        #expect(piper.voices.map(\.language) == ["en-us", "ko-kr"])
        #expect(try piper.voice(language: "en", name: nil).name == "standin-en_US")
        #expect(try piper.voice(language: "ko", name: nil).name == "standin-ko_KR")
        #expect(throws: SpeechError.voiceNotFound(engine: "piper", voice: "nobody")) { try piper.voice(language: "en", name: "nobody") }
        #expect(throws: SpeechError.unsupportedLanguage("ja", supported: ["en-us", "ko-kr"])) { try piper.voice(language: "ja", name: nil) }
    }

    /// Our phonemisation + id mapping must give exactly piper-phonemize's sequences.
    @Test func idsMatchPiperPhonemize() async throws {
        let piper = try synthesizer()
        for phrase in try SpeechFixtures.expected().phrases {
            let voice = try piper.voice(language: phrase.voice == "ko" ? "ko" : "en", name: nil)
            let ids = try await piper.sentenceIDs(phrase.text, voice: voice)
            #expect(ids == phrase.ids, "\(phrase.text): phonemes \(phrase.phonemes)")
        }
    }

    /// The stand-in model turns each id into a known 256-sample burst, so the audio proves
    /// the ids and scales reached the model and the sentences were joined in order.
    @Test func synthesisRunsTheModelPerSentence() async throws {
        let piper = try synthesizer()
        let expected = try SpeechFixtures.expected()
        let phrase = try #require(expected.phrases.first { $0.text == "Hello, world! How are you?" })
        let speech = try await piper.synthesize(text: phrase.text, language: "en-US", voice: nil)
        #expect(speech.voice == "standin-en_US")
        #expect(speech.audio.sampleRate == expected.sample_rate)
        let ids = phrase.ids.flatMap { $0 }
        try #require(speech.audio.samples.count == ids.count * expected.samples_per_id)
        var maxError: Float = 0
        for (position, id) in ids.enumerated() {
            for n in 0..<expected.samples_per_id {
                let want = Float(0.5 * sin(2 * Double.pi * Double(100 + 5 * Int(id)) * Double(n) / Double(expected.sample_rate)))
                maxError = max(maxError, abs(want - speech.audio.samples[position * expected.samples_per_id + n]))
            }
        }
        #expect(maxError < 1e-5)
    }

    // MARK: Broken voices

    private func voiceDirectory(config: String?, model: String = "standin-en_US.onnx") throws -> String {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("piper-\(UUID())").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let source = model.hasPrefix("/") ? model : SpeechFixtures.piperDirectory + "/" + model
        try FileManager.default.copyItem(atPath: source, toPath: directory + "/voice.onnx")
        if let config { try Data(config.utf8).write(to: URL(fileURLWithPath: directory + "/voice.onnx.json")) }
        return directory
    }

    private func goodConfig() throws -> [String: Any] {
        let data = try Data(contentsOf: URL(fileURLWithPath: SpeechFixtures.piperDirectory + "/standin-en_US.onnx.json"))
        return try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
    }

    private func json(_ object: [String: Any]) throws -> String {
        String(decoding: try JSONSerialization.data(withJSONObject: object), as: UTF8.self)
    }

    private func loadError(_ directory: String) -> SpeechError? {
        defer { try? FileManager.default.removeItem(atPath: directory) }
        return #expect(throws: SpeechError.self) {
            try PiperSynthesizer(directory: directory, environment: SpeechFixtures.environment)
        }
    }

    private func reason(_ error: SpeechError?) -> String {
        if case .invalidVoice(_, let reason)? = error { return reason }
        return "not invalidVoice: \(String(describing: error))"
    }

    @Test func missingConfig() throws {
        #expect(reason(loadError(try voiceDirectory(config: nil))).contains("config"))
    }

    @Test func configIsNotJSON() throws {
        #expect(reason(loadError(try voiceDirectory(config: "{ not json"))).contains("not a Piper config"))
    }

    @Test func configWithoutPhonemeMap() throws {
        var config = try goodConfig()
        config.removeValue(forKey: "phoneme_id_map")
        #expect(reason(loadError(try voiceDirectory(config: try json(config)))).contains("missing 'phoneme_id_map'"))
    }

    @Test func configIdOutsideTheModelsSymbols() throws {
        var config = try goodConfig()
        config["num_symbols"] = 10
        #expect(reason(loadError(try voiceDirectory(config: try json(config)))).contains("outside 0..<10"))
    }

    @Test func multiSpeakerConfigForASingleSpeakerModel() throws {
        var config = try goodConfig()
        config["num_speakers"] = 4
        #expect(reason(loadError(try voiceDirectory(config: try json(config)))).contains("no 'sid' input"))
    }

    @Test func modelWithoutPipersSignature() throws {
        let addModel = URL(fileURLWithPath: SpeechFixtures.piperDirectory).deletingLastPathComponent().appendingPathComponent("add.onnx")
            .path
        let directory = try voiceDirectory(config: try json(try goodConfig()), model: addModel)
        #expect(reason(loadError(directory)).contains("has no 'input' input"))
    }

    @Test func unsupportedPhonemeType() throws {
        var config = try goodConfig()
        config["phoneme_type"] = "text"
        #expect(reason(loadError(try voiceDirectory(config: try json(config)))).contains("phoneme_type 'text' is not supported"))
    }
}
