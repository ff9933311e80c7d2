import Synchronization

/// Face detections of one video remembered across jobs, by source frame index: a second
/// job on the same video (a new phrase) detects only the frames the first did not reach.
/// Holds the detector's raw box per frame (before padding and smoothing, which are cheap and
/// follow each job's options). Valid for one video and one detector configuration only;
/// the caller keys it accordingly.
public final class DetectionMemo: Sendable {
    private let boxes = Mutex<[Int: FaceBox?]>([:])

    public init() {}

    /// `.some(box)` when frame `index` was detected before (`box` nil: no face there).
    public func lookup(_ index: Int) -> FaceBox?? {
        boxes.withLock { $0[index] }
    }

    public func store(_ index: Int, _ box: FaceBox?) {
        boxes.withLock { $0[index] = .some(box) }
    }

    public var count: Int { boxes.withLock { $0.count } }

    /// Every detected frame's box (nil: no face there).
    public var all: [Int: FaceBox?] { boxes.withLock { $0 } }
}
