import RPCCore
import SwiftProtobuf

/// A typed unary handler: decodes the request message, runs `body`, encodes the response.
///
/// A request that is not a valid `Input` is INVALID_ARGUMENT, before `body` runs.
func unary<Input: SwiftProtobuf.Message, Output: SwiftProtobuf.Message>(
    _ body: @escaping @Sendable (Input, ServerContext) async throws -> Output
) -> RPCHandler {
    { bytes, context in
        let input: Input
        do {
            input = try Input(serializedBytes: bytes)
        } catch {
            throw RPCError(code: .invalidArgument, message: "The request is not a valid \(Input.protoMessageName).")
        }
        return try await body(input, context).serializedBytes()
    }
}

/// A typed unary handler that never waits (see ``ImmediateRPCHandler``): decodes, runs `body`, encodes.
func immediateUnary<Input: SwiftProtobuf.Message, Output: SwiftProtobuf.Message>(
    _ body: @escaping @Sendable (Input, ServerContext) throws(RPCError) -> Output
) -> ImmediateRPCHandler {
    { bytes, context throws(RPCError) in
        let input: Input
        do {
            input = try Input(serializedBytes: bytes)
        } catch {
            throw RPCError(code: .invalidArgument, message: "The request is not a valid \(Input.protoMessageName).")
        }
        let output = try body(input, context)
        do {
            return try output.serializedBytes()
        } catch {
            throw RPCError(code: .internal, message: "The response could not be encoded.")
        }
    }
}

/// A typed deferred handler (see ``DeferredRPCHandler``): decodes the request message, then runs `body`,
/// which answers through the call. A request that is not a valid `Input` is INVALID_ARGUMENT.
func deferredUnary<Input: SwiftProtobuf.Message>(
    _ body: @escaping @Sendable (Input, ServerContext, DeferredCall) -> Void
) -> DeferredRPCHandler {
    { bytes, context, call in
        let input: Input
        do {
            input = try Input(serializedBytes: bytes)
        } catch {
            call.finish(.failure(RPCError(code: .invalidArgument, message: "The request is not a valid \(Input.protoMessageName).")))
            return
        }
        body(input, context, call)
    }
}
