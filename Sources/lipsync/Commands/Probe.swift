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

struct Probe: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Describe a media file as JSON: container, streams, rotation, frame rates, duration, frame count.",
        discussion: """
            Applies the input limits (MAX_INPUT_BYTES, MAX_DURATION_SECONDS, MAX_DIMENSION, MAX_FRAMES). \
            Exits with status 1 and the reason on standard error when the file cannot be used.
            """)

    @Argument(help: "The media file.")
    var file: String

    @Flag(name: .customLong("count-frames"), help: "Count the video frames when the container does not record them (reads every packet).")
    var countFrames = false

    @OptionGroup var common: CommonOptions

    func run() async throws {
        let configuration = try common.configuration()
        ProcessSetup.start(configuration)
        try await reportingUserErrors("probe") {
            var info = try MediaProbe.probe(file, limits: configuration.mediaLimits)
            if countFrames, info.video != nil, info.video?.frameCount == nil {
                info.video?.frameCount = try MediaProbe.countFrames(file, limits: configuration.mediaLimits)
            }
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            print(String(decoding: try encoder.encode(info), as: UTF8.self))
        }
    }
}
