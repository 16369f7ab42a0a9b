import CoreMetrics
import FastAPICompat
import FeedbackAuth
import FeedbackClient
import Foundation
import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import RPCCore

/// `POST /feedback` and its neighbours: the original FastAPI route, over RPC.
struct FeedbackRoutes<Context: RequestContext>: Sendable {
    let upstream: FeedbackUpstream
    let configuration: GatewayConfiguration
    let preCheck: TokenPreCheck

    init(upstream: FeedbackUpstream, configuration: GatewayConfiguration) {
        self.upstream = upstream
        self.configuration = configuration
        self.preCheck = TokenPreCheck(policy: configuration.tokenPolicy)
    }

    func register(on router: Router<Context>) {
        router.post("/feedback") { request, context in try await self.submit(request, context: context) }
        for method in [HTTPRequest.Method.get, .put, .patch, .delete, .head, .options] {
            router.on("/feedback", method: method) { _, _ in
                GatewayResponse.detail(.methodNotAllowed, "Method Not Allowed", headers: [.allow: "POST"])
            }
        }
        router.get("/healthz") { _, _ in
            let serving = await self.upstream.isServing()
            return GatewayResponse.json(
                serving ? .ok : .serviceUnavailable,
                .object([("status", .string(serving ? "SERVING" : "NOT_SERVING"))])
            )
        }
    }

    /// The original's order of checks: the body is read and, if JSON, parsed (a syntax error is 422, too
    /// deep 400, whatever the credentials); then the credentials (401); then the body's validation
    /// (422). A body that fails validation is answered only once feedbackd has accepted the token
    /// (VerifyToken), so a caller with a bad token learns nothing about its body and gets 401, as from
    /// the original; a valid body goes straight to SubmitFeedback, whose verification is the same.
    func submit(_ request: Request, context: Context) async throws -> Response {
        // A declared length over the limit is answered at once and the connection closed unread; a body
        // without a length (chunked) is read up to the limit only.
        let tooLarge = GatewayResponse.detail(
            .contentTooLarge, "Request body is larger than \(self.configuration.maxBodyBytes) bytes.", headers: [.connection: "close"]
        )
        if let declared = request.headers[.contentLength], let length = Int(declared), length > self.configuration.maxBodyBytes {
            return tooLarge
        }
        let bytes: ByteBuffer
        do {
            bytes = try await request.body.collect(upTo: self.configuration.maxBodyBytes)
        } catch is NIOTooManyBytesError {
            return tooLarge
        }
        let decoded: JSONValue?
        switch FeedbackBody.decode(body: Array(bytes.readableBytesView), contentType: request.headers[.contentType]) {
        case .success(let value): decoded = value
        case .failure(let rejection): return Self.response(for: rejection)
        }
        let token: String
        switch BearerCredentials(authorization: request.headers[.authorization]) {
        case .missing, .otherScheme:
            return GatewayResponse.detail(.unauthorized, "Not authenticated", headers: [.wwwAuthenticate: "Bearer"])
        case .token(let value):
            // The pre-check feedbackd's verifier runs too (shape, size, algorithm, crit, times); the
            // signature is feedbackd's to check.
            do {
                token = try self.preCheck.check(value)
            } catch {
                return Self.invalidToken(error.description)
            }
        }
        let requestID = RequestIDMiddleware<Context>.requestID(of: context) ?? RequestIDMiddleware<Context>.requestID(from: nil)
        let body: FeedbackBody
        switch FeedbackBody.validate(decoded) {
        case .success(let valid):
            body = valid
        case .failure(let rejection):
            do {
                try await self.upstream.verifyToken(token, requestID: requestID)
            } catch {
                return self.response(for: error, context: context)
            }
            return Self.response(for: rejection)
        }
        do {
            try await self.upstream.submit(
                body, token: token, requestID: requestID, traceparent: TraceParent.validated(request.headers[.traceparent])
            )
            return Response(status: .noContent)
        } catch {
            return self.response(for: error, context: context)
        }
    }

    /// The answer to a failed call: the status table, with 401's `WWW-Authenticate` for UNAUTHENTICATED.
    private func response(for error: RPCError, context: Context) -> Response {
        // An outage (feedbackd unreachable, overloaded, its store down, no answer in time) is the
        // operator's business: warning. A refused rating (a bad token, an unknown id) is the caller's: info.
        let level: Logger.Level = HTTPStatusMapping.httpStatus(for: error.code.status).code >= 500 ? .warning : .info
        context.logger.log(level: level, "gateway.rpc_failed", metadata: ["rpc.status": "\(error.code.name)", "rpc.message": "\(error.message)"])
        Counter(label: "feedback_gateway_upstream_errors_total", dimensions: [("code", error.code.name)]).increment()
        if error.code == .unauthenticated { return Self.invalidToken(error.message) }
        return GatewayResponse.detail(HTTPStatusMapping.httpStatus(for: error.code.status), HTTPStatusMapping.detail(for: error))
    }

    /// FastAPI's answer to a body it refused.
    static func response(for rejection: FeedbackBody.Rejection) -> Response {
        switch rejection {
        case .invalid(let issues): GatewayResponse.issues(issues)
        case .ratingOutOfRange: GatewayResponse.detail(.unprocessableContent, "rating must be 1 (positive) or -1 (negative)")
        case .unparseable: GatewayResponse.detail(.badRequest, "There was an error parsing the body")
        }
    }

    static func invalidToken(_ reason: String) -> Response {
        let description = reason.replacingOccurrences(of: "\"", with: "'")
        return GatewayResponse.detail(
            .unauthorized, "Could not validate credentials",
            headers: [.wwwAuthenticate: "Bearer error=\"invalid_token\", error_description=\"\(description)\""]
        )
    }
}
