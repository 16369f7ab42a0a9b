/// A unary handler: serialized request message in, serialized response message out.
/// Throw ``RPCError`` to choose the status; other errors become ``StatusCode/internal``.
public typealias RPCHandler = @Sendable (_ request: [UInt8], _ context: ServerContext) async throws -> [UInt8]

/// A unary handler that does no I/O and answers in microseconds (health, reflection): the transport may
/// run it on the thread that read the request, without a task. It must never block or wait.
public typealias ImmediateRPCHandler = @Sendable (_ request: [UInt8], _ context: ServerContext) throws(RPCError) -> [UInt8]

/// Code that runs around every call: authentication, logging, metrics.
public protocol ServerInterceptor: Sendable {
    /// Whether the interceptor runs for calls to `method`. A method no interceptor applies to, with an
    /// immediate handler, is answered without a task.
    func applies(to method: String) -> Bool

    /// Decides without waiting, when it can, for calls that are not run in a task (a deferred handler):
    /// returns the context the handler gets, or nil when the interceptor needs to wait (the call then
    /// goes through ``intercept(request:context:next:)`` in a task). Throw to refuse the call.
    func interceptImmediately(context: ServerContext) throws(RPCError) -> ServerContext?

    /// Calls `next` (perhaps with a changed context) or throws instead.
    func intercept(
        request: [UInt8],
        context: ServerContext,
        next: @Sendable ([UInt8], ServerContext) async throws -> [UInt8]
    ) async throws -> [UInt8]
}

extension ServerInterceptor {
    public func applies(to method: String) -> Bool { true }
    public func interceptImmediately(context: ServerContext) throws(RPCError) -> ServerContext? { nil }
}

/// A group of methods served together, e.g. `feedback.v1.FeedbackService`.
public protocol RPCService: Sendable {
    /// Full method paths (`/SERVICE/METHOD`) and their handlers.
    var methods: [String: RPCHandler] { get }
    /// Methods whose handlers never wait (see ``ImmediateRPCHandler``).
    var immediateMethods: [String: ImmediateRPCHandler] { get }
    /// Methods that start their work without waiting and answer later (see ``DeferredRPCHandler``).
    var deferredMethods: [String: DeferredRPCHandler] { get }
    /// Server-streaming methods (see ``ServerStreamingRPCHandler``).
    var streamingMethods: [String: ServerStreamingRPCHandler] { get }
    /// The request and response message of each method, by path (what reflection lists).
    var messageTypes: [String: MessageTypes] { get }
}

extension RPCService {
    public var methods: [String: RPCHandler] { [:] }
    public var immediateMethods: [String: ImmediateRPCHandler] { [:] }
    public var deferredMethods: [String: DeferredRPCHandler] { [:] }
    public var streamingMethods: [String: ServerStreamingRPCHandler] { [:] }
    public var messageTypes: [String: MessageTypes] { [:] }
}

/// The full names of a method's request and response messages, e.g. `feedback.v1.SubmitFeedbackRequest`.
public struct MessageTypes: Hashable, Sendable {
    public var request: String
    public var response: String

    public init(request: String, response: String) {
        self.request = request
        self.response = response
    }
}

/// The method registry of a server: finds a call's handler and runs it through the interceptors.
public struct RPCRouter: Sendable {
    /// How a call of a method runs, found with one lookup (``route(for:)``).
    package enum Route: Sendable {
        /// Answered on the calling thread.
        case immediate(ImmediateRPCHandler)
        /// Started on the calling thread when every interceptor decides without waiting
        /// (``startDeferred(_:request:context:call:)``), otherwise in a task.
        case deferred(DeferredRPCHandler)
        /// In a task, through the interceptors (``handle(request:context:)``).
        case task
        /// A server-streaming call, in a task, through the interceptors (``handleStream(request:context:stream:)``).
        case streaming(ServerStreamingRPCHandler)
        /// Not served: UNIMPLEMENTED.
        case unknown
    }

    private var routes: [String: Route] = [:]
    private var handlers: [String: RPCHandler] = [:]
    private var interceptors: [any ServerInterceptor] = []
    private var types: [String: MessageTypes] = [:]

    public init() {}

    public init(services: [any RPCService], interceptors: [any ServerInterceptor] = []) {
        for service in services { self.register(service) }
        self.interceptors = interceptors
    }

    /// Adds every method of `service`; a later registration of the same path replaces an earlier one.
    public mutating func register(_ service: any RPCService) {
        self.types.merge(service.messageTypes) { $1 }
        for (path, handler) in service.methods {
            self.handlers[path] = handler
            self.routes[path] = .task
        }
        for (path, handler) in service.immediateMethods {
            self.handlers[path] = { request, context in try handler(request, context) }
            self.routes[path] = .immediate(handler)
        }
        for (path, handler) in service.deferredMethods {
            self.handlers[path] = DeferredCall.asyncHandler(handler)
            self.routes[path] = .deferred(handler)
        }
        for (path, handler) in service.streamingMethods {
            self.handlers[path] = nil
            self.routes[path] = .streaming(handler)
        }
    }

