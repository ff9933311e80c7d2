import FaceTracking
import LipSync
import Media
import VoiceConversion

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
        if let value = environment["DEFAULT_TRACKING"] {
            switch value.trimmingCharacters(in: .whitespaces).lowercased() {
            case "every": tracking = .every
            case "keyframes": tracking = .keyframes(interval: 5)
            case "static": tracking = .stationary
            default: throw ConfigurationError.invalid(variable: "DEFAULT_TRACKING", value: value, expected: "every, keyframes or static")
            }
        }
        if let value = environment["DEFAULT_COMPOSITE"] {
            guard let mode = CompositeMode(rawValue: value.trimmingCharacters(in: .whitespaces).lowercased()) else {
                throw ConfigurationError.invalid(variable: "DEFAULT_COMPOSITE", value: value, expected: "blend or replace")
            }
            composite = mode
        }
        if let value = environment["DEFAULT_PADS"] {
            let numbers = value.split(separator: ",").map { Int($0.trimmingCharacters(in: .whitespaces)) }
            guard numbers.count == 4, let values = numbers as? [Int], values.allSatisfy({ (0...500).contains($0) }) else {
                throw ConfigurationError.invalid(variable: "DEFAULT_PADS", value: value, expected: "four numbers 0–500: top,bottom,left,right")
            }
            pads = Pads(top: values[0], bottom: values[1], left: values[2], right: values[3])
        }
        if let value = environment["DEFAULT_VOICE_MODE"] {
            guard let mode = VoiceMode(rawValue: value.trimmingCharacters(in: .whitespaces).lowercased()) else {
                throw ConfigurationError.invalid(variable: "DEFAULT_VOICE_MODE", value: value, expected: "freevc or none")
            }
            voiceMode = mode
        }
        if let value = environment["DEFAULT_CRF"] { crf = try Configuration.parseInteger(value, variable: "DEFAULT_CRF", in: 0...51) }
        if let value = environment["DEFAULT_PRESET"] {
            let preset = value.trimmingCharacters(in: .whitespaces).lowercased()
            guard EncoderOptions.x264Presets.contains(preset) else {
                throw ConfigurationError.invalid(variable: "DEFAULT_PRESET", value: value, expected: "one of " + EncoderOptions.x264Presets.joined(separator: ", "))
            }
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
