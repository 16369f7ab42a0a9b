import FeedbackTestSupport
import Foundation
import NIOCore
import RPCCodec
import RPCCore
import Testing

@Suite("Fair admission at the connection limit")
struct FairAdmissionTests {
    @Test("at the limit the longest-idle connection makes room; a connection with a call in flight is never evicted")
    func evictsLongestIdle() async throws {
        try await withServer(services: [TestService()], configure: { $0.maxConnections = 3 }) { path, _ in
            // Two idle connections (HELLO exchanged, no call), then one with a call running.
            let idle1 = try RawConnection(path: path)
            #expect(try await idle1.receive().map { if case .hello = $0 { true } else { false } } == true)
            let idle2 = try RawConnection(path: path)
            #expect(try await idle2.receive().map { if case .hello = $0 { true } else { false } } == true)
            let busy = try RawConnection(path: path)
            try busy.send(callID: 1, request(TestService.hang))
            busy.send(.ping(1))
            #expect(try await busy.receiveSkippingHello() == .pong(1))

            // A newcomer is served: the longest idle goes away with GOAWAY NO_ERROR.
            let fresh = try RawConnection(path: path)
            try fresh.send(callID: 1, request(TestService.echo, [7]))
            #expect(try await fresh.receiveSkippingHello()?.response?.response.code == 0)
            let evicted = try await idle1.receiveUntilClosed()
            #expect(evicted.contains { if case .goAway(let g) = $0 { g.errorCode == .noError } else { false } })

            // Every connection busy: the next newcomer is refused, and no one is evicted.
            try idle2.send(callID: 1, request(TestService.hang))
            idle2.send(.ping(2))
            #expect(try await idle2.receive() == .pong(2))
            try fresh.send(callID: 2, request(TestService.hang))
            fresh.send(.ping(3))
            #expect(try await fresh.receive() == .pong(3))
            let refused = try RawConnection(path: path)
            let frames = try await refused.receiveUntilClosed()
            #expect(frames.contains { if case .goAway(let g) = $0 { g.errorCode == .refused } else { false } })

            // Let the running calls end so the server can stop at once.
            busy.send(.cancel(callID: 1))
            idle2.send(.cancel(callID: 1))
            fresh.send(.cancel(callID: 2))
            #expect(try await busy.receive()?.response?.response.code == StatusCode.cancelled.rawValue)
        }
    }
}
