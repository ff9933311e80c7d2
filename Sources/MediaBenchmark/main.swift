import ArgumentParser
import Composition
import Foundation
import Logging
import Media

/// Media micro-benchmark: H.264 encode and decode throughput at 1080p, decoding only the
/// first frames versus all of them, and the cost of the downscaled detection copy and of
/// rotation. Prints measured numbers; nothing is asserted.
@main
struct MediaBenchmark: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "media-bench", abstract: "Time FFmpeg-based encoding and decoding in the Media module.")

    @Option(help: "Picture width.") var width = 1920
    @Option(help: "Picture height.") var height = 1080
    @Option(help: "Frames in the long clip.") var frames = 159
    @Option(help: "Frames in the short clip / the partial decode.") var firstFrames = 30
    @Option(help: "x264 preset.") var preset = "veryfast"
    @Option(help: "x264 CRF.") var crf = 18
    @Option(help: "Longer side of the detection copy.") var detectionSide = 320
    @Option(help: "Also compare x264 presets (comma-separated) on the reference clip's pictures: time, size, PSNR.")
    var presets: String?
    @Option(help: "Face photo of the reference clip (for --presets).") var face = ".fixtures/faces/astronaut.png"
    @Option(help: "Frames encoded per preset (for --presets; 42: the word case).") var presetFrames = 42
    @Option(help: "Encodes per preset; the median is reported (for --presets).") var presetRuns = 3

    func run() throws {
        FFmpegLog.route(to: Logger(label: "media-bench.ffmpeg"), level: .error)
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("media-bench-\(UUID())").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        print(
            "Media benchmark — FFmpeg \(FFmpegLibraries.loaded().release), \(ReferenceClip.machine()), "
                + "\(width)×\(height), preset \(preset), CRF \(crf)")

        let patterns = (0..<20).map { TestPattern.frame(width: width, height: height, index: $0) }
        let audio = TestPattern.tone(frequency: 220, seconds: Double(frames) / 25, sampleRate: 16_000)
        let options = EncoderOptions(preset: preset, crf: crf)
        let format = VideoFormat(width: width, height: height, frameRate: Rational(25, 1))

        for count in [firstFrames, frames] {
            let path = "\(directory)/clip-\(count).mp4"
            let seconds = try time {
                let writer = try MediaWriter(path: path, video: format, audio: audio, options: options)
                for index in 0..<count { try writer.append(patterns[index % patterns.count]) }
                try writer.finish()
            }
            report("encode \(count) frames (H.264+AAC, MP4)", seconds: seconds, frames: count)
        }

        let clip = "\(directory)/clip-\(frames).mp4"
        let all = try time { _ = try VideoDecoder(path: clip).allFrames() }
        report("decode all \(frames) frames (BGR24)", seconds: all, frames: frames)
        let first = try time { _ = try VideoDecoder(path: clip).frames(upTo: firstFrames) }
        report("decode first \(firstFrames) frames only", seconds: first, frames: firstFrames)
        let withCopy = try time {
            _ = try VideoDecoder(path: clip, options: DecodeOptions(detectionMaxSide: detectionSide)).frames(upTo: firstFrames)
        }
        report("decode first \(firstFrames) + \(detectionSide)px detection copy", seconds: withCopy, frames: firstFrames)
        print(
            String(
                format: "  swscale downscale to %dpx (difference): %.2f ms/frame", detectionSide,
                (withCopy - first) / Double(firstFrames) * 1e3))

        let rotation = try time { for frame in patterns { _ = frame.rotated(clockwise: 90) } }
        print(String(format: "  rotate 90° (Swift, %d×%d BGR): %.2f ms/frame", width, height, rotation / Double(patterns.count) * 1e3))
        if let presets { try comparePresets(presets.split(separator: ",").map(String.init), directory: directory) }
    }

    /// Each preset encodes the same pictures of the reference clip (a face on a moving
    /// gradient, what the lip-sync output looks like) at `crf`: median wall time, file size,
    /// and PSNR of the decoded pictures against the pictures given to the encoder.
    private func comparePresets(_ presets: [String], directory: String) throws {
        let source = "\(directory)/reference.mp4"
        try ReferenceClip.write(face: face, frames: presetFrames, audio: nil, to: source, width: width, height: height)
        let pictures = try VideoDecoder(path: source).frames(upTo: presetFrames).map(\.frame)
        let audio = TestPattern.tone(frequency: 220, seconds: Double(pictures.count) / 30, sampleRate: 16_000)
        let format = VideoFormat(width: width, height: height, frameRate: Rational(30, 1))
        print("\nx264 presets, \(pictures.count) frames of the reference clip, CRF \(crf), median of \(presetRuns) encodes:")
        print("  preset        seconds   frames/s    size (KB)   PSNR (dB)")
        for preset in presets {
            let path = "\(directory)/preset-\(preset).mp4"
            var seconds: [Double] = []
            for _ in 0..<max(1, presetRuns) {
                seconds.append(
                    try time {
                        let writer = try MediaWriter(
                            path: path, video: format, audio: audio, options: EncoderOptions(preset: preset, crf: crf))
                        for picture in pictures { try writer.append(picture) }
                        try writer.finish()
                    })
            }
            seconds.sort()
            let decoded = try VideoDecoder(path: path).frames(upTo: pictures.count).map(\.frame)
            var squared = 0.0
            var count = 0
            for (a, b) in zip(pictures, decoded) {
                for (x, y) in zip(a.pixels, b.pixels) {
                    let d = Double(Int(x) - Int(y))
                    squared += d * d
                }
                count += a.pixels.count
            }
            let psnr = 10 * log10(255 * 255 / max(squared / Double(max(1, count)), 1e-12))
            let size = (try FileManager.default.attributesOfItem(atPath: path)[.size] as? Int) ?? 0
            let median = seconds[seconds.count / 2]
            print(
                "  " + preset.padding(toLength: 12, withPad: " ", startingAt: 0)
                    + String(format: "%8.3f %10.1f %12.0f %11.2f", median, Double(pictures.count) / median, Double(size) / 1024, psnr))
        }
    }

    private func time(_ body: () throws -> Void) throws -> Double {
        let start = ContinuousClock.now
        try body()
        let elapsed = (ContinuousClock.now - start).components
        return Double(elapsed.seconds) + Double(elapsed.attoseconds) / 1e18
    }

    private func report(_ label: String, seconds: Double, frames: Int) {
        print(String(format: "  %@: %.3f s, %.1f frames/s", label, seconds, Double(frames) / seconds))
    }
}
