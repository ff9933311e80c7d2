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
        let rowBytes = width * 3
        let output = [UInt8](unsafeUninitializedCapacity: rowBytes * height) { destination, initialized in
            pixels.withUnsafeBufferPointer { source in
                for row in 0..<height {
                    (destination.baseAddress! + row * rowBytes).initialize(
                        from: source.baseAddress! + (y + row) * stride + x * 3, count: rowBytes)
                }
            }
            initialized = rowBytes * height
        }
        return Frame(unchecked: width, height, width * 3, pixelFormat, presentationTime, output)
    }

    /// Bilinear resize to `width`×`height` (OpenCV INTER_LINEAR sampling positions).
    public func resized(width outWidth: Int, height outHeight: Int) throws -> Frame {
        if outWidth == width, outHeight == height { return self }
        return try resized(PixelRect(x: 0, y: 0, width: width, height: height), width: outWidth, height: outHeight)
    }

    /// `cropped(x:y:width:height:)` then `resized(width:height:)` — the same pixels — without
    /// the crop's copy (a face box at 1080p is half a megabyte, faulted in afresh each frame).
    public func resized(x: Int, y: Int, width cropWidth: Int, height cropHeight: Int, to outWidth: Int, _ outHeight: Int) throws -> Frame {
        guard contains(x: x, y: y, width: cropWidth, height: cropHeight) else {
            throw MediaError.invalidArgument(
                "crop \(cropWidth)×\(cropHeight) at (\(x), \(y)) is outside the \(width)×\(height) frame")
        }
        if outWidth == cropWidth, outHeight == cropHeight { return try cropped(x: x, y: y, width: cropWidth, height: cropHeight) }
        return try resized(PixelRect(x: x, y: y, width: cropWidth, height: cropHeight), width: outWidth, height: outHeight)
    }

    private func resized(_ region: PixelRect, width outWidth: Int, height outHeight: Int) throws -> Frame {
        var output = [UInt8](repeating: 0, count: max(0, outWidth * outHeight * 3))
        try forEachResizedRow(of: region, width: outWidth, height: outHeight, rows: 0..<outHeight) { row, values in
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
        try forEachResizedRow(of: PixelRect(x: 0, y: 0, width: width, height: height), width: outWidth, height: outHeight, rows: rows, body)
    }

    /// `forEachResizedRow` of the part `region` (inside the frame) as if it were cropped first.
    private func forEachResizedRow(
        of region: PixelRect, width outWidth: Int, height outHeight: Int, rows: Range<Int>,
        _ body: (_ row: Int, _ values: UnsafeBufferPointer<UInt8>) throws -> Void
    ) throws {
        // 16 384² is far beyond any frame the limits admit; it keeps the output's size finite.
        guard (1...16_384).contains(outWidth), (1...16_384).contains(outHeight) else {
            throw MediaError.invalidArgument("resize to \(outWidth)×\(outHeight)")
        }
        let rows = rows.clamped(to: 0..<outHeight)
        guard !rows.isEmpty else { return }
        let ys = Self.samplePositions(source: region.height, destination: outHeight)
        // Per output byte: where its left and right source bytes sit in a row, and the weight
        // of the right one.
        let count = outWidth * 3
        var lefts = [Int](repeating: 0, count: count)
        var rights = [Int](repeating: 0, count: count)
        var weights = [Float](repeating: 0, count: count)
        for (column, sx) in Self.samplePositions(source: region.width, destination: outWidth).enumerated() {
            for channel in 0..<3 {
                lefts[column * 3 + channel] = sx.index * 3 + channel
                rights[column * 3 + channel] = sx.next * 3 + channel
                weights[column * 3 + channel] = sx.fraction
            }
        }
        // A source row interpolated across (`a + (b − a)·fx`) is the same for every output row
        // that reads it, so the two rows an output row blends are made once and kept while the
        // next output rows read them (an upscale reads each several times); what is left per
        // output row is one vectorisable blend. The same float operations in the same order as
        // interpolating each output pixel from its four source pixels: the same bytes.
        var upper = [Float](repeating: 0, count: count)
        var lower = [Float](repeating: 0, count: count)
        var (upperRow, lowerRow) = (-1, -1)
        var line = [UInt8](repeating: 0, count: count)
        try pixels.withUnsafeBufferPointer { source in
            let base = source.baseAddress! + region.y * stride + region.x * 3
            func interpolate(row: Int, into values: inout [Float]) {
                let start = base + row * stride
                lefts.withUnsafeBufferPointer { lefts in
                    rights.withUnsafeBufferPointer { rights in
                        weights.withUnsafeBufferPointer { weights in
                            values.withUnsafeMutableBufferPointer { values in
                                for i in 0..<count {
                                    let a = Float(start[lefts[i]])
                                    let b = Float(start[rights[i]])
                                    values[i] = a + (b - a) * weights[i]
                                }
                            }
                        }
                    }
                }
            }
            for row in rows {
                let sy = ys[row]
                if upperRow != sy.index {
                    if lowerRow == sy.index {
                        swap(&upper, &lower)
                        swap(&upperRow, &lowerRow)
                    } else {
                        interpolate(row: sy.index, into: &upper)
                        upperRow = sy.index
                    }
                }
                if lowerRow != sy.next {
                    interpolate(row: sy.next, into: &lower)
                    lowerRow = sy.next
                }
                let fraction = sy.fraction
                upper.withUnsafeBufferPointer { upper in
                    lower.withUnsafeBufferPointer { lower in
                        line.withUnsafeMutableBufferPointer { destination in
                            for i in 0..<count { destination[i] = roundedByte(upper[i] + (lower[i] - upper[i]) * fraction) }
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
/// values that are never negative before clamping (interpolations and blends of bytes); 0 for
/// NaN. `y = x + 0.49999997` — the largest float below ½ — clamped, then `floor(y)`, is exact
/// for every x ≥ 0 (LLVM expands `round` the same way). The floor is taken without `trunc`
/// (a libm call on baseline x86-64, which has no SSE4.1 rounding instruction) and the byte
/// without `UInt8(_:)` (whose range check also blocked vectorisation): adding 2²³ rounds y to
/// the nearest whole number r, exactly; floor(y) is r, or r − 1 when r > y; and a whole number
/// 0…255 plus 2²³ has it in its low bits. No branch, no call: the compositor's blend and the
/// face resize vectorise (~5 ns a byte before, under 1 after).
@inlinable
public func roundedByte(_ value: Float) -> UInt8 {
    let y = min(255, max(0, value + 0.499_999_97))
    let nearest = (y + 8_388_608) - 8_388_608
    let floor = nearest > y ? nearest - 1 : nearest
    return UInt8(truncatingIfNeeded: (floor + 8_388_608).bitPattern)
}
