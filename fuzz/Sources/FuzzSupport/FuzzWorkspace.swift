import Foundation
import Logging
import Media

/// The one folder a fuzz process writes its inputs to (under /dev/shm when it is writable,
/// else $TMPDIR): the Media module opens files by path, so each input becomes a file with a
/// fixed name here. The folder is named after the process and removed at exit.
public enum FuzzWorkspace {
    public static let directory: String = {
        let base = access("/dev/shm", W_OK | X_OK) == 0 ? "/dev/shm" : NSTemporaryDirectory()
        let path = (base as NSString).appendingPathComponent("lipsync-fuzz-\(getpid())")
        try? FileManager.default.removeItem(atPath: path)
        do {
            try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        } catch {
            fatalError("fuzz: cannot create \(path): \(error)")  // the harness cannot run at all
        }
        atexit { try? FileManager.default.removeItem(atPath: FuzzWorkspace.directory) }
        return path
    }()

    /// Writes `bytes` to `<directory>/<name>` (replacing what was there) and returns its path.
    public static func write(_ bytes: UnsafeBufferPointer<UInt8>, name: String) -> String {
        let path = (directory as NSString).appendingPathComponent(name)
        let descriptor = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        guard descriptor >= 0 else { fatalError("fuzz: cannot write \(path): \(String(cString: strerror(errno)))") }
        defer { close(descriptor) }
        var offset = 0
        while offset < bytes.count {
            let written = Foundation.write(descriptor, bytes.baseAddress! + offset, bytes.count - offset)
            guard written > 0 else { fatalError("fuzz: short write to \(path): \(String(cString: strerror(errno)))") }
            offset += written
        }
        return path
    }

    public static func path(_ name: String) -> String {
        (directory as NSString).appendingPathComponent(name)
    }

    public static func remove(_ path: String) {
        unlink(path)
    }
}

/// Keeps FFmpeg and swift-log quiet: every input would otherwise print FFmpeg's complaints.
/// FFmpeg's warnings still go through the Media module's log bridge (`FFmpegLog`), as in
/// the server, and are dropped there.
public enum FuzzLogging {
    public static let quiet = Logger(label: "lipsync.fuzz", factory: { _ in SwiftLogNoOpLogHandler() })

    nonisolated(unsafe) private static var installed = false

    public static func install() {
        guard !installed else { return }
        installed = true
        FFmpegLog.route(to: quiet, level: .warning)
    }
}

/// Limits small enough that one input cannot take much memory or time in our own code (FFmpeg
/// still allocates what a header asks for while probing; `-rss_limit_mb` catches that).
public let fuzzLimits = MediaLimits(maxFileBytes: 1 << 20, maxDurationSeconds: 10, maxDimension: 512, maxFrameCount: 300)

/// A property of the parsed result that must hold for every input: a violation is a bug, and
/// stops the fuzzer with a crash report naming it.
public func require(
    _ condition: @autoclosure () -> Bool, _ message: @autoclosure () -> String,
    file: StaticString = #fileID, line: UInt = #line
) {
    if !condition() {
        fatalError("fuzz invariant violated: \(message())", file: file, line: line)
    }
}
