import FaceTracking
import LipSync
import Media
import Testing

@Suite struct FaceCompositorTests {
    /// The paste loop writes through an unchecked pointer: a box that is not inside the frame
    /// is refused before it runs.
    @Test(arguments: [CompositeMode.blend, .replace]) func boxesOutsideTheFrameAreRefused(mode: CompositeMode) throws {
        let face = try Frame(width: 96, height: 96, pixels: [UInt8](repeating: 128, count: 96 * 96 * 3))
        var frame = try Frame(width: 64, height: 48, pixels: [UInt8](repeating: 0, count: 64 * 48 * 3))
        for box in [
            FaceBox(x1: -1, y1: 0, x2: 10, y2: 10), FaceBox(x1: 60, y1: 0, x2: 70, y2: 10), FaceBox(x1: 0, y1: 40, x2: 10, y2: 49),
            FaceBox(x1: 10, y1: 10, x2: 10, y2: 20), FaceBox(x1: 10, y1: 10, x2: 5, y2: 20),
        ] {
            #expect(throws: LipSyncError.self, "\(box)") { try FaceCompositor(mode: mode).composite(face, into: &frame, box: box) }
        }
        #expect(frame.pixels.allSatisfy { $0 == 0 })
        try FaceCompositor(mode: .replace).composite(face, into: &frame, box: FaceBox(x1: 54, y1: 38, x2: 64, y2: 48))
        #expect(frame.pixel(x: 63, y: 47) == (128, 128, 128))
    }

    /// The compositor resizes only the rows its mask reaches, a row at a time; the result is
    /// the same, bit for bit, as resizing the whole face and blending every pixel with the
    /// feather mask written out per pixel (how it was done before, kept here as the reference).
    @Test(arguments: [CompositeMode.blend, .replace]) func matchesTheWholePictureComposite(mode: CompositeMode) throws {
        var generator = SystemRandomNumberGenerator()
        let face = try Frame(width: 96, height: 96, pixels: (0..<(96 * 96 * 3)).map { _ in UInt8.random(in: 0...255, using: &generator) })
        let background = (0..<(320 * 240 * 3)).map { _ in UInt8.random(in: 0...255, using: &generator) }
        for box in [
            FaceBox(x1: 10, y1: 5, x2: 207, y2: 230), FaceBox(x1: 0, y1: 0, x2: 96, y2: 96), FaceBox(x1: 300, y1: 200, x2: 320, y2: 240),
            FaceBox(x1: 40, y1: 30, x2: 41, y2: 33), FaceBox(x1: 100, y1: 60, x2: 150, y2: 70),
        ] {
            var frame = try Frame(width: 320, height: 240, pixels: background)
            try FaceCompositor(mode: mode).composite(face, into: &frame, box: box)
            #expect(frame.pixels == (try Self.reference(face, into: background, width: 320, box: box, mode: mode)), "\(box)")
        }
    }

    static func reference(_ face: Frame, into pixels: [UInt8], width frameWidth: Int, box: FaceBox, mode: CompositeMode) throws -> [UInt8] {
        func smoothstep(_ a: Float, _ b: Float, _ x: Float) -> Float {
            let t = max(0, min(1, (x - a) / (b - a)))
            return t * t * (3 - 2 * t)
        }
        let patch = try face.resized(width: box.width, height: box.height)
        var output = pixels
        for y in 0..<box.height {
            let v = (Float(y) + 0.5) / Float(box.height)
            let vertical = smoothstep(0.40, 0.55, v) * smoothstep(0, 0.08, 1 - v)
            for x in 0..<box.width {
                let u = (Float(x) + 0.5) / Float(box.width)
                let alpha = mode == .replace ? 1 : vertical * smoothstep(0, 0.12, u) * smoothstep(0, 0.12, 1 - u)
                guard alpha > 0 else { continue }
                for c in 0..<3 {
                    let to = ((box.y1 + y) * frameWidth + box.x1 + x) * 3 + c
                    let source = Float(patch.pixels[(y * box.width + x) * 3 + c])
                    let mixed = mode == .replace ? source : Float(output[to]) * (1 - alpha) + source * alpha
                    output[to] = UInt8(max(0, min(255, mixed.rounded())))
                }
            }
        }
        return output
    }
}
