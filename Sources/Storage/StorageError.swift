import Foundation
public import UserFacingErrors

/// Why reading or writing an object failed. Every case names the URI (or host) involved and
/// says what is wrong in words a client can act on; `kind` groups them for HTTP mapping.
public enum StorageError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The URI itself is malformed (bad bucket name, empty object, control characters…).
    case invalidURI(String, reason: String)
    /// A scheme this deployment does not accept for this direction (e.g. https:// as output,
    /// or https:// input while it is switched off).
    case unsupportedURI(String, reason: String)
    /// A local path outside the configured roots, or one that escapes them through `..` or a symlink.
    case outsideRoots(String)
    case notFound(String)
    case permissionDenied(String, reason: String)
    case tooLarge(String, limit: Int64)
    /// An https:// input (or one of its redirects) that resolves to a non-public address.
    case refusedAddress(host: String, address: String, reason: String)
    case tooManyRedirects(String, limit: Int)
    /// gs:// used but no credentials were found in Google's usual places.
    case noCredentials(reason: String)
    /// Credentials were found but could not be used (bad key file, token endpoint refused…).
    case credentials(reason: String)
    /// The object changed while we wrote it (`ifGenerationMatch` failed with other content).
    case conflict(String)
    /// The remote side kept failing (after retries where the operation allows them).
    case upstream(String, status: Int?, message: String)
    case timedOut(String)
    /// The filesystem holding `path` is full (ENOSPC, EDQUOT).
    case noSpace(String)

    public enum Kind: Sendable {
        case badRequest, notFound, forbidden, tooLarge, conflict, unavailable, configuration, timeout, insufficientStorage
    }

    public var kind: Kind {
        switch self {
        case .invalidURI, .unsupportedURI, .outsideRoots, .refusedAddress, .tooManyRedirects: .badRequest
        case .notFound: .notFound
        case .permissionDenied: .forbidden
        case .tooLarge: .tooLarge
        case .conflict: .conflict
        case .upstream: .unavailable
        case .noCredentials, .credentials: .configuration
        case .timedOut: .timeout
        case .noSpace: .insufficientStorage
        }
    }

    public var description: String {
        switch self {
        case .invalidURI(let uri, let reason): "invalid storage URI \(Self.quoted(uri)): \(reason)"
        case .unsupportedURI(let uri, let reason): "unsupported storage URI \(Self.quoted(uri)): \(reason)"
        case .outsideRoots(let path): "path \(Self.quoted(path)) is outside the allowed storage roots"
        case .notFound(let uri): "object not found: \(uri)"
        case .permissionDenied(let uri, let reason): "permission denied for \(uri): \(reason)"
        case .tooLarge(let uri, let limit): "\(uri) is larger than the limit of \(limit) bytes"
        case .refusedAddress(let host, let address, let reason):
            "refused to fetch from \(host): it resolves to \(address), \(reason)"
        case .tooManyRedirects(let uri, let limit): "\(uri): more than \(limit) redirects"
        case .noCredentials(let reason): "no Google Cloud credentials for gs:// URIs: \(reason)"
        case .credentials(let reason): "Google Cloud credentials unusable: \(reason)"
        case .conflict(let uri): "\(uri) was changed by someone else while it was being written"
        case .upstream(let uri, let status, let message):
            "storage request for \(uri) failed" + (status.map { " (HTTP \($0))" } ?? "") + ": \(message)"
        case .timedOut(let uri): "storage request for \(uri) timed out"
        case .noSpace(let path): "no space left on the device holding \(path)"
        }
    }

    /// URIs in messages are cut short and stripped of control characters.
    static func quoted(_ text: String) -> String {
        let clean = String(text.unicodeScalars.map { $0.properties.generalCategory == .control ? "?" : Character($0) })
        return "'" + (clean.count > 200 ? clean.prefix(200) + "…" : clean) + "'"
    }

    /// Whether a failed file operation ran out of space (ENOSPC or EDQUOT), however
    /// Foundation wrapped the errno.
    public static func isOutOfSpace(_ error: any Error) -> Bool {
        if let cocoa = error as? CocoaError, cocoa.code == .fileWriteOutOfSpace { return true }
        if let posix = error as? POSIXError { return posix.code == .ENOSPC || posix.code == .EDQUOT }
        let ns = error as NSError
        if ns.domain == NSPOSIXErrorDomain { return ns.code == Int(ENOSPC) || ns.code == Int(EDQUOT) }
        if let underlying = ns.userInfo[NSUnderlyingErrorKey] as? NSError { return isOutOfSpace(underlying) }
        return ns.domain == NSCocoaErrorDomain && ns.code == CocoaError.fileWriteOutOfSpace.rawValue
    }
}

extension StorageError: UserFacingError {
    /// By kind: what the caller can fix is 4xx, a failing backend 502/503/504, a full disk 507.
    public var code: String {
        switch kind {
        case .badRequest: "invalid_uri"
        case .notFound: "not_found"
        case .forbidden: "storage_forbidden"
        case .tooLarge: "input_too_large"
        case .conflict: "output_conflict"
        case .unavailable: "storage_unavailable"
        case .configuration: "storage_not_configured"
        case .timeout: "storage_timeout"
        case .insufficientStorage: "insufficient_storage"
        }
    }

    public var httpStatus: Int {
        switch kind {
        case .badRequest: 400
        case .notFound: 404
        case .forbidden: 403
        case .tooLarge: 413
        case .conflict: 409
        case .unavailable: 502
        case .configuration: 503
        case .timeout: 504
        case .insufficientStorage: 507
        }
    }

    /// Whether the full disk is the server's own temporary folder (not the caller's destination).
    public var isServerDiskFull: Bool {
        if case .noSpace(let place) = self { return place == StorageService.workspaceFolder }
        return false
    }

    public var message: String {
        isServerDiskFull ? "no space left on the device holding \(StorageService.workspaceFolder); retry later" : description
    }
}
