import Foundation
import Inference
import Logging
import Media
import TestFixtures
import Testing

@testable import LipSync

enum LipSyncFixtures {
    static var root: String { TestFixtures.root }

    static var environment: InferenceEnvironment { TestFixtures.inference }

    static func manifest() throws -> ModelManifest { try ModelManifest(directory: root + "/models") }

    static func session(_ kind: String) throws -> InferenceSession {
        try InferenceSession(environment: environment, modelPath: manifest().path(of: kind))
    }
}

@Suite struct MelSpectrogramTests {
    /// The original: start = int(i·80/fps); when start + 16 > T, append mel[:, T−16:] and stop.
    func reference(melFrames: Int, fps: Double) -> [Int] {
        var starts: [Int] = []
        var i = 0
        while true {
            let start = Int(Double(i) * (80.0 / fps))
            if start + 16 > melFrames {
                starts.append(melFrames - 16)
                return starts
            }
            starts.append(start)
            i += 1
        }
    }

    @Test(arguments: [25.0, 30000.0 / 1001.0, 30.0])
    func chunkStartsFollowTheOriginal(fps: Double) {
        for frames in [16, 17, 81, 97, 401, 1234] {
            let starts = MelSpectrogram.chunkStarts(melFrames: frames, fps: fps)
            #expect(starts == reference(melFrames: frames, fps: fps), "fps \(fps), T \(frames)")
            #expect(starts.last == frames - 16)
        }
        #expect(MelSpectrogram.chunkStarts(melFrames: 15, fps: fps).isEmpty)
    }

    @Test func oneSecondAt25FpsGives22Chunks() {
        // 1 s of 16 kHz speech → 81 mel frames; i·3.2 + 16 ≤ 81 for i ≤ 20, then the tail.
        let starts = MelSpectrogram.chunkStarts(melFrames: 81, fps: 25)
        #expect(starts.count == 22)
        #expect(starts.suffix(2) == [64, 65])
    }

    @Test func frontEndShapesAndPadding() throws {
        let frontEnd = MelFrontEnd(session: try LipSyncFixtures.session("wav2lip_mel"))
        let second = try frontEnd.spectrogram(of: TestPattern.tone(frequency: 300, seconds: 1, sampleRate: 16_000))
        #expect(second.bins == 80 && second.frames == 81)
        #expect(second.values.allSatisfy { $0 >= -4 && $0 <= 4 })
        // 22.05 kHz input is resampled; very short speech is padded to one full chunk.
        let short = try frontEnd.spectrogram(of: TestPattern.tone(frequency: 300, seconds: 0.05, sampleRate: 22_050))
        #expect(short.frames == 16)
        let chunk = second.chunk(at: 65)
        #expect(chunk.count == 80 * 16)
        #expect(chunk[0] == second.values[65] && chunk[16] == second.values[81 + 65])
    }
}

@Suite struct FrameScheduleTests {
    @Test func speechShorterThanVideoUsesTheFirstFrames() {
        let schedule = FrameSchedule(outputCount: 4, sourceCount: 10, order: .pingPong)
        #expect(schedule.sourceIndices == [0, 1, 2, 3])
        #expect(schedule.sourceFramesNeeded == 4)
    }

    @Test func longerSpeechPingPongsOrLoops() {
        #expect(FrameSchedule(outputCount: 9, sourceCount: 4, order: .pingPong).sourceIndices == [0, 1, 2, 3, 2, 1, 0, 1, 2])
        #expect(FrameSchedule(outputCount: 9, sourceCount: 4, order: .loop).sourceIndices == [0, 1, 2, 3, 0, 1, 2, 3, 0])
        #expect(FrameSchedule(outputCount: 3, sourceCount: 1, order: .pingPong).sourceIndices == [0, 0, 0])
    }
}
