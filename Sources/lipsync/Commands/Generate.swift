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

struct Generate: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "The whole job: a video (or photo) of a face + a phrase + a language → the face saying the phrase in its own voice.",
        discussion: """
            Text-to-speech and the speaker embedding of the video's voice run concurrently; then voice \
            conversion (FreeVC, when its models are installed and the video has a usable voice — otherwise the \
            TTS voice is kept and the output says why) and the lip-sync render. Prints the timing of every step.
            """)

    @Option(help: "Input video (or photo) with one face.") var video: String
    @Option(help: "The word or phrase to say.") var text: String
    @Option(name: .customLong("lang"), help: "Language code, gTTS style: ko, en, ja, zh-CN…") var language: String
    @Option(help: "Output MP4.") var out: String
    @Option(help: "Models folder (overrides MODELS_DIR).") var models: String?
    @Option(help: "TTS engine: espeak, piper, google or gtts (default: TTS_ENGINE).") var engine: SpeechEngineID?
    @Option(name: .customLong("tts-voice"), help: "Engine-specific TTS voice.") var ttsVoice: String?
    @Option(name: .customLong("voice-mode"), help: "freevc or none (default: DEFAULT_VOICE_MODE, else freevc when possible).")
    var voiceMode: VoiceMode?
    @Option(help: "Seed of the voice-conversion noise.") var seed: UInt64 = 0
    @OptionGroup var lipSync: LipSyncFlags
    @OptionGroup var common: CommonOptions

    func run() async throws {
        var configuration = try common.configuration()
        if let models { configuration.modelsDirectory = models }
        // The operator's own command: local paths anywhere unless STORAGE_ROOTS says otherwise.
        if ProcessInfo.processInfo.environment["STORAGE_ROOTS"] == nil { configuration.storage.roots = ["/"] }
        ProcessSetup.start(configuration)
        let options = try lipSync.renderOptions(configuration)
        let choice = try lipSync.detectorChoice()
        let environment = try startInference(configuration)
        try await reportingUserErrors("generate") {
            let pipeline = try PipelineSetup.makePipeline(
                configuration, environment: environment, detector: choice, precision: lipSync.precision.chosen(configuration))
            let storage = await StorageSetup.makeService(configuration)
            var request = JobRequest(
                video: video, text: text, language: language, output: out, ttsEngine: engine, ttsVoice: ttsVoice,
                voiceMode: voiceMode ?? configuration.jobDefaults.voiceMode, seed: seed, lipSync: options)
            let line = ProgressLine()
            request.progress = line.handler
            let result = try await pipeline.run(
                request, storage: storage, workspaceBase: configuration.storage.temporaryDirectory, label: "generate")
            line.finish()
            print("wrote \(out): \(result.frames) frames, \(result.width)×\(result.height)")
            print(
                "speech: \(result.ttsEngine.rawValue) (\(result.ttsVoice))" + (result.ttsFallbackReason.map { "; fallback: \($0)" } ?? ""))
            print("voice: \(result.voiceMode.rawValue)" + (result.voiceModeReason.map { " — \($0)" } ?? ""))
            print("Performance analysis")
            print(LipSyncPipeline.report(result.timings))
        }
    }
}
