import Foundation
import Media
import Testing

@Suite struct WAVFileTests {
    @Test func float32RoundTripIsExact() throws {
        let directory = try TemporaryDirectory()
        let path = directory.file("f.wav")
        let buffer = AudioBuffer(samples: [0, 0.25, -0.5, 1, -1, 1e-7], sampleRate: 16_000)
        try WAVFile.write(buffer, to: path)
        #expect(try WAVFile.read(path) == buffer)
        #expect(directory.contents() == ["f.wav"])  // no temporary left behind
    }

    @Test func pcm16RoundTripWithinOneStep() throws {
        let directory = try TemporaryDirectory()
        let path = directory.file("s.wav")
        let buffer = AudioBuffer(samples: [0, 0.25, -0.5, 0.999, -0.999, 1.7], sampleRate: 8_000)
        try WAVFile.write(buffer, to: path, encoding: .pcm16)
        let read = try WAVFile.read(path)
        #expect(read.sampleRate == 8_000)
        for (a, b) in zip(read.samples, buffer.samples.map { min(max(-1, $0), 32_767.0 / 32_768) }) {
            #expect(abs(a - b) <= 0.5 / 32_768 + 1e-7)
        }
    }

    @Test func unwritablePathFailsCleanly() throws {
        let error = #expect(throws: MediaError.self) {
            try WAVFile.write(AudioBuffer(samples: [0], sampleRate: 16_000), to: "/nonexistent-dir/x.wav")
        }
        guard case .writeFailed? = error else {
            Issue.record("expected writeFailed, got \(String(describing: error))")
            return
        }
    }
}
