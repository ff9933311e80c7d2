import Crypto
public import FaceTracking
import Foundation
import Synchronization

/// Per-video work kept between jobs: the speaker embedding of the video's voice and the face
/// detections, keyed by the SHA-256 of the input file's bytes plus the detection settings.
/// A second request on the same clip with a new phrase skips the embedding and every
/// detection the first request made. Least recently used entries go first beyond `capacity`.
/// With a `shared` cache (the job store), an entry this process lacks is looked up there,
/// and what a job computed is saved there, so every process benefits from a clip any has seen.
public final class VideoCache: Sendable {
    public final class Entry: Sendable {
        public let detections = DetectionMemo()
        let voice = Mutex<(embedding: [Float], rms: Float)?>(nil)

        var speaker: (embedding: [Float], rms: Float)? {
            get { voice.withLock { $0 } }
            set { voice.withLock { $0 = newValue } }
        }

        /// What the entry holds, for the shared cache.
        var snapshot: Snapshot {
            let voice = speaker
            return Snapshot(
                embedding: voice?.embedding, rms: voice?.rms,
                detections: detections.all.map { Snapshot.Detection(frame: $0.key, box: $0.value) }.sorted { $0.frame < $1.frame })
        }

        /// Fills the entry from a snapshot (what another process computed).
        func apply(_ snapshot: Snapshot) {
            if let embedding = snapshot.embedding, let rms = snapshot.rms { speaker = (embedding, rms) }
            for detection in snapshot.detections { detections.store(detection.frame, detection.box) }
        }
    }

    /// An entry as JSON for the shared cache: the speaker embedding (and the voiced RMS) and
    /// the face box of every detected frame (nil: no face there).
    public struct Snapshot: Codable, Sendable, Equatable {
        public struct Detection: Codable, Sendable, Equatable {
            public var frame: Int
            public var box: FaceBox?
        }
        public var embedding: [Float]?
        public var rms: Float?
        public var detections: [Detection]

        /// Anything worth sharing.
        var isEmpty: Bool { embedding == nil && detections.isEmpty }
    }

    public let capacity: Int
    /// Where entries are shared with other processes (nil: this process only).
    public let shared: (any SharedVideoCache)?
    private let state = Mutex<(entries: [String: Entry], order: [String])>(([:], []))

    public init(capacity: Int, shared: (any SharedVideoCache)? = nil) {
        self.capacity = max(0, capacity)
        self.shared = shared
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

/// A video cache many processes share (the job store's `video_cache` table). Failures are
/// the implementation's to log: the cache only saves work, a job never fails for it.
public protocol SharedVideoCache: Sendable {
    func load(_ key: String) async -> VideoCache.Snapshot?
    func save(_ key: String, _ snapshot: VideoCache.Snapshot) async
}
