import FeedbackAuth
import FeedbackDomain
import RPCCore

/// feedbackd's methods, in one place: the feedback service (behind token verification), health, and
/// reflection, which lists all of them.
public enum FeedbackdRouter {
    public static func make(store: any FeedbackStore, verifier: TokenVerifier) -> RPCRouter {
        self.make(store: store, verifiers: ReloadableVerifier(verifier))
    }

    /// With the tokens checked by whichever verifier `verifiers` holds (replaced on SIGHUP).
    public static func make(store: any FeedbackStore, verifiers: ReloadableVerifier) -> RPCRouter {
        var router = RPCRouter(services: [FeedbackService(store: store), HealthService(store: store)])
        router.intercept(with: AuthInterceptor(verifiers: verifiers))
        router.register(ReflectionService(describing: router))
        return router
    }
}
