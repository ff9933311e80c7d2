import Foundation
public import Inference
public import Media

/// MediaPipe BlazeFace short-range (the default detector): letterbox to 128×128, run the
/// ONNX model, decode anchors, sigmoid threshold, weighted NMS, project back. The steps and
/// constants follow ../shared/reference/blazeface.md §3–7; the constants come from the
/// models manifest (`blazeface` preprocessing block).
public struct BlazeFaceDetector: FaceDetector {
    /// The manifest's `preprocessing` block for `blazeface`.
    public struct Parameters: Decodable, Sendable {
        public struct Anchors: Decodable, Sendable {
            public let strides: [Int]
            public let offset: Double
            public let per_cell: [String: Int]
        }
        public let input_size: Int
        public let value_range: [Float]
        public let box_scale: Double
        public let num_boxes: Int
        public let num_keypoints: Int
        public let score_clip: Double
        public let score_threshold: Double
        public let nms_iou: Double
        public let anchors: Anchors
    }

    public let name = "blazeface"
    private let session: InferenceSession
    private let parameters: Parameters
    private let anchorCentres: [(x: Double, y: Double)]

    public init(session: InferenceSession, parameters: Parameters) throws {
        self.session = session
        self.parameters = parameters
        var centres: [(Double, Double)] = []
        var seen: [Int] = []
        for stride in parameters.anchors.strides where !seen.contains(stride) {
            seen.append(stride)
            let grid = Int((Double(parameters.input_size) / Double(stride)).rounded(.up))
            let perCell = parameters.anchors.per_cell["\(stride)"] ?? 2
            for y in 0..<grid {
                for x in 0..<grid {
                    let centre = (
                        (Double(x) + parameters.anchors.offset) / Double(grid), (Double(y) + parameters.anchors.offset) / Double(grid)
                    )
                    centres += Array(repeating: centre, count: perCell)
                }
            }
        }
        guard centres.count == parameters.num_boxes else {
            throw FaceTrackingError.detectorFailed("BlazeFace anchors: \(centres.count) generated, the model has \(parameters.num_boxes)")
        }
        anchorCentres = centres
    }

    /// From a models folder.
    public init(manifest: ModelManifest, environment: InferenceEnvironment, options: SessionOptions = SessionOptions()) throws {
        let session = try InferenceSession(environment: environment, modelPath: manifest.path(of: "blazeface"), options: options)
        try self.init(session: session, parameters: manifest.preprocessing(Parameters.self, of: "blazeface"))
    }

    public func detect(_ frame: Frame) throws -> [FaceDetection] {
        let size = parameters.input_size
        let input = letterbox(frame)
        let outputs = try session.run(["input": .float32(try Tensor(shape: [1, 3, size, size], scalars: input))])
        guard let regressors = try outputs["regressors"]?.tensor(of: Float.self).scalars,
            let logits = try outputs["classificators"]?.tensor(of: Float.self).scalars
        else { throw FaceTrackingError.detectorFailed("BlazeFace returned no outputs") }
        return decode(regressors: regressors, logits: logits, width: frame.width, height: frame.height)
    }

    /// MediaPipe's ImageToTensor: the centred square region, bilinear with a zero border,
    /// rounded to 8 bits (OpenCV warps uint8), mapped to [−1, 1]; NCHW, RGB.
    func letterbox(_ frame: Frame) -> [Float] {
        let size = parameters.input_size
        let side = Double(max(frame.width, frame.height))
        let scale = Double(size) / side
        let offsetX = (side - Double(frame.width)) / 2 * scale
        let offsetY = (side - Double(frame.height)) / 2 * scale
        let low = parameters.value_range[0]
        let high = parameters.value_range[1]
        var tensor = [Float](repeating: low, count: 3 * size * size)
        // BGR frames are read as RGB by swapping channel indices.
        let order = frame.pixelFormat == .rgb24 ? [0, 1, 2] : [2, 1, 0]
        frame.pixels.withUnsafeBufferPointer { pixels in
            func sample(_ x: Int, _ y: Int, _ channel: Int) -> Double {
                guard x >= 0, y >= 0, x < frame.width, y < frame.height else { return 0 }
                return Double(pixels[y * frame.stride + x * 3 + order[channel]])
            }
            for v in 0..<size {
                let sy = (Double(v) - offsetY) / scale
                let y0 = Int(sy.rounded(.down))
                let fy = sy - Double(y0)
                for u in 0..<size {
                    let sx = (Double(u) - offsetX) / scale
                    let x0 = Int(sx.rounded(.down))
                    let fx = sx - Double(x0)
                    for channel in 0..<3 {
                        let top = sample(x0, y0, channel) * (1 - fx) + sample(x0 + 1, y0, channel) * fx
                        let bottom = sample(x0, y0 + 1, channel) * (1 - fx) + sample(x0 + 1, y0 + 1, channel) * fx
                        let value = (top * (1 - fy) + bottom * fy).rounded()
                        tensor[(channel * size + v) * size + u] = Float(value) * (high - low) / 255 + low
                    }
                }
            }
        }
        return tensor
    }

