import Speech
import Testing

@Suite struct SpeechTextTests {
    @Test func trimsAndKeepsUnicode() throws {
        #expect(try SpeechText("  안녕하세요  ").value == "안녕하세요")
        #expect(try SpeechText("one\ttwo\nthree").value == "one two three")
    }

    @Test func rejectsEmptyAndWhitespace() {
        #expect(throws: SpeechError.emptyText) { try SpeechText("") }
        #expect(throws: SpeechError.emptyText) { try SpeechText(" \n\t ") }
    }

    @Test func rejectsTooLong() {
        #expect(throws: SpeechError.textTooLong(characters: 201, limit: 200)) { try SpeechText(String(repeating: "a", count: 201)) }
        #expect(throws: SpeechError.textTooLong(characters: 11, limit: 10)) { try SpeechText("hello world", limit: 10) }
        // Characters, not bytes: 200 Hangul syllables are fine.
        #expect(throws: Never.self) { try SpeechText(String(repeating: "가", count: 200)) }
    }

    @Test func rejectsControlCharacters() {
        #expect(throws: SpeechError.controlCharacters(offset: 5)) { try SpeechText("hello\u{07}") }
        #expect(throws: SpeechError.controlCharacters(offset: 0)) { try SpeechText("\u{1B}[31mred") }
        #expect(SpeechError.controlCharacters(offset: 3).description == "the text contains a control character at position 3")
    }
}
