extension ServerCallExecutor {
    /// The call rules a server can tune: the same for every transport.
    public struct Configuration: Sendable {
        /// After a CANCEL or deadline, how long a call waits for its handler to return (with what really
        /// happened) before it is answered UNKNOWN (its work may still be done) and the handler is left
        /// behind. Longer than any commit: only a handler that ignores its interrupt reaches it.
        public var interruptGrace: Duration = .seconds(30)
        /// How long a server-streaming call waits for the client's credit while it has a message to send
        /// before it ends RESOURCE_EXHAUSTED: a reader too slow for its stream frees the server's slot.
        public var streamStallTimeout: Duration = .seconds(30)
        /// Which calls get an `rpc.call` log line (at `info`).
        public var callLog: CallLog = .errors
        /// Encodes `status-details-bin` (SPEC.md section 6) for the calls a transport refuses before they
        /// run (a malformed REQUEST): status code, message and the machine-readable reason. Nil sends
        /// none. The encoding (protobuf) is the server's choice, not the core's.
        public var statusDetails: (@Sendable (_ code: StatusCode, _ message: String, _ reason: String) -> [UInt8]?)?

        public init() {}
    }

    /// Which calls are logged.
    public enum CallLog: String, Sendable, CaseIterable {
        /// Calls answered with a status other than OK (at most ten lines a second per status). The
        /// default: at high call rates a line per call costs CPU and fills disks.
        case errors
        /// Every call.
        case all
    }
}
