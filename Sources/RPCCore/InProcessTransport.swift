import Logging
import Synchronization

/// A client transport that calls a server's ``RPCRouter`` in the same process: no socket, no frames,
/// no event loop. The call takes the path it would take behind the socket (immediate, deferred, or a
/// task through the interceptors) with the same deadline and cancellation semantics, so services,
/// clients and the gateway are tested without a socket.
public struct InProcessTransport: ClientTransport {
    public let router: RPCRouter
    /// The credentials handlers see as the peer's (the socket reads them from the kernel).
    public var peer: PeerCredentials?
    public var logger: Logger

    public init(router: RPCRouter, peer: PeerCredentials? = nil, logger: Logger = Logger(label: "rpc.in-process")) {
        self.router = router
        self.peer = peer
        self.logger = logger
    }

    public func unary(method: String, request: [UInt8], metadata: Metadata, timeout: Duration?) async throws(RPCError) -> ClientResponse {
        let requestID = metadata.first("x-request-id") ?? "in-process"
        let deadline = timeout.map { ContinuousClock.now + $0 }
        let context = ServerContext(method: method, requestID: requestID, metadata: metadata, deadline: deadline, peer: self.peer, logger: self.logger)
        var responseMetadata: Metadata = [("x-request-id", requestID)]
        let result: Result<[UInt8], RPCError>
        if let deadline, deadline <= .now {
            result = .failure(CallInterrupt.deadlineExceeded.error)
        } else if let handler = self.router.immediateHandler(for: method) {
            result = Result { () throws(RPCError) in try handler(request, context) }
        } else {
            result = await self.run(request, context: context, deadline: deadline)
        }
        switch result {
        case .success(let message):
            return ClientResponse(message: message, metadata: responseMetadata)
        case .failure(var error):
            responseMetadata.add(contentsOf: error.metadata)
            error.metadata = responseMetadata
            throw error
        }
    }

    /// Nothing to release: the router belongs to whoever made it.
    public func close() async {}

    /// A deferred or task-path call, interrupted by its deadline or by the caller's cancellation.
    private func run(_ request: [UInt8], context: ServerContext, deadline: ContinuousClock.Instant?) async -> Result<[UInt8], RPCError> {
        let router = self.router
        let answer = OneShot<Result<[UInt8], RPCError>>()
        let call = DeferredCall { answer.set($0) }
        return await withTaskCancellationHandler {
            await withTaskGroup(of: Void.self) { group in
                if let deadline {
                    group.addTask {
                        do {
                            try await Task.sleep(until: deadline)
                            call.interrupt(.deadlineExceeded)
                        } catch {}  // the call ended first
                    }
                }
                if !router.startDeferred(request: request, context: context, call: call) {
                    // The task path: the handler runs in a child task that an interrupt cancels.
                    let interrupt = CallCancellation()
                    call.onInterrupt { interrupt.fire(.cancelled) }
                    group.addTask {
                        await withTaskGroup(of: Void.self) { handler in
                            handler.addTask {
                                do throws(RPCError) {
                                    call.finish(.success(try await router.handle(request: request, context: context)))
                                } catch {
                                    call.finish(.failure(error))
                                }
                            }
                            handler.addTask { _ = await interrupt.wait() }
                            // The handler's end, or an interrupt: cancel the other, let the handler answer.
                            _ = await handler.next()
                            handler.cancelAll()
                        }
                    }
                }
                let result = await answer.value()
                group.cancelAll()
                return result
            }
        } onCancel: {
            call.interrupt(.cancelled)
        }
    }
}
