import Testing

@testable import Media

/// `Frame`'s pixels cannot be swapped for a buffer of another size from outside the module
/// (`pixels` has a private setter, checked here by `paste` and `withUnsafeMutablePixels`
/// being the only ways in), and every rectangle is checked before unchecked pointer loops.
@Suite struct FrameTests {
    /// `roundedByte` is `Float.rounded()` clamped to a byte for every non-negative value:
    /// each 1/64 step up to 300, the ties (k + ½) and their float neighbours, where a plain
    /// `trunc(x + 0.5)` goes wrong (0.49999997 + 0.5 rounds up to 1 in float arithmetic).
    @Test func roundedByteMatchesRounded() {
        func expected(_ value: Float) -> UInt8 { UInt8(max(0, min(255, value.rounded()))) }
        var values: [Float] = [0, 0.49999997, 0.5, 254.5, 255, 255.49998, 255.5, 1e9]
        for step in 0...(300 * 64) {
            let value = Float(step) / 64
            values += [value, value.nextUp, value.nextDown]
        }
        for value in values where value >= 0 {
            #expect(roundedByte(value) == expected(value), "\(value)")
        }
        // Never negative in use, but clamped all the same; NaN gives 0, not a trap.
        for value: Float in [-0.0, -0.3, -1, -300, -.infinity, .infinity, .nan] {
            #expect(roundedByte(value) == (value.isNaN ? 0 : expected(value)), "\(value)")
        }
    }

    static func frame(_ width: Int, _ height: Int, value: UInt8 = 0) throws -> Frame {
        try Frame(width: width, height: height, pixels: [UInt8](repeating: value, count: width * height * 3))
    }

    @Test func geometryIsCheckedAtInit() {
        #expect(throws: MediaError.self) { try Frame(width: 4, height: 4, pixels: [UInt8](repeating: 0, count: 47)) }
        #expect(throws: MediaError.self) { try Frame(width: 4, height: 4, stride: 11, pixels: [UInt8](repeating: 0, count: 100)) }
        #expect(throws: MediaError.self) { try Frame(width: 0, height: 4, pixels: []) }
        #expect(throws: MediaError.self) { try Frame(width: -3, height: 4, pixels: []) }
    }

    @Test func cropsOutsideTheFrameAreRefused() throws {
        let frame = try Self.frame(8, 6)
        for (x, y, w, h) in [
            (-1, 0, 2, 2), (0, -1, 2, 2), (7, 0, 2, 2), (0, 5, 2, 2), (0, 0, 0, 2), (0, 0, 9, 1), (Int.max, 0, 2, 2), (2, 2, Int.max, 1),
        ] {
            #expect(throws: MediaError.self, "\(x),\(y) \(w)×\(h)") { try frame.cropped(x: x, y: y, width: w, height: h) }
        }
        #expect(try frame.cropped(x: 6, y: 4, width: 2, height: 2).width == 2)
        #expect(throws: MediaError.self) { try frame.resized(width: 0, height: 3) }
        #expect(throws: MediaError.self) { try frame.resized(width: 1 << 20, height: 3) }
    }

    @Test func pasteStaysInsideAndCopiesRows() throws {
        var frame = try Self.frame(8, 6)
        let patch = try Self.frame(3, 2, value: 200)
        try frame.paste(patch, x: 5, y: 4)
        #expect(frame.pixel(x: 5, y: 4) == (200, 200, 200) && frame.pixel(x: 7, y: 5) == (200, 200, 200))
        #expect(frame.pixel(x: 4, y: 4) == (0, 0, 0) && frame.pixel(x: 5, y: 3) == (0, 0, 0))
        for (x, y) in [(6, 4), (5, 5), (-1, 0), (0, -1)] {
            #expect(throws: MediaError.self) { try frame.paste(patch, x: x, y: y) }
        }
        let rgb = try Frame(width: 3, height: 2, pixelFormat: .rgb24, pixels: [UInt8](repeating: 1, count: 18))
        #expect(throws: MediaError.self) { try frame.paste(rgb, x: 0, y: 0) }
    }

    @Test func pixelOutsideTheFrameIsBlack() throws {
        let frame = try Self.frame(2, 2, value: 9)
        #expect(frame.pixel(x: 1, y: 1) == (9, 9, 9))
        #expect(frame.pixel(x: 2, y: 0) == (0, 0, 0) && frame.pixel(x: 0, y: -1) == (0, 0, 0))
    }

    @Test func inPlaceEditsKeepTheSize() throws {
        var frame = try Self.frame(2, 2)
        frame.withUnsafeMutablePixels { pixels in
            #expect(pixels.count == 12)
            pixels[0] = 7
        }
        #expect(frame.pixel(x: 0, y: 0).0 == 7)
        #expect(frame.pixels.count == 12)
    }
}
