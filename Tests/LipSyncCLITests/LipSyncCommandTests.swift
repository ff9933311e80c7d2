import Foundation
import Media
import TestFixtures
import Testing

/// Runs the built `lipsync` binary as a user would.
@Suite struct LipSyncCommandTests {
    struct Result {
        let status: Int32
        let standardOutput: String
        let standardError: String
    }

    static var binary: URL {
        // The test bundle and the executables are built into the same directory.
        URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("lipsync")
    }

    func lipsync(_ arguments: [String], environment: [String: String] = [:]) throws -> Result {
        let process = Process()
        process.executableURL = Self.binary
        process.arguments = arguments
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { _, new in new }
        let output = Pipe()
        let error = Pipe()
        process.standardOutput = output
        process.standardError = error
        try process.run()
        let outData = output.fileHandleForReading.readDataToEndOfFile()
        let errData = error.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return Result(
            status: process.terminationStatus,
            standardOutput: String(decoding: outData, as: UTF8.self),
            standardError: String(decoding: errData, as: UTF8.self))
    }

    /// `lipsync generate` draws a progress line on a terminal (a pseudo-terminal from
    /// `script`) and writes none when its output is a pipe.
    @Test func generateShowsProgressOnlyOnATerminal() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("lipsync-cli-\(UUID())").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let arguments = [
            "generate", "--video", Self.fixtures + "/faces/astronaut.png", "--text", "hello there", "--lang", "en",
            "--models", Self.fixtures + "/models", "--out", directory + "/piped.mp4", "--log-level", "error",
        ]
        let piped = try lipsync(arguments)
        #expect(piped.status == 0, "\(piped.standardError)")
        #expect(!piped.standardError.contains("\r") && !piped.standardError.contains("frames  "), "\(piped.standardError)")

