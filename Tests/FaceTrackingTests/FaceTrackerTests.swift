import FaceTracking
import Media
import Testing

@Suite struct FaceTrackerTests {
    func frames(_ count: Int, width: Int = 200, height: Int = 160) -> [DecodedFrame] {
        let picture = TestPattern.frame(width: width, height: height, index: 0)
        return (0..<count).map { DecodedFrame(index: $0, frame: picture, detection: nil, detectionScale: 1) }
    }

    func face(_ x: Double, _ y: Double, size: Double = 60) -> [FaceDetection] {
        [FaceDetection(x1: x, y1: y, x2: x + size, y2: y + size, score: 0.9)]
    }

    @Test func everyFrameWithPadsAndNoSmoothing() throws {
        let detector = ScriptedDetector([face(10, 20), face(12.7, 21.2), face(14, 22)])
        let track = try FaceTracker(
            detector: detector, options: TrackingOptions(mode: .every, smoothing: false, pads: Pads(top: 5, bottom: 20, left: 3, right: 2))
        )
        .track(frames(3))
        #expect(detector.calls == 3)
        #expect(track.boxes[1] == FaceBox(x1: 9, y1: 16, x2: 74, y2: 101))  // truncated, then padded
        #expect(track.boxes[0] == FaceBox(x1: 7, y1: 15, x2: 72, y2: 100))
    }

    @Test func padsAreClampedToTheFrame() throws {
        let detector = ScriptedDetector([[FaceDetection(x1: 2, y1: 1, x2: 198, y2: 150, score: 0.9)]])
        let track = try FaceTracker(
            detector: detector,
            options: TrackingOptions(mode: .stationary, smoothing: false, pads: Pads(top: 10, bottom: 20, left: 10, right: 10))
        )
        .track(frames(2))
        #expect(track.boxes == [FaceBox(x1: 0, y1: 0, x2: 200, y2: 160), FaceBox(x1: 0, y1: 0, x2: 200, y2: 160)])
    }

    @Test func keyframesInterpolate() throws {
        let detector = ScriptedDetector([face(0, 0), face(40, 20), face(60, 30)])
        let track = try FaceTracker(
            detector: detector,
            options: TrackingOptions(mode: .keyframes(interval: 4), smoothing: false, pads: Pads(top: 0, bottom: 0, left: 0, right: 0))
        )
        .track(frames(6))
        #expect(detector.calls == 3)  // frames 0, 4 and the last (5)
        #expect(track.detectedFrames == 3)
        #expect(track.boxes[2] == FaceBox(x1: 20, y1: 10, x2: 80, y2: 70))
        #expect(track.boxes[4] == FaceBox(x1: 40, y1: 20, x2: 100, y2: 80))
        #expect(track.boxes[5] == FaceBox(x1: 60, y1: 30, x2: 120, y2: 90))
    }

    /// A memo of earlier detections: a later, longer track detects only the new frames and
    /// equals the track computed from scratch.
    @Test func memoSkipsFramesDetectedBefore() throws {
        let answers = (0..<6).map { face(10 + Double($0) * 3, 20 + Double($0)) }
        let options = TrackingOptions(mode: .every, smoothing: true, pads: Pads(top: 0, bottom: 10, left: 0, right: 0))
        let memo = DetectionMemo()
        let first = ScriptedDetector(Array(answers[0..<4]))
        _ = try FaceTracker(detector: first, options: options).track(frames(4), memo: memo)
        #expect(first.calls == 4 && memo.count == 4)
        let second = ScriptedDetector(Array(answers[4..<6]))
        let cached = try FaceTracker(detector: second, options: options).track(frames(6), memo: memo)
        #expect(second.calls == 2 && cached.detectedFrames == 2 && memo.count == 6)
        let fresh = try FaceTracker(detector: ScriptedDetector(answers), options: options).track(frames(6))
        #expect(cached.boxes == fresh.boxes)
        let again = ScriptedDetector([])
        #expect(try FaceTracker(detector: again, options: options).track(frames(6), memo: memo).boxes == fresh.boxes)
        #expect(again.calls == 0)
    }

