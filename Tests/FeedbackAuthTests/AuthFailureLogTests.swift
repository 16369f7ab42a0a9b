import FeedbackAuth
import FeedbackDomain
import FeedbackServer
import FeedbackTestSupport
import Foundation
import RPCCodec
import RPCCore
import RPCUnixTransport
import ServiceLifecycle
import Testing

/// A flood of bad tokens costs a few log lines a second, not lines per call, and each bad token is
/// refused without a task once it is known to be bad.
@Suite("Auth failures: bounded logs and cost")
struct AuthFailureLogTests {
    @Test("the throttle lets `limit` lines through per interval and counts the rest for the next line")
    func throttle() {
        let throttle = LogThrottle(limit: 3, per: .seconds(1))
        let start = ContinuousClock.now
        #expect((0..<3).map { _ in throttle.admit(now: start) } == [0, 0, 0])
        #expect((0..<5).map { _ in throttle.admit(now: start + .milliseconds(500)) } == [nil, nil, nil, nil, nil])
        #expect(throttle.admit(now: start + .seconds(1)) == 5, "the first line of the next interval says how many were suppressed")
        #expect(throttle.admit(now: start + .seconds(1)) == 0)
    }

    /// Before: two lines per refused call (rpc.auth_failed and rpc.call), 400 lines for 200 calls.
    @Test("200 calls with bad tokens: at most ten rpc.auth_failed and ten rpc.call lines a second, with the suppressed count")
    func floodIsThrottled() async throws {
        let logs = CapturedLogs()
        let store = InMemoryFeedbackStore(interactionIDs: 1...3)
        let router = FeedbackdRouter.make(store: store, verifier: try await TestAuth.verifier())
        let configuration = ServerConfiguration(socketPath: uniqueSocketPath())
        let server = UnixSocketServer(configuration: configuration, router: router, logger: logs.logger())
        let group = ServiceGroup(services: [server], logger: quietLogger())
        let good = try await TestAuth.token()
        let badSignature = forged(good)
        let clock = ContinuousClock()
        var elapsed = Duration.zero
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { try await group.run() }
            try await server.waitUntilListening()
            let connection = try await ClientConnection.connect(to: configuration.socketPath)
            let started = clock.now
            for index in 0..<200 {
                // Half a token with a bad signature (the same one each time), half not a JWT at all.
                let token = index % 2 == 0 ? badSignature : "not-a-jwt-\(index)"
                let answer = try await connection.call(
                    try request(FeedbackService.submitFeedbackPath, [0x08, 0x01, 0x10, 0x01], metadata: [("authorization", "Bearer \(token)")])
                )
                #expect(answer.code == StatusCode.unauthenticated.rawValue)
            }
            elapsed = clock.now - started
            await connection.close()
            await group.triggerGracefulShutdown()
            try await tasks.waitForAll()
        }
        let windows = Int(elapsed / .seconds(1)) + 1  // the intervals the flood spanned
        let authLines = logs.all.filter { $0.message == "rpc.auth_failed" }
        let callLines = logs.all.filter { $0.message == "rpc.call" }
        #expect(authLines.count <= 10 * windows, "\(authLines.count) rpc.auth_failed lines over \(elapsed)")
        #expect(callLines.count <= 10 * windows, "\(callLines.count) rpc.call lines over \(elapsed)")
        if windows == 1 {
            #expect(authLines.count == 10)
        }
        #expect(authLines.count + callLines.count < 200)
    }

    @Test("a token that cannot be valid is refused on the calling thread; one refused once is refused so again")
    func refusedWithoutWaiting() async throws {
        let verifier = try await TestAuth.verifier()
        // Malformed, and expired: no signature check is needed to refuse them.
        #expect(throws: AuthError.self) { _ = try verifier.verifyWithoutWaiting(authorization: "Bearer not-a-jwt") }
        let expired = try await TestAuth.token(ttl: .seconds(-120))
        #expect(throws: AuthError.self) { _ = try verifier.verifyWithoutWaiting(authorization: "Bearer \(expired)") }
        // Well formed, badly signed: the first refusal needs the signature check; later ones do not.
        let good = try await TestAuth.token()
        let forged = forged(good)
        #expect(try verifier.verifyWithoutWaiting(authorization: "Bearer \(forged)") == nil, "unknown yet: its signature must be checked")
        await #expect(throws: AuthError.self) { _ = try await verifier.verify(authorization: "Bearer \(forged)") }
        #expect(throws: AuthError.self) { _ = try verifier.verifyWithoutWaiting(authorization: "Bearer \(forged)") }
    }
}

/// `token` with the first character of its signature changed: well formed, badly signed.
private func forged(_ token: String) -> String {
    var parts = token.split(separator: ".", omittingEmptySubsequences: false).map(String.init)
    let signature = parts[2]
    parts[2] = (signature.first == "A" ? "B" : "A") + signature.dropFirst()
    return parts.joined(separator: ".")
}
