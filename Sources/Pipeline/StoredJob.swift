import Foundation
import Media
public import Storage
public import UserFacingErrors

/// A storage failure of a job, with the side it happened on (so the server can name the
/// request field at fault).
public struct JobStorageError: Error, Sendable, CustomStringConvertible {
    public enum Side: Sendable { case input, output }
    public let side: Side
    public let error: StorageError

    public init(side: Side, error: StorageError) {
        self.side = side
        self.error = error
    }

    public var description: String { error.description }
}

extension JobStorageError: UserFacingError {
    public var code: String {
        guard case .notFound = error.kind else { return error.code }
        return side == .input ? "input_not_found" : "output_folder_not_found"
    }

    public var httpStatus: Int { error.httpStatus }
    /// The field of the side it happened on — but not for the server's own full disk.
    public var field: String? { error.isServerDiskFull ? nil : (side == .input ? "user_video_gs" : "output_video_gs") }
    public var message: String { error.message }
}

extension LipSyncPipeline {
    /// The whole job on storage URIs: `request.video` and `request.output` are URIs (gs://,
    /// file://, local paths, https:// input). The input is fetched into a per-request
    /// workspace, the video rendered there and stored at the output URI; the workspace is
    /// removed however the job ends, so nothing partial is left behind. The output
    /// destination is checked before any work starts. With `admission`, the fetched input is
    /// probed (nothing decoded) and the job waits until its memory estimate fits.
    /// `beforeStore` runs just before the output is written and can stop the job there (a
    /// queue worker checks that it still owns the job).
    public func run(
        _ request: JobRequest, storage: StorageService, workspaceBase: String, label: String,
        admission: (any MemoryAdmission)? = nil, beforeStore: (@Sendable () async throws -> Void)? = nil
    ) async throws -> JobResult {
        let clock = ContinuousClock()
        let started = clock.now
        let input = try Self.uri(request.video, side: .input)
        let output = try Self.uri(request.output, side: .output)
        do { try storage.checkOutput(output) } catch let error as StorageError { throw JobStorageError(side: .output, error: error) }

        return try await RequestWorkspace.with(in: workspaceBase, label: label) { workspace in
            var local = request
            let fetchStart = clock.now
            do {
                local.video = try await JobProgress.step("fetch_input", request.progress) {
                    try await storage.read(input, into: workspace)
                }
            } catch let error as StorageError {
                throw JobStorageError(side: .input, error: error)
            }
            let fetchSeconds = (clock.now - fetchStart).seconds
            try Task.checkCancellation()
            if let admission {
                let estimate = try memoryEstimate(of: local.video, voiceMode: local.voiceMode)
                do {
                    try await admission.reserve(bytes: estimate.bytes)
                } catch var tooLarge as JobTooLargeError {
                    (tooLarge.width, tooLarge.height) = (estimate.width, estimate.height)
                    throw tooLarge
                }
            }
            local.output = workspace.path("output.mp4")
            let rendered = try await run(local)
            try Task.checkCancellation()  // a cancelled job stores nothing
            try await beforeStore?()

            let storeStart = clock.now
            do {
                try await JobProgress.step("store_output", request.progress) {
                    try await storage.write(local.output, to: output, contentType: "video/mp4")
                }
            } catch let error as StorageError {
                throw JobStorageError(side: .output, error: error)
            }
            var timings = rendered.timings
            timings.fetchInput = fetchSeconds
            timings.storeOutput = (clock.now - storeStart).seconds
            timings.total = (clock.now - started).seconds
            return rendered.with(output: request.output, timings: timings)
        }
    }

    static func uri(_ text: String, side: JobStorageError.Side) throws -> StorageURI {
        do { return try StorageURI(parsing: text) } catch { throw JobStorageError(side: side, error: error) }
    }
}

extension JobResult {
    func with(output: String, timings: JobTimings) -> JobResult {
        JobResult(
            output: output, frames: frames, width: width, height: height, ttsEngine: ttsEngine, ttsVoice: ttsVoice, voiceMode: voiceMode,
            voiceModeReason: voiceModeReason, ttsFallbackReason: ttsFallbackReason, cached: cached, timings: timings)
    }
}
