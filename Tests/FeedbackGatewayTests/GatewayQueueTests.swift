import FeedbackServer
import FeedbackTestSupport
import Hummingbird
import HummingbirdTesting
import RPCCore
import Synchronization
import Testing

@testable import FeedbackGateway

/// A transport whose calls wait until ``release()``; it counts the calls that reached it and reports
/// each arrival on ``arrivals``.
final class HeldTransport: ClientTransport {
    private let state = Mutex<(calls: Int, held: [CheckedContinuation<Void, Never>], open: Bool)>((0, [], false))
    let arrivals: AsyncStream<Void>
    private let arrived: AsyncStream<Void>.Continuation

    init() {
        (self.arrivals, self.arrived) = AsyncStream.makeStream()
    }

    var calls: Int { self.state.withLock { $0.calls } }

    func unary(method: String, request: [UInt8], metadata: Metadata, timeout: Duration?) async throws(RPCError) -> ClientResponse {
        await withCheckedContinuation { continuation in
            let proceed = self.state.withLock { state in
                state.calls += 1
                if !state.open { state.held.append(continuation) }
                return state.open
            }
            self.arrived.yield()
            if proceed { continuation.resume() }
        }
        return ClientResponse(message: [])
    }

    /// The gateway makes no streaming calls.
    func serverStream(method: String, request: [UInt8], metadata: Metadata, timeout: Duration?) async -> ClientStream {
        .failed(RPCError(code: .unimplemented, message: "HeldTransport carries no streams."))
    }

    func release() {
        let held = self.state.withLock { state in
            state.open = true
            defer { state.held = [] }
            return state.held
        }
        for continuation in held { continuation.resume() }
    }

    func close() async {}
}

@Suite("Gateway: bounded wait for a call slot to feedbackd")
struct GatewayQueueTests {
    @Test("a request that finds every slot taken is answered 503 within the queue timeout and never reaches feedbackd")
    func queueTimeout() async throws {
        let transport = HeldTransport()
        var configuration = GatewayConfiguration(socketPath: "/nonexistent")
        configuration.callsPerConnection = 1
        configuration.queueTimeout = .milliseconds(50)
        let app = Application(router: try GatewayApplication.router(configuration: configuration, transport: transport), logger: quietLogger())
        let token = try await TestAuth.token()
        try await app.test(.router) { client in
            async let first = client.feedback(#"{"interaction_id": 1, "rating": 1}"#, token: token)
            var arrivals = transport.arrivals.makeAsyncIterator()
            _ = await arrivals.next()  // the first holds the only slot
            let second = try await client.feedback(#"{"interaction_id": 2, "rating": 1}"#, token: token)
            #expect(second.status == .serviceUnavailable)
            #expect(second.detail as? String == "Feedback store unavailable.")
            #expect(transport.calls == 1, "the refused request was never sent")
            transport.release()
            #expect(try await first.status == .noContent)
        }
    }

    @Test("a released slot passes to the waiting request")
    func handOver() async throws {
        let slots = UpstreamSlots(connections: 1, callsPerConnection: 1, queueTimeout: .seconds(600))
        let held = try #require(await slots.acquire())
        async let waiter = slots.acquire()
        slots.release(held.connection)
        let next = try #require(await waiter)
        #expect(next.connection == 0)
        slots.release(next.connection)
        #expect(await slots.acquire()?.waited == .zero, "free again: taken at once")
    }

    @Test("a wait that runs out gives no slot, and leaves none taken")
    func runsOut() async throws {
        let slots = UpstreamSlots(connections: 1, callsPerConnection: 1, queueTimeout: .milliseconds(10))
        let held = try #require(await slots.acquire())
        #expect(await slots.acquire() == nil)
        slots.release(held.connection)
        #expect(await slots.acquire() != nil)
    }

    @Test("a request cancelled while it waits gives up its place")
    func cancelled() async throws {
        let slots = UpstreamSlots(connections: 1, callsPerConnection: 1, queueTimeout: .seconds(600))
        let held = try #require(await slots.acquire())
        let waiter = Task { await slots.acquire() }
        waiter.cancel()
        #expect(await waiter.value == nil)
        slots.release(held.connection)
        #expect(await slots.acquire() != nil)
    }
}
