import CFFmpeg
import Logging
import Media
import Synchronization
import Testing

/// FFmpeg's log callback is process-wide, so these tests run one at a time.
@Suite(.serialized) struct FFmpegLogTests {
    final class Collector: LogHandler, @unchecked Sendable {
        let events = Mutex<[(Logger.Level, String)]>([])
        var metadata: Logger.Metadata = [:]
        var logLevel: Logger.Level = .trace
        subscript(metadataKey key: String) -> Logger.Metadata.Value? {
            get { metadata[key] }
            set { metadata[key] = newValue }
        }
        func log(event: LogEvent) { events.withLock { $0.append((event.level, event.message.description)) } }
    }

    private func emit(_ level: Int32, _ text: String) {
        text.withCString { cText in
            withVaList([cText]) { arguments in av_vlog(nil, level, "%s\n", arguments) }
        }
    }

    @Test func routesMessagesAtOrAboveTheLevel() {
        let collector = Collector()
        FFmpegLog.route(to: Logger(label: "test.ffmpeg", factory: { _ in collector }), level: .warning)
        emit(AV_LOG_ERROR, "decoder broke")
        emit(AV_LOG_WARNING, "odd timestamps")
        emit(AV_LOG_INFO, "stream info, should be filtered")
        // Other suites may log through FFmpeg meanwhile (the callback is process-wide), so
        // look only at this test's messages.
        let events = collector.events.withLock { $0 }
        #expect(events.contains { $0.0 == .error && $0.1 == "decoder broke" })
        #expect(events.contains { $0.0 == .warning && $0.1 == "odd timestamps" })
        #expect(!events.contains { $0.1.contains("should be filtered") })
    }

    @Test func quietByDefault() {
        let collector = Collector()
        FFmpegLog.route(to: Logger(label: "test.ffmpeg", factory: { _ in collector }))
        emit(AV_LOG_WARNING, "not shown by default")
        emit(AV_LOG_ERROR, "shown")
        let messages = collector.events.withLock { $0.map(\.1) }
        #expect(messages.contains("shown"))
        #expect(!messages.contains("not shown by default"))
    }
}
