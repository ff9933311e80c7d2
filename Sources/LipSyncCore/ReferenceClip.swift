import Foundation
import Media

/// The benchmark's reference input: a 1920×1080, 30 fps selfie-like clip — the photo's face
/// region (a 200×200 crop around it) scaled to 1000×1000 on a gradient, drifting 1 px per
/// frame — with an optional voice track. Used by `lipsync bench` and `sync-bench`.
public enum ReferenceClip {
    public static func write(face photoPath: String, frames: Int, audio: AudioBuffer?, to path: String) throws {
        let photo = try StillImage.decode(photoPath).frame.cropped(x: 125, y: 40, width: 200, height: 200).resized(width: 1000, height: 1000)
        let writer = try MediaWriter(path: path, video: VideoFormat(width: 1920, height: 1080, frameRate: Rational(30, 1)), audio: audio,
                                     options: EncoderOptions(preset: "veryfast", crf: 20))
        let background = TestPattern.frame(width: 1920, height: 1080, index: 0)
        for i in 0..<frames {
            var frame = background
            try frame.paste(photo, x: 400 + i, y: 40)
            try writer.append(frame)
        }
        try writer.finish()
    }

    /// "Model name, N cores" from /proc/cpuinfo, for benchmark headers.
    public static func machine() -> String {
        let info = (try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8)) ?? ""
        let model = info.split(separator: "\n").first { $0.hasPrefix("model name") }?
            .split(separator: ":", maxSplits: 1).last?.trimmingCharacters(in: .whitespaces) ?? "unknown CPU"
        return "\(model), \(ProcessInfo.processInfo.activeProcessorCount) cores"
    }
}
