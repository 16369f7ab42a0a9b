/// What ``RequestPhaseHandler`` (after the HTTP codec) tells the connection's ``ConnectionGuardHandler``
/// (before it, on the raw bytes): sent as user outbound events, which travel down the pipeline to the
/// guard. The pipeline itself is the link: nothing is looked up, and a pipeline without a guard fails
/// the ``attach`` event, which closes the connection instead of serving it unguarded.
enum RequestPhase: Sendable {
    /// Sent once, when the phase handler is added: confirms a guard is below it.
    case attach
    case headReceived
    case requestEnded
    /// A response's head is being written.
    case responseStarted
    /// A response was written to its end; `close` when it or its request said `Connection: close`.
    case responseEnded(close: Bool)
}
