// Codec throughput: `swift run -c release codec-bench [iterations]`.
// One thread, no channel: the cost of turning a call into bytes and back. Results go in BENCHMARKS.md.
import FeedbackProtos
import NIOCore
import RPCCodec

/// A ~300-byte HS256 token, as the chat product issues them.
let jwt =
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJ1c2VyLTEyMzQ1Njc4OTAiLCJzY29wZSI6ImZlZWRiYWNrOndyaXRlIiwiaXNz"
    + "IjoiaHR0cHM6Ly9jaGF0LmV4YW1wbGUuY29tIiwiYXVkIjoiZmVlZGJhY2stcnBjIiwiaWF0IjoxNzk2MzAwMDAwLCJleHAiOjE3OTYzMDM2MDAs"
    + "Imp0aSI6IjlmM2EyYyJ9.k3Wq5mZxH0b9lK2cQ7rT1vNp8sYdFgJhLzXcVbNm0aE"

/// Runs `body` `iterations / 20` times to warm up, then `iterations` times, and prints the rate.
/// The closure is non-escaping, so the buffers it mutates keep static exclusivity checks (an escaping
/// closure, or globals, would add dynamic checks that the real transport does not pay).
@inline(__always)
func measure(_ name: String, iterations: Int, _ body: () throws -> Void) rethrows {
    for _ in 0..<(iterations / 20) { try body() }
    let start = ContinuousClock.now
    for _ in 0..<iterations { try body() }
    report(name, iterations: iterations, since: start)
}

func report(_ name: String, iterations: Int, since start: ContinuousClock.Instant) {
    let elapsed = ContinuousClock.now - start
    let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
    print(
        name.padding(toLength: 58, withPad: " ", startingAt: 0),
        String(format: "%12.0f frames/s  %8.1f ns/frame", Double(iterations) / seconds, seconds * 1e9 / Double(iterations))
    )
}

func run(iterations: Int) throws -> Int {
    var metadata = WireMetadata()
    try metadata.add("authorization", "Bearer " + jwt)
    try metadata.add("x-request-id", "req-7f3a9c21")
    let message: [UInt8] = try Feedback_V1_SubmitFeedbackRequest.with {
        $0.interactionID = 42
        $0.rating = 1
    }.serializedBytes()
    let request = Request(
        method: "/feedback.v1.FeedbackService/SubmitFeedback",
        timeoutMilliseconds: 5000,
        metadata: metadata,
        body: ByteBuffer(bytes: message)
    )
    var responseMetadata = WireMetadata()
    try responseMetadata.add("x-request-id", "req-7f3a9c21")
    let response = Response(code: 0, metadata: responseMetadata)

    var wire = ByteBuffer()
    try wire.writeRequestFrame(callID: 1, request)
    let frameSize = wire.readableBytes
    print("REQUEST frame: \(frameSize) bytes (JWT \(jwt.utf8.count) bytes); \(iterations) iterations, one thread")

    var buffer = ByteBuffer()
    buffer.reserveCapacity(4096)
    var serverDecoder = FrameDecoder(role: .server, helloReceived: true)
    var clientDecoder = FrameDecoder(role: .client, helloReceived: true)
    var callID: UInt32 = 0
    var sink = 0

    let baseline = Array(wire.readableBytesView)
    measure("baseline: copy the frame's bytes into a buffer and out", iterations: iterations) {
        buffer.clear()
        buffer.writeBytes(baseline)
        sink &+= buffer.readBytes(length: frameSize)!.count
    }

    try measure("REQUEST encode + decode (frame, metadata checks, method)", iterations: iterations) {
        buffer.clear()
        callID = callID % Frame.maxCallID + 1
        try buffer.writeRequestFrame(callID: callID, request)
        guard case .request(_, let payload) = try serverDecoder.decode(buffer: &buffer) else { fatalError("not a request") }
        let decoded = try Request(decoding: payload)
        sink &+= decoded.method.utf8.count &+ Int(decoded.timeoutMilliseconds ?? 0)
    }

    try measure("REQUEST encode + decode + SubmitFeedbackRequest protobuf", iterations: iterations) {
        buffer.clear()
        callID = callID % Frame.maxCallID + 1
        var message = Feedback_V1_SubmitFeedbackRequest()
        message.interactionID = Int64(callID)
        message.rating = 1
        let bytes: [UInt8] = try message.serializedBytes()
        try buffer.writeRequestFrame(
            callID: callID,
            Request(method: request.method, timeoutMilliseconds: 5000, metadata: metadata, body: ByteBuffer(bytes: bytes))
        )
        guard case .request(_, let payload) = try serverDecoder.decode(buffer: &buffer) else { fatalError("not a request") }
        let decoded = try Request(decoding: payload)
        let parsed = try Feedback_V1_SubmitFeedbackRequest(serializedBytes: Array(decoded.body.readableBytesView))
        sink &+= Int(parsed.interactionID)
    }

    try measure("RESPONSE encode + decode (OK, x-request-id)", iterations: iterations) {
        buffer.clear()
        callID = callID % Frame.maxCallID + 1
        try buffer.writeResponseFrame(callID: callID, response)
        guard case .response(_, let payload) = try clientDecoder.decode(buffer: &buffer) else { fatalError("not a response") }
        sink &+= Int(try Response(decoding: payload).code)
    }
    return sink
}

let iterations = CommandLine.arguments.dropFirst().first.flatMap(Int.init) ?? 2_000_000
let sink = try run(iterations: iterations)
if sink == 42 { print("") }  // keeps the work observable
