import Foundation
public import Media
public import Speech

/// The benchmark's reference input: a 1920×1080, 30 fps selfie-like clip — the photo's face
/// region (a 200×200 crop around it) scaled to 1000×1000 on a gradient, drifting 1 px per
/// frame — with an optional voice track. Used by `lipsync bench`, `lipsync clip` and
/// `sync-bench`. Other sizes scale the face and the drift with the height.
public enum ReferenceClip {
    public static func write(
        face photoPath: String, frames: Int, audio: AudioBuffer?, to path: String,
        width: Int = 1920, height: Int = 1080
    ) throws {
        let scale = Double(height) / 1080
        let side = Int(1000 * scale)
        let photo = try StillImage.decode(photoPath).frame.cropped(x: 125, y: 40, width: 200, height: 200)
            .resized(width: side, height: side)
        let writer = try MediaWriter(
            path: path, video: VideoFormat(width: width, height: height, frameRate: Rational(30, 1)), audio: audio,
            options: EncoderOptions(preset: "veryfast", crf: 20))
        let background = TestPattern.frame(width: width, height: height, index: 0)
        let left = Int(400 * scale)
        let top = Int(40 * scale)
        for i in 0..<frames {
            var frame = background
            try frame.paste(photo, x: min(left + Int(Double(i) * scale), width - side), y: top)
            try writer.append(frame)
        }
        try writer.finish()
    }

    /// The clip's own voice: an English sentence by espeak-ng, padded with silence (or cut)
    /// to `frames` at 30 fps.
    public static func voice(frames: Int, speech: SpeechService) async throws -> AudioBuffer {
        let voice = try await speech.synthesize(
            text: "Hello, this is my own voice, and this is my face. I am recording a short clip for the lip sync server.", language: "en")
        var audio = voice.audio
        let length = Int(Double(frames) / 30 * Double(audio.sampleRate))
        audio.samples = Array((audio.samples + [Float](repeating: 0, count: max(0, length - audio.samples.count))).prefix(length))
        return audio
    }

    /// "Model name, N cores" from /proc/cpuinfo, for benchmark headers.
    public static func machine() -> String {
        let info = (try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8)) ?? ""
        let model =
            info.split(separator: "\n").first { $0.hasPrefix("model name") }?
            .split(separator: ":", maxSplits: 1).last?.trimmingCharacters(in: .whitespaces) ?? "unknown CPU"
        return "\(model), \(ProcessInfo.processInfo.activeProcessorCount) cores"
    }
}
