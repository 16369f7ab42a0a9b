/// What ``ServerCallExecutor`` needs of the connection a call came on: somewhere to send the answer of
/// a call that finishes later, and a clock for the interrupt grace. The Unix transport's connection and
/// the in-process transport each implement it; neither decides anything about the call.
package protocol CallConnection: Sendable {
    /// Sends the answer of call `callID`, from any thread. The connection resolves it
    /// (``PendingAnswer/resolve()``) on its own thread, so that the thread that finished the call (a
    /// store's writer) does not build responses.
    func respond(callID: UInt32, _ answer: PendingAnswer)

    /// Runs `body` once after `delay`, unless the returned timer is cancelled first.
    func schedule(after delay: Duration, _ body: @escaping @Sendable () -> Void) -> CallTimer
}

/// A connection that carries server-streaming calls: it also delivers their messages.
package protocol StreamConnection: CallConnection {
    /// Sends one message of stream `callID`, in order, before the stream's answer.
    func deliver(callID: UInt32, message: [UInt8])

    /// Whether the connection takes more bytes now; a stream sends only while it does. Nil for a
    /// connection that never pushes back (in process).
    var writability: WritabilityGate? { get }
}

extension StreamConnection {
    package var writability: WritabilityGate? { nil }
}

/// A timer set through ``CallConnection/schedule(after:_:)``.
package struct CallTimer: Sendable {
    private let cancelTimer: @Sendable () -> Void

    package init(cancel: @escaping @Sendable () -> Void) {
        self.cancelTimer = cancel
    }

    /// Stops the timer if it has not fired.
    package func cancel() {
        self.cancelTimer()
    }
}
