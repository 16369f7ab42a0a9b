import FeedbackProtos
import SwiftProtobuf

/// The messages of `protocol/*.proto` feedbackctl can build from JSON and print as JSON (`call`), by
/// their full protobuf name, and the text of their definitions (`describe`), from the .proto files
/// compiled into feedbackctl.
enum ProtocolMessages {
    /// Every request and response message of the protocol's methods.
    static let types: [String: any SwiftProtobuf.Message.Type] = Dictionary(
        uniqueKeysWithValues: ([
            Feedback_V1_SubmitFeedbackRequest.self, Feedback_V1_SubmitFeedbackResponse.self,
            Feedback_V1_VerifyTokenRequest.self, Feedback_V1_VerifyTokenResponse.self,
            Feedback_V1_ListFeedbackEventsRequest.self, Feedback_V1_ListFeedbackEventsResponse.self,
            Feedback_V1_WatchFeedbackEventsRequest.self, Feedback_V1_WatchFeedbackEventsResponse.self,
            Feedback_Health_V1_HealthCheckRequest.self, Feedback_Health_V1_HealthCheckResponse.self,
            Feedback_Reflection_V1_ListServicesRequest.self, Feedback_Reflection_V1_ListServicesResponse.self,
        ] as [any SwiftProtobuf.Message.Type]).map { ($0.protoMessageName, $0) }
    )

    /// The .proto files, as written in `protocol/`.
    static let files: [String] = [
        String(decoding: PackageResources.feedback_proto, as: UTF8.self),
        String(decoding: PackageResources.health_proto, as: UTF8.self),
        String(decoding: PackageResources.reflection_proto, as: UTF8.self),
        String(decoding: PackageResources.status_proto, as: UTF8.self),
    ]

    /// The definition of the message `fullName` (`feedback.v1.SubmitFeedbackRequest`) as the .proto file
    /// writes it, without its comments: `message SubmitFeedbackRequest { int64 interaction_id = 1; ... }`,
    /// one field per line; nil when no file defines it.
    static func definition(of fullName: String) -> [String]? {
        let name = fullName.split(separator: ".").last.map(String.init) ?? fullName
        let package = fullName.split(separator: ".").dropLast().joined(separator: ".")
        for file in Self.files where file.contains("package \(package);") {
            let lines = file.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
            guard let start = lines.firstIndex(where: { $0.trimmingCharacters(in: .whitespaces).hasPrefix("message \(name) ") }) else { continue }
            var depth = 0
            var body: [String] = []
            for line in lines[start...] {
                let code = Self.withoutComment(line)
                if code.trimmingCharacters(in: .whitespaces).isEmpty { continue }
                body.append(code)
                depth += code.filter { $0 == "{" }.count - code.filter { $0 == "}" }.count
                if depth <= 0 { break }
            }
            return body
        }
        return nil
    }

    /// `line` without a `//` comment (the protocol's files write no `//` inside strings).
    static func withoutComment(_ line: String) -> String {
        guard let range = line.range(of: "//") else { return line }
        var code = String(line[..<range.lowerBound])
        while code.last == " " { code.removeLast() }
        return code
    }
}
