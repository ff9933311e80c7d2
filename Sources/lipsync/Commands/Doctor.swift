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

struct Doctor: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Check the native libraries: ONNX Runtime and its execution providers, FFmpeg, espeak-ng.",
        discussion: "Exits with status 1 when something the server needs is missing.")

    @OptionGroup var common: CommonOptions

    func run() async throws {
        let configuration = try common.configuration()
        ProcessSetup.start(configuration)
        let environment = try InferenceEnvironment(
            logger: LoggingSetup.libraryLogger("lipsync.onnxruntime", configuration),
            runtimeLogLevel: configuration.libraryLogLevel)
        let report = await SystemReport.gather(environment: environment, espeak: EspeakRuntime.shared)
        print(report.text)
        if !report.problems.isEmpty { throw ExitCode(1) }
    }
}
