import Foundation
import JWTKit

/// Verifies `Authorization: Bearer <JWT>` values with jwt-kit, with an algorithm allow-list,
/// required `exp`, optional `nbf`/`iss`/`aud` checks with leeway, and a required scope.
public struct TokenVerifier: Sendable {
    private let keys: JWTKeyCollection
    private let allowedAlgorithms: Set<String>
    private let configuration: TokenVerifierConfiguration
    private let cache = VerifiedTokenCache(capacity: 4096)

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

    /// Verifies an `authorization` metadata value.
    /// - Throws: ``AuthError``.
    public func verify(authorization: String?, now: Date = Date()) async throws(AuthError) -> VerifiedToken {
        let token = try Self.bearerToken(authorization)
        if let cached = self.cache.lookup(token) {
            try self.checkTimes(expiresAt: cached.token.expiresAt, notBefore: cached.notBefore, now: now)
            return cached.token
        }
        let algorithm = try Self.algorithm(of: token)
        guard self.allowedAlgorithms.contains(algorithm) else {
            throw .unauthenticated("token algorithm \(algorithm) is not allowed")
        }
        let claims: FeedbackClaims
        do {
            claims = try await self.keys.verify(token, as: FeedbackClaims.self, iteratingKeys: true)
        } catch let error as JWTError where error.errorType == .signatureVerificationFailed {
            throw .unauthenticated("token signature is invalid")
        } catch {
            throw .unauthenticated("token is malformed or its signature is invalid")
        }
        try self.checkClaims(claims, now: now)
        let verified = VerifiedToken(
            subject: claims.sub?.value ?? "",
            scopes: claims.scopes,
            expiresAt: claims.exp?.value.timeIntervalSince1970 ?? 0
        )
        self.cache.insert(token, .init(token: verified, notBefore: claims.nbf?.value.timeIntervalSince1970))
        return verified
    }

    /// `exp` and `nbf` against `now`, with the leeway.
    private func checkTimes(expiresAt: Double, notBefore: Double?, now: Date) throws(AuthError) {
        let leeway = TimeInterval(self.configuration.leeway.components.seconds)
        guard expiresAt - now.timeIntervalSince1970 > -leeway else { throw .unauthenticated("token has expired") }
        if let notBefore, notBefore - now.timeIntervalSince1970 > leeway {
            throw .unauthenticated("token is not valid yet")
        }
    }

    private func checkClaims(_ claims: FeedbackClaims, now: Date) throws(AuthError) {
        guard let exp = claims.exp else { throw .unauthenticated("token has no exp claim") }
        try self.checkTimes(
            expiresAt: exp.value.timeIntervalSince1970, notBefore: claims.nbf?.value.timeIntervalSince1970, now: now
        )
        if let issuer = self.configuration.issuer, claims.iss?.value != issuer {
            throw .unauthenticated("token issuer is not accepted")
        }
        if let audience = self.configuration.audience, claims.aud?.value.contains(audience) != true {
            throw .unauthenticated("token audience is not accepted")
        }
        if let scope = self.configuration.requiredScope, !claims.scopes.contains(scope) {
            throw .permissionDenied("token lacks the scope \(scope)")
        }
    }

    /// The token of `Bearer <token>`; the scheme is case-insensitive.
    static func bearerToken(_ authorization: String?) throws(AuthError) -> String {
        guard let authorization, !authorization.isEmpty else { throw .unauthenticated("missing bearer token") }
        let parts = authorization.split(separator: " ", maxSplits: 1, omittingEmptySubsequences: true)
        if parts.count == 1, parts[0].lowercased() == "bearer" { throw .unauthenticated("missing bearer token") }
        guard parts.count == 2, parts[0].lowercased() == "bearer" else {
            throw .unauthenticated("authorization is not a bearer token")
        }
        let token = parts[1].trimmingCharacters(in: .whitespaces)
        guard !token.isEmpty else { throw .unauthenticated("missing bearer token") }
        return token
    }

    /// The `alg` of a compact JWT's header, read before any verification.
    static func algorithm(of token: String) throws(AuthError) -> String {
        let segments = token.split(separator: ".", omittingEmptySubsequences: false)
        guard segments.count == 3, let header = Self.base64URLDecode(segments[0]),
            let object = try? JSONSerialization.jsonObject(with: header) as? [String: Any],
            let algorithm = object["alg"] as? String
        else {
            throw .unauthenticated("token is malformed")
        }
        return algorithm
    }

    static func base64URLDecode(_ text: Substring) -> Data? {
        var base64 = text.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        base64 += String(repeating: "=", count: (4 - base64.count % 4) % 4)
        return Data(base64Encoded: base64)
    }
}
