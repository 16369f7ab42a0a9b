import AsyncOneShot
import Logging
import NIOCore
import NIOPosix
import RPCCodec
import RPCCore
import ServiceLifecycle
import Synchronization

/// An RPC server on a Unix domain socket: a `Service` that serves until graceful shutdown.
///
/// On start it refuses a path a live server answers on and removes a stale socket file; it creates the
/// socket with ``ServerConfiguration/socketMode``. On graceful shutdown it stops accepting, sends GOAWAY
/// on every connection, answers the calls already received, then removes the socket file.
public final class UnixSocketServer: Service {
    public let configuration: ServerConfiguration
    /// Where every call read is run: the rules of calls live there, not here.
    public let executor: ServerCallExecutor
    let logger: Logger
    private let group: any EventLoopGroup
    /// Set once the socket listens, or start-up failed.
    private let listening = OneShot<Result<Void, any Error>>()
    private let registry: ConnectionRegistry
    private let budget: CallBudget
    /// The server-wide bound on streams (``ServerConfiguration/maxStreams``).
    private let streamBudget: CallBudget
    private let metrics = ConnectionMetrics()

    public init(
        configuration: ServerConfiguration,
        router: RPCRouter,
        logger: Logger,
        eventLoopGroup: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton
    ) {
        self.configuration = configuration
        self.executor = ServerCallExecutor(router: router, configuration: configuration.calls, logger: logger)
        self.logger = logger
        self.group = eventLoopGroup
        self.registry = ConnectionRegistry(maxConnections: configuration.maxConnections)
        self.budget = CallBudget(limit: configuration.maxCallsInFlight)
        self.streamBudget = CallBudget(limit: configuration.maxStreams)
    }

    /// Connections open now.
    public var connectionCount: Int { self.registry.count }

    /// Calls in flight on all connections (those of closed connections included until they really end).
    public var callsInFlight: Int { self.budget.current }

    /// Returns once the socket accepts connections.
    /// - Throws: the start-up error if ``run()`` failed before listening.
    public func waitUntilListening() async throws {
        try await self.listening.value().get()
    }

    public func run() async throws {
        let path = self.configuration.socketPath
        let registry = self.registry
        let listener: any Channel
        let inherited = self.configuration.inheritedListener
        var made: UnixSocketPath.FileIdentity?
        do {
            if let inherited {
                listener = try await self.adopt(inherited, path: path)
            } else {
                try UnixSocketPath.prepareForBind(path)
                listener = try await self.bind(path: path)
                try UnixSocketPath.setMode(path, self.configuration.socketMode)
                made = UnixSocketPath.identity(of: path)  // after the chmod, which changes its ctime
            }
        } catch {
            self.listening.set(.failure(error))
            throw error
        }
        if let inherited {
            self.logger.info("rpc.server_listening", metadata: ["socket.path": "\(path)", "socket.inherited_fd": "\(inherited)"])
        } else {
            self.logger.info(
                "rpc.server_listening",
                metadata: ["socket.path": "\(path)", "socket.mode": "\(String(self.configuration.socketMode, radix: 8))"]
            )
        }
        self.listening.set(.success(()))

        // Serves until graceful shutdown has drained every connection (each closes once its calls are
        // answered), or until the task is cancelled.
        let drained = OneShot<Void>()
        await withGracefulShutdownHandler {
            _ = await drained.valueUnlessCancelled()
        } onGracefulShutdown: {
            self.logger.info("rpc.server_draining", metadata: ["rpc.connections": "\(registry.count)"])
            listener.close(promise: nil)
            registry.shutDown { drained.set(()) }
        }
        // Calls whose connection closed may still run (a handler in a task): the services they use (the
        // store) must outlive them. Each ends within the interrupt grace; cancellation stops the wait.
        await self.budget.whenEmpty()
        // Reached after a drain, or when the task was cancelled: close whatever is left.
        listener.close(promise: nil)
        registry.closeAll()
        // An inherited socket stays where its manager made it, taking connections for the next server;
        // so does a socket file that replaced this server's own meanwhile.
        if inherited == nil { UnixSocketPath.remove(path, ifStill: made) }
        self.logger.info("rpc.server_stopped", metadata: ["socket.path": "\(path)"])
    }

