public import FaceTracking
public import Inference
public import Media

/// Runs the Wav2Lip generator on batches: model input assembly exactly as the original
/// inference.py (reference/wav2lip.md §8): the face crop resized to 96×96 (bilinear),
/// BGR, ÷255, rows 48…95 zeroed in the first three channels, the unmasked crop in the last
/// three; the mel chunk [1, 80, 16]. Output: pred·255 truncated to 8 bits.
public struct Wav2LipGenerator: Sendable {
    public let session: InferenceSession
    public let faceSize = 96

    public init(session: InferenceSession) {
        self.session = session
    }

    /// The 96×96 BGR face crop of `frame` inside `box`.
    public func faceCrop(_ frame: Frame, box: FaceBox) throws -> Frame {
        try frame.resized(x: box.x1, y: box.y1, width: box.width, height: box.height, to: faceSize, faceSize)
    }

    /// Generated 96×96 BGR faces for `faces` (96×96 BGR crops) and their mel chunks (80×16 each).
    public func generate(faces: [Frame], mels: [[Float]]) throws -> [Frame] {
        let count = faces.count
        guard count == mels.count, count > 0 else { return [] }
        let plane = faceSize * faceSize
        var faceTensor = [Float](repeating: 0, count: count * 6 * plane)
        let half = faceSize / 2
        for (n, face) in faces.enumerated() {
            face.pixels.withUnsafeBufferPointer { pixels in
                for y in 0..<faceSize {
                    for x in 0..<faceSize {
                        let source = y * face.stride + x * 3
                        for c in 0..<3 {
                            let value = Float(pixels[source + c]) / 255
                            faceTensor[((n * 6 + 3 + c) * faceSize + y) * faceSize + x] = value
                            if y < half { faceTensor[((n * 6 + c) * faceSize + y) * faceSize + x] = value }
                        }
                    }
                }
            }
        }
        let outputs = try session.run([
            "mel": .float32(try Tensor(shape: [count, 1, 80, 16], scalars: mels.flatMap { $0 })),
            "face": .float32(try Tensor(shape: [count, 6, faceSize, faceSize], scalars: faceTensor)),
        ])
        guard let prediction = try outputs["prediction"]?.tensor(of: Float.self).scalars else {
            throw LipSyncError.modelMismatch("the generator has no 'prediction' output")
        }
        return try (0..<count).map { n in
            var pixels = [UInt8](repeating: 0, count: plane * 3)
            for y in 0..<faceSize {
                for x in 0..<faceSize {
                    for c in 0..<3 {
                        let value = prediction[((n * 3 + c) * faceSize + y) * faceSize + x] * 255
                        pixels[(y * faceSize + x) * 3 + c] = UInt8(max(0, min(255, value)))  // truncation, as astype(uint8)
                    }
                }
            }
            return try Frame(width: faceSize, height: faceSize, pixelFormat: .bgr24, pixels: pixels)
        }
    }
}
