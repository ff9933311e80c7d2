import Foundation
public import LipSync
import Media
public import Pipeline
import Synchronization

/// The CLI's progress line on a terminal: the step, frames done of the total while
/// rendering, and the time since the start, rewritten in place on standard error. When
/// standard error is not a terminal (a pipe, a file, CI) it writes nothing: the logs stay plain.
public final class ProgressLine: Sendable {
    private let enabled: Bool
    private let started = ContinuousClock.now
    private let state = Mutex<(step: String, frames: RenderProgress?, shown: Bool)>(("", nil, false))

    /// `terminal`: whether to draw (nil: whether standard error is a terminal).
    public init(terminal: Bool? = nil) {
        enabled = terminal ?? (isatty(STDERR_FILENO) == 1)
    }

    /// Receives the job's progress (`JobRequest.progress`).
    public var handler: JobProgressHandler {
        { [self] progress in self.update(progress) }
    }

    /// Receives a render's frames alone (`LipSyncOptions.progress`, `lipsync sync`).
    public var renderHandler: @Sendable (RenderProgress) -> Void {
        { [self] frames in self.update(JobProgress(step: "lip-sync_render", event: .frames(frames))) }
    }

    func update(_ progress: JobProgress) {
        guard enabled else { return }
        let text = state.withLock { state -> String in
            switch progress.event {
            case .started: state.step = progress.step
            case .frames(let frames): (state.step, state.frames) = (progress.step, frames)
            case .finished: break
            }
            state.shown = true
            return Self.text(step: state.step, frames: state.step == "lip-sync_render" ? state.frames : nil, elapsed: elapsed)
        }
        FileHandle.standardError.write(Data(("\r\u{1B}[K" + text).utf8))
    }

    /// Ends the line (before the command prints its results).
    public func finish() {
        guard enabled, state.withLock({ $0.shown }) else { return }
        FileHandle.standardError.write(Data("\r\u{1B}[K".utf8))
    }

    private var elapsed: Double { (ContinuousClock.now - started).seconds }

    /// "lip-sync render  120/352 frames  34 %  12.3 s".
    static func text(step: String, frames: RenderProgress?, elapsed: Double) -> String {
        var parts = [step.replacingOccurrences(of: "_", with: " ")]
        if let frames {
            parts.append("\(frames.framesDone)/\(frames.framesTotal) frames")
            parts.append("\(Int((frames.fraction * 100).rounded())) %")
        }
        parts.append(String(format: "%.1f s", elapsed))
        return parts.joined(separator: "  ")
    }
}
