public import Media

/// Finds faces in one RGB frame; coordinates in that frame's pixels, best first.
public protocol FaceDetector: Sendable {
    var name: String { get }
    func detect(_ frame: Frame) throws -> [FaceDetection]
}
