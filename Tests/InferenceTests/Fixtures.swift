import Composition
import Foundation
import Inference
import Logging
import Synchronization
import TestFixtures

/// The tiny models written by `make fixtures` (tools/modelkit/modelkit/testmodels.py).
enum Fixtures {
    static let directory = TestFixtures.root

    static func path(_ name: String) throws -> String {
        let path = directory + "/" + name
        guard FileManager.default.fileExists(atPath: path) else {
            throw FixtureMissing(path: path)
        }
        return path
    }

    struct FixtureMissing: Error, CustomStringConvertible {
        let path: String
        var description: String { "test model \(path) is missing: run `make fixtures` (or `make test`)" }
    }

    /// One environment for the whole test process, as in the server.
    static var environment: InferenceEnvironment { TestFixtures.inference }

    static func session(_ name: String, options: SessionOptions = SessionOptions(), environment: InferenceEnvironment = environment) throws
        -> InferenceSession
    {
        try InferenceSession(environment: environment, modelPath: path(name), options: options)
    }
}

/// Collects log lines for assertions.
final class LogCapture: Sendable {
    private let lines = Mutex<[String]>([])

    var captured: [String] { lines.withLock { $0 } }

    func logger(label: String, level: Logger.Level = .trace) -> Logger {
        Logger(label: label) { label in
            LineLogHandler(label: label, level: level) { [self] line in self.lines.withLock { $0.append(line) } }
        }
    }
}
