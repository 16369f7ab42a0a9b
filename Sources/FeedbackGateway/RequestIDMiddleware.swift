import HTTPTypes
import Hummingbird
import Logging

extension HTTPField.Name {
    static let requestID = HTTPField.Name("X-Request-Id")!
    static let traceparent = HTTPField.Name("traceparent")!
}

/// Turns framework errors into FastAPI's `{"detail": ...}` bodies, gives every request an id (the client's `X-Request-Id` when it is 1-128 printable characters, else a
/// new one), tags the request's logger with it, echoes it, and writes an access-log line for a request
/// answered 4xx or 5xx (for every request with `logAll`).
struct RequestIDMiddleware<Context: RequestContext>: RouterMiddleware {
    let logAll: Bool

    /// Where the request's id is kept: the logger's metadata, under Hummingbird's own key (so that every
    /// line carries one id, and `context.id` is it). The routes read it from there to forward it.
    static var loggerKey: String { "hb.request.id" }

    /// The id of the request `context` belongs to.
    static func requestID(of context: Context) -> String? {
        context.logger[metadataKey: Self.loggerKey]?.description
    }

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let requestID = Self.requestID(from: request.headers[.requestID])
        var context = context
        // One id per line: Hummingbird's own request id (`hb.request.id`, and `context.id`) becomes this one.
        context.logger[metadataKey: Self.loggerKey] = "\(requestID)"
        let start = ContinuousClock.now
        var response: Response
        do {
            response = try await next(request, context)
        } catch let error as HTTPError {
            // FastAPI's shape for framework errors, e.g. 404 {"detail": "Not Found"}.
            response = GatewayResponse.detail(error.status, error.body ?? error.status.reasonPhrase, headers: error.headers)
        } catch let error as HTTPResponseError {
            response = try error.response(from: request, context: context)
        }
        response.headers[.requestID] = requestID
        if let traceparent = TraceParent.validated(request.headers[.traceparent]) { response.headers[.traceparent] = traceparent }
        guard self.logAll || response.status.code >= 400 else { return response }
        let elapsed = ContinuousClock.now - start
        context.logger.info(
            "http.access",
            metadata: [
                "http.method": "\(request.method)", "http.path": "\(request.uri.path)",
                "http.status": "\(response.status.code)",
                "http.duration_ms": "\(Double(elapsed.components.attoseconds / 1_000_000_000_000) / 1000 + Double(elapsed.components.seconds) * 1000)",
            ]
        )
        return response
    }

    static func requestID(from header: String?) -> String {
        if let header, (1...128).contains(header.utf8.count), header.utf8.allSatisfy({ (0x21...0x7E).contains($0) }) {
            return header
        }
        let value = UInt64.random(in: .min ... .max)
        let hex = String(value, radix: 16)
        return String(repeating: "0", count: 16 - hex.count) + hex
    }
}
