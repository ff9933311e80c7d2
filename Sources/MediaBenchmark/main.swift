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
