import Synchronization

/// The messages of a server-streaming call as its caller reads them, over any transport: each message
/// in order, then the end: the sequence finishes when the call ends OK and throws the call's
/// ``RPCError`` otherwise (its metadata carries the server's trailers, a resume point say).
///
/// Reading is the flow control: the transport grants the server credit as messages are read, so a
/// caller that stops reading stops the server after the credit it granted, never buffering more. The
/// caller's task cancellation while it waits, or its dropping the iterator before the end (a `break`
/// out of its loop), cancels the call.
public struct ClientStream: AsyncSequence, Sendable {
    public typealias Element = [UInt8]
    private let source: ClientStreamSource

    package init(_ source: ClientStreamSource) {
        self.source = source
    }

    /// A stream that ends at once with `error` (nothing was sent).
    public static func failed(_ error: RPCError) -> ClientStream {
        let source = ClientStreamSource(consumed: {}, abandoned: {})
        source.finish(throwing: error)
        return ClientStream(source)
    }

    public func makeAsyncIterator() -> Iterator {
        Iterator(base: self.source.messages.makeAsyncIterator(), source: self.source, reader: Reader(self.source))
    }

    public struct Iterator: AsyncIteratorProtocol {
        fileprivate var base: AsyncThrowingStream<[UInt8], any Error>.Iterator
        fileprivate let source: ClientStreamSource
        /// Cancels the call when the reader drops the iterator before the end.
        fileprivate let reader: Reader

        public mutating func next() async throws -> [UInt8]? {
            let message: [UInt8]?
            do {
                message = try await self.base.next()
            } catch {
                throw RPCError(converting: error)
            }
            guard let message else {
                // The sequence also ends when the reading task is cancelled: that is not the call's OK.
                if !self.source.endedOK { throw CallInterrupt.cancelled.error }
                return nil
            }
            self.source.consumed()
            return message
        }
    }
}

/// The transport's side of a ``ClientStream``: it yields messages and the end; the stream tells it when a
/// message was read (grant credit) and when the reader went away (cancel the call).
package final class ClientStreamSource: Sendable {
    let messages: AsyncThrowingStream<[UInt8], any Error>
    private let continuation: AsyncThrowingStream<[UInt8], any Error>.Continuation
    private let onConsumed: @Sendable () -> Void
    private let onAbandoned: @Sendable () -> Void
    private let state = Mutex<(ended: Bool, endedOK: Bool)>((false, false))

    /// - Parameters:
    ///   - consumed: a message was read (called on the reading task).
    ///   - abandoned: the reader stopped before the end: cancel the call (called at most once).
    package init(consumed: @escaping @Sendable () -> Void, abandoned: @escaping @Sendable () -> Void) {
        let (messages, continuation) = AsyncThrowingStream<[UInt8], any Error>.makeStream()
        self.messages = messages
        self.continuation = continuation
        self.onConsumed = consumed
        self.onAbandoned = abandoned
        continuation.onTermination = { [weak self] termination in
            if case .cancelled = termination { self?.abandon() }
        }
    }

    /// One message, in order.
    package func yield(_ message: [UInt8]) {
        self.continuation.yield(message)
    }

    /// The call ended OK: the sequence finishes after the messages yielded.
    package func finish() {
        self.state.withLock { $0 = (true, true) }
        self.continuation.finish()
    }

    /// The call failed: the sequence throws `error` after the messages yielded.
    package func finish(throwing error: RPCError) {
        self.state.withLock { $0.ended = true }
        self.continuation.finish(throwing: error)
    }

    var endedOK: Bool { self.state.withLock { $0.endedOK } }

    func consumed() {
        self.onConsumed()
    }

    /// The reader went away: the call is cancelled unless it had ended.
    func abandon() {
        let ended = self.state.withLock { state in
            defer { state.ended = true }
            return state.ended
        }
        if !ended { self.onAbandoned() }
    }
}

/// The reader of a stream: when it goes away before the end, the call is cancelled.
private final class Reader: Sendable {
    let source: ClientStreamSource

    init(_ source: ClientStreamSource) {
        self.source = source
    }

    deinit {
        self.source.abandon()
    }
}
