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

struct Voice: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Convert speech into the voice heard in a reference video or recording (FreeVC).",
        discussion: """
            The reference is trimmed of leading and trailing silence as FreeVC does; speech is converted \
            with noise from --seed (same seed, same audio) and matched to the reference's loudness. With no \
            voice models in the models folder (or --mode none) the speech passes through unchanged, and \
            the output says so. Writes a 16 kHz float WAV and prints the time of each step.
            """)

    @Option(help: "Video or audio with the target voice.") var reference: String
    @Option(help: "Speech to convert (any format FFmpeg reads).") var speech: String
    @Option(help: "Output WAV (32-bit float, 16 kHz).") var out: String
    @Option(help: "Models folder (overrides MODELS_DIR).") var models: String?
    @Option(help: "freevc (default when the models are present) or none.") var mode: String?
    @Option(help: "Seed of the synthesis noise.") var seed: UInt64 = 0
    @OptionGroup var precision: PrecisionFlags
    @Flag(name: .customLong("no-loudness-match"), help: "Keep the synthesizer's level (parity checks).") var noLoudnessMatch = false
    @Option(name: .customLong("dump-embedding"), help: "Also write the speaker embedding as raw float32 (parity checks).")
    var dumpEmbedding: String?
    @OptionGroup var common: CommonOptions

    func run() async throws {
        var configuration = try common.configuration()
        if let models { configuration.modelsDirectory = models }
        ProcessSetup.start(configuration)
        if let mode, VoiceMode(rawValue: mode) == nil { throw ValidationError("--mode must be freevc or none") }
        let environment = try startInference(configuration)
        try await reportingUserErrors("voice") {
            let input = try AudioDecoder.decode(speech, sampleRate: 16_000, limits: configuration.mediaLimits)
            let converter =
                mode == "none"
                ? nil
                : try VoiceSetup.makeConverter(
                    configuration, environment: environment, precision: precision.chosen(configuration))
            guard let converter else {
                if mode == "freevc" {
                    throw UserFacingFailure(
                        description:
                            "the models folder \(configuration.modelsDirectory) has no FreeVC models "
                            + "(wavlm, freevc, speaker_encoder, speaker_mel)"
                    )
                }
                try WAVFile.write(input, to: out)
                print("mode: none (speech passed through unchanged)")
                print("wrote: \(out)")
                return
            }
            let clock = ContinuousClock()
            let start = clock.now
            let voice = try AudioDecoder.decode(reference, sampleRate: 16_000, limits: configuration.mediaLimits)
            let embedding = try converter.speakerEmbedding(of: voice)
            let embeddingSeconds = (clock.now - start).seconds
            let trimmed = SilenceTrimmer().voicedRange(voice.samples)
            if let dumpEmbedding { try embedding.withUnsafeBytes { try Data($0).write(to: URL(fileURLWithPath: dumpEmbedding)) } }
            let result = try converter.convert(
                input, embedding: embedding, seed: seed,
                referenceRMS: noLoudnessMatch ? nil : VoiceConverter.rms(Array(voice.samples[trimmed])))
            try WAVFile.write(result.audio, to: out)
            print("mode: freevc, seed \(seed)")
            print("reference voiced span: samples \(trimmed.lowerBound)–\(trimmed.upperBound) of \(voice.samples.count)")
            print(String(format: "duration: %.3f s (16000 Hz)", result.audio.duration))
            print("step                  seconds")
            for (step, seconds) in [
                ("speaker embedding", embeddingSeconds), ("content (WavLM)", result.timings.content),
                ("synthesis", result.timings.synthesis),
            ] {
                print(step.padding(toLength: 20, withPad: " ", startingAt: 0) + String(format: "%8.3f", seconds))
            }
            print("wrote: \(out)")
        }
    }
}
