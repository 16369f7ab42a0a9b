import Synchronization

/// What was learnt about recent tokens, so that a caller that sends the same token again (a service
/// token, a user rating several answers) skips the parsing and the HMAC/RSA work: the verifier keeps the
/// verified claims, the gateway's pre-check the times of tokens that passed it.
///
/// Keyed by the whole compact token, signature included: the same string reads the same way. Time
/// claims are checked again on every use by the caller. Bounded: when full it starts over.
final class TokenCache<Entry: Sendable>: Sendable {
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