    /// How a call of `method` runs: one dictionary lookup (an immediate method that an interceptor
    /// applies to runs in a task).
    package func route(for method: String) -> Route {
        switch self.routes[method] {
        case .immediate(let handler):
            self.interceptors.contains(where: { $0.applies(to: method) }) ? .task : .immediate(handler)
        case let route?:
            route
        case nil:
            .unknown
        }
    }

    /// The handler of `method` when it can answer without a task: it is immediate and no interceptor
    /// applies to it. Otherwise nil, and the call goes through ``handle(request:context:)``.
    public func immediateHandler(for method: String) -> ImmediateRPCHandler? {
        if case .immediate(let handler) = self.route(for: method) { handler } else { nil }
    }

    /// Starts a call of a deferred method (``DeferredRPCHandler``) on the calling thread, when every
    /// interceptor that applies decides without waiting; the answer then comes through `call`. Returns
    /// false, having done nothing, when the call must go through ``handle(request:context:)`` instead:
    /// the method is not deferred, or an interceptor needs to wait.
    public func startDeferred(request: [UInt8], context: ServerContext, call: DeferredCall) -> Bool {
        guard case .deferred(let handler) = self.routes[context.method] else { return false }
        return self.startDeferred(handler, request: request, context: context, call: call)
    }

    /// ``startDeferred(request:context:call:)`` with the handler already found (``route(for:)``).
    package func startDeferred(_ handler: DeferredRPCHandler, request: [UInt8], context: ServerContext, call: DeferredCall) -> Bool {
        var context = context
        for interceptor in self.interceptors where interceptor.applies(to: context.method) {
            do throws(RPCError) {
                guard let decided = try interceptor.interceptImmediately(context: context) else { return false }
                context = decided
            } catch {
                call.finish(.failure(error))
                return true
            }
        }
        handler(request, context, call)
        return true
    }

    /// Adds `interceptor` inside those already added (the first added runs first).
    public mutating func intercept(with interceptor: any ServerInterceptor) {
        self.interceptors.append(interceptor)
    }

    /// The paths served, sorted.
    public var methodPaths: [String] { self.handlers.keys.sorted() }

    /// The server-streaming paths served, sorted (apart from ``methodPaths``, the unary ones: a stream is
    /// called another way, on a version-2 connection).
    public var streamingMethodPaths: [String] {
        self.routes.compactMap { path, route in
            if case .streaming = route { path } else { nil }
        }.sorted()
    }

    /// The message types of a method served, when its service declared them.
    public func messageTypes(of path: String) -> MessageTypes? {
        self.routes[path] == nil ? nil : self.types[path]
    }

    /// Whether an interceptor (authentication) applies to calls of `path`.
    public func isIntercepted(_ path: String) -> Bool {
        self.interceptors.contains { $0.applies(to: path) }
    }

    /// Runs a server-streaming call of `handler` through the interceptors (which see it as a call whose
    /// response message is empty: they decide whether it runs, as for a unary call).
    /// - Throws: ``RPCError`` only.
    package func handleStream(_ handler: @escaping ServerStreamingRPCHandler, request: [UInt8], context: ServerContext, stream: ServerStream) async throws(RPCError) {
        var next: @Sendable ([UInt8], ServerContext) async throws -> [UInt8] = { request, context in
            try await handler(request, context, stream)
            return []
        }
        for interceptor in self.interceptors.reversed() {
            let inner = next
            next = { request, context in try await interceptor.intercept(request: request, context: context, next: inner) }
        }
        do {
            _ = try await next(request, context)
        } catch {
            let rpcError = RPCError(converting: error)
            if rpcError.code == .internal, let cause = rpcError.cause {
                context.logger.error("rpc.handler_failed", metadata: ["error.cause": "\(String(reflecting: cause))"])
            }
            throw rpcError
        }
    }

    /// Runs the call. Unknown methods fail with ``StatusCode/unimplemented`` before any interceptor runs.
    /// - Throws: ``RPCError`` only.
    public func handle(request: [UInt8], context: ServerContext) async throws(RPCError) -> [UInt8] {
        guard let handler = self.handlers[context.method] else {
            throw RPCError(code: .unimplemented, message: "Method \(context.method) is not implemented.")
        }
        var next: @Sendable ([UInt8], ServerContext) async throws -> [UInt8] = handler
        for interceptor in self.interceptors.reversed() {
            let inner = next
            next = { request, context in try await interceptor.intercept(request: request, context: context, next: inner) }
        }
        do {
            return try await next(request, context)
        } catch {
            let rpcError = RPCError(converting: error)
            if rpcError.code == .internal, let cause = rpcError.cause {
                context.logger.error("rpc.handler_failed", metadata: ["error.cause": "\(String(reflecting: cause))"])
            }
            throw rpcError
        }
    }
}
