import RPCCore
import Synchronization

/// Methods whose behaviour tests control: echo, sleep, fail, wait for the test.
public struct TestService: RPCService {
    public static let echo = "/test.v1.Test/Echo"
    public static let sleep = "/test.v1.Test/Sleep"
    public static let boom = "/test.v1.Test/Boom"
    /// Runs until cancelled (or a minute): for cancellation and deadline tests, which must not race a timer.
    public static let hang = "/test.v1.Test/Hang"
    /// Answers (echoing the request) once the test opens ``gate``: for calls that must still be running
    /// when the test does something, without racing a timer.
    public static let gated = "/test.v1.Test/Gated"

    public var gate = TestGate()

    public init() {}

    public var methods: [String: RPCHandler] {
        [
            Self.echo: { request, context in request + Array((context.principal ?? "").utf8) },
            // The first request byte is a delay in milliseconds; the reply echoes the request.
            Self.sleep: { request, _ in
                try await Task.sleep(for: .milliseconds(Int(request.first ?? 0)))
                return request
            },
            Self.boom: { _, _ in throw SecretFailure() },
            Self.hang: { _, _ in try await untilCancelled() },
            Self.gated: { [gate] request, _ in
                await gate.wait()
                return request
            },
        ]
    }

    public struct SecretFailure: Error, CustomStringConvertible {
        public init() {}
        public var description: String { "the database password is hunter2" }
    }
}

/// Suspends until the calling task is cancelled, then throws `CancellationError`: a handler that only
/// a CANCEL, a deadline or a closed connection ends. No timer is involved.
public func untilCancelled() async throws -> Never {
    let (signal, _) = AsyncStream<Never>.makeStream()
    for await _ in signal {}  // ends only when the task is cancelled
    throw CancellationError()
}

/// A gate tests open when they are ready: every waiter, earlier or later, then goes on.
public final class TestGate: Sendable {
    public init() {}

    private let state = Mutex<(isOpen: Bool, waiters: [CheckedContinuation<Void, Never>])>((false, []))

    public func open() {
        let waiters = self.state.withLock { state in
            state.isOpen = true
            defer { state.waiters = [] }
            return state.waiters
        }
        for waiter in waiters { waiter.resume() }
    }

    /// How many wait at the gate now.
    public var waiting: Int { self.state.withLock { $0.waiters.count } }

    public func wait() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let isOpen = self.state.withLock { state in
                if !state.isOpen { state.waiters.append(continuation) }
                return state.isOpen
            }
            if isOpen { continuation.resume() }
        }
    }
}
