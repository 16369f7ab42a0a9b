import Foundation
import Synchronization

/// Tokens whose signature and claims were verified, so a caller that sends the same token again (a
/// service token, a user rating several answers) skips the HMAC/RSA work and JSON decoding.
///
/// Keyed by the whole compact token, signature included: the same string verifies the same way. Time
/// claims are checked again on every use. Bounded: when full it starts over.
final class VerifiedTokenCache: Sendable {
    struct Entry: Sendable {
        var token: VerifiedToken
        var notBefore: Double?
    }

    private let capacity: Int
    private let entries = Mutex<[String: Entry]>([:])

    init(capacity: Int) {
        self.capacity = capacity
    }

    func lookup(_ token: String) -> Entry? {
        self.entries.withLock { $0[token] }
    }

    func insert(_ token: String, _ entry: Entry) {
        self.entries.withLock { entries in
            if entries.count >= self.capacity { entries.removeAll(keepingCapacity: true) }
            entries[token] = entry
        }
    }
}
