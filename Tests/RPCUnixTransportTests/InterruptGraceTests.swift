import FeedbackTestSupport
import Logging
import RPCCodec
import RPCCore
import RPCUnixTransport
import ServiceLifecycle
import Testing

/// A handler that ignores its call's interrupt must hold up neither the call's answer nor the server's
/// shutdown: its work may still happen, so the answer says UNKNOWN, never CANCELLED.
@Suite("Handlers that ignore cancellation", .timeLimit(.minutes(1)))
struct InterruptGraceTests {
    /// Before: the call was answered CANCELLED (though its work could still be done) and the server's
    /// drain waited for the handler for ever.
    @Test("a CANCEL the handler ignores: past the interrupt grace the call is answered UNKNOWN, and graceful shutdown does not wait for the handler")
    func graceExpired() async throws {
        let service = TestService()
        defer { service.gate.open() }
        try await withServer(services: [service], configure: { $0.calls.interruptGrace = .milliseconds(200) }) { path, _ in
            let raw = try RawConnection(path: path)
            try raw.send(callID: 1, request(TestService.gated, [7]))
            try await waitUntil { service.gate.waiting == 1 }  // the handler runs
            raw.send(.cancel(callID: 1))
            let answer = try await raw.receiveSkippingHello()?.response
            #expect(answer?.callID == 1)
            #expect(answer?.response.code == StatusCode.unknown.rawValue)
            // The connection still serves other calls.
            try raw.send(callID: 2, request(TestService.echo, [1]))
            #expect(try await raw.receive()?.response?.response.code == 0)
        }
        // withServer has returned: its graceful shutdown ended while the handler still waits at the gate.
    }

    /// Before: cancellation reached the handler, which ignored it, and the server's task group waited.
    @Test("graceful shutdown escalated to cancellation (the group's maximum duration) ends although a handler ignores it")
    func shutdownBounded() async throws {
        let service = TestService()
        defer { service.gate.open() }
        let configuration = ServerConfiguration(socketPath: uniqueSocketPath())
        let server = UnixSocketServer(configuration: configuration, router: RPCRouter(services: [service]), logger: quietLogger())
        var groupConfiguration = ServiceGroupConfiguration(services: [server], logger: quietLogger())
        groupConfiguration.maximumGracefulShutdownDuration = .milliseconds(300)
        let group = ServiceGroup(configuration: groupConfiguration)
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { try await group.run() }
            try await server.waitUntilListening()
            let raw = try RawConnection(path: configuration.socketPath)
            try raw.send(callID: 1, request(TestService.gated, [7]))
            try await waitUntil { server.callsInFlight == 1 }
            await group.triggerGracefulShutdown()
            // The call never ends by itself: only the escalation to cancellation ends the server.
            _ = try? await tasks.next()
            let frames = try await raw.receiveUntilClosed()
            #expect(!frames.contains { $0.response?.response.code == 0 }, "the call was cut off, not answered OK")
        }
    }
}
