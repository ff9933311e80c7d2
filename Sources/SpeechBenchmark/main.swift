import ArgumentParser
import AsyncHTTPClient
import Composition
import Foundation
import Inference
import Logging
import Media
import Speech

/// Text-to-speech benchmark: synthesis time of one word and one sentence per engine and
/// language (median of repeated runs), plus the shared post-processing. Prints numbers only.
@main
struct SpeechBenchmark: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "speech-bench", abstract: "Time the text-to-speech engines on a word and a sentence.")

    @Option(help: "Runs per measurement (the median is printed).") var runs = 10
    @Option(help: "Directory of Piper voices to time (e.g. .fixtures/piper for the stand-ins).") var piperVoices: String?
    @Option(help: "Google Cloud TTS API key (Google is skipped without one).") var googleKey: String?

    static let phrases: [(language: String, word: String, sentence: String)] = [
        ("ko", "테스트", "안녕하세요, 오늘 날씨가 정말 좋네요."),
        ("en", "hello", "The quick brown fox jumps over the lazy dog."),
    ]

    func run() async throws {
        var engines: [any SpeechSynthesizer] = [EspeakSynthesizer()]
        if let piperVoices {
            let environment = try InferenceEnvironment(logger: Logger(label: "speech-bench.onnxruntime"))
            engines.append(try PiperSynthesizer(directory: piperVoices, environment: environment))
        }
        if let googleKey { engines.append(GoogleSpeechSynthesizer(client: .shared, credentials: .apiKey(googleKey))) }
        print("Speech benchmark — \(ReferenceClip.machine()), median of \(runs) runs")
        if googleKey == nil { print("  google: skipped (no --google-key)") }
        let processor = SpeechPostProcessor()
        for engine in engines {
            for phrase in Self.phrases {
                for (kind, text) in [("word", phrase.word), ("sentence", phrase.sentence)] {
                    var synthesis: [Double] = []
                    var processing: [Double] = []
                    var duration = 0.0
                    do {
                        for _ in 0..<runs {
                            let start = ContinuousClock.now
                            let speech = try await engine.synthesize(text: text, language: phrase.language, voice: nil)
                            let made = ContinuousClock.now
                            let processed = try processor.process(speech.audio)
                            processing.append((ContinuousClock.now - made).seconds * 1e3)
                            synthesis.append((made - start).seconds * 1e3)
                            duration = processed.duration
                        }
                    } catch {
                        print("  \(engine.engine.rawValue) \(phrase.language) \(kind): \(error)")
                        continue
                    }
                    let label = "\(engine.engine.rawValue) \(phrase.language) \(kind)".padding(toLength: 20, withPad: " ", startingAt: 0)
                    print(
                        "  " + label
                            + String(
                                format: "%6.1f ms synthesis, %5.1f ms post-processing, %.2f s of speech (real-time factor %.3f)",
                                median(synthesis), median(processing), duration, median(synthesis) / 1e3 / max(duration, 1e-9)))
                }
            }
        }
    }

    private func median(_ values: [Double]) -> Double { values.sorted()[values.count / 2] }
}
