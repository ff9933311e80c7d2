public import Media

/// Where faces are looked for.
public enum TrackingMode: Sendable, Equatable {
    /// Detect on every frame (the original's behaviour).
    case every
    /// Detect on every `interval`-th frame and the last; boxes in between are interpolated linearly.
    case keyframes(interval: Int)
    /// Detect on the first frame only (the original's `--static`).
    case stationary
    /// Use this box on every frame, no detection, pads or smoothing (the original's `--box`).
    case box(FaceBox)
}

/// What to do with a frame where no face is found.
public enum MissingFacePolicy: Sendable, Equatable {
    /// Stop with `FaceTrackingError.noFace(frame:)` (the original aborts too).
    case fail
    /// Leave such frames unchanged in the output.
    case passThrough
}

public struct TrackingOptions: Sendable, Equatable {
    public var mode: TrackingMode
    /// The original's 5-frame box smoothing (`--nosmooth` turns it off).
    public var smoothing: Bool
    public var pads: Pads
    public var missingFace: MissingFacePolicy
    /// Smallest face side accepted, in full-resolution pixels.
    public var minimumFaceSize: Int

    public init(
        mode: TrackingMode = .keyframes(interval: 5), smoothing: Bool = true, pads: Pads = .standard,
        missingFace: MissingFacePolicy = .fail, minimumFaceSize: Int = 24
    ) {
        self.mode = mode
        self.smoothing = smoothing
        self.pads = pads
        self.missingFace = missingFace
        self.minimumFaceSize = minimumFaceSize
    }

    /// The original's settings: every frame, smoothing on, pads as given.
    public static func original(pads: Pads) -> TrackingOptions {
        TrackingOptions(mode: .every, smoothing: true, pads: pads, missingFace: .fail, minimumFaceSize: 1)
    }
}

/// Face boxes for a run of frames, in full-resolution pixels; nil where a frame is passed
/// through unchanged. A value: cacheable per input video and options.
public struct FaceTrack: Sendable, Equatable, Codable {
    public let boxes: [FaceBox?]
    /// Frames on which the detector ran.
    public let detectedFrames: Int

    public init(boxes: [FaceBox?], detectedFrames: Int) {
        self.boxes = boxes
        self.detectedFrames = detectedFrames
    }
}

/// Turns decoded frames into a face track: detection (on the downscaled copies when the
/// decoder made them), interpolation between key frames, pads, smoothing.
public struct FaceTracker: Sendable {
    public let detector: any FaceDetector
    public let options: TrackingOptions

    public init(detector: any FaceDetector, options: TrackingOptions = TrackingOptions()) {
        self.detector = detector
        self.options = options
    }

    /// The track of `frames`; with a `memo`, frames it already knows are not detected again
    /// and new detections are added to it.
    public func track(_ frames: [DecodedFrame], memo: DetectionMemo? = nil) throws -> FaceTrack {
        guard let first = frames.first else { throw FaceTrackingError.noFrames }
        // The memo is keyed by the frames' own indices, the track by their positions here.
        let positional = DetectionMemo()
        var reused = 0
        for position in keyFrames(count: frames.count) {
            let decoded = frames[position]
            if let known = memo?.lookup(decoded.index) {
                positional.store(position, known)
                reused += 1
            } else {
                let box = try detectFace(
                    in: decoded.detection ?? decoded.frame,
                    scale: decoded.detection == nil ? 1 : decoded.detectionScale,
                    frame: decoded.index)
                memo?.store(decoded.index, box)
                positional.store(position, box)
            }
        }
        let track = try self.track(count: frames.count, width: first.frame.width, height: first.frame.height, memo: positional)
        return FaceTrack(boxes: track.boxes, detectedFrames: track.detectedFrames - reused)
    }

    /// The frames whose faces a track of `count` frames is built from: every frame, every
    /// `interval`-th and the last, or the first only.
    public func keyFrames(count: Int) -> [Int] {
        guard count > 0 else { return [] }
        return switch options.mode {
        case .every: Array(0..<count)
        case .keyframes(let interval): Array(Set(Array(stride(from: 0, to: count, by: max(1, interval))) + [count - 1])).sorted()
        case .stationary: [0]
        case .box: []
        }
    }

    /// Whether frame `index` is a key frame of every track longer than it (so it can be
    /// detected before the track's length is known); the last frame is a key frame besides.
    public func isKeyFrameOfAnyLength(_ index: Int) -> Bool {
        switch options.mode {
        case .every: true
        case .keyframes(let interval): index % max(1, interval) == 0
        case .stationary: index == 0
        case .box: false
        }
    }

    /// Whether this tracking mode runs the detector at all (not for a given box).
    public var detects: Bool {
        if case .box = options.mode { return false }
        return true
    }

