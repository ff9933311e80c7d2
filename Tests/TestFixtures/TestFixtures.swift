import Foundation

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
}
