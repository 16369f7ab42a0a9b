import HTTPTypes
import Hummingbird

/// `X-Content-Type-Options: nosniff` on every response the router gives: a browser takes each body for
/// what its `Content-Type` says (JSON stays data, never a script or a page), whatever the route or status.
///
/// Added first, so that it wraps every other middleware; an `HTTPResponseError` thrown past them becomes
/// its response here. Other errors are left to Hummingbird, whose answer to them (500, or 400 and a close
/// for a malformed request) has no body to sniff; so has the connection guard's 503 over
/// `--max-connections`, written below the router, which carries the header too.
struct NoSniffMiddleware<Context: RequestContext>: RouterMiddleware {
    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        var response: Response
        do {
            response = try await next(request, context)
        } catch let error as HTTPResponseError {
            response = try error.response(from: request, context: context)
        }
        response.headers[.xContentTypeOptions] = "nosniff"
        return response
    }
}
