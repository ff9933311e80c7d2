import FaceTracking
import Media
import Testing

@Suite struct BlazeFaceDetectorTests {
    /// Reference: modelkit's Python post-processing on the same ONNX model with OpenCV's
    /// letterbox (itself identical to MediaPipe's FaceDetection, docs/modelkit.md):
    /// astronaut 512×512 → score 0.9217, box (177.57, 82.87)–(272.91, 178.22), right eye (201.5, 104.9).
    @Test func findsTheAstronautsFace() throws {
        let detector = try BlazeFaceDetector(manifest: TrackingFixtures.manifest(), environment: TrackingFixtures.environment)
        let faces = try detector.detect(try TrackingFixtures.astronaut())
        #expect(faces.count == 1)
        let face = try #require(faces.first)
        #expect(abs(face.score - 0.9217) < 0.01)
        #expect(abs(face.x1 - 177.57) < 1.5 && abs(face.y1 - 82.87) < 1.5)
        #expect(abs(face.x2 - 272.91) < 1.5 && abs(face.y2 - 178.22) < 1.5)
        #expect(face.keypoints.count == 6)
        #expect(abs(face.keypoints[0].x - 201.5) < 1.5 && abs(face.keypoints[0].y - 104.9) < 1.5)
    }

    /// Portrait input exercises the letterbox (reference: box (119.49, 81.78)–(216.81, 179.09)).
    @Test func portraitCropAndBGRInput() throws {
        let detector = try BlazeFaceDetector(manifest: TrackingFixtures.manifest(), environment: TrackingFixtures.environment)
        let crop = try TrackingFixtures.astronaut(format: .bgr24).cropped(x: 60, y: 0, width: 340, height: 512)
        let face = try #require(try detector.detect(crop).first)
        #expect(abs(face.x1 - 119.49) < 1.5 && abs(face.y1 - 81.78) < 1.5)
        #expect(abs(face.x2 - 216.81) < 1.5 && abs(face.y2 - 179.09) < 1.5)
    }

    @Test func noFaceInAPattern() throws {
        let detector = try BlazeFaceDetector(manifest: TrackingFixtures.manifest(), environment: TrackingFixtures.environment)
        #expect(try detector.detect(TestPattern.frame(width: 320, height: 240, index: 0, format: .rgb24)).isEmpty)
    }

    @Test func s3fdStandInRunsAtAnySize() throws {
        let detector = try S3FDDetector(manifest: TrackingFixtures.manifest(), environment: TrackingFixtures.environment)
        // Random stand-in weights: no meaningful faces, but every level must decode without error.
        _ = try detector.detect(TestPattern.frame(width: 200, height: 136, index: 0, format: .rgb24))
        _ = try detector.detect(TestPattern.frame(width: 96, height: 160, index: 1))
    }
}
