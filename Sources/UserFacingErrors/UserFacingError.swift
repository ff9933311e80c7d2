/// An error that describes itself to whoever made the request: the stable code and the HTTP
/// status the server answers with, the request field at fault, and a message fit for the
/// caller. Each module's errors adopt it, so the server and the CLI report any of them
/// through one generic path instead of a type-by-type mapping.
///
/// 4xx statuses are the caller's to fix; 5xx are the server's (500: its own fault, whose
/// details go to its log and never to the caller) or a service it depends on (502–504, 507).
public protocol UserFacingError: Error, CustomStringConvertible, Sendable {
    /// Machine-readable and stable: `invalid_media`, `no_face`, `invalid_text` …
    var code: String { get }
    /// The HTTP status that reports it.
    var httpStatus: Int { get }
    /// The request field at fault, in the API's names (`user_video_gs`, `word`, `tts_lang` …).
    var field: String? { get }
    /// What the caller is told (the CLI prints `description`, which may name local paths).
    var message: String { get }
}

extension UserFacingError {
    public var field: String? { nil }
    public var message: String { description }
    /// The server's own fault: the caller gets a generic message, the log gets `description`.
    public var isInternal: Bool { httpStatus == 500 }
}

/// The server's own fault, described for its log only.
public struct InternalFailure: UserFacingError {
    public let description: String
    public var code: String { "internal_error" }
    public var httpStatus: Int { 500 }

    public init(_ description: String) {
        self.description = description
    }
}