    /// Binds `path` (``UnixSocketPath/makeListeningSocket(_:backlog:)``) and serves it.
    private func bind(path: String) async throws -> any Channel {
        let descriptor = try UnixSocketPath.makeListeningSocket(path, backlog: Self.backlog)
        do {
            return try await self.serve(descriptor)
        } catch {
            throw TransportError(.bindFailed, "cannot listen on \(path): \(SocketErrorText.bind(error))")
        }
    }

    /// Serves the listening socket `descriptor` (socket activation); it is closed when the server stops,
    /// the manager's own copy staying open.
    private func adopt(_ descriptor: Int32, path: String) async throws -> any Channel {
        do {
            return try await self.serve(descriptor)
        } catch {
            throw TransportError(.bindFailed, "cannot serve the inherited socket (descriptor \(descriptor), \(path)): \(error)")
        }
    }

    static let backlog: Int32 = 256

    /// Accepts connections on the listening socket `descriptor`, which the channel then owns (and closes).
    private func serve(_ descriptor: Int32) async throws -> any Channel {
        try await ServerBootstrap(group: self.group)
            .serverChannelOption(.backlog, value: Self.backlog)
            // A peer that shuts down its sending side still gets the answers to the calls it sent,
            // and a frame cut off by the end of the stream gets GOAWAY TRUNCATED (SPEC.md 9.1).
            .childChannelOption(.allowRemoteHalfClosure, value: true)
            .childChannelInitializer { [self] channel in self.initialize(channel) }
            .withBoundSocket(descriptor)
            .get()
    }

    private func initialize(_ channel: any Channel) -> EventLoopFuture<Void> {
        let (configuration, registry, logger) = (self.configuration, self.registry, self.logger)
        return PeerCredentials.read(from: channel).flatMapThrowing { [self] peer in
            let sync = channel.pipeline.syncOperations
            try sync.addHandler(MessageToByteHandler(FrameEncoder()))
            var logger = logger
            if let peer {
                logger[metadataKey: "peer.pid"] = "\(peer.pid)"
                logger[metadataKey: "peer.uid"] = "\(peer.uid)"
                logger[metadataKey: "peer.gid"] = "\(peer.gid)"
            }
            let admitted = peer.map { configuration.admits(uid: $0.uid, gid: $0.gid) } ?? (configuration.allowedUIDs == nil && configuration.allowedGIDs == nil)
            let added = admitted ? registry.add(channel) : nil
            if admitted, added == nil, registry.isShuttingDown {
                // Accepted as the listener closed: GOAWAY NO_ERROR instead of HELLO, and the client connects
                // again (SPEC.md section 3) — under socket activation, to the server that takes over.
                logger.debug("rpc.connection_turned_away", metadata: ["reason": "server shutting down"])
                let goAway = GoAway(lastCallID: 0, errorCode: .noError, debug: "server shutting down")
                channel.writeAndFlush(OutboundFrame.frame(.goAway(goAway))).whenComplete { _ in channel.close(promise: nil) }
                return
            }
            guard admitted, let id = added else {
                let reason = admitted ? "too many connections" : "peer not allowed"
                logger.warning("rpc.connection_refused", metadata: ["reason": "\(reason)"])
                self.metrics.recordRefusedConnection(peerAllowed: admitted)
                let goAway = GoAway(lastCallID: 0, errorCode: .refused, debug: reason)
                channel.writeAndFlush(OutboundFrame.frame(.goAway(goAway))).whenComplete { _ in channel.close(promise: nil) }
                return
            }
            logger[metadataKey: "rpc.connection_id"] = "\(id)"
            logger.debug("rpc.connection_accepted")
            let handler = ServerConnectionHandler(
                configuration: configuration, connectionID: id, peer: peer, logger: logger, executor: self.executor, budget: self.budget,
                streamBudget: self.streamBudget, reportIdle: { idle in registry.setIdle(id, idle) }
            )
            try sync.addHandler(ByteToMessageHandler(FrameDecoder(role: .server, limits: configuration.limits, version: configuration.protocolVersion)), position: .first)
            try sync.addHandler(handler)
            let bound = NIOLoopBound(handler, eventLoop: channel.eventLoop)
            registry.setDrain(id) { reason in channel.eventLoop.execute { bound.value.beginDrain(reason: reason) } }
        }
    }
}
