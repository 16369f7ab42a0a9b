import FeedbackProtos
import RPCCore
import SwiftProtobuf

/// `feedback.reflection.v1.Reflection`: lists what the server serves, for tools (`feedbackctl describe`).
/// Its answer is built once, from the router it is registered in: every method, with the message types
/// its service declared and whether a token is needed. No token is needed to ask.
public struct ReflectionService: RPCService {
    public static let listServicesPath = MethodPaths.Reflection.listServices

    private let answer: Feedback_Reflection_V1_ListServicesResponse

    /// Describes `router` as it will be once this service is registered in it, with its interceptors.
    public init(describing router: RPCRouter) {
        var described = router
        described.register(Self(answer: Feedback_Reflection_V1_ListServicesResponse()))
        var services: [String: [Feedback_Reflection_V1_MethodDescription]] = [:]
        let streaming = Set(described.streamingMethodPaths)
        for path in described.methodPaths + described.streamingMethodPaths {
            let parts = path.split(separator: "/", omittingEmptySubsequences: false)
            guard parts.count == 3 else { continue }
            var method = Feedback_Reflection_V1_MethodDescription()
            method.name = String(parts[2])
            method.path = path
            let types = described.messageTypes(of: path)
            method.requestType = types?.request ?? ""
            method.responseType = types?.response ?? ""
            method.requiresToken = described.isIntercepted(path)
            method.serverStreaming = streaming.contains(path)
            services[String(parts[1]), default: []].append(method)
        }
        var answer = Feedback_Reflection_V1_ListServicesResponse()
        answer.services = services.keys.sorted().map { name in
            var service = Feedback_Reflection_V1_ServiceDescription()
            service.name = name
            service.methods = services[name]!.sorted { $0.name < $1.name }
            return service
        }
        self.answer = answer
    }

    private init(answer: Feedback_Reflection_V1_ListServicesResponse) {
        self.answer = answer
    }

    public var immediateMethods: [String: ImmediateRPCHandler] {
        [Self.listServicesPath: immediateUnary(self.listServices)]
    }

    public var messageTypes: [String: MessageTypes] {
        [Self.listServicesPath: .of(Feedback_Reflection_V1_ListServicesRequest.self, Feedback_Reflection_V1_ListServicesResponse.self)]
    }

    @Sendable
    func listServices(_ request: Feedback_Reflection_V1_ListServicesRequest, context: ServerContext) throws(RPCError)
        -> Feedback_Reflection_V1_ListServicesResponse
    {
        self.answer
    }
}

extension MessageTypes {
    /// The types of a method taking `request` and answering `response`.
    static func of(_ request: any SwiftProtobuf.Message.Type, _ response: any SwiftProtobuf.Message.Type) -> MessageTypes {
        MessageTypes(request: request.protoMessageName, response: response.protoMessageName)
    }
}
