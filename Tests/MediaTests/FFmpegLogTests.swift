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
        let events = collector.events.withLock { $0 }
        #expect(events.count == 2)
        #expect(events.first?.0 == .error)
        #expect(events.first?.1 == "decoder broke")
        #expect(events.last?.0 == .warning)
    }

    @Test func quietByDefault() {
        let collector = Collector()
        FFmpegLog.route(to: Logger(label: "test.ffmpeg", factory: { _ in collector }))
        emit(AV_LOG_WARNING, "not shown by default")
        emit(AV_LOG_ERROR, "shown")
        #expect(collector.events.withLock { $0.map(\.1) } == ["shown"])
    }
}
