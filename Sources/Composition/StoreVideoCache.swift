import Foundation
import JobQueue
import Logging
import Pipeline

/// The per-video cache in the job store (`video_cache`), shared by every process on it:
/// JSON snapshots of speaker embeddings and face detections, the `capacity` most recently
/// used kept. Store failures are logged and skipped (the job computes what it lacks).
struct StoreVideoCache: SharedVideoCache {
    let store: JobStore
    let capacity: Int
    let logger: Logger

    func load(_ key: String) async -> VideoCache.Snapshot? {
        do {
            guard let text = try await store.cachedValue(key) else { return nil }
            return try JSONDecoder().decode(VideoCache.Snapshot.self, from: Data(text.utf8))
        } catch {
            logger.warning("shared video cache unreadable; computing instead", metadata: ["error": "\(error)"])
            return nil
        }
    }

    func save(_ key: String, _ snapshot: VideoCache.Snapshot) async {
        do {
            let text = String(decoding: try JSONEncoder().encode(snapshot), as: UTF8.self)
            try await store.saveCachedValue(key, text, keep: capacity)
        } catch {
            logger.warning("shared video cache not saved", metadata: ["error": "\(error)"])
        }
    }
}
