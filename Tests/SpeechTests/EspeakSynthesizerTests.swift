import Media
import Testing

@testable import Speech

@Suite struct EspeakSynthesizerTests {
    let engine = EspeakSynthesizer()

    @Test(arguments: ["안녕하세요", "테스트"])
    func koreanSpeaks(text: String) async throws {
        let speech = try await engine.synthesize(text: text, language: "ko", voice: nil)
        #expect(speech.voice == "ko")
        #expect(speech.audio.sampleRate == 22_050)
        #expect(speech.audio.duration > 0.3 && speech.audio.duration < 3)
        #expect((speech.audio.samples.map(abs).max() ?? 0) > 0.05)
    }

    @Test func englishAndVoiceOverride() async throws {
        let us = try await engine.synthesize(text: "hello", language: "en", voice: nil)
        #expect(us.voice == "en-us")
        let gb = try await engine.synthesize(text: "hello", language: "en", voice: "en-gb")
        #expect(gb.voice == "en-gb")
        #expect(gb.audio.duration > 0.2)
        await #expect(throws: SpeechError.voiceNotFound(engine: "espeak-ng", voice: "nope")) {
            try await engine.synthesize(text: "hello", language: "en", voice: "nope")
        }
    }

    @Test func unsupportedLanguageListsTheSupportedOnes() async throws {
        let error = await #expect(throws: SpeechError.self) { try await engine.synthesize(text: "hi", language: "tlh", voice: nil) }
        guard case .unsupportedLanguage(let code, let supported)? = error else {
            Issue.record("got \(String(describing: error))")
            return
        }
        #expect(code == "tlh")
        #expect(supported.contains("ko") && supported.contains("en"))
    }

    @Test func rateChangesDuration() async throws {
        let slow = try await EspeakSynthesizer(rate: 100).synthesize(
            text: "this is a test of the speaking rate", language: "en", voice: nil)
        let fast = try await EspeakSynthesizer(rate: 300).synthesize(
            text: "this is a test of the speaking rate", language: "en", voice: nil)
        #expect(fast.audio.duration < slow.audio.duration * 0.6)
    }

    /// espeak-ng is not thread-safe; concurrent requests must still each get their own,
    /// complete audio. espeak-ng is not repeatable even serially (global wave-generator state
    /// carries over between calls, so pauses and samples shift a little with what was
    /// spoken before; espeak_Terminate does not reset it). So each concurrent result is
    /// compared with the serial results of all requests: with silence trimmed, its length
    /// must be within 5 % of its own request's and its loudness envelope must correlate
    /// best with its own request's.
    @Test func concurrentRequestsGetDistinctCorrectAudio() async throws {
        let requests: [(String, String)] = [
            ("안녕하세요", "ko"), ("hello there, how are you", "en"), ("테스트", "ko"), ("guten Tag", "de"), ("bonjour", "fr"),
            ("one two three four five", "en"),
        ]
        let trimmer = SpeechPostProcessor(margin: 0)
        var serial: [AudioBuffer] = []
        for (text, language) in requests {
            serial.append(try trimmer.trim(try await engine.synthesize(text: text, language: language, voice: nil).audio))
        }
        let engine = self.engine
        let concurrent = try await withThrowingTaskGroup(of: (Int, AudioBuffer).self) { group in
            for _ in 0..<3 {
                for (index, request) in requests.enumerated() {
                    group.addTask { (index, try await engine.synthesize(text: request.0, language: request.1, voice: nil).audio) }
                }
            }
            var results: [(Int, AudioBuffer)] = []
            for try await result in group { results.append(result) }
            return results
        }
        #expect(concurrent.count == requests.count * 3)
        for (index, audio) in concurrent {
            let trimmed = try trimmer.trim(audio)
            let lengthRatio = Double(trimmed.samples.count) / Double(serial[index].samples.count)
            #expect(abs(lengthRatio - 1) < 0.05, "request \(index) (\(requests[index].0)): length ratio \(lengthRatio)")
            let scores = serial.map { Self.correlation(trimmed, $0) }
            let best = scores.indices.max { scores[$0] < scores[$1] }
            #expect(
                best == index, "request \(index) (\(requests[index].0)) correlates best with request \(String(describing: best)): \(scores)"
            )
        }
    }

    /// Pearson correlation of the 50 ms RMS envelopes over the common length.
    static func correlation(_ a: AudioBuffer, _ b: AudioBuffer) -> Double {
        let frame = a.sampleRate / 20
        func envelope(_ x: AudioBuffer) -> [Double] {
            stride(from: 0, to: min(a.samples.count, b.samples.count) - frame, by: frame).map { start in
                (x.samples[start..<(start + frame)].reduce(0.0) { $0 + Double($1 * $1) } / Double(frame)).squareRoot()
            }
        }
        let (x, y) = (envelope(a), envelope(b))
        guard x.count > 1 else { return 0 }
        let (mx, my) = (x.reduce(0, +) / Double(x.count), y.reduce(0, +) / Double(y.count))
        var (sxy, sxx, syy) = (0.0, 0.0, 0.0)
        for (u, v) in zip(x, y) {
            sxy += (u - mx) * (v - my)
            sxx += (u - mx) * (u - mx)
            syy += (v - my) * (v - my)
        }
        return sxx > 0 && syy > 0 ? sxy / (sxx * syy).squareRoot() : 0
    }

    @Test func phonemesKeepClausePunctuation() async throws {
        let clauses = try await EspeakRuntime.shared.phonemes("Hello, world! How are you?", voiceName: "en-us")
        #expect(clauses.map(\.phonemes) == ["həlˈoʊ", "wˈɜːld", "hˈaʊ ɑːɹ juː"])
        #expect(clauses.map(\.terminator) == [",", "!", "?"])
        #expect(clauses.map(\.endsSentence) == [false, true, true])
    }
}
