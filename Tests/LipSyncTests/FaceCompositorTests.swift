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
}
