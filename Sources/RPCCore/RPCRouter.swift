/// A unary handler: serialized request message in, serialized response message out.
/// Throw ``RPCError`` to choose the status; other errors become ``StatusCode/internal``.
public typealias RPCHandler = @Sendable (_ request: [UInt8], _ context: ServerContext) async throws -> [UInt8]

/// Code that runs around every call: authentication, logging, metrics.
public protocol ServerInterceptor: Sendable {
    /// Calls `next` (perhaps with a changed context) or throws instead.
    func intercept(
        request: [UInt8],
        context: ServerContext,
        next: @Sendable ([UInt8], ServerContext) async throws -> [UInt8]
    ) async throws -> [UInt8]
}

/// A group of methods served together, e.g. `feedback.v1.FeedbackService`.
public protocol RPCService: Sendable {
    /// Full method paths (`/SERVICE/METHOD`) and their handlers.
    var methods: [String: RPCHandler] { get }
}

/// The method registry of a server: finds a call's handler and runs it through the interceptors.
public struct RPCRouter: Sendable {
    private var handlers: [String: RPCHandler] = [:]
    private var interceptors: [any ServerInterceptor] = []

    public init() {}

    public init(services: [any RPCService], interceptors: [any ServerInterceptor] = []) {
        for service in services { self.register(service) }
        self.interceptors = interceptors
    }

    /// Adds every method of `service`; a later registration of the same path replaces an earlier one.
    public mutating func register(_ service: any RPCService) {
        self.handlers.merge(service.methods) { _, new in new }
    }

    /// Adds `interceptor` inside those already added (the first added runs first).
    public mutating func intercept(with interceptor: any ServerInterceptor) {
        self.interceptors.append(interceptor)
    }

    /// The paths served, sorted.
    public var methodPaths: [String] { self.handlers.keys.sorted() }

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
            if let cause = rpcError.cause {
                context.logger.error("rpc.handler_failed", metadata: ["error.cause": "\(cause)"])
            }
            throw rpcError
        }
    }
}
