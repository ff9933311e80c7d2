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
    /// box with bilinear interpolation and composited into `frame`.
    public func composite(_ face: Frame, into frame: inout Frame, box: FaceBox) throws {
        guard frame.contains(x: box.x1, y: box.y1, width: box.width, height: box.height) else {
            throw LipSyncError.invalidBox(
                "the face box \(box.width)×\(box.height) at (\(box.x1), \(box.y1)) is outside the \(frame.width)×\(frame.height) frame")
        }
        let patch = try face.resized(width: box.width, height: box.height)
        let weights = mode == .blend ? Self.featherMask(width: box.width, height: box.height) : nil
        let frameStride = frame.stride
        frame.withUnsafeMutablePixels { destination in
            patch.pixels.withUnsafeBufferPointer { source in
                for y in 0..<box.height {
                    let row = (box.y1 + y) * frameStride + box.x1 * 3
                    for x in 0..<box.width {
                        let from = (y * box.width + x) * 3
                        let to = row + x * 3
                        guard let weights else {
                            destination[to] = source[from]
                            destination[to + 1] = source[from + 1]
                            destination[to + 2] = source[from + 2]
                            continue
                        }
                        let alpha = weights[y * box.width + x]
                        guard alpha > 0 else { continue }
                        for c in 0..<3 {
                            let mixed = Float(destination[to + c]) * (1 - alpha) + Float(source[from + c]) * alpha
                            destination[to + c] = UInt8(max(0, min(255, mixed.rounded())))
                        }
                    }
                }
            }
        }
    }

    /// Weight of the generated face at each box pixel: the lower face (from 40 % of the box
    /// height, fully from 55 %), fading out over the outer 12 % at the sides and 8 % at the
    /// bottom. Wav2Lip only regenerates the lower half; the upper half stays the source's.
    static func featherMask(width: Int, height: Int) -> [Float] {
        func smoothstep(_ a: Float, _ b: Float, _ x: Float) -> Float {
            let t = max(0, min(1, (x - a) / (b - a)))
            return t * t * (3 - 2 * t)
        }
        var mask = [Float](repeating: 0, count: width * height)
        for y in 0..<height {
            let v = (Float(y) + 0.5) / Float(height)
            let vertical = smoothstep(0.40, 0.55, v) * smoothstep(0, 0.08, 1 - v)
            for x in 0..<width {
                let u = (Float(x) + 0.5) / Float(width)
                mask[y * width + x] = vertical * smoothstep(0, 0.12, u) * smoothstep(0, 0.12, 1 - u)
            }
        }
        return mask
    }
}
