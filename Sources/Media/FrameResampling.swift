/// Pixel-exact crops and bilinear resizes of packed 8-bit frames, with OpenCV's
/// `INTER_LINEAR` geometry (half-pixel centres, edge replication, no anti-aliasing when
/// shrinking) — the resize the original system used for face crops and pastes.
/// OpenCV interpolates in fixed point; this uses Float and rounds to nearest, so results
/// can differ from OpenCV by ±1 level (../shared/reference/README.md, "Images").
extension Frame {
    /// The rectangle `x..<x+width`, `y..<y+height`, which must lie inside the frame.
    public func cropped(x: Int, y: Int, width: Int, height: Int) throws -> Frame {
        guard contains(x: x, y: y, width: width, height: height) else {
            throw MediaError.invalidArgument("crop \(width)×\(height) at (\(x), \(y)) is outside the \(self.width)×\(self.height) frame")
        }
        var output = [UInt8](repeating: 0, count: width * height * 3)
        output.withUnsafeMutableBufferPointer { destination in
            pixels.withUnsafeBufferPointer { source in
                for row in 0..<height {
                    let from = (y + row) * stride + x * 3
                    let to = row * width * 3
                    for i in 0..<(width * 3) { destination[to + i] = source[from + i] }
                }
            }
        }
        return Frame(unchecked: width, height, width * 3, pixelFormat, presentationTime, output)
    }

    /// Bilinear resize to `width`×`height` (OpenCV INTER_LINEAR sampling positions).
    public func resized(width outWidth: Int, height outHeight: Int) throws -> Frame {
        if outWidth == width, outHeight == height { return self }
        var output = [UInt8](repeating: 0, count: max(0, outWidth * outHeight * 3))
        try forEachResizedRow(width: outWidth, height: outHeight, rows: 0..<outHeight) { row, values in
            output.withUnsafeMutableBufferPointer { destination in
                let start = row * outWidth * 3
                for i in values.indices { destination[start + i] = values[i] }
            }
        }
        return Frame(unchecked: outWidth, outHeight, outWidth * 3, pixelFormat, presentationTime, output)
    }

    /// The rows `rows` of this frame resized to `width`×`height` (the same values as
    /// `resized`), one at a time: `body(row, values)` gets row `row`'s 3·`width` values in a
    /// buffer that is reused for the next row. Lets a caller that needs only part of a resized
    /// picture (the compositor: the lower face) skip the rest and the whole picture's copy.
    public func forEachResizedRow(
        width outWidth: Int, height outHeight: Int, rows: Range<Int>,
        _ body: (_ row: Int, _ values: UnsafeBufferPointer<UInt8>) throws -> Void
    ) throws {
        // 16 384² is far beyond any frame the limits admit; it keeps the output's size finite.
        guard (1...16_384).contains(outWidth), (1...16_384).contains(outHeight) else {
            throw MediaError.invalidArgument("resize to \(outWidth)×\(outHeight)")
        }
        let rows = rows.clamped(to: 0..<outHeight)
        guard !rows.isEmpty else { return }
        let xs = Self.samplePositions(source: width, destination: outWidth)
        let ys = Self.samplePositions(source: height, destination: outHeight)
        var line = [UInt8](repeating: 0, count: outWidth * 3)
        try pixels.withUnsafeBufferPointer { source in
            for row in rows {
                let sy = ys[row]
                let top = sy.index * stride
                let bottom = sy.next * stride
                line.withUnsafeMutableBufferPointer { destination in
                    for (column, sx) in xs.enumerated() {
                        let left = sx.index * 3
                        let right = sx.next * 3
                        let out = column * 3
                        for channel in 0..<3 {
                            let a = Float(source[top + left + channel])
                            let b = Float(source[top + right + channel])
                            let c = Float(source[bottom + left + channel])
                            let d = Float(source[bottom + right + channel])
                            let upper = a + (b - a) * sx.fraction
                            let lower = c + (d - c) * sx.fraction
                            let value = upper + (lower - upper) * sy.fraction
                            destination[out + channel] = roundedByte(value)
                        }
                    }
                }
                try line.withUnsafeBufferPointer { try body(row, $0) }
            }
        }
    }

    /// For each destination index: the left source index, its right neighbour and the
    /// weight of the right one; source = (d + 0.5)·scale − 0.5, clamped at the edges.
    static func samplePositions(source: Int, destination: Int) -> [(index: Int, next: Int, fraction: Float)] {
        let scale = Double(source) / Double(destination)
        return (0..<destination).map { d in
            let position = (Double(d) + 0.5) * scale - 0.5
            var index = Int(position.rounded(.down))
            var fraction = Float(position - Double(index))
            if index < 0 {
                index = 0
                fraction = 0
            }
            if index >= source - 1 {
                index = source - 1
                fraction = 0
            }
            return (index, min(index + 1, source - 1), fraction)
        }
    }
}

/// `value` rounded half away from zero (as `Float.rounded()`) and clamped to 0…255, for
/// values that are never negative before clamping (interpolations and blends of bytes).
/// `trunc(x + 0.49999997)` — the largest float below ½ — is exact for every x ≥ 0 (LLVM
/// expands `round` the same way) and compiles to two instructions, where `rounded()` was a
/// libm call per byte (1 % of a word-case render's CPU time).
@inlinable
public func roundedByte(_ value: Float) -> UInt8 {
    UInt8(min(255, max(0, value + 0.499_999_97)).rounded(.towardZero))
}
