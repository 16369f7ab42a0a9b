/// What can go wrong when rating an interaction, in the original endpoint's words.
public enum FeedbackError: Error, Hashable, Sendable, CustomStringConvertible {
    /// The rating is not 1 or -1. Found before the store is touched.
    case invalidRating(Int64)
    /// No `interactions` row has this id.
    case interactionNotFound(Int64)
    /// The store could not be reached or the write failed (locked, I/O error, closed).
    /// `cause` is for the log only.
    case storeUnavailable(cause: String)
    /// The call was cancelled (or passed its deadline) before the rating was written: nothing was stored.
    case cancelled
    /// The token's subject cannot be stored by this store (PostgreSQL's text cannot hold a NUL character).
    case unstorableSubject
    /// The write was sent but its outcome cannot be known (feedbackd stopped waiting for it while
    /// shutting down): the rating may or may not be stored. `cause` is for the log only.
    case outcomeUnknown(cause: String)

    /// The message the caller sees.
    public var message: String {
        switch self {
        case .invalidRating: Rating.invalidMessage
        case .interactionNotFound(let id): "Interaction \(id) not found."
        case .storeUnavailable: "Feedback store unavailable."
        case .cancelled: "The call was cancelled before the rating was written."
        case .unstorableSubject: "The token's subject cannot be stored (it contains a NUL character)."
        case .outcomeUnknown: "Whether the rating was stored is unknown; it can be sent again."
        }
    }

    public var description: String {
        switch self {
        case .storeUnavailable(let cause), .outcomeUnknown(let cause): "\(self.message) (\(cause))"
        default: self.message
        }
    }
}
