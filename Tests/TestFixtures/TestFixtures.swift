public import Foundation
public import Inference
import Logging

/// Where every test finds what `make fixtures` writes (tiny stand-in models, BlazeFace, Piper
/// voices, the face photo): `LIPSYNC_FIXTURES`, else `.fixtures` at the repository root.
public enum TestFixtures {
    public static let root: String = {
        if let path = ProcessInfo.processInfo.environment["LIPSYNC_FIXTURES"], !path.isEmpty { return path }
        // Tests/TestFixtures/TestFixtures.swift → the repository root
        return URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent(".fixtures").path
    }()

    /// The tiny models folder (manifest.json + ONNX files).
    public static var models: String { root + "/models" }

    /// ONNX Runtime, started once for every suite. Quiet: tests provoke ORT errors on purpose
    /// and receive them as Swift errors.
    public static let inference: InferenceEnvironment = {
        do {
            return try InferenceEnvironment(logger: Logger(label: "test.onnxruntime"), runtimeLogLevel: .critical)
        } catch {
            preconditionFailure("ONNX Runtime did not start: \(error)")  // every model test needs it
        }
    }()

    /// Runs `executable` with `arguments` to its end: its exit status and what it wrote to
    /// standard output and standard error together.
    public static func run(_ executable: String, _ arguments: [String]) throws -> (status: Int32, output: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        let output = Pipe()
        process.standardOutput = output
        process.standardError = output
        try process.run()
        let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        return (process.terminationStatus, text)
    }
}

extension TestFixtures {
    /// Stops the child process `pid`: SIGTERM, then SIGKILL after `grace`, reaping it here.
    /// (Foundation's `Process.isRunning` and `waitUntilExit` were seen never to notice some
    /// children exit in the test process, so this does not rely on them.)
    public static func stop(pid: Int32, grace: Duration = .seconds(6)) {
        guard pid > 0 else { return }
        kill(pid, SIGTERM)
        let deadline = ContinuousClock.now + grace
        while ContinuousClock.now < deadline {
            if hasExited(pid) { return }
            usleep(20_000)
        }
        kill(pid, SIGKILL)
        for _ in 0..<250 where !hasExited(pid) { usleep(20_000) }
    }

    /// Whether `pid` has ended (reaped here, or by someone else already).
    public static func hasExited(_ pid: Int32) -> Bool {
        var status: Int32 = 0
        let result = waitpid(pid, &status, WNOHANG)
        return result == pid || (result == -1 && errno == ECHILD)
    }
}
