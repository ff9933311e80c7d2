/// Text accepted for synthesis: non-empty, at most `limit` characters, no control
/// characters (tab and newline become spaces). Markup is never interpreted — engines get
/// plain text.
public struct SpeechText: Sendable, Equatable {
    public let value: String

    /// Default maximum length in characters (extended grapheme clusters).
    public static let defaultLimit = 200

    public init(_ text: String, limit: Int = SpeechText.defaultLimit) throws {
        var cleaned = ""
        for (offset, character) in text.enumerated() {
            if character == "\t" || character == "\n" || character == "\r\n" || character == "\r" {
                cleaned.append(" ")
            } else if character.unicodeScalars.contains(where: { $0.properties.generalCategory == .control }) {
                throw SpeechError.controlCharacters(offset: offset)
            } else {
                cleaned.append(character)
            }
        }
        let trimmed = cleaned.trimmingWhitespace()
        guard !trimmed.isEmpty else { throw SpeechError.emptyText }
        guard trimmed.count <= limit else { throw SpeechError.textTooLong(characters: trimmed.count, limit: limit) }
        value = trimmed
    }
}

extension String {
    func trimmingWhitespace() -> String {
        var view = Substring(self)
        while let first = view.first, first.isWhitespace { view = view.dropFirst() }
        while let last = view.last, last.isWhitespace { view = view.dropLast() }
        return String(view)
    }
}
