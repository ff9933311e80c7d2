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

struct Clip: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Write the benchmark's reference clip: a face photo on a gradient, drifting, with an espeak-ng English voice track.",
        discussion: "The input of `lipsync bench` as a file (H.264 + AAC MP4, 30 fps), at any size, for memory and speed measurements.")

    @Option(help: "Face photo for the clip.") var face = ".fixtures/faces/astronaut.png"
    @Option(help: "Frames in the clip (30 fps).") var frames = 159
    @Option(help: "Picture size WIDTHxHEIGHT (even numbers, 64…4096).") var size = "1920x1080"
    @Option(help: "Output file (.mp4).") var out: String
    @OptionGroup var common: CommonOptions

    func run() async throws {
        let parts = size.lowercased().split(separator: "x").compactMap { Int($0) }
        guard parts.count == 2, parts.allSatisfy({ (64...4096).contains($0) && $0 % 2 == 0 }), (1...3600).contains(frames) else {
            throw ValidationError("--size WIDTHxHEIGHT with even sides 64…4096, --frames 1…3600")
        }
        var configuration = try common.configuration()
        if common.logLevel == nil { configuration.logLevel = .warning }
        ProcessSetup.start(configuration)
        try await reportingUserErrors("clip") {
            let speech = try SpeechService(engines: [EspeakSynthesizer()])
            let voice = try await ReferenceClip.voice(frames: frames, speech: speech)
            try ReferenceClip.write(
                face: face, frames: frames, audio: voice, to: out,
                width: parts[0], height: parts[1])
            print("wrote \(out): \(parts[0])×\(parts[1]) @ 30 fps, \(frames) frames, with voice")
        }
    }
}
