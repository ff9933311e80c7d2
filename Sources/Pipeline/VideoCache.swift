import Crypto
public import FaceTracking
import Foundation
import Synchronization

/// Per-video work kept between jobs: the speaker embedding of the video's voice and the face
/// detections, keyed by the SHA-256 of the input file's bytes plus the detection settings.
/// A second request on the same clip with a new phrase skips the embedding and every
/// detection the first request made. Least recently used entries go first beyond `capacity`.
public final class VideoCache: Sendable {
    public final class Entry: Sendable {
        public let detections = DetectionMemo()
        let voice = Mutex<(embedding: [Float], rms: Float)?>(nil)

        var speaker: (embedding: [Float], rms: Float)? {
            get { voice.withLock { $0 } }
            set { voice.withLock { $0 = newValue } }
        }
    }

    public let capacity: Int
    private let state = Mutex<(entries: [String: Entry], order: [String])>(([:], []))

    public init(capacity: Int) {
        self.capacity = max(0, capacity)
    }

    /// The entry for `key` (and whether it existed), made most recently used.
    public func entry(for key: String) -> (entry: Entry, hit: Bool) {
        state.withLock { state in
            if let entry = state.entries[key] {
                state.order.removeAll { $0 == key }
                state.order.append(key)
                return (entry, true)
            }
            let entry = Entry()
            guard capacity > 0 else { return (entry, false) }
            state.entries[key] = entry
            state.order.append(key)
            while state.order.count > capacity {
                state.entries[state.order.removeFirst()] = nil
            }
            return (entry, false)
        }
    }

    public var count: Int { state.withLock { $0.entries.count } }

    /// Hex SHA-256 of a file's bytes, read in 1 MiB pieces.
    public static func digest(of path: String) throws -> String {
        guard let handle = FileHandle(forReadingAtPath: path) else { throw CocoaError(.fileReadNoSuchFile) }
        defer { try? handle.close() }
        var hash = SHA256()
        while let data = try handle.read(upToCount: 1 << 20), !data.isEmpty { hash.update(data: data) }
        return hash.finalize().map { String(format: "%02x", $0) }.joined()
    }
}
