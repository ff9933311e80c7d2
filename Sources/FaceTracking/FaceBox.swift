/// A face rectangle in full-resolution frame pixels: columns x1..<x2, rows y1..<y2 (the
/// original's integer box convention, used for cropping `frame[y1:y2, x1:x2]`).
public struct FaceBox: Sendable, Equatable, Hashable, Codable, CustomStringConvertible {
    public var x1: Int
    public var y1: Int
    public var x2: Int
    public var y2: Int

    public init(x1: Int, y1: Int, x2: Int, y2: Int) {
        self.x1 = x1
        self.y1 = y1
        self.x2 = x2
        self.y2 = y2
    }

    public var width: Int { x2 - x1 }
    public var height: Int { y2 - y1 }
    public var description: String { "(\(x1), \(y1))–(\(x2), \(y2))" }

    /// The original's pads (`--pads top bottom left right`), clamped to the frame.
    public func padded(_ pads: Pads, frameWidth: Int, frameHeight: Int) -> FaceBox {
        FaceBox(
            x1: max(0, x1 - pads.left), y1: max(0, y1 - pads.top),
            x2: min(frameWidth, x2 + pads.right), y2: min(frameHeight, y2 + pads.bottom))
    }
}

/// Margins added around a detected face: (top, bottom, left, right) in pixels.
public struct Pads: Sendable, Equatable, Codable {
    public var top: Int
    public var bottom: Int
    public var left: Int
    public var right: Int

    public init(top: Int = 0, bottom: Int = 20, left: Int = 0, right: Int = 0) {
        self.top = top
        self.bottom = bottom
        self.left = left
        self.right = right
    }

    /// The default the original team used: 0, 20, 0, 0 (the original code's own default is 0, 10, 0, 0).
    public static let standard = Pads()
}

/// One detected face in the coordinates of the image it was found in.
public struct FaceDetection: Sendable, Equatable {
    public var x1: Double
    public var y1: Double
    public var x2: Double
    public var y2: Double
    public var score: Double
    /// BlazeFace's six keypoints (eyes, nose tip, mouth, ears); empty for S3FD.
    public var keypoints: [Point]

    public struct Point: Sendable, Equatable {
        public var x: Double
        public var y: Double
    }

    public init(x1: Double, y1: Double, x2: Double, y2: Double, score: Double, keypoints: [Point] = []) {
        self.x1 = x1
        self.y1 = y1
        self.x2 = x2
        self.y2 = y2
        self.score = score
        self.keypoints = keypoints
    }

    /// Scaled by `1/scale` (detection copy → full resolution) and truncated to integers
    /// with the lower bounds clipped at 0, as the original turns S3FD boxes into ints.
    public func box(scale: Double) -> FaceBox {
        FaceBox(x1: max(0, Int(x1 / scale)), y1: max(0, Int(y1 / scale)), x2: max(0, Int(x2 / scale)), y2: max(0, Int(y2 / scale)))
    }
}
