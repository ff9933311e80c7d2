import FaceTracking
import Foundation
import LipSync
import Media
import Speech
import Testing
import VoiceConversion

@testable import Pipeline

/// One options vocabulary for requests, flags and settings.
@Suite struct JobOptionsTests {
    @Test func valuesParseWhateverTheirCase() throws {
        #expect(try JobOverrides.parse(" Keyframes ", field: "tracking") == TrackingChoice.keyframes)
        #expect(try JobOverrides.parse("REPLACE", field: "composite") == CompositeMode.replace)
        #expect(try JobOverrides.parse("pingpong", field: "order") == FrameOrder.pingPong)
        #expect(try JobOverrides.parse("gtts", field: "tts_engine") == SpeechEngineID.gtts)
        #expect(try JobOverrides.parse("none", field: "voice_mode") == VoiceMode.none)
    }

    @Test func badValuesSayWhatIsAccepted() {
        #expect(throws: InvalidOption(field: "tracking", expected: "every, keyframes or static")) {
            let _: TrackingChoice = try JobOverrides.parse("sometimes", field: "tracking")
        }
        #expect(throws: InvalidOption(field: "tts_engine", expected: "espeak, piper, google or gtts")) {
            let _: SpeechEngineID = try JobOverrides.parse("festival", field: "tts_engine")
        }
        #expect(throws: InvalidOption(field: "pads", expected: "four numbers 0–500: top, bottom, left, right")) {
            try JobOverrides.pads([1, 2, 3], field: "pads")
        }
        #expect(throws: InvalidOption.self) { try JobOverrides.pads([0, 501, 0, 0], field: "pads") }
        let error = InvalidOption(field: "composite", expected: "blend or replace")
        #expect(error.description == "composite must be blend or replace" && error.httpStatus == 400 && error.code == "invalid_field")
    }

    @Test func overridesApplyOverDefaultsAndAreChecked() throws {
        var defaults = LipSyncOptions()
        defaults.tracking.pads = Pads(top: 1, bottom: 2, left: 3, right: 4)
        defaults.encoder.crf = 28
        let untouched = try JobOverrides().apply(to: defaults)
        #expect(untouched.tracking.pads == defaults.tracking.pads && untouched.encoder.crf == 28 && untouched.composite == .blend)

        let changed = try JobOverrides(
            tracking: .every, composite: .replace, pads: Pads(top: 0, bottom: 10, left: 0, right: 0),
            order: .loop, crf: 30, preset: "ultrafast"
        ).apply(to: defaults)
        #expect(changed.tracking.mode == .every && changed.composite == .replace && changed.frameOrder == .loop)
        #expect(changed.tracking.pads == Pads(top: 0, bottom: 10, left: 0, right: 0))
        #expect(changed.encoder.crf == 30 && changed.encoder.preset == "ultrafast")
        // An interval alone changes the interval of keyframe tracking.
        #expect(try JobOverrides(keyframeInterval: 3).apply(to: defaults).tracking.mode == .keyframes(interval: 3))

        #expect(throws: InvalidOption(field: "crf", expected: "0–51 (lower is better quality; default 18)")) {
            try JobOverrides(crf: 52).apply(to: defaults)
        }
        #expect(throws: InvalidOption.self) { try JobOverrides(preset: "warp").apply(to: defaults) }
        // Flags name themselves in errors.
        #expect(throws: InvalidOption(field: "--keyframe-interval", expected: "a number of frames 1–1000")) {
            try JobOverrides(keyframeInterval: 0).apply(to: defaults) { "--" + $0.replacingOccurrences(of: "_", with: "-") }
        }
    }
}
