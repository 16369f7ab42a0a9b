import FeedbackProtos

extension Feedback_V1_FeedbackEvent {
    /// The subject exactly as stored: `subject_bytes` when the server set it (the stored bytes are not
    /// valid UTF-8; `subject` then holds their lossy decoding), otherwise `subject`'s UTF-8.
    public var storedSubject: [UInt8] {
        self.subjectBytes.isEmpty ? Array(self.subject.utf8) : Array(self.subjectBytes)
    }
}
