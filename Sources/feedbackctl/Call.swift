import ArgumentParser
import FeedbackClient
import FeedbackProtos
import Foundation
import RPCCore
import SwiftProtobuf

/// `feedbackctl call METHOD '{json}'`: any unary method feedbackd lists (the Reflection service), its
/// request given as JSON and its response printed as JSON (protobuf's JSON mapping), as `grpcurl -d`.
struct Call: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Call any unary method feedbackd serves with a JSON request; print the JSON response.",
        discussion: """
            METHOD is a method's name (SubmitFeedback), Service/Method (feedback.v1.FeedbackService/SubmitFeedback) \
            or its path; `feedbackctl describe` lists them with their messages. The request is protobuf's JSON \
            mapping of the method's request message (field names in lowerCamelCase or as in the .proto; \
            64-bit integers as numbers or strings), {} when omitted. A method that needs a token gets --token \
            (or FEEDBACK_TOKEN). The response is printed on stdout as one JSON object; a failed call prints \
            STATUS: message on stderr (--json: the usual object on stdout) and exits with its status code.

            Example:
              feedbackctl call SubmitFeedback '{"interaction_id": 42, "rating": -1}'
            """
    )

    @OptionGroup var options: SocketOption
    @Option(help: "The JWT for a method that needs one (without 'Bearer '), or set FEEDBACK_TOKEN.") var token: String?
    @Option(help: "x-request-id to send.") var requestId: String?
    @Argument(help: "The method: SubmitFeedback, Service/Method, or /package.Service/Method.") var method: String
    @Argument(help: "The request message as JSON.") var request: String = "{}"

    func run() async throws {
        let client = FeedbackClient(socketPath: self.options.socket)
        let outcome: Result<String, RPCError>
        do {
            outcome = try await self.call(client)
        } catch {
            await client.close()
            throw error
        }
        await client.close()
        switch outcome {
        case .success(let json):
            print(json)
        case .failure(let error):
            throw ExitCode(report(.failure(error), json: self.options.json))
        }
    }

    /// - Throws: `ValidationError` for a method that needs a token when none is given.
    private func call(_ client: FeedbackClient) async throws -> Result<String, RPCError> {
        let services: [Feedback_Reflection_V1_ServiceDescription]
        do {
            services = try await client.listServices(timeout: .milliseconds(self.options.timeoutMs))
        } catch {
            return .failure(error)
        }
        let matches = services.flatMap { service in
            service.methods.filter { [$0.name, "\(service.name)/\($0.name)", $0.path].contains(self.method) }
        }
        guard let method = matches.first, matches.count == 1 else {
            let known = services.flatMap { service in service.methods.map(\.name) }.joined(separator: ", ")
            let what = matches.isEmpty ? "feedbackd serves no method \(self.method)" : "\(self.method) names more than one method: give Service/Method"
            return .failure(RPCError(code: .invalidArgument, message: "\(what) (it serves \(known))"))
        }
        guard !method.serverStreaming else {
            return .failure(RPCError(code: .invalidArgument, message: "\(method.name) answers with a stream: `call` sends unary methods (the live feed: feedbackctl export --follow)"))
        }
        guard let requestType = ProtocolMessages.types[method.requestType], let responseType = ProtocolMessages.types[method.responseType] else {
            return .failure(RPCError(code: .unimplemented, message: "this feedbackctl does not know \(method.requestType) or \(method.responseType): use one as new as feedbackd"))
        }
        let message: any SwiftProtobuf.Message
        do {
            message = try requestType.init(jsonString: self.request)
        } catch {
            return .failure(RPCError(code: .invalidArgument, message: "the request is not a \(method.requestType) in JSON: \(error)"))
        }
        var metadata: Metadata = []
        if method.requiresToken {
            metadata.add("authorization", "Bearer \(try givenToken(self.token))")
        }
        if let requestID = self.requestId { metadata.add("x-request-id", requestID) }
        do {
            let response = try await Self.unary(client, path: method.path, message: message, metadata: metadata,
                                                timeout: .milliseconds(self.options.timeoutMs), as: responseType)
            return .success(response)
        } catch {
            return .failure(error)
        }
    }

    /// The call, its response as JSON (`Output` opened from the method's response type).
    private static func unary<Output: SwiftProtobuf.Message>(
        _ client: FeedbackClient, path: String, message: any SwiftProtobuf.Message, metadata: Metadata, timeout: Duration, as: Output.Type
    ) async throws(RPCError) -> String {
        let response = try await client.unary(method: path, message: message, metadata: metadata, timeout: timeout, as: Output.self)
        do {
            return try response.jsonString(options: Self.jsonOptions)
        } catch {
            throw RPCError(code: .internal, message: "cannot print the response as JSON: \(error)", cause: error)
        }
    }

    private static var jsonOptions: JSONEncodingOptions {
        var options = JSONEncodingOptions()
        options.preserveProtoFieldNames = true
        options.useDeterministicOrdering = true
        return options
    }
}
