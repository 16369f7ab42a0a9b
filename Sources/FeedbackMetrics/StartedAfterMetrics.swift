import ServiceLifecycle

/// Runs a service only once a ``MetricsEndpoint`` listens, so that a metrics address that cannot be
/// bound stops start-up before the service opens a listener of its own (feedbackd's socket, the
/// gateway's port). Put both in one `ServiceGroup`, the endpoint first.
public struct StartedAfterMetrics: Service {
    let endpoint: MetricsEndpoint
    let service: any Service

    public init(_ service: any Service, after endpoint: MetricsEndpoint) {
        self.endpoint = endpoint
        self.service = service
    }

    /// - Throws: the endpoint's ``MetricsEndpoint/CannotListen`` (never running the service), or what
    ///   the service throws. A graceful shutdown or a cancellation before the endpoint listens returns
    ///   without running the service.
    public func run() async throws {
        let listening = self.endpoint.listening
        switch await cancelWhenGracefulShutdown({ await listening.valueUnlessCancelled() ?? .gaveUp }) {
        case .listening: try await self.service.run()
        case .failed(let failure): throw failure
        case .gaveUp: return
        }
    }
}
