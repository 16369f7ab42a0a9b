import FeedbackClient
import FeedbackDomain
import FeedbackTestSupport
import Foundation
import RPCCodec
import RPCCore
import RPCUnixTransport
import Testing

@Suite("Swift client")
struct ClientTests {
    @Test("calls beyond the server's concurrency limit wait on the client instead of failing")
    func clientQueues() async throws {
        try await withServer(services: [TestService()], configure: { $0.maxConcurrentCallsPerConnection = 4 }) { path, _ in
            let connection = try await ClientConnection.connect(to: path)
            try await withThrowingTaskGroup(of: UInt32.self) { group in
                for index in 0..<40 {
                    group.addTask { try await connection.call(try request(TestService.sleep, [5, UInt8(index)])).code }
                }
                for try await code in group { #expect(code == 0) }
            }
            await connection.close()
        }
    }

    @Test("a call past its deadline is stopped by the server, whose DEADLINE_EXCEEDED is the call's answer")
    func clientDeadline() async throws {
        try await withServer(services: [TestService()]) { path, _ in
            let connection = try await ClientConnection.connect(to: path)
            // Sent before the client's timer fires, the call gets the server's answer; if the timer fires
            // while the call is still queued on the client, it ends DEADLINE_EXCEEDED here.
            do {
                let response = try await connection.call(try request(TestService.hang), timeout: .milliseconds(20))
                #expect(response.code == StatusCode.deadlineExceeded.rawValue)
            } catch {
                #expect((error as? RPCError)?.code == .deadlineExceeded)
            }
            #expect(try await connection.call(try request(TestService.echo, [1])).code == 0, "connection still usable")
            await connection.close()
        }
    }

    @Test("cancelling the calling task cancels the call")
    func taskCancellation() async throws {
        try await withServer(services: [TestService()]) { path, _ in
            let connection = try await ClientConnection.connect(to: path)
            let task = Task { try await connection.call(try request(TestService.hang)) }
            // Before the call is sent it ends CANCELLED here; after, the server is sent CANCEL and its
            // answer (CANCELLED: the handler stopped) is the call's.
            task.cancel()
            do {
                #expect(try await task.value.code == StatusCode.cancelled.rawValue)
            } catch {
                #expect((error as? RPCError)?.code == .cancelled)
            }
            await connection.close()
        }
    }

    @Test("PING measures a round trip")
    func ping() async throws {
        try await withServer(services: [TestService()]) { path, _ in
            let connection = try await ClientConnection.connect(to: path)
            #expect(try await connection.ping() > .zero)
            await connection.close()
        }
    }

    @Test("the client reconnects after the server restarts; an unreachable server is UNAVAILABLE")
    func reconnects() async throws {
        let store = InMemoryFeedbackStore(interactionIDs: 1...3)
        let path = uniqueSocketPath()
        let client = FeedbackClient(socketPath: path)
        let token = try await TestAuth.token()
        try await withFeedbackServer(store: store, configure: { $0.socketPath = path }) { _ in
            try await client.submitFeedback(interactionID: 1, rating: 1, token: token)
        }
        let down = await #expect(throws: RPCError.self) { try await client.submitFeedback(interactionID: 2, rating: 1, token: token) }
        #expect(down?.code == .unavailable)
        try await withFeedbackServer(store: store, configure: { $0.socketPath = path }) { _ in
            try await client.submitFeedback(interactionID: 2, rating: -1, token: token)
        }
        #expect(store.rating(of: 1) == .positive)
        #expect(store.rating(of: 2) == .negative)
        await client.close()
    }

    @Test("connecting to something that is not feedbackd fails cleanly")
    func notAServer() async throws {
        let error = await #expect(throws: TransportError.self) { try await ClientConnection.connect(to: uniqueSocketPath()) }
        #expect(error?.code == .connectFailed)
    }
}
