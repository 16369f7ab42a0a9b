import HTTPTypes
import NIOCore
import NIOHTTPTypes

/// Sits after the HTTP codec and tells the connection's ``ConnectionGuardHandler`` when a request head,
/// a request end, a response head and a response end pass, and whether the request or the response said
/// `Connection: close` (Hummingbird stops reading after such a request and waits for the peer to close).
final class RequestPhaseHandler: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPRequestPart
    typealias InboundOut = HTTPRequestPart
    typealias OutboundIn = HTTPResponsePart
    typealias OutboundOut = HTTPResponsePart

    private var connectionGuard: ConnectionGuardHandler?
    private var closeAfterResponse = false
    /// For each request whose response has not started, in order: whether it said `Connection: close`.
    /// Pipelined requests are answered in order, so the front belongs to the next response.
    private var requestsSaidClose: [Bool] = []

    func handlerAdded(context: ChannelHandlerContext) {
        self.connectionGuard = try? context.pipeline.syncOperations.handler(type: ConnectionGuardHandler.self)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch self.unwrapInboundIn(data) {
        case .head(let head):
            self.requestsSaidClose.append(head.headerFields[.connection]?.lowercased() == "close")
            self.connectionGuard?.headReceived()
        case .end: self.connectionGuard?.requestEnded()
        case .body: break
        }
        context.fireChannelRead(data)
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        switch self.unwrapOutboundIn(data) {
        case .head(let head) where head.status.code >= 200:
            let requestSaidClose = self.requestsSaidClose.isEmpty ? false : self.requestsSaidClose.removeFirst()
            self.closeAfterResponse = requestSaidClose || head.headerFields[.connection]?.lowercased() == "close"
            self.connectionGuard?.responseStarted()
            context.write(data, promise: promise)
        case .end:
            let close = self.closeAfterResponse
            let written = promise ?? context.eventLoop.makePromise()
            context.write(data, promise: written)
            written.futureResult.assumeIsolated().whenComplete { [connectionGuard] _ in
                connectionGuard?.responseEnded(close: close)
            }
        default:
            context.write(data, promise: promise)
        }
    }
}
