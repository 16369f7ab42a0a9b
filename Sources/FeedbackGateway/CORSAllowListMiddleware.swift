import CoreMetrics
import HTTPTypes
import Hummingbird

/// CORS for an allow-list of origins read at start-up (Hummingbird's `CORSMiddleware` takes its list
/// only as a variadic literal). Preflights from listed origins get 204 allowing POST with
/// `Authorization` and `Content-Type`; from other origins 403. Responses to listed origins carry
/// `Access-Control-Allow-Origin` and expose `X-Request-Id`.
struct CORSAllowListMiddleware<Context: RequestContext>: RouterMiddleware {
    let allowedOrigins: Set<String>

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard let origin = request.headers[.origin] else { return try await next(request, context) }
        let allowed = self.allowedOrigins.contains(origin)
        if request.method == .options, request.headers[.accessControlRequestMethod] != nil {
            guard allowed else {
                Counter(label: "feedback_gateway_cors_refusals_total").increment()
                return GatewayResponse.detail(.forbidden, "Origin \(origin) is not allowed.")
            }
            return Response(
                status: .noContent,
                headers: [
                    .accessControlAllowOrigin: origin,
                    .accessControlAllowMethods: "POST",
                    .accessControlAllowHeaders: "Authorization, Content-Type, X-Request-Id, traceparent",
                    .accessControlMaxAge: "600",
                    .vary: "Origin",
                ]
            )
        }
        var response = try await next(request, context)
        if allowed {
            response.headers[.accessControlAllowOrigin] = origin
            response.headers[.accessControlExposeHeaders] = "X-Request-Id"
            response.headers[values: .vary].append("Origin")
        }
        return response
    }
}