    /// The original's in-place smoothing on 7 boxes, computed by hand from
    /// inference.py's get_smoothened_boxes (integer array, T = 5).
    @Test func smoothingMatchesTheOriginal() throws {
        let xs = [0, 10, 20, 30, 40, 50, 60]
        let detector = ScriptedDetector(xs.map { face(Double($0), 0, size: 50) })
        let track = try FaceTracker(
            detector: detector, options: TrackingOptions(mode: .every, smoothing: true, pads: Pads(top: 0, bottom: 0, left: 0, right: 0))
        )
        .track(frames(7))
        // i=0..2: mean of i…i+4 → 20, 30, 40. i=3: window boxes[2:7] = [40(smoothed), 30, 40, 50, 60] → 44.
        // i=4: [40, 44, 40, 50, 60] → 46. i=5: [40, 44, 46, 50, 60] → 48. i=6: [40, 44, 46, 48, 60] → 47.
        #expect(track.boxes.map { $0?.x1 } == [20, 30, 40, 44, 46, 48, 47])
    }

    @Test func shortRunsUsePythonsNegativeSlice() {
        let boxes: [FaceBox?] = [0, 10, 20, 30].map { FaceBox(x1: $0, y1: 0, x2: $0 + 10, y2: 10) }
        // N = 4 < 5: every frame uses boxes[-1:] — the last box (already smoothed when it is itself).
        #expect(FaceTracker.smoothedForTesting(boxes).map { $0?.x1 } == [30, 30, 30, 30])
    }

    @Test func missingFaceNamesTheFrame() throws {
        let detector = ScriptedDetector([face(10, 10), [], face(10, 10)])
        #expect(throws: FaceTrackingError.noFace(frame: 1)) {
            try FaceTracker(detector: detector, options: TrackingOptions(mode: .every)).track(frames(3))
        }
    }

    @Test func missingFaceCanPassThrough() throws {
        let detector = ScriptedDetector([face(10, 10), [], face(10, 10)])
        let track = try FaceTracker(detector: detector, options: TrackingOptions(mode: .every, smoothing: false, missingFace: .passThrough))
            .track(frames(3))
        #expect(track.boxes[1] == nil)
        #expect(track.boxes[0] != nil && track.boxes[2] != nil)
    }

    @Test func tooSmallFace() throws {
        let detector = ScriptedDetector([face(10, 10, size: 8)])
        #expect(throws: FaceTrackingError.faceTooSmall(frame: 0, width: 8, height: 28, minimum: 24)) {
            try FaceTracker(detector: detector, options: TrackingOptions(mode: .stationary)).track(frames(2))
        }
    }

    @Test func fixedBoxMustLieInsideTheFrame() throws {
        let good = FaceBox(x1: 10, y1: 10, x2: 100, y2: 100)
        let track = try FaceTracker(detector: ScriptedDetector([]), options: TrackingOptions(mode: .box(good))).track(frames(2))
        #expect(track.boxes == [good, good])
        let bad = FaceBox(x1: 150, y1: 10, x2: 260, y2: 100)
        #expect(throws: FaceTrackingError.boxOutsideFrame(box: bad, width: 200, height: 160)) {
            try FaceTracker(detector: ScriptedDetector([]), options: TrackingOptions(mode: .box(bad))).track(frames(2))
        }
        #expect(throws: FaceTrackingError.noFrames) { try FaceTracker(detector: ScriptedDetector([])).track([]) }
    }

    @Test func detectionCopyCoordinatesAreScaledBack() throws {
        let picture = TestPattern.frame(width: 400, height: 300, index: 0)
        let small = TestPattern.frame(width: 100, height: 75, index: 0)
        let decoded = [DecodedFrame(index: 0, frame: picture, detection: small, detectionScale: 0.25)]
        let track = try FaceTracker(
            detector: ScriptedDetector([face(10, 10, size: 20)]),
            options: TrackingOptions(mode: .every, smoothing: false, pads: Pads(top: 0, bottom: 0, left: 0, right: 0))
        )
        .track(decoded)
        #expect(track.boxes == [FaceBox(x1: 40, y1: 40, x2: 120, y2: 120)])
    }
}
