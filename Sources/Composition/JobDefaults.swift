public import FaceTracking
import Foundation
public import LipSync
import Media
import Pipeline
public import VoiceConversion

/// Defaults of a request's optional lip-sync fields (a request's own fields win).
public struct JobDefaults: Sendable, Equatable {
    /// `DEFAULT_TRACKING`: `every`, `keyframes` (every 5th frame, default) or `static`.
    public var tracking: TrackingMode = .keyframes(interval: 5)
    /// `DEFAULT_COMPOSITE`: `blend` (default) or `replace`.
    public var composite: CompositeMode = .blend
    /// `DEFAULT_PADS`: `top,bottom,left,right`, 0–500 each (default the original's `0,10,0,0`).
    public var pads: Pads = .standard
    /// `DEFAULT_CRF` (0–51, default 18) and `DEFAULT_PRESET` (x264 preset, default `veryfast`).
    public var crf = 18
    public var preset = "veryfast"
    /// `DEFAULT_VOICE_MODE`: `freevc` or `none`; unset: FreeVC when its models are installed
    /// and the video has a usable voice.
    public var voiceMode: VoiceMode?

    public init() {}

    mutating func read(_ environment: [String: String]) throws {
        /// One setting through the jobs' own parsing, its error named after the variable.
        func setting<T>(_ variable: String, _ parse: (String) throws(InvalidOption) -> T) throws -> T? {
            guard let value = environment[variable] else { return nil }
            do {
                return try parse(value)
            } catch {
                throw ConfigurationError.invalid(variable: variable, value: value, expected: error.expected)
            }
        }
        let tracking: TrackingChoice? = try setting("DEFAULT_TRACKING") { value throws(InvalidOption) in
            try JobOverrides.parse(value, field: "DEFAULT_TRACKING")
        }
        if let tracking { self.tracking = tracking.mode() }
        if let mode: CompositeMode = try setting(
            "DEFAULT_COMPOSITE",
            { value throws(InvalidOption) in
                try JobOverrides.parse(value, field: "DEFAULT_COMPOSITE")
            })
        {
            composite = mode
        }
        if let pads = try setting(
            "DEFAULT_PADS",
            { value throws(InvalidOption) in
                let numbers = value.split(separator: ",", omittingEmptySubsequences: false).map {
                    Int($0.trimmingCharacters(in: .whitespaces)) ?? -1
                }
                return try JobOverrides.pads(numbers, field: "DEFAULT_PADS")
            })
        {
            self.pads = pads
        }
        if let mode: VoiceMode = try setting(
            "DEFAULT_VOICE_MODE",
            { value throws(InvalidOption) in
                try JobOverrides.parse(value, field: "DEFAULT_VOICE_MODE")
            })
        {
            voiceMode = mode
        }
        if let value = environment["DEFAULT_CRF"] { crf = try Configuration.parseInteger(value, variable: "DEFAULT_CRF", in: 0...51) }
        if let preset = try setting(
            "DEFAULT_PRESET",
            { value throws(InvalidOption) in
                let preset = value.trimmingCharacters(in: .whitespaces).lowercased()
                _ = try JobOverrides(preset: preset).apply(to: LipSyncOptions(), field: { _ in "DEFAULT_PRESET" })
                return preset
            })
        {
            self.preset = preset
        }
    }
}

extension Configuration {
    /// The lip-sync options a request starts from: the job defaults and the media limits.
    public var lipSyncDefaults: LipSyncOptions {
        var options = LipSyncOptions(limits: mediaLimits)
        options.tracking.mode = jobDefaults.tracking
        options.tracking.pads = jobDefaults.pads
        options.composite = jobDefaults.composite
        options.encoder.crf = jobDefaults.crf
        options.encoder.preset = jobDefaults.preset
        return options
    }
}
