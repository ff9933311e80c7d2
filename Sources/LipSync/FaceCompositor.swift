public import FaceTracking
public import Media

/// How the generated face goes back into the frame.
public enum CompositeMode: String, Sendable, Equatable, CaseIterable, Codable {
    /// Blend over the lower face with a feathered mask, so no box edge shows. The default.
    case blend
    /// Overwrite the whole box, as the original does (for parity checks).
    case replace
}

/// Pastes generated faces into full-resolution frames.
public struct FaceCompositor: Sendable {
    public let mode: CompositeMode

    public init(mode: CompositeMode) {
        self.mode = mode
    }

    /// `face` (96×96 BGR, already truncated to 8 bits as the original does) resized to the
    /// box with bilinear interpolation and composited into `frame`. Blending resizes only the
    /// rows the mask reaches (the lower face), a row at a time, straight into the frame.
    public func composite(_ face: Frame, into frame: inout Frame, box: FaceBox) throws {
        guard frame.contains(x: box.x1, y: box.y1, width: box.width, height: box.height) else {
            throw LipSyncError.invalidBox(
                "the face box \(box.width)×\(box.height) at (\(box.x1), \(box.y1)) is outside the \(frame.width)×\(frame.height) frame")
        }
        let (width, height) = (box.width, box.height)
        let mask = mode == .blend ? Self.featherWeights(width: width, height: height) : nil
        let firstRow = mask.map { weights in weights.rows.firstIndex { $0 > 0 } ?? height } ?? 0
        let frameStride = frame.stride
        // The row's weight for each byte (x three channels), refilled per row.
        var alphas = [Float](repeating: 0, count: mask == nil ? 0 : width * 3)
        try frame.withUnsafeMutablePixels(changing: box.x1, y: box.y1 + firstRow, width: width, height: height - firstRow) { destination in
            try face.forEachResizedRow(width: width, height: height, rows: firstRow..<height) { y, source in
                let row = (box.y1 + y) * frameStride + box.x1 * 3
                guard let mask else {
                    for i in 0..<(width * 3) { destination[row + i] = source[i] }
                    return
                }
                let vertical = mask.rows[y]
                guard vertical > 0 else { return }
                alphas.withUnsafeMutableBufferPointer { alphas in
                    for x in 0..<width {
                        let alpha = vertical * mask.left[x] * mask.right[x]
                        alphas[x * 3] = alpha
                        alphas[x * 3 + 1] = alpha
                        alphas[x * 3 + 2] = alpha
                    }
                    Self.blend(source, into: UnsafeMutableBufferPointer(rebasing: destination[row..<(row + width * 3)]), alphas: alphas)
                }
            }
        }
    }

    /// `to[i] = round(to[i]·(1 − α[i]) + from[i]·α[i])` over one row's bytes, without a branch
    /// or a call per byte (`roundedByte`); where α is 0 the byte is rewritten unchanged
    /// (x·1 + y·0 = x exactly). The same bytes as the per-pixel version (FaceCompositorTests).
    static func blend(
        _ from: UnsafeBufferPointer<UInt8>, into to: UnsafeMutableBufferPointer<UInt8>, alphas: UnsafeMutableBufferPointer<Float>
    ) {
        guard let from = from.baseAddress, let target = to.baseAddress, let alpha = alphas.baseAddress else { return }
        for i in 0..<min(to.count, alphas.count) {
            let a = alpha[i]
            target[i] = roundedByte(Float(target[i]) * (1 - a) + Float(from[i]) * a)
        }
    }

    /// The feather mask, as factors: the weight of the generated face at (x, y) is
    /// `rows[y] * left[x] * right[x]` — the lower face (from 40 % of the box height, fully from
    /// 55 %), fading out over the outer 12 % at the sides and 8 % at the bottom. Wav2Lip only
    /// regenerates the lower half; the upper half stays the source's.
    static func featherWeights(width: Int, height: Int) -> (rows: [Float], left: [Float], right: [Float]) {
        let rows = (0..<height).map { y in
            let v = (Float(y) + 0.5) / Float(height)
            return smoothstep(0.40, 0.55, v) * smoothstep(0, 0.08, 1 - v)
        }
        let u = (0..<width).map { x in (Float(x) + 0.5) / Float(width) }
        return (rows, u.map { smoothstep(0, 0.12, $0) }, u.map { smoothstep(0, 0.12, 1 - $0) })
    }

    private static func smoothstep(_ a: Float, _ b: Float, _ x: Float) -> Float {
        let t = max(0, min(1, (x - a) / (b - a)))
        return t * t * (3 - 2 * t)
    }
}