        let quoted = ([Self.binary.path] + arguments.dropLast(4) + ["--out", directory + "/tty.mp4", "--log-level", "error"])
            .map { "'" + $0.replacingOccurrences(of: "'", with: "'\\''") + "'" }.joined(separator: " ")
        let (status, text) = try TestFixtures.run("/usr/bin/script", ["-qefc", quoted, "/dev/null"])
        #expect(status == 0, "\(text)")
        #expect(text.contains("text to speech") && text.contains("lip-sync render") && text.contains(" frames  100 %"), "\(text)")
        #expect(FileManager.default.fileExists(atPath: directory + "/tty.mp4"))
    }

    /// ONNX Runtime's telemetry (a device id and an event database under the home folder's
    /// `.cache/Microsoft`, uploaded when it can be) stays off unless the operator asks for it.
    @Test func onnxRuntimeTelemetryIsOffByDefault() throws {
        let home = FileManager.default.temporaryDirectory.appendingPathComponent("lipsync-home-\(UUID())").path
        try FileManager.default.createDirectory(atPath: home, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: home) }
        var environment = ProcessInfo.processInfo.environment
        environment["ORT_DISABLE_TELEMETRY"] = nil
        environment["HOME"] = home
        let process = Process()
        process.executableURL = Self.binary
        process.arguments = ["doctor", "--log-level", "error"]
        process.environment = environment
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        process.waitUntilExit()
        #expect(!FileManager.default.fileExists(atPath: home + "/.cache/Microsoft"), "ONNX Runtime wrote telemetry into \(home)")
        // Asked for, it is left on: this ONNX Runtime build does keep telemetry (unless it
        // sees a CI environment, which it leaves alone), so the check above can fail.
        let opted = try lipsync(["doctor", "--log-level", "error"], environment: ["HOME": home, "ORT_DISABLE_TELEMETRY": "0"])
        #expect(opted.status == 0 || opted.status == 1)
    }

    @Test func probePrintsVideoInfoJSON() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("lipsync-cli-\(UUID())").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let path = directory + "/clip.mp4"
        let writer = try MediaWriter(
            path: path, video: VideoFormat(width: 64, height: 48, frameRate: Rational(25, 1)),
            audio: TestPattern.tone(frequency: 440, seconds: 0.4, sampleRate: 16_000))
        for index in 0..<10 { try writer.append(TestPattern.frame(width: 64, height: 48, index: index)) }
        try writer.finish()

        let result = try lipsync(["probe", path])
        #expect(result.status == 0, "\(result.standardError)")
        let info = try JSONDecoder().decode(VideoInfo.self, from: Data(result.standardOutput.utf8))
        #expect(info.video?.frameCount == 10)
        #expect(info.video?.codec == "h264")
        #expect(info.audio?.sampleRate == 16_000)
    }

    @Test func probeReportsBadInputOnStandardError() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("not-media-\(UUID()).mp4").path
        try Data("this is a text file, not a video".utf8).write(to: URL(fileURLWithPath: path))
        defer { try? FileManager.default.removeItem(atPath: path) }
        let result = try lipsync(["probe", path])
        #expect(result.status == 1)
        #expect(result.standardOutput.isEmpty)
        // FFmpeg's own warning may be logged first; the last line is the verdict.
        let lastLine = result.standardError.split(separator: "\n").last.map(String.init) ?? ""
        #expect(lastLine.hasPrefix("lipsync probe: not a video or audio file"))
    }

    @Test func probeAppliesConfiguredLimits() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("big-\(UUID()).wav").path
        try WAVFile.write(TestPattern.tone(frequency: 440, seconds: 1, sampleRate: 16_000), to: path)
        defer { try? FileManager.default.removeItem(atPath: path) }
        let result = try lipsync(["probe", path], environment: ["MAX_INPUT_BYTES": "1000"])
        #expect(result.status == 1)
        #expect(result.standardError.contains("over the limit of 0.0 MB"))
    }

    @Test func invalidConfigurationIsNamed() throws {
        let result = try lipsync(["doctor"], environment: ["LOG_LEVEL": "loud"])
        #expect(result.status != 0)
        #expect(result.standardError.contains("LOG_LEVEL=loud is invalid"))
    }

    @Test func doctorReportsTheLibraries() throws {
        let result = try lipsync(["doctor"])
        #expect(result.status == 0, "\(result.standardOutput)\(result.standardError)")
        #expect(result.standardOutput.contains("ONNX Runtime "))
        #expect(result.standardOutput.contains("libavcodec "))
        #expect(result.standardOutput.contains("Korean voice: Korean"))
        #expect(result.standardOutput.hasSuffix("status: ok\n"))
    }

    @Test func saySpeaksKoreanToAWAV() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("say-\(UUID()).wav").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        let result = try lipsync(["say", "--text", "안녕하세요", "--lang", "ko", "--out", path])
        #expect(result.status == 0, "\(result.standardError)")
        #expect(result.standardOutput.contains("engine: espeak\nvoice: ko\n"))
        #expect(result.standardOutput.contains("synthesis: "))
        let audio = try WAVFile.read(path)
        #expect(audio.sampleRate == 16_000)
        #expect(audio.duration > 0.4 && audio.duration < 3)
    }

    @Test func sayRejectsBadTextAndLanguage() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("say-\(UUID()).wav").path
        let empty = try lipsync(["say", "--text", "   ", "--lang", "ko", "--out", path])
        #expect(empty.status == 1)
        #expect(empty.standardError.contains("lipsync say: the text is empty"))
        let klingon = try lipsync(["say", "--text", "nuqneH", "--lang", "tlh", "--out", path])
        #expect(klingon.status == 1)
        #expect(klingon.standardError.contains("language 'tlh' is not supported; supported: "))
        let engine = try lipsync(["say", "--text", "hi", "--lang", "en", "--engine", "google", "--out", path])
        #expect(engine.status == 1)
        #expect(engine.standardError.contains("the speech engine 'google' is not available"))
        #expect(!FileManager.default.fileExists(atPath: path))
    }

    static var fixtures: String {
        TestFixtures.root
    }

    @Test func syncRendersAndPrintsTheTimingTable() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("lipsync-sync-\(UUID())").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let photo = try StillImage.decode(Self.fixtures + "/faces/astronaut.png").frame
        let writer = try MediaWriter(
            path: directory + "/face.mp4", video: VideoFormat(width: 400, height: 400, frameRate: Rational(30, 1)), audio: nil)
        for i in 0..<12 { try writer.append(try photo.cropped(x: 50 + i, y: 20, width: 400, height: 400)) }
        try writer.finish()
        try WAVFile.write(TestPattern.tone(frequency: 200, seconds: 0.6, sampleRate: 22_050), to: directory + "/speech.wav")

        let result = try lipsync([
            "sync", "--video", directory + "/face.mp4", "--audio", directory + "/speech.wav",
            "--out", directory + "/out.mp4", "--models", Self.fixtures + "/models",
        ])
        #expect(result.status == 0, "\(result.standardError)")
        #expect(result.standardOutput.contains("400×400 at 30/1 fps"))
        for step in ["mel", "decode", "track faces", "lip-sync inference", "composite", "encode", "total"] {
            #expect(result.standardOutput.contains(step))
        }
        #expect(result.standardError.contains("serving a stand-in model"))
        #expect(try MediaProbe.probe(directory + "/out.mp4").video?.width == 400)
        // The faces were found by the scan that ran while the generator loaded: it is counted.
        #expect(result.standardOutput.contains("detector ran on ") && !result.standardOutput.contains("detector ran on 0 frames"))

        // A video without a face fails in that scan: status 1, the reason, no output file.
        let blank = try MediaWriter(
            path: directory + "/blank.mp4", video: VideoFormat(width: 160, height: 120, frameRate: Rational(25, 1)), audio: nil)
        for _ in 0..<6 { try blank.append(try Frame(width: 160, height: 120, pixels: [UInt8](repeating: 90, count: 160 * 120 * 3))) }
        try blank.finish()
        let noFace = try lipsync([
            "sync", "--video", directory + "/blank.mp4", "--audio", directory + "/speech.wav",
            "--out", directory + "/z.mp4", "--models", Self.fixtures + "/models",
        ])
        #expect(noFace.status == 1)
        #expect(noFace.standardError.contains("no face found in frame 0"), "\(noFace.standardError)")
        #expect(!FileManager.default.fileExists(atPath: directory + "/z.mp4"))

        // Speech over the limit is refused before the video is scanned: the blank video's
        // missing face is never reached.
        try WAVFile.write(TestPattern.tone(frequency: 200, seconds: 31, sampleRate: 16_000), to: directory + "/long.wav")
        let tooLong = try lipsync([
            "sync", "--video", directory + "/blank.mp4", "--audio", directory + "/long.wav",
            "--out", directory + "/w.mp4", "--models", Self.fixtures + "/models",
        ])
        #expect(tooLong.status == 1)
        #expect(tooLong.standardError.contains("longer than the limit of 30.0 s"), "\(tooLong.standardError)")
        #expect(!tooLong.standardError.contains("no face"), "\(tooLong.standardError)")
        #expect(!FileManager.default.fileExists(atPath: directory + "/w.mp4"))

        let missing = try lipsync([
            "sync", "--video", directory + "/face.mp4", "--audio", directory + "/speech.wav",
            "--out", directory + "/x.mp4", "--models", directory,
        ])
        #expect(missing.status == 1)
        #expect(missing.standardError.contains("no model manifest"))
        let badBox = try lipsync([
            "sync", "--video", directory + "/face.mp4", "--audio", directory + "/speech.wav",
            "--out", directory + "/y.mp4", "--models", Self.fixtures + "/models", "--box", "0", "500", "0", "100",
        ])
        #expect(badBox.status == 1)
        #expect(badBox.standardError.contains("does not lie inside the 400×400 frame"))
    }

    @Test func voiceConvertsAndReportsTheSpan() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("lipsync-voice-\(UUID())").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let reference = try lipsync(["say", "--text", "this is the voice I want", "--lang", "en", "--out", directory + "/ref.wav"])
        #expect(reference.status == 0)
        try WAVFile.write(TestPattern.tone(frequency: 220, seconds: 1, sampleRate: 16_000), to: directory + "/speech.wav")
        let result = try lipsync([
            "voice", "--reference", directory + "/ref.wav", "--speech", directory + "/speech.wav",
            "--out", directory + "/out.wav", "--models", Self.fixtures + "/models", "--seed", "5",
        ])
        #expect(result.status == 0, "\(result.standardError)")
        #expect(result.standardOutput.contains("mode: freevc, seed 5"))
        #expect(result.standardOutput.contains("reference voiced span: samples "))
        for step in ["speaker embedding", "content (WavLM)", "synthesis"] { #expect(result.standardOutput.contains(step)) }
        #expect(try WAVFile.read(directory + "/out.wav").sampleRate == 16_000)

        let none = try lipsync([
            "voice", "--reference", directory + "/ref.wav", "--speech", directory + "/speech.wav",
            "--out", directory + "/none.wav", "--models", Self.fixtures + "/models", "--mode", "none",
        ])
        #expect(none.standardOutput.contains("mode: none"))

        try WAVFile.write(AudioBuffer(samples: [Float](repeating: 0, count: 32_000), sampleRate: 16_000), to: directory + "/silence.wav")
        let silent = try lipsync([
            "voice", "--reference", directory + "/silence.wav", "--speech", directory + "/speech.wav",
            "--out", directory + "/x.wav", "--models", Self.fixtures + "/models",
        ])
        #expect(silent.status == 1)
        #expect(silent.standardError.contains("0.00 s of voiced audio"))
    }

    /// The benchmark on a short clip with the tiny models: both tables, the cache hit, and
    /// no temporary files left.
    @Test func benchPrintsBothTables() throws {
        let before = try FileManager.default.contentsOfDirectory(atPath: NSTemporaryDirectory()).filter { $0.hasPrefix("lipsync-bench-") }
        let result = try lipsync([
            "bench", "--models", Self.fixtures + "/models", "--face", Self.fixtures + "/faces/astronaut.png",
            "--frames", "12", "--runs", "2", "--warmup", "0",
        ])
        #expect(result.status == 0, "\(result.standardError)")
        let out = result.standardOutput
        #expect(out.contains("input: 1920×1080 @ 30 fps, 12 frames"))
        #expect(out.contains("2 runs after 0 warm-up, no per-video cache:"))
        #expect(out.contains("(cached: true)"))
        for step in ["text to speech", "speaker embedding", "voice conversion", "track faces", "lip-sync render", "total"] {
            #expect(
                out.components(separatedBy: "\n").filter { $0.trimmingCharacters(in: .whitespaces).hasPrefix(step) }.count == 2, "\(step)")
        }
        let after = try FileManager.default.contentsOfDirectory(atPath: NSTemporaryDirectory()).filter { $0.hasPrefix("lipsync-bench-") }
        #expect(Set(after) == Set(before))
        let bad = try lipsync(["bench", "--models", Self.fixtures + "/models", "--runs", "0"])
        #expect(bad.status != 0 && bad.standardError.contains("--runs"))
    }
}
