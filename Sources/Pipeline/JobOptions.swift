public import FaceTracking
import Foundation
public import LipSync
import Media
public import Speech
public import UserFacingErrors
public import VoiceConversion

/// Face tracking as a job names it (`tracking` in a request, `--tracking`, `DEFAULT_TRACKING`).
public enum TrackingChoice: String, Sendable, Equatable, CaseIterable, Codable {
    /// Detect on every frame, as the original.
    case every
    /// Detect on every `keyframeInterval`-th frame and interpolate (the default).
    case keyframes
    /// Detect on the first frame only.
    case `static`

    public static let defaultKeyframeInterval = 5

    public func mode(keyframeInterval: Int = defaultKeyframeInterval) -> TrackingMode {
        switch self {
        case .every: .every
        case .keyframes: .keyframes(interval: keyframeInterval)
        case .static: .stationary
        }
    }
}

/// The optional settings of a job, in one vocabulary for the HTTP request, the CLI's flags
/// and the `DEFAULT_*` settings: each is parsed by `JobOverrides.parse` (one message for a bad
/// value, listing what is accepted) and applied by `apply(to:)` (one range check). What is
/// nil keeps the value it is applied to.
public struct JobOverrides: Sendable, Equatable {
    public var tracking: TrackingChoice?
    public var keyframeInterval: Int?
    public var composite: CompositeMode?
    public var pads: Pads?
    public var order: FrameOrder?
    /// x264 constant rate factor 0–51 and preset.
    public var crf: Int?
    public var preset: String?
    public var engine: SpeechEngineID?
    public var voiceMode: VoiceMode?

    public init(
        tracking: TrackingChoice? = nil, keyframeInterval: Int? = nil, composite: CompositeMode? = nil, pads: Pads? = nil,
        order: FrameOrder? = nil, crf: Int? = nil, preset: String? = nil, engine: SpeechEngineID? = nil,
        voiceMode: VoiceMode? = nil
    ) {
        self.tracking = tracking
        self.keyframeInterval = keyframeInterval
        self.composite = composite
        self.pads = pads
        self.order = order
        self.crf = crf
        self.preset = preset
        self.engine = engine
        self.voiceMode = voiceMode
    }

    /// `text` as one of `T`'s values (case and surrounding spaces ignored).
    public static func parse<T: RawRepresentable & CaseIterable>(_ text: String, field: String) throws(InvalidOption) -> T
    where T.RawValue == String {
        let wanted = text.trimmingCharacters(in: .whitespaces).lowercased()
        guard let value = T.allCases.first(where: { $0.rawValue == wanted }) else {
            throw InvalidOption(field: field, expected: listing(T.allCases.map(\.rawValue)))
        }
        return value
    }

    /// Four numbers 0–500, top, bottom, left, right.
    public static func pads(_ numbers: [Int], field: String) throws(InvalidOption) -> Pads {
        guard numbers.count == 4, numbers.allSatisfy({ (0...500).contains($0) }) else {
            throw InvalidOption(field: field, expected: "four numbers 0–500: top, bottom, left, right")
        }
        return Pads(top: numbers[0], bottom: numbers[1], left: numbers[2], right: numbers[3])
    }

    /// `options` with these overrides, each checked; `field` names a setting in errors (the
    /// request's field names by default).
    public func apply(to options: LipSyncOptions, field: (String) -> String = { $0 }) throws(InvalidOption) -> LipSyncOptions {
        var options = options
        if let keyframeInterval, !(1...1000).contains(keyframeInterval) {
            throw InvalidOption(field: field("keyframe_interval"), expected: "a number of frames 1–1000")
        }
        if let tracking {
            options.tracking.mode = tracking.mode(keyframeInterval: keyframeInterval ?? TrackingChoice.defaultKeyframeInterval)
        } else if let keyframeInterval, case .keyframes = options.tracking.mode {
            options.tracking.mode = .keyframes(interval: keyframeInterval)
        }
        if let composite { options.composite = composite }
        if let pads { options.tracking.pads = try Self.pads([pads.top, pads.bottom, pads.left, pads.right], field: field("pads")) }
        if let order { options.frameOrder = order }
        if let crf {
            guard (0...51).contains(crf) else {
                throw InvalidOption(field: field("crf"), expected: "0–51 (lower is better quality; default 18)")
            }
            options.encoder.crf = crf
        }
        if let preset {
            guard EncoderOptions.x264Presets.contains(preset) else {
                throw InvalidOption(field: field("preset"), expected: "one of " + EncoderOptions.x264Presets.joined(separator: ", "))
            }
            options.encoder.preset = preset
        }
        return options
    }

    /// "a, b or c".
    public static func listing(_ names: [String]) -> String {
        names.count < 2 ? names.joined() : names.dropLast().joined(separator: ", ") + " or " + names[names.count - 1]
    }
}

/// A job setting with a value that is not accepted (400 `invalid_field`).
public struct InvalidOption: UserFacingError, Equatable {
    /// The request field, flag or setting at fault.
    public var field: String?
    /// What is accepted.
    public var expected: String

    public init(field: String, expected: String) {
        self.field = field
        self.expected = expected
    }

    public var code: String { "invalid_field" }
    public var httpStatus: Int { 400 }
    public var description: String { "\(field ?? "the value") must be \(expected)" }
}
