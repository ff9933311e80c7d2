public import Foundation

/// Where an input comes from or an output goes: `gs://bucket/object`, `file:///abs/path` or a
/// bare path (both confined to the configured roots by `LocalStore`), or `https://…` (input only).
public enum StorageURI: Sendable, Equatable, CustomStringConvertible {
    case gcs(bucket: String, object: String)
    case local(path: String)
    case https(URL)

    public static let maxLength = 4096

    public init(parsing text: String) throws(StorageError) {
        guard !text.isEmpty else { throw .invalidURI(text, reason: "it is empty") }
        guard text.utf8.count <= Self.maxLength else { throw .invalidURI(text, reason: "longer than \(Self.maxLength) bytes") }
        try Self.checkCharacters(text, in: text)
        let lower = text.lowercased()
        if lower.hasPrefix("gs://") {
            let rest = text.dropFirst(5)
            guard let slash = rest.firstIndex(of: "/") else { throw .invalidURI(text, reason: "no object name after the bucket") }
            let bucket = String(rest[..<slash])
            let object = String(rest[rest.index(after: slash)...])
            try Self.checkBucket(bucket, in: text)
            try Self.checkObject(object, in: text)
            self = .gcs(bucket: bucket, object: object)
        } else if lower.hasPrefix("file://") {
            guard let url = URL(string: text), url.scheme?.lowercased() == "file" else {
                throw .invalidURI(text, reason: "not a valid file:// URI (spaces and % must be percent-encoded)")
            }
            guard url.host == nil || url.host == "" || url.host == "localhost" else {
                throw .invalidURI(text, reason: "file:// URIs name no host other than localhost")
            }
            let path = url.path
            guard path.hasPrefix("/"), path.count > 1 else { throw .invalidURI(text, reason: "file:// needs an absolute path") }
            guard !path.contains("\0") else { throw .invalidURI(text, reason: "the path contains a NUL byte") }
            try Self.checkPath(path, in: text)
            self = .local(path: path)
        } else if lower.hasPrefix("https://") || lower.hasPrefix("http://") {
            guard let url = URL(string: text), let host = url.host, !host.isEmpty else {
                throw .invalidURI(text, reason: "not a valid URL with a host")
            }
            guard url.user == nil, url.password == nil else { throw .invalidURI(text, reason: "credentials in URLs are not accepted") }
            self = .https(url)
        } else if let colon = text.firstIndex(of: ":"), let slash = text.firstIndex(of: "/"), colon < slash,
            text[..<colon].allSatisfy({ $0.isLetter || $0.isNumber || "+-.".contains($0) })
        {
            throw .unsupportedURI(text, reason: "scheme '\(text[..<colon])' is not supported (use gs://, file:// or a path)")
        } else {
            try Self.checkPath(text, in: text)
            self = .local(path: text)
        }
    }

    public var description: String {
        switch self {
        case .gcs(let bucket, let object): "gs://\(bucket)/\(object)"
        case .local(let path): path
        case .https(let url): url.absoluteString
        }
    }

    /// Bucket names as Cloud Storage accepts them: 3–63 characters (222 with dots) of lowercase
    /// letters, digits, `-`, `_` and `.`, beginning and ending with a letter or digit.
    static func checkBucket(_ bucket: String, in uri: String) throws(StorageError) {
        let allowed = bucket.unicodeScalars.allSatisfy {
            ("a"..."z").contains($0) || ("0"..."9").contains($0) || "-_.".unicodeScalars.contains($0)
        }
        let limit = bucket.contains(".") ? 222 : 63
        guard (3...limit).contains(bucket.count), allowed,
            let first = bucket.first, let last = bucket.last, first.isLetter || first.isNumber, last.isLetter || last.isNumber
        else {
            throw .invalidURI(uri, reason: "'\(bucket)' is not a valid bucket name (3–63 lowercase letters, digits, '-', '_', '.')")
        }
    }

    /// No C0 or C1 control characters or DEL; and no names that read differently from what
    /// they are (bidirectional overrides and isolates, invisible direction marks): they end up
    /// in listings and logs.
    static func checkCharacters(_ text: String, in uri: String) throws(StorageError) {
        guard !text.unicodeScalars.contains(where: { $0.value < 0x20 || (0x7F...0x9F).contains($0.value) }) else {
            throw .invalidURI(uri, reason: "it contains control characters")
        }
        guard !text.unicodeScalars.contains(where: { directionControls.contains($0.value) }) else {
            throw .invalidURI(uri, reason: "it contains bidirectional control characters")
        }
    }

    /// U+061C, U+200E/F, U+202A–U+202E, U+2066–U+2069.
    static let directionControls: Set<UInt32> = [
        0x061C, 0x200E, 0x200F, 0x202A, 0x202B, 0x202C, 0x202D, 0x202E, 0x2066, 0x2067, 0x2068, 0x2069,
    ]

    /// Local paths: every name at most 255 bytes (Linux's NAME_MAX), checked here so a job
    /// never runs for a name the filesystem will refuse at the end.
    static func checkPath(_ path: String, in uri: String) throws(StorageError) {
        try checkCharacters(path, in: uri)  // again after percent-decoding
        let nameMax = 255
        if let long = path.split(separator: "/").first(where: { $0.utf8.count > nameMax }) {
            throw .invalidURI(uri, reason: "the name '\(long.prefix(40))…' is \(long.utf8.count) bytes long; the limit is \(nameMax)")
        }
    }

    /// Object names: 1–1024 bytes of UTF-8, not `.` or `..` (Cloud Storage refuses those).
    static func checkObject(_ object: String, in uri: String) throws(StorageError) {
        guard !object.isEmpty else { throw .invalidURI(uri, reason: "the object name is empty") }
        guard object.utf8.count <= 1024 else { throw .invalidURI(uri, reason: "the object name is longer than 1024 bytes") }
        guard object != ".", object != ".." else { throw .invalidURI(uri, reason: "'\(object)' is not a valid object name") }
    }
}
