/// A thumbs-up or thumbs-down on one interaction.
public enum Rating: Int32, Hashable, Sendable {
    case negative = -1
    case positive = 1

    /// The message of the original endpoint, kept word for word.
    public static let invalidMessage = "rating must be 1 (positive) or -1 (negative)"

    /// Accepts exactly 1 and -1.
    /// - Throws: ``FeedbackError/invalidRating(_:)`` otherwise.
    public init(validating value: Int64) throws(FeedbackError) {
        switch value {
        case 1: self = .positive
        case -1: self = .negative
        default: throw .invalidRating(value)
        }
    }
}

/// One rating to store: which interaction, which rating, and who gave it.
public struct FeedbackSubmission: Hashable, Sendable {
    public var interactionID: Int64
    public var rating: Rating
    /// The authenticated caller (the JWT's `sub`), recorded in the audit table.
    public var subject: String

    public init(interactionID: Int64, rating: Rating, subject: String) {
        self.interactionID = interactionID
        self.rating = rating
        self.subject = subject
    }
}
