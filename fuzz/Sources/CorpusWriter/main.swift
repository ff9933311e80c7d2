import Foundation
import Logging
import Media

// Writes the media seeds of fuzz/corpus/ (run by fuzz/make-corpus.sh): a few frames at tiny
// sizes in each container and codec the Media module writes, so the fuzzer starts from real
// files of every kind a client sends. Each media seed is prefixed with the byte that makes the
// fuzz-media target name the file with the right extension (see MediaFuzz.swift).
//
//   fuzz-corpus-writer <media corpus dir> <wav corpus dir>

let extensions = ["", "mp4", "mov", "webm", "mkv", "m4a", "mp3", "wav", "png", "jpg", "gif", "avi", "ts", "3gp", "ogg", "flac"]

let arguments = CommandLine.arguments
guard arguments.count == 3 else {
    FileHandle.standardError.write("usage: fuzz-corpus-writer MEDIA_DIR WAV_DIR\n".data(using: .utf8)!)
    exit(2)
}
let (mediaDirectory, wavDirectory) = (arguments[1], arguments[2])
FFmpegLog.route(to: Logger(label: "corpus", factory: { _ in SwiftLogNoOpLogHandler() }), level: .error)
let scratch = NSTemporaryDirectory() + "/lipsync-corpus-\(getpid())"
try FileManager.default.createDirectory(atPath: scratch, withIntermediateDirectories: true)
defer { try? FileManager.default.removeItem(atPath: scratch) }

/// Copies `file` into the media corpus as `<name>` with the extension selector byte in front.
func addSeed(_ file: String, name: String, ext: String) throws {
    guard let selector = extensions.firstIndex(of: ext) else { fatalError("no selector for .\(ext)") }
    var data = Data([UInt8(selector)])
    data.append(try Data(contentsOf: URL(fileURLWithPath: file)))
    try data.write(to: URL(fileURLWithPath: mediaDirectory + "/" + name))
    print("\(name): \(data.count) bytes")
}

struct Clip {
    let name: String
    let ext: String
    let options: EncoderOptions
    let width: Int
    let height: Int
    let frames: Int
    let withVideo: Bool
    let withAudio: Bool
}

let clips = [
    Clip(
        name: "h264-aac.mp4", ext: "mp4", options: EncoderOptions(preset: "ultrafast", crf: 40, audioBitRate: 16_000),
        width: 16, height: 16, frames: 3, withVideo: true, withAudio: true),
    Clip(
        name: "h264-rotated90.mp4", ext: "mp4",
        options: EncoderOptions(preset: "ultrafast", crf: 45, audioBitRate: 16_000, displayRotation: 90),
        width: 24, height: 16, frames: 2, withVideo: true, withAudio: false),
    Clip(
        name: "h264-odd-size.mov", ext: "mov", options: EncoderOptions(container: .mov, preset: "ultrafast", crf: 45, audioBitRate: 16_000),
        width: 17, height: 9, frames: 2, withVideo: true, withAudio: true),
    Clip(
        name: "vp9-opus.webm", ext: "webm",
        options: EncoderOptions(container: .webm, videoCodec: .vp9, audioCodec: .opus, crf: 60, audioBitRate: 16_000),
        width: 16, height: 16, frames: 2, withVideo: true, withAudio: true),
    Clip(
        name: "h264.mkv", ext: "mkv", options: EncoderOptions(container: .matroska, preset: "ultrafast", crf: 45, audioBitRate: 16_000),
        width: 16, height: 16, frames: 2, withVideo: true, withAudio: false),
    Clip(
        name: "aac.m4a", ext: "m4a", options: EncoderOptions(container: .m4a, audioBitRate: 16_000),
        width: 0, height: 0, frames: 0, withVideo: false, withAudio: true),
    Clip(
        name: "mp3.mp3", ext: "mp3", options: EncoderOptions(container: .mp3, audioCodec: .mp3, audioBitRate: 32_000),
        width: 0, height: 0, frames: 0, withVideo: false, withAudio: true),
]

for clip in clips {
    let path = scratch + "/" + clip.name
    let audio = clip.withAudio ? TestPattern.tone(frequency: 440, seconds: 0.1, sampleRate: 16_000) : nil
    let format = clip.withVideo ? VideoFormat(width: clip.width, height: clip.height, frameRate: Rational(25, 1)) : nil
    let writer = try MediaWriter(path: path, video: format, audio: audio, options: clip.options)
    for index in 0..<clip.frames { try writer.append(TestPattern.frame(width: clip.width, height: clip.height, index: index)) }
    try writer.finish()
    try addSeed(path, name: clip.name, ext: clip.ext)
}

// WAV seeds: the writer's two encodings, at the rates the speech engines produce.
for (rate, encoding, name) in [
    (22_050, WAVFile.Encoding.pcm16, "pcm16-22050.wav"), (16_000, .float32, "float32-16000.wav"),
    (24_000, .pcm16, "pcm16-24000.wav"),
] {
    let path = wavDirectory + "/" + name
    try WAVFile.write(TestPattern.tone(frequency: 220, seconds: 0.01, sampleRate: rate), to: path, encoding: encoding)
    print("\(name): \((try FileManager.default.attributesOfItem(atPath: path)[.size] as? Int) ?? 0) bytes")
    try addSeed(path, name: name, ext: "wav")
}
