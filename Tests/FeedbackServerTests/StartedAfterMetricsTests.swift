import FeedbackMetrics
import FeedbackTestSupport
import Logging
import NIOCore
import NIOPosix
import Prometheus
import ServiceLifecycle
import Synchronization
import Testing

/// A service that records that it ran, then waits for graceful shutdown.
struct RecordingService: Service {
    final class Ran: Sendable {
        let flag = Atomic<Bool>(false)
        let (started, startedContinuation) = AsyncStream<Void>.makeStream()

        var value: Bool { self.flag.load(ordering: .relaxed) }
    }

    let ran: Ran

    func run() async throws {
        self.ran.flag.store(true, ordering: .relaxed)
        self.ran.startedContinuation.yield()
        try? await gracefulShutdown()
    }
}

@Suite("Metrics endpoint: nothing starts before it listens")
struct StartedAfterMetricsTests {
    @Test("a metrics address that cannot be bound stops start-up: the service after it never runs")
    func cannotListen() async throws {
        let taken = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton).bind(host: "127.0.0.1", port: 0).get()
        let port = try #require(taken.localAddress?.port)
        let endpoint = try MetricsEndpoint(listen: "127.0.0.1:\(port)", registry: PrometheusCollectorRegistry(), logger: quietLogger())
        let ran = RecordingService.Ran()
        let group = ServiceGroup(
            configuration: .init(services: [endpoint, StartedAfterMetrics(RecordingService(ran: ran), after: endpoint)], logger: quietLogger())
        )
        let error = await #expect(throws: MetricsEndpoint.CannotListen.self) { try await group.run() }
        #expect(error?.address == "127.0.0.1:\(port)")
        #expect(!ran.value)
        try await taken.close()
    }

    @Test("once the endpoint listens the service runs, and both stop on graceful shutdown")
    func startsAfter() async throws {
        let endpoint = try MetricsEndpoint(listen: "127.0.0.1:0", registry: PrometheusCollectorRegistry(), logger: quietLogger())
        let ran = RecordingService.Ran()
        let group = ServiceGroup(
            configuration: .init(services: [endpoint, StartedAfterMetrics(RecordingService(ran: ran), after: endpoint)], logger: quietLogger())
        )
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { try await group.run() }
            var started = ran.started.makeAsyncIterator()
            _ = await started.next()
            await group.triggerGracefulShutdown()
            try await tasks.waitForAll()
        }
        #expect(ran.value)
    }
}
