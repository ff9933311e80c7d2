import Foundation
public import Logging

/// swift-log handler writing one line per event:
/// `2026-11-24T19:00:00.123Z warning lipsync.inference: message key=value request_id=abc`.
/// Newlines inside messages and values are escaped so one event is always one line, which
/// keeps logs greppable and safe to ship to line-oriented collectors.
public struct LineLogHandler: LogHandler {
    public typealias Sink = @Sendable (String) -> Void

    public var metadata: Logger.Metadata = [:]
    public var logLevel: Logger.Level
    public var metadataProvider: Logger.MetadataProvider?
    private let label: String
    private let sink: Sink

    public init(
        label: String, level: Logger.Level, metadataProvider: Logger.MetadataProvider? = nil,
        sink: @escaping Sink = LineLogHandler.standardError
    ) {
        self.label = label
        self.logLevel = level
        self.metadataProvider = metadataProvider
        self.sink = sink
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        var merged = metadata
        if let provided = metadataProvider?.get() { merged.merge(provided) { _, new in new } }
        if let extra = event.metadata { merged.merge(extra) { _, new in new } }
        var line = "\(Self.timestamp()) \(event.level) \(label): \(Self.escape(event.message.description))"
        for (key, value) in merged.sorted(by: { $0.key < $1.key }) {
            line += " \(key)=\(Self.quote(Self.escape(value.description)))"
        }
        sink(line + "\n")
    }

    /// Writes to the process's standard error in one `write` call per line.
    public static let standardError: Sink = { line in
        FileHandle.standardError.write(Data(line.utf8))
    }

    private static func escape(_ text: String) -> String {
        guard text.contains(where: { $0 == "\n" || $0 == "\r" }) else { return text }
        return text.replacingOccurrences(of: "\r", with: "\\r").replacingOccurrences(of: "\n", with: "\\n")
    }

    private static func quote(_ value: String) -> String {
        guard value.isEmpty || value.contains(where: { $0 == " " || $0 == "\"" || $0 == "=" }) else { return value }
        return "\"" + value.replacingOccurrences(of: "\"", with: "\\\"") + "\""
    }

    private static func timestamp() -> String {
        Date.now.formatted(.iso8601.year().month().day().time(includingFractionalSeconds: true).timeZone(separator: .omitted))
    }
}
