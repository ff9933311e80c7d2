import Foundation

/// Synthetic media for benchmarks, demos and tests (like FFmpeg's testsrc/sine sources):
/// smooth pictures that change from frame to frame, and pure tones.
public enum TestPattern {
    /// Gradients plus a soft blob that moves with `index`; smooth enough that H.264 at
    /// CRF 18 keeps it well above 35 dB PSNR.
    public static func frame(width: Int, height: Int, index: Int, format: PixelFormat = .bgr24) -> Frame {
        var pixels = [UInt8](repeating: 0, count: width * height * 3)
        let cx = Double(width) * (0.3 + 0.4 * Double(index % 20) / 20)
        let cy = Double(height) * 0.5
        let radius = Double(min(width, height)) / 4
        let third = Double(90 + (index % 50) * 2)
        pixels.withUnsafeMutableBufferPointer { buffer in
            for y in 0..<height {
                let dy = Double(y) - cy
                let second = 60 + Double(y) * 140 / Double(height)
                for x in 0..<width {
                    let dx = Double(x) - cx
                    let blob = max(0, 1 - (dx * dx + dy * dy) / (radius * radius)) * 120
                    let offset = (y * width + x) * 3
                    buffer[offset] = UInt8(min(255, 40 + Double(x) * 150 / Double(width) + blob * 0.5))
                    buffer[offset + 1] = UInt8(min(255, second + blob))
                    buffer[offset + 2] = UInt8(min(255, third + blob * 0.3))
                }
            }
        }
        return Frame(unchecked: width, height, width * 3, format, 0, pixels)
    }

    /// A sine tone.
    public static func tone(frequency: Double, seconds: Double, sampleRate: Int, amplitude: Float = 0.5) -> AudioBuffer {
        let count = Int(seconds * Double(sampleRate))
        let step = 2 * Double.pi * frequency / Double(sampleRate)
        return AudioBuffer(samples: (0..<count).map { amplitude * Float(sin(step * Double($0))) }, sampleRate: sampleRate)
    }
}
