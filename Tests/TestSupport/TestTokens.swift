import Crypto
import Foundation
import JWTKit

/// Claims shaped freely, to build tokens the verifier must refuse.
public struct TestClaims: JWTPayload {
    public var sub: SubjectClaim? = SubjectClaim(value: "tester")
    public var exp: ExpirationClaim? = ExpirationClaim(value: Date().addingTimeInterval(600))
    public var nbf: NotBeforeClaim?
    public var iss: IssuerClaim?
    public var aud: AudienceClaim?
    public var scope: String?
    public init(
        sub: SubjectClaim? = SubjectClaim(value: "tester"), exp: ExpirationClaim? = ExpirationClaim(value: Date().addingTimeInterval(600)),
        nbf: NotBeforeClaim? = nil, iss: IssuerClaim? = nil, aud: AudienceClaim? = nil, scope: String? = nil
    ) {
        self.sub = sub
        self.exp = exp
        self.nbf = nbf
        self.iss = iss
        self.aud = aud
        self.scope = scope
    }

    public func verify(using algorithm: some JWTAlgorithm) async throws {}
}

public func sign(_ claims: TestClaims, hmac secret: [UInt8] = TestAuth.secret) async throws -> String {
    let keys = JWTKeyCollection()
    await keys.add(hmac: HMACKey(from: secret), digestAlgorithm: .sha256)
    return try await keys.sign(claims)
}

/// An HS256 token with the test secret and a header of our choosing (jwt-kit signs only its own headers).
public func signWithHeader(_ header: String, claims: String = #"{"sub":"tester","exp":4102444800}"#) async throws -> String {
    let input = base64URL(header) + "." + base64URL(claims)
    let mac = HMAC<SHA256>.authenticationCode(for: Array(input.utf8), using: SymmetricKey(data: TestAuth.secret))
    return input + "." + Data(mac).base64EncodedString().replacingOccurrences(of: "+", with: "-")
        .replacingOccurrences(of: "/", with: "_").replacingOccurrences(of: "=", with: "")
}

/// The same token with its signature's last character changed in the bits base64url leaves unused:
/// the same signature bytes, another spelling.
public func flipUnusedBits(_ token: String) -> String {
    let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
    var characters = Array(token)
    let signatureLength = token.split(separator: ".", omittingEmptySubsequences: false)[2].count
    let unusedBits = [0, 0, 4, 2][signatureLength % 4]  // 32-byte HMAC: 43 characters, 2 unused bits
    let value = alphabet.firstIndex(of: characters[characters.count - 1])!
    characters[characters.count - 1] = alphabet[value | 1 << max(unusedBits - 1, 0)]
    return String(characters)
}

public func base64URL(_ text: String) -> String {
    Data(text.utf8).base64EncodedString().replacingOccurrences(of: "+", with: "-")
        .replacingOccurrences(of: "/", with: "_").replacingOccurrences(of: "=", with: "")
}
