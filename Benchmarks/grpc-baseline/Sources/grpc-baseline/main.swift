// gRPC Swift 2 over a Unix socket, a no-op unary method, and gRPC Swift's own client: the baseline of
// BENCHMARKS.md (scripts/bench.sh). `grpc-baseline server PATH` serves until killed and prints
// "listening"; `grpc-baseline client PATH SECONDS CONCURRENCY` prints "CALLS CALLS_PER_SECOND".
import Foundation
import GRPCCore
import GRPCNIOTransportHTTP2
import Synchronization

struct Bytes: MessageSerializer, MessageDeserializer {
    func serialize<Output: GRPCContiguousBytes>(_ message: [UInt8]) throws -> Output { Output(message) }
    func deserialize<Input: GRPCContiguousBytes>(_ bytes: Input) throws -> [UInt8] {
        bytes.withUnsafeBytes { Array($0) }
    }
}

let noop = MethodDescriptor(fullyQualifiedService: "bench.Bench", method: "Noop")

struct NoopService: RegistrableRPCService {
    func registerMethods<Transport: ServerTransport>(with router: inout RPCRouter<Transport>) {
        router.registerHandler(forMethod: noop, deserializer: Bytes(), serializer: Bytes()) { request, _ in
            for try await _ in request.messages {}
            return StreamingServerResponse(single: ServerResponse(message: []))
        }
    }
}

let arguments = CommandLine.arguments
guard arguments.count >= 3 else {
    print("usage: grpc-baseline server PATH | client PATH SECONDS CONCURRENCY")
    exit(64)
}
let path = arguments[2]

switch arguments[1] {
case "server":
    let transport = HTTP2ServerTransport.Posix(address: .unixDomainSocket(path: path), transportSecurity: .plaintext)
    try await withGRPCServer(transport: transport, services: [NoopService()]) { server in
        _ = try await transport.listeningAddress
        FileHandle.standardOutput.write(Data("listening\n".utf8))
        try await Task.sleep(for: .seconds(86_400))
    }
case "client":
    let (calls, rate) = try await runClient(path: path, seconds: Double(arguments[3]) ?? 5, concurrency: Int(arguments[4]) ?? 64)
    print(calls, rate)
default:
    print("usage: grpc-baseline server PATH | client PATH SECONDS CONCURRENCY")
    exit(64)
}

final class Counter: Sendable {
    let value = Atomic<Int>(0)
}

/// `concurrency` tasks, each making one call after another until `seconds` have passed.
nonisolated func runClient(path: String, seconds: Double, concurrency: Int) async throws -> (calls: Int, perSecond: Int) {
    let transport = try HTTP2ClientTransport.Posix(target: .unixDomainSocket(path: path), transportSecurity: .plaintext)
    let done = Counter()
    let start = ContinuousClock.now
    let end = start + .milliseconds(Int64(seconds * 1000))
    try await withGRPCClient(transport: transport) { client in
        try await withThrowingTaskGroup(of: Void.self) { group in
            for _ in 0..<concurrency {
                group.addTask {
                    while ContinuousClock.now < end {
                        _ = try await client.unary(
                            request: ClientRequest(message: [UInt8]()), descriptor: noop, serializer: Bytes(), deserializer: Bytes(),
                            options: .defaults
                        ) { try $0.message }
                        done.value.wrappingAdd(1, ordering: .relaxed)
                    }
                }
            }
            try await group.waitForAll()
        }
    }
    let elapsed = ContinuousClock.now - start
    let calls = done.value.load(ordering: .relaxed)
    let elapsedSeconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
    return (calls, Int(Double(calls) / elapsedSeconds))
}
