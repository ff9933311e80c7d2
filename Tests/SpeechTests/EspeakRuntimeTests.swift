import Speech
import Testing

@Suite struct EspeakRuntimeTests {
    @Test func startsAndReportsVersion() async throws {
        let info = try await EspeakRuntime.shared.start()
        #expect(info.version.first?.isNumber == true)
        #expect(info.sampleRate == 22050)
        #expect(!info.dataPath.isEmpty)
        // Starting again is a no-op returning the same facts.
        #expect(try await EspeakRuntime.shared.start() == info)
    }

    @Test func koreanAndEnglishVoicesAreInstalled() async throws {
        let korean = try await EspeakRuntime.shared.voices(forLanguage: "ko")
        #expect(korean.contains { $0.languages.contains("ko") })
        let english = try await EspeakRuntime.shared.voices(forLanguage: "en")
        #expect(english.contains { $0.languages.contains("en-us") })
    }

    @Test func unknownLanguageHasNoVoices() async throws {
        #expect(try await EspeakRuntime.shared.voices(forLanguage: "xx-nowhere").isEmpty)
    }
}
