import HTTPTypes
import NIOCore
import NIOHTTPTypes

/// Sits after the HTTP codec and tells the connection's ``ConnectionGuardHandler`` (through the pipeline,
/// as ``RequestPhase`` events) when a request head, a request end, a response head and a response end
/// pass, and whether the request or the response said `Connection: close` (Hummingbird stops reading
/// after such a request and waits for the peer to close).
final class RequestPhaseHandler: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPRequestPart
    typealias InboundOut = HTTPRequestPart
    typealias OutboundIn = HTTPResponsePart
    typealias OutboundOut = HTTPResponsePart

    private var closeAfterResponse = false
    /// For each request whose response has not started, in order: whether it said `Connection: close`.
    /// Pipelined requests are answered in order, so the front belongs to the next response.
    private var requestsSaidClose: [Bool] = []

    /// Confirms a ``ConnectionGuardHandler`` is below: without one, the connection is closed rather than
    /// served without its deadlines.
    func handlerAdded(context: ChannelHandlerContext) {
        let attached = context.eventLoop.makePromise(of: Void.self)
        attached.futureResult.whenFailure { [channel = context.channel] _ in channel.close(promise: nil) }
        context.triggerUserOutboundEvent(RequestPhase.attach, promise: attached)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch self.unwrapInboundIn(data) {
        case .head(let head):
            self.requestsSaidClose.append(head.headerFields[.connection]?.lowercased() == "close")
            context.triggerUserOutboundEvent(RequestPhase.headReceived, promise: nil)
        case .end: context.triggerUserOutboundEvent(RequestPhase.requestEnded, promise: nil)
        case .body: break
        }
        context.fireChannelRead(data)
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        switch self.unwrapOutboundIn(data) {
        case .head(let head) where head.status.code >= 200:
            let requestSaidClose = self.requestsSaidClose.isEmpty ? false : self.requestsSaidClose.removeFirst()
            self.closeAfterResponse = requestSaidClose || head.headerFields[.connection]?.lowercased() == "close"
            context.triggerUserOutboundEvent(RequestPhase.responseStarted, promise: nil)
            context.write(data, promise: promise)
        case .end:
            let close = self.closeAfterResponse
            let written = promise ?? context.eventLoop.makePromise()
            context.write(data, promise: written)
            written.futureResult.assumeIsolated().whenComplete { _ in
                context.triggerUserOutboundEvent(RequestPhase.responseEnded(close: close), promise: nil)
            }
        default:
            context.write(data, promise: promise)
        }
    }
}
