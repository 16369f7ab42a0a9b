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
public final class UnixSocketServer: Service, ServerTransport {
    public let configuration: ServerConfiguration
    public let router: RPCRouter
    let logger: Logger
    private let group: any EventLoopGroup
    private let listening = ListeningSignal()
    private let registry: ConnectionRegistry
    private let budget: CallBudget
    let metrics: ServerMetrics
    /// The `rpc.call` lines of failed calls, by status code (``StatusCode/normalized``): ten a second each.
    let failedCallLogs = StatusCode.all.map { _ in LogThrottle(limit: 10, per: .seconds(1)) }

    public init(
        configuration: ServerConfiguration,
        router: RPCRouter,
        logger: Logger,
        eventLoopGroup: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton
    ) {
        self.configuration = configuration
        self.router = router
        self.logger = logger
        self.group = eventLoopGroup
        self.registry = ConnectionRegistry(maxConnections: configuration.maxConnections)
        self.budget = CallBudget(limit: configuration.maxCallsInFlight)
        self.metrics = ServerMetrics(methods: router.methodPaths)
    }

    /// Connections open now.
    public var connectionCount: Int { self.registry.count }

    /// Calls in flight on all connections (those of closed connections included until they really end).
    public var callsInFlight: Int { self.budget.current }

    /// Returns once the socket accepts connections.
    /// - Throws: the start-up error if ``run()`` failed before listening.
    public func waitUntilListening() async throws {
        try await self.listening.wait()
    }

    public func run() async throws {
        let path = self.configuration.socketPath
        let (registry, budget) = (self.registry, self.budget)
        let (jobs, jobsContinuation) = AsyncStream<CallJob>.makeStream()
        let listener: any Channel
        do {
            try UnixSocketPath.prepareForBind(path)
            listener = try await self.bind(path: path, registry: registry, budget: budget, jobs: jobsContinuation)
            try UnixSocketPath.setMode(path, self.configuration.socketMode)
        } catch {
            self.listening.fail(error)
            throw error
        }
        self.logger.info(
            "rpc.server_listening",
            metadata: ["socket.path": "\(path)", "socket.mode": "\(String(self.configuration.socketMode, radix: 8))"]
        )
        self.listening.succeed()

        await withGracefulShutdownHandler {
            await withDiscardingTaskGroup { group in
                for await job in jobs {
                    group.addTask { await self.process(job) }
                }
            }
        } onGracefulShutdown: {
            self.logger.info("rpc.server_draining", metadata: ["rpc.connections": "\(registry.count)"])
            listener.close(promise: nil)
            registry.shutDown { jobsContinuation.finish() }
        }
        // Reached after a drain, or when the task was cancelled: close whatever is left.
        listener.close(promise: nil)
        registry.closeAll()
        UnixSocketPath.remove(path)
        self.logger.info("rpc.server_stopped", metadata: ["socket.path": "\(path)"])
    }

    private func bind(
        path: String,
        registry: ConnectionRegistry,
        budget: CallBudget,
        jobs: AsyncStream<CallJob>.Continuation
    ) async throws -> any Channel {
        let configuration = self.configuration
        let logger = self.logger
        let dispatch = CallDispatch(
            answerNow: { [self] call in self.answerImmediately(call) },
            startDeferred: { [self] call, outbox in self.startDeferred(call, outbox: outbox) },
            enqueue: { jobs.yield($0) },
            metrics: self.metrics
        )
        do {
            return try await ServerBootstrap(group: self.group)
                .serverChannelOption(.backlog, value: 256)
                // A peer that shuts down its sending side still gets the answers to the calls it sent,
                // and a frame cut off by the end of the stream gets GOAWAY TRUNCATED (SPEC.md 9.1).
                .childChannelOption(.allowRemoteHalfClosure, value: true)
                .childChannelInitializer { channel in
                    Self.initialize(channel, configuration: configuration, registry: registry, budget: budget, logger: logger, dispatch: dispatch)
                }
                .bind(unixDomainSocketPath: path)
                .get()
        } catch {
            throw TransportError(.bindFailed, "cannot listen on \(path): \(error)")
        }
    }

    private static func initialize(
        _ channel: any Channel,
        configuration: ServerConfiguration,
        registry: ConnectionRegistry,
        budget: CallBudget,
        logger: Logger,
        dispatch: CallDispatch
    ) -> EventLoopFuture<Void> {
        PeerCredentials.read(from: channel).flatMapThrowing { peer in
            let sync = channel.pipeline.syncOperations
            try sync.addHandler(MessageToByteHandler(FrameEncoder()))
            var logger = logger
            if let peer {
                logger[metadataKey: "peer.pid"] = "\(peer.pid)"
                logger[metadataKey: "peer.uid"] = "\(peer.uid)"
                logger[metadataKey: "peer.gid"] = "\(peer.gid)"
            }
            let admitted = peer.map { configuration.admits(uid: $0.uid, gid: $0.gid) } ?? (configuration.allowedUIDs == nil && configuration.allowedGIDs == nil)
            guard admitted, let id = registry.add(channel) else {
                let reason = admitted ? "too many connections" : "peer not allowed"
                logger.warning("rpc.connection_refused", metadata: ["reason": "\(reason)"])
                dispatch.metrics.recordRefusedConnection(peerAllowed: admitted)
                let goAway = GoAway(lastCallID: 0, errorCode: .refused, debug: reason)
                channel.writeAndFlush(OutboundFrame.frame(.goAway(goAway))).whenComplete { _ in channel.close(promise: nil) }
                return
            }
            logger[metadataKey: "rpc.connection_id"] = "\(id)"
            logger.debug("rpc.connection_accepted")
            let handler = ServerConnectionHandler(
                configuration: configuration, connectionID: id, peer: peer, logger: logger, dispatch: dispatch, budget: budget,
                reportIdle: { idle in registry.setIdle(id, idle) }
            )
            try sync.addHandler(ByteToMessageHandler(FrameDecoder(role: .server, limits: configuration.limits)), position: .first)
            try sync.addHandler(handler)
            let bound = NIOLoopBound(handler, eventLoop: channel.eventLoop)
            registry.setDrain(id) { reason in channel.eventLoop.execute { bound.value.beginDrain(reason: reason) } }
        }
    }
}

/// A one-shot "the server is listening, or failed to start" signal.
private final class ListeningSignal: Sendable {
    private enum State {
        case pending([CheckedContinuation<Void, any Error>])
        case done(Result<Void, any Error>)
    }

    private let state = Mutex(State.pending([]))

    func succeed() { self.finish(.success(())) }
    func fail(_ error: any Error) { self.finish(.failure(error)) }

    private func finish(_ result: Result<Void, any Error>) {
        let waiters: [CheckedContinuation<Void, any Error>] = self.state.withLock { state in
            guard case .pending(let waiters) = state else { return [] }
            state = .done(result)
            return waiters
        }
        for waiter in waiters { waiter.resume(with: result) }
    }

    func wait() async throws {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
            let result: Result<Void, any Error>? = self.state.withLock { state in
                switch state {
                case .pending(var waiters):
                    waiters.append(continuation)
                    state = .pending(waiters)
                    return nil
                case .done(let result):
                    return result
                }
            }
            if let result { continuation.resume(with: result) }
        }
    }
}
