import Foundation
public import Inference
public import Media

/// S3FD as the original Wav2Lip runs it (../shared/reference/s3fd.md §4): per level the
/// face probability and box regression at each position; prior boxes of side 4·stride
/// centred on the cell, decoded with variances (0.1, 0.2). The box Wav2Lip keeps is the
/// single highest-scoring decoded box, if its score exceeds 0.5 (greedy NMS never
/// changes which box comes first — reference §4 "Equivalent simpler rule"); all boxes
/// above the threshold are returned, best first, after the same NMS.
public struct S3FDDetector: FaceDetector {
    public struct Parameters: Decodable, Sendable {
        public let strides: [Int]
        public let anchor_scale: Double
        public let variances: [Double]
        public let candidate_threshold: Double
        public let nms_iou: Double
        public let score_threshold: Double
    }

    public let name = "s3fd"
    private let session: InferenceSession
    private let parameters: Parameters

    public init(session: InferenceSession, parameters: Parameters) {
        self.session = session
        self.parameters = parameters
    }

    public init(manifest: ModelManifest, environment: InferenceEnvironment, options: SessionOptions = SessionOptions()) throws {
        let session = try InferenceSession(environment: environment, modelPath: manifest.path(of: "s3fd"), options: options)
        self.init(session: session, parameters: try manifest.preprocessing(Parameters.self, of: "s3fd"))
    }

    public func detect(_ frame: Frame) throws -> [FaceDetection] {
        var rgb = frame.pixels
        if frame.stride != frame.width * 3 || frame.pixelFormat == .bgr24 {
            rgb = [UInt8](repeating: 0, count: frame.width * frame.height * 3)
            let swap = frame.pixelFormat == .bgr24
            for y in 0..<frame.height {
                for x in 0..<frame.width {
                    let from = y * frame.stride + x * 3
                    let to = (y * frame.width + x) * 3
                    rgb[to] = frame.pixels[from + (swap ? 2 : 0)]
                    rgb[to + 1] = frame.pixels[from + 1]
                    rgb[to + 2] = frame.pixels[from + (swap ? 0 : 2)]
                }
            }
        }
        let outputs = try session.run(["image": .uint8(try Tensor(shape: [1, frame.height, frame.width, 3], scalars: rgb))])
        var boxes: [FaceDetection] = []
        for (level, stride) in parameters.strides.enumerated() {
            guard let scores = outputs["scores\(level + 1)"], let regressions = outputs["boxes\(level + 1)"] else { continue }
            let shape = scores.shape
            let (h, w) = (shape[2], shape[3])
            let probability = try scores.tensor(of: Float.self).scalars
            let delta = try regressions.tensor(of: Float.self).scalars
            let plane = h * w
            let anchor = parameters.anchor_scale * Double(stride)
            for position in 0..<plane {
                let score = Double(probability[plane + position])  // channel 1 = face
                guard score > parameters.candidate_threshold else { continue }
                let row = position / w
                let column = position % w
                let cx = Double(stride) / 2 + Double(column * stride)
                let cy = Double(stride) / 2 + Double(row * stride)
                let dx = Double(delta[position])
                let dy = Double(delta[plane + position])
                let dw = Double(delta[2 * plane + position])
                let dh = Double(delta[3 * plane + position])
                let centreX = cx + dx * parameters.variances[0] * anchor
                let centreY = cy + dy * parameters.variances[0] * anchor
                let width = anchor * exp(dw * parameters.variances[1])
                let height = anchor * exp(dh * parameters.variances[1])
                let x1 = centreX - width / 2
                let y1 = centreY - height / 2
                boxes.append(FaceDetection(x1: x1, y1: y1, x2: x1 + width, y2: y1 + height, score: score))
            }
        }
        return nonMaximumSuppression(boxes).filter { $0.score > parameters.score_threshold }
    }

    /// Greedy NMS with the "+1 pixel" area convention of the original bbox.nms.
    func nonMaximumSuppression(_ boxes: [FaceDetection]) -> [FaceDetection] {
        var remaining = boxes.sorted { $0.score > $1.score }
        var kept: [FaceDetection] = []
        func area(_ b: FaceDetection) -> Double { (b.x2 - b.x1 + 1) * (b.y2 - b.y1 + 1) }
        while let best = remaining.first {
            kept.append(best)
            remaining = remaining.dropFirst().filter { other in
                let w = max(0, min(best.x2, other.x2) - max(best.x1, other.x1) + 1)
                let h = max(0, min(best.y2, other.y2) - max(best.y1, other.y1) + 1)
                let intersection = w * h
                return intersection / (area(best) + area(other) - intersection) <= parameters.nms_iou
            }
        }
        return kept
    }
}
