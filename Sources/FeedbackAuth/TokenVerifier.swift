import CoreMetrics
import Foundation
import JWTKit

/// Verifies `Authorization: Bearer <JWT>` values with jwt-kit, with an algorithm allow-list,
/// required `exp`, optional `nbf`/`iss`/`aud` checks with leeway, and a required scope.
public struct TokenVerifier: Sendable {
    private let keys: JWTKeyCollection
    private let allowedAlgorithms: Set<String>
    private let configuration: TokenVerifierConfiguration
    private struct Verified: Sendable {
        var token: VerifiedToken
        var notBefore: Double?
    }

    private let cache = TokenCache<Verified>(capacity: 4096)
    /// Tokens whose signature or claims were refused lately, and why: the same bad token sent again is
    /// refused without a task or a signature check.
    private let refused = TokenCache<AuthError>(capacity: 4096)
    /// Tokens found verified in the cache, and those whose signature had to be checked (swift-metrics).
    private let cacheHits = Counter(label: "feedback_token_cache_lookups_total", dimensions: [("result", "hit")])
    private let cacheMisses = Counter(label: "feedback_token_cache_lookups_total", dimensions: [("result", "miss")])

    /// - Throws: ``AuthConfigurationError`` for no key, a secret together with public keys, or an
    ///   unreadable PEM or JWKS.
    public init(configuration: TokenVerifierConfiguration) async throws {
        let hasPublicKeys = !configuration.publicKeysPEM.isEmpty || configuration.jwksJSON != nil
        if configuration.hmacSecret != nil, hasPublicKeys {
            throw AuthConfigurationError("configure either an HMAC secret or public keys, not both")
        }
        let keys = JWTKeyCollection()
        var allowed: Set<String> = []
        if let secret = configuration.hmacSecret {
            guard secret.count >= 32 else {
                throw AuthConfigurationError("the HMAC secret must be at least 32 bytes (it is \(secret.count))")
            }
            await keys.add(hmac: HMACKey(from: secret), digestAlgorithm: .sha256)
            allowed.insert("HS256")
        }
        for (index, pem) in configuration.publicKeysPEM.enumerated() {
            let kid = JWKIdentifier(string: "pem-\(index)")
            if let key = try? Insecure.RSA.PublicKey(pem: pem) {
                await keys.add(rsa: key, digestAlgorithm: .sha256, kid: kid)
                allowed.insert("RS256")
            } else if let key = try? ES256PublicKey(pem: pem) {
                await keys.add(ecdsa: key, kid: kid)
                allowed.insert("ES256")
            } else if let key = try? EdDSA.PublicKey(pem: pem) {
                await keys.add(eddsa: key, kid: kid)
                allowed.insert("EdDSA")
            } else {
                throw AuthConfigurationError("public key \(index + 1) is not an RSA, P-256 or Ed25519 public key in PEM")
            }
        }
        if let jwks = configuration.jwksJSON {
            do {
                try await keys.add(jwksJSON: jwks)
            } catch {
                throw AuthConfigurationError("the JWKS cannot be read: \(error)")
            }
            allowed.formUnion(["RS256", "ES256", "EdDSA"])
        }
        guard !allowed.isEmpty else {
            throw AuthConfigurationError("no key configured: give an HMAC secret, a public key or a JWKS")
        }
        self.keys = keys
        self.allowedAlgorithms = allowed
        self.configuration = configuration
    }

    /// The rules every token must meet before its signature is checked: the algorithms of the keys
    /// configured, the leeway and the size limit.
    public var policy: TokenPolicy {
        TokenPolicy(algorithms: self.allowedAlgorithms, leeway: self.configuration.leeway)
    }

