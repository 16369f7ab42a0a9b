import CoreMetrics
import Hummingbird

/// Requests by route and status, and their duration (swift-metrics; exported with `--metrics-listen`).
/// The route is the one the router matched (`/feedback`, `/healthz`, …), or `NotFound` (Hummingbird's name): a client
/// requesting made-up paths cannot add time series.
struct RequestMetricsMiddleware<Context: RequestContext>: RouterMiddleware {
    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let start = ContinuousClock.now
        let status: Int
        let response: Response
        do {
            response = try await next(request, context)
            status = response.status.code
        } catch let error as HTTPResponseError {
            Self.record(route: context.endpointPath, status: error.status.code, since: start)
            throw error
        }
        Self.record(route: context.endpointPath, status: status, since: start)
        return response
    }

    private static func record(route: String?, status: Int, since start: ContinuousClock.Instant) {
        let route = route ?? "NotFound"
        Counter(label: "feedback_gateway_requests_total", dimensions: [("route", route), ("status", "\(status)")]).increment()
        let elapsed = (ContinuousClock.now - start).components
        Timer(label: "feedback_gateway_request_duration_seconds", dimensions: [("route", route)])
            .recordNanoseconds(elapsed.seconds * 1_000_000_000 + elapsed.attoseconds / 1_000_000_000)
    }
}
