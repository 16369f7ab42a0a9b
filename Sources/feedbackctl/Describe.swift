import ArgumentParser
import FeedbackClient
import FeedbackProtos
import Foundation
import RPCCore

/// `feedbackctl describe`: what feedbackd serves (the Reflection service), as `grpcurl list` does for gRPC.
struct Describe: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "List the services and methods feedbackd serves, with their messages' fields."
    )

    @OptionGroup var options: SocketOption

    func run() async throws {
        let client = FeedbackClient(socketPath: self.options.socket)
        let services: [Feedback_Reflection_V1_ServiceDescription]
        do throws(RPCError) {
            services = try await client.listServices(timeout: .milliseconds(self.options.timeoutMs))
        } catch {
            await client.close()
            throw ExitCode(report(.failure(error), json: self.options.json))
        }
        await client.close()
        if self.options.json {
            let object = services.map { service in
                [
                    "name": service.name,
                    "methods": service.methods.map { method in
                        [
                            "name": method.name, "path": method.path, "request_type": method.requestType,
                            "response_type": method.responseType, "requires_token": method.requiresToken,
                            "server_streaming": method.serverStreaming,
                            "request_definition": (ProtocolMessages.definition(of: method.requestType) ?? []).joined(separator: "\n"),
                            "response_definition": (ProtocolMessages.definition(of: method.responseType) ?? []).joined(separator: "\n"),
                        ] as [String: Any]
                    },
                ] as [String: Any]
            }
            let data = try JSONSerialization.data(withJSONObject: ["services": object], options: [.sortedKeys, .withoutEscapingSlashes])
            print(String(decoding: data, as: UTF8.self))
            return
        }
        for service in services {
            print(service.name)
            for method in service.methods {
                let token = method.requiresToken ? "  (token)" : ""
                let returns = method.serverStreaming ? "stream \(method.responseType)" : method.responseType
                print("  \(method.name)(\(method.requestType)) returns (\(returns))\(token)")
            }
        }
        // The messages, as the .proto files define them (the ones this feedbackctl was built with).
        var shown: Set<String> = []
        for service in services {
            for method in service.methods {
                for type in [method.requestType, method.responseType] where shown.insert(type).inserted {
                    guard let definition = ProtocolMessages.definition(of: type) else { continue }
                    print("")
                    print("// \(type)")
                    for line in definition { print(line) }
                }
            }
        }
    }
}
