/// Failures of the speech engines, phrased for the person who has to fix them.
public enum SpeechError: Error, Equatable, Sendable, CustomStringConvertible {
    /// libespeak-ng could not start (its data directory is missing or unreadable).
    case espeakUnavailable(String)

    public var description: String {
        switch self {
        case .espeakUnavailable(let reason):
            return "espeak-ng is unavailable: \(reason) (Debian: apt-get install espeak-ng-data)"
        }
    }
}
