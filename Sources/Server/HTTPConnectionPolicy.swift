public import Hummingbird
public import HummingbirdCore
public import Logging
public import NIOCore
import NIOHTTP1
import NIOHTTPTypesHTTP1

/// How long a connection may hold the server without doing its part, so idle or slow
/// clients cannot pin descriptors (docs/server.md, "Connections").
public struct ConnectionTimeouts: Sendable, Equatable {
    /// `HTTP_IDLE_TIMEOUT_SECONDS`: a connection with no request in progress — idle between
    /// keep-alive requests, or sending a request head that never completes — is closed after
    /// this long without a complete request part. A running job is never cut by it.
    public var idle: Duration
    /// `HTTP_BODY_TIMEOUT_SECONDS`: the whole request body must arrive within this time
    /// (408 `body_timeout` otherwise), however slowly it drips.
    public var body: Duration

    public init(idle: Duration = .seconds(30), body: Duration = .seconds(30)) {
        self.idle = idle
        self.body = body
    }
}

extension LipSyncServer {
    /// The HTTP/1.1 server the routes run on: Hummingbird's, with the idle timeout and a
    /// handler that closes a connection after its answer when the request did not ask to be
    /// kept alive (HTTP/1.0 by default, `Connection: close`) or the answer says `close`.
    public static func httpServer(timeouts: ConnectionTimeouts) -> HTTPServerBuilder {
        let configuration = HTTP1Channel.Configuration(idleTimeout: TimeAmount(timeouts.idle))
        return HTTPServerBuilder { responder in
            KeepAliveAwareHTTP1Channel(inner: HTTP1Channel(responder: responder, configuration: configuration))
        }
    }

    /// The application serving `router()` on `host`:`port`, with this server's connection timeouts.
    /// `onServerRunning` is told the bound address (port 0 picks a free port).
    public func application(
        host: String, port: Int, logger: Logger? = nil,
        onServerRunning: @escaping @Sendable (any Channel) async -> Void = { _ in }
    ) -> some ApplicationProtocol {
        Application(
            router: router(), server: Self.httpServer(timeouts: timeouts),
            configuration: .init(address: .hostname(host, port: port)), onServerRunning: onServerRunning, logger: logger)
    }
}

/// Hummingbird's HTTP/1 channel with `ConnectionCloseHandler` in front of its HTTP-types codec.
struct KeepAliveAwareHTTP1Channel: ServerChildChannel {
    let inner: HTTP1Channel

    func setup(channel: any Channel, logger: Logger) -> EventLoopFuture<HTTP1Channel.Value> {
        inner.setup(channel: channel, logger: logger).flatMapThrowing { value in
            let operations = channel.pipeline.syncOperations
            let codec = try operations.handler(type: HTTP1ToHTTPServerCodec.self)
            try operations.addHandler(ConnectionCloseHandler(), position: .before(codec))
            return value
        }
    }

    func handle(value: HTTP1Channel.Value, logger: Logger) async {
        await inner.handle(value: value, logger: logger)
    }
}

/// Connection: close, both ways. A request that does not want its connection kept (an
/// HTTP/1.0 request without `Connection: keep-alive`, any `Connection: close`) is marked
/// `Connection: close` — the signal on which Hummingbird ends the connection after its
/// answer; the HTTP version is lost past the codec, so this happens on the HTTP/1 parts. And
/// a response that says `Connection: close` (a job's answer, a 408 for a body that did not
/// arrive) closes the connection once written, so a client cannot keep dripping a body
/// nobody reads any more.
final class ConnectionCloseHandler: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias InboundOut = HTTPServerRequestPart
    typealias OutboundIn = HTTPServerResponsePart
    typealias OutboundOut = HTTPServerResponsePart

    private var closeAfterResponse = false

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard case .head(var head) = unwrapInboundIn(data), !head.isKeepAlive else {
            context.fireChannelRead(data)
            return
        }
        head.headers.replaceOrAdd(name: "Connection", value: "close")
        context.fireChannelRead(wrapInboundOut(.head(head)))
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        switch unwrapOutboundIn(data) {
        case .head(let head):
            if head.headers[canonicalForm: "connection"].contains(where: { $0.lowercased() == "close" }) { closeAfterResponse = true }
            context.write(data, promise: promise)
        case .end where closeAfterResponse:
            closeAfterResponse = false
            context.writeAndFlush(data, promise: promise)
            context.close(promise: nil)
        case .body, .end:
            context.write(data, promise: promise)
        }
    }
}
