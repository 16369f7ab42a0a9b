import Hummingbird
import HummingbirdCore
import Logging
import NIOCore
import Synchronization

/// Hummingbird's HTTP/1.1 channel with the gateway's connection guards in front: the deadlines of
/// ``SlowClientStateMachine`` and a cap on open connections (the one over it is answered 503 and
/// closed, so the process never runs out of descriptors).
struct GuardedHTTP1Channel: ServerChildChannel {
    typealias Value = HTTP1Channel.Value

    /// Open connections, shared by every connection of one server.
    final class ConnectionCount: Sendable {
        let open = Atomic<Int>(0)
    }

    let inner: HTTP1Channel
    let limits: GatewayConfiguration.ConnectionLimits
    let count: ConnectionCount

    init(responder: @escaping HTTPChannelHandler.Responder, limits: GatewayConfiguration.ConnectionLimits, count: ConnectionCount) {
        self.inner = HTTP1Channel(
            responder: responder,
            configuration: .init(
                additionalChannelHandlers: [RequestPhaseHandler()],
                idleTimeout: nil,  // the guard's idle deadline replaces it
                httpDecoderConfiguration: .init(
                    maxHeaderFieldSize: limits.maxHeaderBytes, maxHeaderListSize: limits.maxHeaderBytes, maxHeaderFieldCount: 100
                )
            )
        )
        self.limits = limits
        self.count = count
    }

    func setup(channel: any Channel, logger: Logger) -> EventLoopFuture<Value> {
        let open = self.count.open.wrappingAdd(1, ordering: .relaxed).newValue
        channel.closeFuture.whenComplete { [count] _ in count.open.wrappingSubtract(1, ordering: .relaxed) }
        let guardHandler = ConnectionGuardHandler(timeouts: self.limits.timeouts, isOverCapacity: open > self.limits.maxConnections)
        do {
            try channel.pipeline.syncOperations.addHandler(guardHandler, position: .first)
        } catch {
            return channel.eventLoop.makeFailedFuture(error)
        }
        return self.inner.setup(channel: channel, logger: logger)
    }

    func handle(value: Value, logger: Logger) async {
        await self.inner.handle(value: value, logger: logger)
    }
}
