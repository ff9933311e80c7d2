public import UserFacingErrors

/// Why faces could not be tracked, naming the frame where it matters.
public enum FaceTrackingError: Error, Equatable, Sendable, CustomStringConvertible {
    case noFace(frame: Int)
    case faceTooSmall(frame: Int, width: Int, height: Int, minimum: Int)
    case boxOutsideFrame(box: FaceBox, width: Int, height: Int)
    case noFrames
    case detectorFailed(String)

    public var description: String {
        switch self {
        case .noFace(let frame): "no face found in frame \(frame)"
        case .faceTooSmall(let frame, let width, let height, let minimum):
            "the face in frame \(frame) is \(width)×\(height) pixels, smaller than the minimum of \(minimum)"
        case .boxOutsideFrame(let box, let width, let height): "the face box \(box) does not lie inside the \(width)×\(height) frame"
        case .noFrames: "there are no frames to track"
        case .detectorFailed(let reason): "face detection failed: \(reason)"
        }
    }
}

extension FaceTrackingError: UserFacingError {
    /// The input's faces (422 `no_face`).
    public var code: String { "no_face" }
    public var httpStatus: Int { 422 }
    public var field: String? { "user_video_gs" }
}
