import Testing

@testable import Media

@Suite struct FrameResamplingTests {
    /// The resize against the textbook per-pixel form it was written from (four source
    /// pixels, across then down, `roundedByte`): the row cache and the vectorised blend must
    /// give the same bytes, up, down and mixed, on every row range.
    @Test(arguments: [(96, 96, 410, 412), (410, 412, 96, 96), (7, 5, 13, 3), (5, 9, 5, 9), (1, 1, 4, 2), (6, 4, 1, 1)])
    func resizeIsThePerPixelBilinear(width: Int, height: Int, outWidth: Int, outHeight: Int) throws {
        var state: UInt32 = 12_345
        let pixels = (0..<(width * height * 3)).map { _ -> UInt8 in
            state = state &* 1_664_525 &+ 1_013_904_223
            return UInt8(truncatingIfNeeded: state >> 24)
        }
        let frame = try Frame(width: width, height: height, pixels: pixels)
        let xs = Frame.samplePositions(source: width, destination: outWidth)
        let ys = Frame.samplePositions(source: height, destination: outHeight)
        var expected = [UInt8]()
        for sy in ys {
            for sx in xs {
                for channel in 0..<3 {
                    func at(_ x: Int, _ y: Int) -> Float { Float(pixels[(y * width + x) * 3 + channel]) }
                    let upper = at(sx.index, sy.index) + (at(sx.next, sy.index) - at(sx.index, sy.index)) * sx.fraction
                    let lower = at(sx.index, sy.next) + (at(sx.next, sy.next) - at(sx.index, sy.next)) * sx.fraction
                    expected.append(roundedByte(upper + (lower - upper) * sy.fraction))
                }
            }
        }
        let resized = try frame.resized(width: outWidth, height: outHeight)
        #expect(resized.width == outWidth && resized.height == outHeight && resized.pixels == expected)
        let rows = (outHeight / 3)..<outHeight
        var seen: [Int] = []
        try frame.forEachResizedRow(width: outWidth, height: outHeight, rows: rows) { row, values in
            seen.append(row)
            let start = row * outWidth * 3
            #expect(Array(values) == Array(expected[start..<(start + outWidth * 3)]), "row \(row)")
        }
        #expect(seen == Array(rows))
        // A crop, and a resize straight from the frame's part: the crop's resize, not a copy's.
        let (left, top) = (width / 3, height / 2)
        let crop = try frame.cropped(x: left, y: top, width: width - left, height: height - top)
        for y in 0..<crop.height {
            for x in 0..<crop.width { #expect(crop.pixel(x: x, y: y) == frame.pixel(x: x + left, y: y + top)) }
        }
        let direct = try frame.resized(x: left, y: top, width: crop.width, height: crop.height, to: outWidth, outHeight)
        #expect(direct == (try crop.resized(width: outWidth, height: outHeight)))
        #expect(throws: MediaError.self) { try frame.resized(x: left, y: top, width: width - left + 1, height: 1, to: 4, 4) }
    }
}
