import FeedbackAuth
import Logging
import RPCCore

/// Verifies the call's `authorization` token before the handler runs and records its subject as the
/// call's principal. Services not listed in `protectedServices` (health) pass through. Methods in
/// `readMethods` need the verifier's read scope; the others its write scope.
///
/// Refusals are logged as `rpc.auth_failed` (with `auth.reason`), at most ten lines a second: a flood of
/// bad tokens is summed up by `log.suppressed` on the next line let through.
public struct AuthInterceptor: ServerInterceptor {
    private let verifiers: ReloadableVerifier
    private let protectedPrefixes: [String]
    private let readMethods: Set<String>
    private let failureLog = LogThrottle(limit: 10, per: .seconds(1))

    /// Checks tokens with `verifier`, for good.
    public init(
        verifier: TokenVerifier,
        protectedServices: [String] = [FeedbackService.serviceName],
        readMethods: Set<String> = [FeedbackService.listFeedbackEventsPath, FeedbackService.watchFeedbackEventsPath]
    ) {
        self.init(verifiers: ReloadableVerifier(verifier), protectedServices: protectedServices, readMethods: readMethods)
    }

    /// Checks each call's token with the verifier `verifiers` holds when the call arrives.
    public init(
        verifiers: ReloadableVerifier,
        protectedServices: [String] = [FeedbackService.serviceName],
        readMethods: Set<String> = [FeedbackService.listFeedbackEventsPath, FeedbackService.watchFeedbackEventsPath]
    ) {
        self.verifiers = verifiers
        self.protectedPrefixes = protectedServices.map { "/\($0)/" }
        self.readMethods = readMethods
    }

    private func access(for method: String) -> TokenAccess {
        self.readMethods.contains(method) ? .read : .write
    }

    public func applies(to method: String) -> Bool {
        self.protectedPrefixes.contains(where: { method.hasPrefix($0) })
    }

    /// A token verified before (the verifier's cache) is checked here, without a task; a new token
    /// needs its signature checked, which waits: nil, and the call takes the task path.
    public func interceptImmediately(context: ServerContext) throws(RPCError) -> ServerContext? {
        do throws(AuthError) {
            let authorization = context.metadataValue("authorization")
            let verifier = self.verifiers.verifier
            guard let token = try verifier.verifyWithoutWaiting(authorization: authorization, for: self.access(for: context.method)) else {
                return nil
            }
            // No logger metadata here (the call's log line is built only when it is logged): the
            // principal is on the context.
            return self.authenticated(context, as: token, by: verifier, tagLogger: false)
        } catch {
            self.logFailure(error, context: context)
            throw error.rpcError
        }
    }

    private func authenticated(_ context: ServerContext, as token: VerifiedToken, by verifier: TokenVerifier, tagLogger: Bool = true) -> ServerContext {
        var context = context
        context.principal = token.subject
        // As long as the verifier would accept the token: its exp plus the leeway.
        context.principalValidUntil = token.expiresAt + verifier.policy.leewaySeconds
        if tagLogger { context.logger[metadataKey: "auth.subject"] = "\(token.subject)" }
        return context
    }

    public func intercept(
        request: [UInt8],
        context: ServerContext,
        next: @Sendable ([UInt8], ServerContext) async throws -> [UInt8]
    ) async throws -> [UInt8] {
        guard self.applies(to: context.method) else {
            return try await next(request, context)
        }
        do {
            let verifier = self.verifiers.verifier
            let token = try await verifier.verify(authorization: context.metadataValue("authorization"), for: self.access(for: context.method))
            return try await next(request, self.authenticated(context, as: token, by: verifier))
        } catch let error as AuthError {
            self.logFailure(error, context: context)
            throw error
        }
    }

    private func logFailure(_ error: AuthError, context: ServerContext) {
        guard let suppressed = self.failureLog.admit() else { return }
        var metadata: Logger.Metadata = ["auth.reason": "\(error)"]
        if suppressed > 0 { metadata["log.suppressed"] = "\(suppressed)" }
        context.logger.info("rpc.auth_failed", metadata: metadata)
    }
}
