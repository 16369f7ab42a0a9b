import FeedbackAuth
import Logging
import ServiceLifecycle
import UnixSignals

/// SIGHUP (`systemctl reload feedbackd`): reads the keys again (`--jwt-secret-file`, `--jwt-public-key`,
/// `--jwt-jwks`, FEEDBACK_JWT_SECRET) and puts a verifier made from them in force for every call that
/// arrives from then on. Connections, streams and calls in progress are untouched. Keys that cannot be
/// read or used leave the ones in force, and the log says why (`feedbackd.keys_reload_failed`).
struct KeyReload: Service {
    /// SIGHUP, trapped before anything is served (its default action ends the process).
    let hangups: UnixSignalsSequence
    let verifiers: ReloadableVerifier
    /// The verifier's configuration, read from the files and the environment as at start-up.
    let configuration: @Sendable () throws -> TokenVerifierConfiguration
    let logger: Logger

    func run() async throws {
        for await _ in self.hangups.cancelOnGracefulShutdown() {
            await self.reload()
        }
    }

    func reload() async {
        do {
            let verifier = try await TokenVerifier(configuration: try self.configuration())
            self.verifiers.replace(with: verifier)
            self.logger.info("feedbackd.keys_reloaded", metadata: ["auth.algorithms": "\(verifier.policy.algorithms.sorted().joined(separator: ","))"])
        } catch {
            self.logger.error("feedbackd.keys_reload_failed", metadata: ["error": "\(error)", "auth.kept": "the keys in force before"])
        }
    }
}
