import Foundation
import Media
import Testing

@Suite struct AudioDecoderTests {
    /// 48 kHz → 16 kHz keeps the length and the pitch.
    @Test func resamplesWAVTo16kHz() throws {
        let directory = try TemporaryDirectory()
        let path = directory.file("tone.wav")
        try WAVFile.write(SyntheticMedia.tone(frequency: 440, seconds: 2, sampleRate: 48_000), to: path)
        let audio = try AudioDecoder.decode(path, sampleRate: 16_000)
        #expect(audio.sampleRate == 16_000)
        #expect(abs(audio.samples.count - 32_000) <= 16)
        #expect(abs(SyntheticMedia.frequency(of: audio) - 440) < 1)
        let peak = audio.samples.dropFirst(1600).dropLast(1600).map(abs).max() ?? 0
        #expect(abs(peak - 0.5) < 0.02)
    }

    @Test func keepsTheFileRateByDefault() throws {
        let directory = try TemporaryDirectory()
        let path = directory.file("tone.wav")
        let tone = SyntheticMedia.tone(frequency: 1000, seconds: 0.25, sampleRate: 22_050)
        try WAVFile.write(tone, to: path)
        let audio = try AudioDecoder.decode(path)
        #expect(audio == tone)  // float32 WAV, same rate: bit-exact
    }

    @Test func decodesAVideosAACTrack() throws {
        let directory = try TemporaryDirectory()
        let path = directory.file("clip.mp4")
        try SyntheticMedia.writeClip(to: path, frameCount: 50, audio: SyntheticMedia.tone(frequency: 330, seconds: 2, sampleRate: 48_000))
        let audio = try AudioDecoder.decode(path, sampleRate: 16_000)
        #expect(abs(audio.duration - 2) < 0.1)
        #expect(abs(SyntheticMedia.frequency(of: audio) - 330) < 2)
    }

    @Test func decodesOpusInWebM() throws {
        let directory = try TemporaryDirectory()
        let path = directory.file("clip.webm")
        try SyntheticMedia.writeClip(
            to: path, frameCount: 25, audio: SyntheticMedia.tone(frequency: 500, seconds: 1, sampleRate: 48_000),
            options: EncoderOptions(container: .webm, videoCodec: .vp9, audioCodec: .opus, crf: 30))
        let audio = try AudioDecoder.decode(path, sampleRate: 16_000)
        #expect(abs(SyntheticMedia.frequency(of: audio) - 500) < 3)
    }

    @Test func decodesMP3() throws {
        let directory = try TemporaryDirectory()
        let path = directory.file("voice.mp3")
        let writer = try MediaWriter(
            path: path, video: nil, audio: SyntheticMedia.tone(frequency: 600, seconds: 1, sampleRate: 22_050),
            options: EncoderOptions(container: .mp3, audioCodec: .mp3))
        try writer.finish()
        #expect(try MediaProbe.probe(path).audio?.codec == "mp3")
        let audio = try AudioDecoder.decode(path, sampleRate: 16_000)
        #expect(abs(audio.duration - 1) < 0.1)
        #expect(abs(SyntheticMedia.frequency(of: audio) - 600) < 3)
    }

    @Test func videoWithoutAudioIsAnError() throws {
        let directory = try TemporaryDirectory()
        let path = directory.file("silent.mp4")
        try SyntheticMedia.writeClip(to: path, frameCount: 5, audio: nil)
        #expect(throws: MediaError.noAudioStream) { try AudioDecoder.decode(path, sampleRate: 16_000) }
    }

    @Test func rejectsImpossibleRates() throws {
        let directory = try TemporaryDirectory()
        let path = directory.file("tone.wav")
        try WAVFile.write(SyntheticMedia.tone(frequency: 440, seconds: 0.1, sampleRate: 16_000), to: path)
        #expect(throws: MediaError.self) { try AudioDecoder.decode(path, sampleRate: 0) }
        #expect(throws: MediaError.self) { try AudioDecoder.decode(path, sampleRate: -16_000) }
    }

    /// A WAV header that promises more data than the file holds, and one cut inside the header.
    @Test func brokenWAVFiles() throws {
        let directory = try TemporaryDirectory()
        let good = directory.file("good.wav")
        try WAVFile.write(SyntheticMedia.tone(frequency: 440, seconds: 0.5, sampleRate: 16_000), to: good)
        let data = try Data(contentsOf: URL(fileURLWithPath: good))
        let headerOnly = directory.file("header.wav")
        try data.prefix(30).write(to: URL(fileURLWithPath: headerOnly))
        #expect(throws: MediaError.self) { try AudioDecoder.decode(headerOnly) }
        // Cut mid-data: FFmpeg reads what is there; the result is shorter, not a crash.
        let cut = directory.file("cut.wav")
        try data.prefix(44 + 4000).write(to: URL(fileURLWithPath: cut))
        #expect(try AudioDecoder.decode(cut).samples.count == 1000)
    }
}