    /// Whether the last frame of a track is detected whatever its index.
    public var detectsLastFrame: Bool {
        if case .keyframes = options.mode { return true }
        return false
    }

    /// The best face in `image` (a frame or its downscaled copy, `scale` = its size ÷ the
    /// full size) in full-resolution pixels; nil where there is none and the policy lets
    /// such frames pass, `FaceTrackingError.noFace` otherwise.
    public func detectFace(in image: Frame, scale: Double, frame index: Int) throws -> FaceBox? {
        let faces = try detector.detect(image)
        guard let best = faces.first else {
            if options.missingFace == .fail { throw FaceTrackingError.noFace(frame: index) }
            return nil
        }
        return best.box(scale: scale)
    }

    /// The track of frames `0..<count` of a `width`×`height` video from detections already in
    /// `memo` (every key frame's must be there): interpolation, pads, smoothing.
    /// `detectedFrames` counts the key frames.
    public func track(count: Int, width: Int, height: Int, memo: DetectionMemo) throws -> FaceTrack {
        guard count > 0 else { throw FaceTrackingError.noFrames }
        if case .box(let box) = options.mode {
            guard box.x1 >= 0, box.y1 >= 0, box.x2 <= width, box.y2 <= height, box.width > 0, box.height > 0 else {
                throw FaceTrackingError.boxOutsideFrame(box: box, width: width, height: height)
            }
            return FaceTrack(boxes: Array(repeating: box, count: count), detectedFrames: 0)
        }
        let keys = keyFrames(count: count)
        var detected: [Int: FaceBox?] = [:]
        for index in keys {
            guard let known = memo.lookup(index) else { throw FaceTrackingError.detectorFailed("frame \(index) was not detected") }
            detected[index] = known
        }

        var raw: [FaceBox?] = Array(repeating: nil, count: count)
        switch options.mode {
        case .stationary:
            raw = Array(repeating: detected[0] ?? nil, count: count)
        default:
            for (position, key) in keys.enumerated() {
                raw[key] = detected[key] ?? nil
                guard position + 1 < keys.count else { continue }
                let next = keys[position + 1]
                guard let a = detected[key] ?? nil, let b = detected[next] ?? nil, next > key + 1 else { continue }
                for index in (key + 1)..<next {
                    let t = Double(index - key) / Double(next - key)
                    func mix(_ u: Int, _ v: Int) -> Int { Int(Double(u) + (Double(v) - Double(u)) * t) }
                    raw[index] = FaceBox(x1: mix(a.x1, b.x1), y1: mix(a.y1, b.y1), x2: mix(a.x2, b.x2), y2: mix(a.y2, b.y2))
                }
            }
        }

        var boxes = raw.map { $0?.padded(options.pads, frameWidth: width, frameHeight: height) }
        for (index, box) in boxes.enumerated() {
            guard let box else { continue }
            if box.width < options.minimumFaceSize || box.height < options.minimumFaceSize {
                throw FaceTrackingError.faceTooSmall(frame: index, width: box.width, height: box.height, minimum: options.minimumFaceSize)
            }
        }
        if options.smoothing { boxes = Self.smoothed(boxes) }
        return FaceTrack(boxes: boxes, detectedFrames: keys.count)
    }

    /// The original's smoothing, reproduced exactly on each run of consecutive boxes: for
    /// frame i the mean of boxes i…i+4, or of the last five (Python's `boxes[N−5:]`, which
    /// for the final frames already holds smoothed values, and for N < 5 a negative-start
    /// slice) — computed in place and truncated to integers, as numpy assigns into an int array.
    public static func smoothedForTesting(_ boxes: [FaceBox?]) -> [FaceBox?] { smoothed(boxes) }

    static func smoothed(_ boxes: [FaceBox?], window: Int = 5) -> [FaceBox?] {
        var result = boxes
        var start = 0
        while start < result.count {
            guard result[start] != nil else {
                start += 1
                continue
            }
            var end = start
            while end < result.count, result[end] != nil { end += 1 }
            var run = result[start..<end].compactMap { $0 }
            let n = run.count
            for i in 0..<n {
                let range: Range<Int>
                if i + window > n {
                    let from = n - window < 0 ? max(0, 2 * n - window) : n - window  // Python slice boxes[n-T:]
                    range = from..<n
                } else {
                    range = i..<(i + window)
                }
                let count = Double(range.count)
                func mean(_ key: KeyPath<FaceBox, Int>) -> Int { Int(Double(run[range].reduce(0) { $0 + $1[keyPath: key] }) / count) }
                run[i] = FaceBox(x1: mean(\.x1), y1: mean(\.y1), x2: mean(\.x2), y2: mean(\.y2))
            }
            for (offset, box) in run.enumerated() { result[start + offset] = box }
            start = end
        }
        return result
    }
}
