import RPCCore

/// Methods whose behaviour tests control: echo, sleep, fail.
struct TestService: RPCService {
    static let echo = "/test.v1.Test/Echo"
    static let sleep = "/test.v1.Test/Sleep"
    static let boom = "/test.v1.Test/Boom"
    /// Runs until cancelled (or a minute): for cancellation and deadline tests, which must not race a timer.
    static let hang = "/test.v1.Test/Hang"

    var methods: [String: RPCHandler] {
        [
            Self.echo: { request, context in request + Array((context.principal ?? "").utf8) },
            // The first request byte is a delay in milliseconds; the reply echoes the request.
            Self.sleep: { request, _ in
                try await Task.sleep(for: .milliseconds(Int(request.first ?? 0)))
                return request
            },
            Self.boom: { _, _ in throw SecretFailure() },
            Self.hang: { _, _ in try await untilCancelled() },
        ]
    }

    struct SecretFailure: Error, CustomStringConvertible {
        var description: String { "the database password is hunter2" }
    }
}

/// Suspends until the calling task is cancelled, then throws `CancellationError`: a handler that only
/// a CANCEL, a deadline or a closed connection ends. No timer is involved.
func untilCancelled() async throws -> Never {
    let (signal, _) = AsyncStream<Never>.makeStream()
    for await _ in signal {}  // ends only when the task is cancelled
    throw CancellationError()
}
