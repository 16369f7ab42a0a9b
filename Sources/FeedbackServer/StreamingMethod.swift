import RPCCore
import SwiftProtobuf

/// A typed server-streaming handler: decodes the request message, then runs `body`, which sends typed
/// messages through its `send`. A request that is not a valid `Input` is INVALID_ARGUMENT, before `body` runs.
func serverStreaming<Input: SwiftProtobuf.Message, Output: SwiftProtobuf.Message>(
    _ body: @escaping @Sendable (Input, ServerContext, _ send: @Sendable (Output) async throws(RPCError) -> Void) async throws -> Void
) -> ServerStreamingRPCHandler {
    { bytes, context, stream in
        let input: Input
        do {
            input = try Input(serializedBytes: bytes)
        } catch {
            throw RPCError(code: .invalidArgument, message: "The request is not a valid \(Input.protoMessageName).")
        }
        try await body(input, context) { (output: Output) throws(RPCError) in
            let bytes: [UInt8]
            do {
                bytes = try output.serializedBytes()
            } catch {
                throw RPCError(code: .internal, message: "A stream message could not be encoded.")
            }
            try await stream.send(bytes)
        }
    }
}
