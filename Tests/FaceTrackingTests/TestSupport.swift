import FaceTracking
import Foundation
import Inference
import Logging
import Media
import TestFixtures

/// Fixtures written by `make fixtures`: tiny stand-in models, BlazeFace, a face photo.
enum TrackingFixtures {
    static var root: String { TestFixtures.root }

    static var environment: InferenceEnvironment { TestFixtures.inference }

    static func manifest() throws -> ModelManifest { try ModelManifest(directory: root + "/models") }

    /// scikit-image's astronaut, 512×512, decoded by the Media module.
    static func astronaut(format: PixelFormat = .rgb24) throws -> Frame {
        try StillImage.decode(root + "/faces/astronaut.png", options: DecodeOptions(pixelFormat: format)).frame
    }
}

/// A detector that answers from a script: frame index → faces (by call order).
final class ScriptedDetector: FaceDetector, @unchecked Sendable {
    let name = "scripted"
    private let lock = NSLock()
    private var answers: [[FaceDetection]]
    private(set) var calls = 0

    init(_ answers: [[FaceDetection]]) { self.answers = answers }

    func detect(_ frame: Frame) throws -> [FaceDetection] {
        lock.lock()
        defer { lock.unlock() }
        calls += 1
        return answers.isEmpty ? [] : answers.removeFirst()
    }
}
