/// The deadlines of one HTTP/1.1 connection, as a state machine: events in, the timer to run out.
///
/// - A request's head must arrive within ``Timeouts/head`` of its first byte (and a new connection's
///   first request within that of the connection opening).
/// - Its body must arrive within ``Timeouts/body`` of the head.
/// - A keep-alive connection with nothing in flight is closed after ``Timeouts/idle``.
/// - While a request is being handled nothing is timed here: the handler has its own deadline (the
///   gateway's call to feedbackd).
///   (Writing its answer is: see ``ConnectionGuardHandler``'s write deadline.)
///
/// A request counts as unanswered from its head to the end of its response, whether or not its body
/// was read: a response that ends before its body arrives (404, 405, 413) leaves nothing unanswered.
///
/// When the timer runs out the connection is closed. Used by ``ConnectionGuardHandler``, which performs
/// the actions; unit-tested without a channel.
public struct SlowClientStateMachine: Sendable {
    public struct Timeouts: Hashable, Sendable {
        public var head: Duration
        public var body: Duration
        public var idle: Duration

        public init(head: Duration, body: Duration, idle: Duration) {
            self.head = head
            self.body = body
            self.idle = idle
        }
    }

    /// The timer the connection should run now.
    public enum Timer: Equatable, Sendable {
        case head
        case body
        case idle
        /// Nothing is timed (a request is being answered).
        case none
    }

    private enum Inbound {
        /// Between requests: no byte of the next one yet.
        case waiting
        case readingHead
        case readingBody
    }

    private var inbound = Inbound.waiting
    /// Requests whose head arrived and whose response has not ended.
    private var unanswered = 0
    private var isFresh = true

    public init() {}

    /// The timer of a connection that has just opened: its first request's head is due.
    public mutating func connectionOpened() -> Timer {
        .head
    }

    /// Bytes arrived. Returns the new timer when it changes, nil otherwise.
    public mutating func bytesReceived() -> Timer? {
        guard case .waiting = self.inbound else { return nil }
        self.inbound = .readingHead
        return .head
    }

    /// A request head was decoded: its body is due.
    public mutating func headReceived() -> Timer? {
        self.inbound = .readingBody
        self.isFresh = false
        self.unanswered += 1
        return .body
    }

    /// A request was read to its end.
    public mutating func requestEnded() -> Timer? {
        self.inbound = .waiting
        return self.current
    }

    /// A response was written to its end.
    public mutating func responseEnded() -> Timer? {
        self.unanswered = max(0, self.unanswered - 1)
        return self.current
    }

    /// Whether the request being answered is still being read: a response that ends before its request
    /// did (413 for a declared length) leaves an unread body behind.
    public var isReadingRequest: Bool {
        switch self.inbound {
        case .waiting: false
        case .readingHead, .readingBody: true
        }
    }

    private var current: Timer {
        switch self.inbound {
        case .readingHead: .head
        case .readingBody: .body
        case .waiting where self.unanswered > 0: .none
        case .waiting: self.isFresh ? .head : .idle
        }
    }
}
