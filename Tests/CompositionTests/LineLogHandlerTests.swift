import Composition
import Logging
import Synchronization
import Testing

@Suite struct LineLogHandlerTests {
    private func capture(_ body: (Logger) -> Void) -> [String] {
        let lines = Mutex<[String]>([])
        let logger = Logger(label: "lipsync.test") { label in
            LineLogHandler(label: label, level: .info) { line in lines.withLock { $0.append(line) } }
        }
        body(logger)
        return lines.withLock { $0 }
    }

    @Test func oneLinePerEventWithSortedMetadata() {
        let lines = capture { logger in
            var logger = logger
            logger[metadataKey: "request_id"] = "req-42"
            logger.info("job started", metadata: ["stage": "tts", "note": "two words"])
        }
        #expect(lines.count == 1)
        let line = lines[0]
        #expect(line.hasSuffix(" info lipsync.test: job started note=\"two words\" request_id=req-42 stage=tts\n"))
        #expect(line.first?.isNumber == true)  // ISO-8601 timestamp first
    }

    @Test func newlinesAreEscapedSoAnEventStaysOneLine() {
        let lines = capture { $0.warning("first\nsecond", metadata: ["detail": "a\nb"]) }
        #expect(lines.count == 1)
        #expect(lines[0].filter { $0 == "\n" }.count == 1)
        #expect(lines[0].contains("first\\nsecond detail=a\\nb"))
    }

    @Test func levelFilters() {
        let lines = capture { logger in
            logger.debug("hidden")
            logger.error("shown")
        }
        #expect(lines.count == 1)
        #expect(lines[0].contains(" error lipsync.test: shown"))
    }
}
