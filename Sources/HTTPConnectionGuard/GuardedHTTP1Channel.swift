import HummingbirdCore
import Logging
import NIOCore
import Synchronization

/// Hummingbird's HTTP/1.1 channel with the connection guards in front: the deadlines of
/// ``SlowClientStateMachine`` and a cap on open connections (the one over it is answered 503 and
/// closed, so the process never runs out of descriptors). Every HTTP listener of both executables uses it.
public struct GuardedHTTP1Channel: ServerChildChannel {
    public typealias Value = HTTP1Channel.Value

    /// Open connections, shared by every connection of one listener.
    public final class ConnectionCount: Sendable {
        let open = Atomic<Int>(0)

        public init() {}
    }

    let inner: HTTP1Channel
    let limits: HTTPConnectionLimits
    let count: ConnectionCount

    /// - Parameter count: one per listener, shared by the channels of all its connections.
    public init(responder: @escaping HTTPChannelHandler.Responder, limits: HTTPConnectionLimits, count: ConnectionCount) {
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

    public func setup(channel: any Channel, logger: Logger) -> EventLoopFuture<Value> {
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

    public func handle(value: Value, logger: Logger) async {
        await self.inner.handle(value: value, logger: logger)
    }
}
