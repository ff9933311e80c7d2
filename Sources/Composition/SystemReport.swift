import Foundation
public import Inference
import Logging
public import Media
public import Speech

/// What `lipsync doctor` prints: the native libraries this process loaded and whether
/// everything the server needs is present.
public struct SystemReport: Sendable {
    public struct ProviderStatus: Sendable, Equatable {
        public let provider: ExecutionProvider
        /// nil when usable; otherwise ONNX Runtime's reason.
        public let unavailableReason: String?
    }

    public let onnxRuntimeVersion: String
    public let onnxRuntimeAPIVersion: Int
    public let compiledProviders: [String]
    public let providers: [ProviderStatus]
    public let ffmpeg: FFmpegLibraries
    public let espeak: Result<EspeakInfo, SpeechError>
    public let koreanVoice: EspeakVoice?
    /// Things that stop the server from working; empty when healthy.
    public let problems: [String]

    /// Gathers the report. Missing CUDA is not a problem (CPU serves); missing libx264,
    /// espeak-ng data or the Korean voice are.
    public static func gather(environment: InferenceEnvironment, espeak: EspeakRuntime) async -> SystemReport {
        var problems: [String] = []
        let compiled = (try? environment.availableProviders()) ?? []
        let providers = ExecutionProvider.allCases.map {
            ProviderStatus(
                provider: $0,
                unavailableReason: environment.unavailabilityReason(of: $0)?.trimmingCharacters(in: .whitespacesAndNewlines))
        }
        let ffmpeg = FFmpegLibraries.loaded()
        if !ffmpeg.hasH264Encoder { problems.append("FFmpeg has no libx264 H.264 encoder") }
        if !ffmpeg.hasAACEncoder { problems.append("FFmpeg has no AAC encoder") }

        var espeakInfo: Result<EspeakInfo, SpeechError>
        var korean: EspeakVoice?
        do {
            let info = try await espeak.start()
            espeakInfo = .success(info)
            korean = try await espeak.voices(forLanguage: "ko").first
            if korean == nil { problems.append("espeak-ng has no Korean voice (package espeak-ng-data)") }
        } catch let error as SpeechError {
            espeakInfo = .failure(error)
            problems.append(error.description)
        } catch {
            espeakInfo = .failure(.espeakUnavailable("\(error)"))
            problems.append("\(error)")
        }
        return SystemReport(
            onnxRuntimeVersion: environment.runtimeVersion,
            onnxRuntimeAPIVersion: InferenceEnvironment.apiVersion,
            compiledProviders: compiled, providers: providers, ffmpeg: ffmpeg,
            espeak: espeakInfo, koreanVoice: korean, problems: problems)
    }

    /// Which container image this process runs in (`LIPSYNC_IMAGE_GPU`, set by the Containerfile): `cpu`, `gpu`,
    /// or nil outside the images.
    public var image: String? = ProcessInfo.processInfo.environment["LIPSYNC_IMAGE_GPU"].map { $0 == "1" ? "gpu" : "cpu" }

    /// What to do about an unusable provider, where the reason is a known one.
    static func hint(provider: ExecutionProvider, reason: String, image: String?) -> String? {
        guard provider == .cuda else { return nil }
        if reason.contains("no CUDA execution provider") {
            return image == "cpu" ? "this is the CPU image: run the GPU image (built with --build-arg GPU=1) for CUDA" : nil
        }
        if reason.contains("libcuda.so") {
            return "the NVIDIA driver (libcuda.so.1) is not visible"
                + (image == nil
                    ? ": install the NVIDIA driver (R580 or newer for CUDA 13)"
                    : ": run on a GPU host with the NVIDIA Container Toolkit (podman: --device nvidia.com/gpu=all; "
                        + "docker: --gpus all; Kubernetes: an nvidia.com/gpu limit)")
        }
        if reason.contains("libcudnn") || reason.contains("libcublas") || reason.contains("libcudart") {
            return "CUDA 13 / cuDNN 9 runtime libraries are missing (the GPU image carries them)"
        }
        return nil
    }

    /// Human-readable multi-line text.
    public var text: String {
        var lines: [String] = []
        lines.append("ONNX Runtime \(onnxRuntimeVersion) (C API \(onnxRuntimeAPIVersion))")
        lines.append("  compiled-in providers: \(compiledProviders.joined(separator: ", "))")
        for status in providers {
            lines.append("  \(status.provider): " + (status.unavailableReason.map { "unavailable — \($0)" } ?? "available"))
            if let reason = status.unavailableReason, let hint = Self.hint(provider: status.provider, reason: reason, image: image) {
                lines.append("    \(hint)")
            }
        }
        lines.append("FFmpeg \(ffmpeg.release)")
        for library in ffmpeg.libraries { lines.append("  \(library.name) \(library.version)") }
        lines.append("  H.264 encoder (libx264): \(ffmpeg.hasH264Encoder ? "yes" : "no")")
        lines.append("  AAC encoder: \(ffmpeg.hasAACEncoder ? "yes" : "no")")
        switch espeak {
        case .success(let info):
            lines.append("espeak-ng \(info.version) (data \(info.dataPath), \(info.sampleRate) Hz)")
            lines.append("  Korean voice: " + (koreanVoice.map { "\($0.name) [\($0.identifier)]" } ?? "not found"))
        case .failure(let error):
            lines.append("espeak-ng: \(error)")
        }
        lines.append(problems.isEmpty ? "status: ok" : "status: \(problems.count) problem(s)")
        lines.append(contentsOf: problems.map { "  - \($0)" })
        return lines.joined(separator: "\n")
    }
}
