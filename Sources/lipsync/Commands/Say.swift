import ArgumentParser
import AsyncHTTPClient
import Composition
import FaceTracking
import Foundation
import Hummingbird
import Inference
import LipSync
import Logging
import Media
import Pipeline
import Server
import ServiceLifecycle
import Speech
import Storage
import UserFacingErrors
import VoiceConversion

struct Say: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Speak a phrase with a text-to-speech engine and write it as the models receive it (16 kHz mono WAV).",
        discussion: """
            Prints the engine, voice, duration and synthesis time. Engines: espeak (embedded), piper \
            (PIPER_VOICES_DIR), google (GOOGLE_TTS_API_KEY). Exits with status 1 and the reason on \
            standard error for bad text, an unsupported language or an engine failure.
            """)

    @Option(help: "The phrase to speak.") var text: String
    @Option(name: .customLong("lang"), help: "Language code, gTTS style: ko, en, en-us, ja, zh-CN, es, fr, de…") var language: String
    @Option(help: "Engine: espeak, piper, google or gtts (default: TTS_ENGINE, else espeak).") var engine: String?
    @Option(help: "Engine-specific voice name (espeak-ng voice, Piper voice file name, Google voice name).") var voice: String?
    @Option(help: "Output WAV file (32-bit float, 16 kHz, mono).") var out: String
    @OptionGroup var common: CommonOptions

    func run() async throws {
        let configuration = try common.configuration()
        ProcessSetup.start(configuration)
        var chosen: SpeechEngineID?
        if let engine {
            guard let id = SpeechEngineID(rawValue: engine.lowercased()) else {
                throw ValidationError("--engine \(engine) is not one of " + SpeechEngineID.allCases.map(\.rawValue).joined(separator: ", "))
            }
            chosen = id
        }
        let environment = try startInference(configuration)
        try await reportingUserErrors("say") {
            let service = try SpeechSetup.makeService(configuration, environment: environment, httpClient: .shared)
            let result = try await service.synthesize(text: text, language: language, engine: chosen, voice: voice)
            try WAVFile.write(result.audio, to: out)
            print("engine: \(result.engine.rawValue)")
            print("voice: \(result.voice)")
            print(String(format: "duration: %.3f s (%d Hz)", result.audio.duration, result.audio.sampleRate))
            print(
                String(
                    format: "synthesis: %.1f ms, post-processing: %.1f ms", result.synthesisSeconds * 1e3,
                    result.postProcessingSeconds * 1e3))
            if let reason = result.fallbackReason { print("fallback: \(reason)") }
            print("wrote: \(out)")
        }
    }
}
