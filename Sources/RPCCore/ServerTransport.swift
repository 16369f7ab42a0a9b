/// The server side of a transport: serves one ``RPCRouter``'s methods to its clients.
///
/// `UnixSocketServer` serves them on a Unix socket (a ServiceLifecycle `Service` whose `run()` returns
/// after graceful shutdown); ``InProcessServer`` serves them to ``InProcessTransport`` clients in the
/// same process. Either way a call reaches the same router, through the same three handler kinds.
public protocol ServerTransport: Sendable {
    var router: RPCRouter { get }
    /// Serves until the task is cancelled (or, for a `Service`, until graceful shutdown).
    func run() async throws
}

/// Serves a router in process: its clients (``client``) call the router directly. No socket.
public struct InProcessServer: ServerTransport {
    public let router: RPCRouter
    private let peer: PeerCredentials?

    public init(router: RPCRouter, peer: PeerCredentials? = nil) {
        self.router = router
        self.peer = peer
    }

    /// A client of this server.
    public var client: InProcessTransport {
        InProcessTransport(router: self.router, peer: self.peer)
    }

    /// Nothing to listen on: returns when the task is cancelled.
    public func run() async throws {
        let (never, _) = AsyncStream<Never>.makeStream()
        for await _ in never {}
    }
}