    func decode(regressors: [Float], logits: [Float], width: Int, height: Int) -> [FaceDetection] {
        let count = parameters.num_boxes
        let valuesPerBox = regressors.count / count
        let scale = parameters.box_scale
        struct Candidate {
            var box: [Double]
            var points: [Double]
            var score: Double
        }
        var candidates: [Candidate] = []
        for n in 0..<count {
            let logit = max(-parameters.score_clip, min(parameters.score_clip, Double(logits[n])))
            let score = 1 / (1 + exp(-logit))
            guard score >= parameters.score_threshold else { continue }
            let r = n * valuesPerBox
            let (ax, ay) = anchorCentres[n]
            let cx = Double(regressors[r]) / scale + ax
            let cy = Double(regressors[r + 1]) / scale + ay
            let w = Double(regressors[r + 2]) / scale
            let h = Double(regressors[r + 3]) / scale
            guard w >= 0, h >= 0 else { continue }
            var points: [Double] = []
            for k in 0..<parameters.num_keypoints {
                points += [Double(regressors[r + 4 + 2 * k]) / scale + ax, Double(regressors[r + 5 + 2 * k]) / scale + ay]
            }
            candidates.append(Candidate(box: [cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], points: points, score: score))
        }
        candidates.sort { $0.score > $1.score }

        func iou(_ a: [Double], _ b: [Double]) -> Double {
            let ix = max(0, min(a[2], b[2]) - max(a[0], b[0]))
            let iy = max(0, min(a[3], b[3]) - max(a[1], b[1]))
            let intersection = ix * iy
            let union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - intersection
            return union > 0 && intersection > 0 ? intersection / union : 0
        }
        // Weighted NMS: each group's corners and keypoints are score-weighted means; its score is the top one's.
        var faces: [FaceDetection] = []
        var remaining = candidates
        let side = Double(max(width, height))
        func project(_ x: Double, _ y: Double) -> (Double, Double) {
            (Double(width) / 2 + (x - 0.5) * side, Double(height) / 2 + (y - 0.5) * side)
        }
        while let top = remaining.first {
            let group = remaining.filter { iou(top.box, $0.box) > parameters.nms_iou }
            guard !group.isEmpty else { break }
            let total = group.reduce(0) { $0 + $1.score }
            let box = (0..<4).map { i in group.reduce(0) { $0 + $1.box[i] * $1.score } / total }
            let points = (0..<top.points.count).map { i in group.reduce(0) { $0 + $1.points[i] * $1.score } / total }
            remaining.removeAll { candidate in group.contains { $0.box == candidate.box && $0.score == candidate.score } }
            let (x1, y1) = project(box[0], box[1])
            let (x2, y2) = project(box[2], box[3])
            let keypoints = stride(from: 0, to: points.count, by: 2).map { i -> FaceDetection.Point in
                let (x, y) = project(points[i], points[i + 1])
                return FaceDetection.Point(x: x, y: y)
            }
            faces.append(FaceDetection(x1: x1, y1: y1, x2: x2, y2: y2, score: top.score, keypoints: keypoints))
        }
        return faces
    }
}