    /// Verifies an `authorization` metadata value.
    /// - Throws: ``AuthError``, whose reason is fixed text: nothing of the token is echoed.
    public func verify(authorization: String?, for access: TokenAccess = .write, now: Date = Date()) async throws(AuthError) -> VerifiedToken {
        let token = try BearerCredentials(authorization: authorization).token()
        let unverified: UnverifiedToken
        switch try self.checkWithoutWaiting(token, for: access, now: now) {
        case .verified(let verified): return verified
        case .needsSignatureCheck(let parsed): unverified = parsed
        }
        self.cacheMisses.increment()
        let claims: FeedbackClaims
        do {
            claims = try await self.keys.verify(token, as: FeedbackClaims.self, iteratingKeys: true)
        } catch let error as JWTError where error.errorType == .signatureVerificationFailed {
            throw self.refuse(token, .unauthenticated("token signature is invalid"))
        } catch {
            throw self.refuse(token, .unauthenticated("token is malformed or its signature is invalid"))
        }
        do throws(AuthError) {
            try self.checkClaims(claims)
        } catch {
            throw self.refuse(token, error)
        }
        let verified = VerifiedToken(
            subject: claims.sub?.value ?? "",
            scopes: claims.scopes,
            expiresAt: unverified.expiresAt
        )
        self.cache.insert(token, Verified(token: verified, notBefore: unverified.notBefore))
        try self.checkScope(of: verified, for: access)
        return verified
    }

    /// Verifies what can be verified on the calling thread, without a signature check: a missing or
    /// malformed header is refused; a token whose signature and claims were verified before (a bounded
    /// cache of recent tokens) is checked again for its times only; a new token is refused when its form,
    /// algorithm, size or times are not acceptable, or when it was refused lately (a bounded cache): so a
    /// flood of bad tokens costs each call microseconds on the event loop, not a task. Returns nil when
    /// the token's signature must still be checked: then call ``verify(authorization:for:now:)``.
    public func verifyWithoutWaiting(authorization: String?, for access: TokenAccess = .write, now: Date = Date()) throws(AuthError) -> VerifiedToken? {
        let token = try BearerCredentials(authorization: authorization).token()
        guard case .verified(let verified) = try self.checkWithoutWaiting(token, for: access, now: now) else { return nil }
        return verified
    }

    /// What can be decided about `token` without its signature check.
    private enum Check {
        case verified(VerifiedToken)
        /// Parsed and acceptable so far (form, algorithm, size, times): its signature must be checked.
        case needsSignatureCheck(UnverifiedToken)
    }

    /// ``verifyWithoutWaiting(authorization:for:now:)`` for a token taken from its header; the parse it
    /// made is handed on, so that ``verify(authorization:for:now:)`` parses a token once.
    private func checkWithoutWaiting(_ token: String, for access: TokenAccess, now: Date) throws(AuthError) -> Check {
        guard let cached = self.cache.lookup(token) else {
            if let refusal = self.refused.lookup(token) { throw refusal }
            return .needsSignatureCheck(try UnverifiedToken(token, policy: self.policy, now: now))
        }
        self.cacheHits.increment()
        try UnverifiedToken.checkTimes(expiresAt: cached.token.expiresAt, notBefore: cached.notBefore, policy: self.policy, now: now)
        try self.checkScope(of: cached.token, for: access)
        return .verified(cached.token)
    }

    /// Remembers that `token` was refused with `error` (its signature or claims never change), and
    /// returns `error`.
    private func refuse(_ token: String, _ error: AuthError) -> AuthError {
        self.refused.insert(token, error)
        return error
    }

    /// The scope `access` needs (checked on every use: one verified token may read but not write).
    private func checkScope(of token: VerifiedToken, for access: TokenAccess) throws(AuthError) {
        let scope = switch access {
        case .write: self.configuration.requiredScope
        case .read: self.configuration.readScope
        }
        if let scope, !token.scopes.contains(scope) {
            throw .permissionDenied("token lacks the scope \(scope)")
        }
    }

    /// The claims beyond the times (which ``UnverifiedToken`` checked) and the scope: issuer, audience.
    private func checkClaims(_ claims: FeedbackClaims) throws(AuthError) {
        if let issuer = self.configuration.issuer, claims.iss?.value != issuer {
            throw .unauthenticated("token issuer is not accepted")
        }
        if let audience = self.configuration.audience, claims.aud?.value.contains(audience) != true {
            throw .unauthenticated("token audience is not accepted")
        }
    }
}
