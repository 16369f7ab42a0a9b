import FeedbackAuth
import FeedbackDomain
import FeedbackServer
import Foundation
import Logging
import RPCCore
import RPCUnixTransport
import ServiceLifecycle
import Testing

/// A secret every test server accepts, and tokens signed with it.
public enum TestAuth {
    public static let secret = Array("test-secret-0123456789-abcdefghijklmnop".utf8)

    public static func token(subject: String = "tester", ttl: Duration = .seconds(600), scope: String? = nil) async throws -> String {
        try await DevelopmentToken.mint(secret: secret, subject: subject, ttl: ttl, scope: scope)
    }

    public static func verifier(_ configure: (inout TokenVerifierConfiguration) -> Void = { _ in }) async throws -> TokenVerifier {
        var configuration = TokenVerifierConfiguration(hmacSecret: secret)
        configure(&configuration)
        return try await TokenVerifier(configuration: configuration)
    }
}

/// A short socket path no other test uses (sun_path holds 107 bytes).
public func uniqueSocketPath() -> String {
    "/tmp/fbt-\(UInt32.random(in: .min ... .max)).sock"
}

/// Runs an in-process server on a fresh socket for the duration of `body`, then shuts it down
/// gracefully (GOAWAY, drain) and waits for it to stop, even when `body` throws.
public func withServer<T: Sendable>(
    services: [any RPCService],
    interceptors: [any ServerInterceptor] = [],
    extraServices: [any Service] = [],
    configure: (inout ServerConfiguration) -> Void = { _ in },
    logger: Logger = quietLogger(),
    _ body: (_ socketPath: String, _ server: ServerHandle) async throws -> T
) async throws -> T {
    var configuration = ServerConfiguration(socketPath: uniqueSocketPath())
    configuration.calls = .feedbackd
    configure(&configuration)
    let server = UnixSocketServer(
        configuration: configuration,
        router: RPCRouter(services: services, interceptors: interceptors),
        logger: logger
    )
    let group = ServiceGroup(services: extraServices + [server], logger: logger)
    return try await withThrowingTaskGroup(of: Void.self) { tasks in
        tasks.addTask { try await group.run() }
        do {
            try await server.waitUntilListening()
            let result = try await body(configuration.socketPath, ServerHandle(server: server, group: group))
            await group.triggerGracefulShutdown()
            try await tasks.waitForAll()
            return result
        } catch {
            await group.triggerGracefulShutdown()
            try? await tasks.waitForAll()
            throw error
        }
    }
}

/// A running test server and the way to stop it.
public struct ServerHandle: Sendable {
    public let server: UnixSocketServer
    public let group: ServiceGroup

    /// Starts graceful shutdown (as SIGTERM would) without waiting for it.
    public func triggerShutdown() async {
        await self.group.triggerGracefulShutdown()
    }
}

/// The feedback service with authentication, over `store`.
public func withFeedbackServer<T: Sendable>(
    store: any FeedbackStore,
    extraServices: [any Service] = [],
    verifier: TokenVerifier? = nil,
    configure: (inout ServerConfiguration) -> Void = { _ in },
    _ body: (_ socketPath: String) async throws -> T
) async throws -> T {
    let resolved: TokenVerifier
    if let verifier {
        resolved = verifier
    } else {
        resolved = try await TestAuth.verifier()
    }
    return try await withServer(
        services: [FeedbackService(store: store), HealthService(store: store)],
        interceptors: [AuthInterceptor(verifier: resolved)],
        extraServices: extraServices,
        configure: configure
    ) { path, _ in try await body(path) }
}

/// A scratch directory removed afterwards, for synchronous tests.
public func withTemporaryDirectorySync<T>(_ body: (String) throws -> T) rethrows -> T {
    let path = NSTemporaryDirectory() + "fbt-\(UUID().uuidString.prefix(8))"
    try? FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(atPath: path) }
    return try body(path)
}

/// A scratch directory removed afterwards.
public func withTemporaryDirectory<T>(_ body: (String) async throws -> T) async rethrows -> T {
    let path = NSTemporaryDirectory() + "fbt-\(UUID().uuidString.prefix(8))"
    try? FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(atPath: path) }
    return try await body(path)
}

/// Waits until `condition` (state the test can read) holds, checking every 10 ms. `limit` only stops a
/// test that would otherwise hang: it is far above what any wait takes on a busy machine, so that load
/// never turns a slow pass into a failure.
public func waitUntil(atMost limit: Duration = .seconds(120), _ condition: () -> Bool) async throws {
    let deadline = ContinuousClock.now + limit
    while !condition() {
        guard ContinuousClock.now < deadline else { throw ProcessFailure(message: "condition not met within \(limit)") }
        try await Task.sleep(for: .milliseconds(10))
    }
}
