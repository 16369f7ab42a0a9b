/// The wire paths (`:method`) of the services in `protocol/*.proto`: the one list servers and clients
/// both use. Written by hand beside the generated messages; a new rpc in a `.proto` is added here.
public enum MethodPaths {
    /// `feedback.v1.FeedbackService`.
    public enum Feedback {
        public static let service = "feedback.v1.FeedbackService"
        public static let submitFeedback = "/feedback.v1.FeedbackService/SubmitFeedback"
        public static let verifyToken = "/feedback.v1.FeedbackService/VerifyToken"
        public static let listFeedbackEvents = "/feedback.v1.FeedbackService/ListFeedbackEvents"
        /// Server-streaming (protocol version 2).
        public static let watchFeedbackEvents = "/feedback.v1.FeedbackService/WatchFeedbackEvents"
    }

    /// `feedback.health.v1.Health`.
    public enum Health {
        public static let service = "feedback.health.v1.Health"
        public static let check = "/feedback.health.v1.Health/Check"
    }

    /// `feedback.reflection.v1.Reflection`.
    public enum Reflection {
        public static let service = "feedback.reflection.v1.Reflection"
        public static let listServices = "/feedback.reflection.v1.Reflection/ListServices"
    }
}
