import FeedbackDomain
import FeedbackServer
import FeedbackProtos
import FeedbackTestSupport
import Foundation
import NIOCore
import RPCCodec
import RPCCore
import RPCUnixTransport
import Testing

/// The server's wire behaviour, driven with the codec over a real socket.
@Suite("Server protocol behaviour (SPEC.md)")
struct ProtocolTests {
    @Test("the server sends HELLO first, with its settings")
    func serverHello() async throws {
        try await withServer(services: [TestService()], configure: { $0.maxConcurrentCallsPerConnection = 7 }) { path, _ in
            let raw = try RawConnection(path: path, sendHello: false)
            guard case .hello(let hello) = try await raw.receive() else {
                Issue.record("first frame is not HELLO")
                return
            }
            #expect(hello.version == 2)
            #expect(hello.maxStreamCredit == 256)
            #expect(hello.maxConcurrentCalls == 7)
            #expect(hello.limits == .defaults)
        }
    }

    @Test("an HTTP client is refused after 4 bytes with GOAWAY FRAME_TOO_LARGE, and the server keeps serving")
    func httpClientRejected() async throws {
        try await withServer(services: [TestService()]) { path, _ in
            let raw = try RawConnection(path: path, sendHello: false)
            raw.send(bytes: Array("GET / HTTP/1.1\r\nHost: x\r\n\r\n".utf8))
            let frames = try await raw.receiveUntilClosed()
            #expect(frames.contains { if case .goAway(let g) = $0 { g.errorCode == .frameTooLarge } else { false } })
            #expect(raw.closedByPeer)
            let next = try RawConnection(path: path)
            try next.send(callID: 1, request(TestService.echo, [1, 2]))
            #expect(try await next.receiveSkippingHello()?.response?.response.body == ByteBuffer(bytes: [1, 2]))
        }
    }

    @Test("connection errors end the connection with the GOAWAY code of SPEC.md", arguments: [
        ("REQUEST before HELLO", false, [UInt8]([0, 0, 0, 0, 0, 0, 0, 1, 2, 0]), GoAway.ErrorCode.handshakeFailed),
        ("bad magic", false, [0, 0, 0, 6, 0, 0, 0, 0, 1, 0, 0x46, 0x42, 0x52, 0x51, 0, 1], .handshakeFailed),
        ("reserved flag", true, [0, 0, 0, 8, 0, 0, 0, 0, 5, 1, 0, 0, 0, 0, 0, 0, 0, 0], .protocolError),
        ("unknown type", true, [0, 0, 0, 0, 0, 0, 0, 0, 9, 0], .protocolError),
        ("RESPONSE to a server", true, [0, 0, 0, 12, 0, 0, 0, 1, 3, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0], .protocolError),
        ("frame over 1 MiB", true, [0, 0x10, 0, 1, 0, 0, 0, 1, 2, 0], .frameTooLarge),
    ])
    func connectionErrors(_ name: String, _ hello: Bool, _ bytes: [UInt8], _ code: GoAway.ErrorCode) async throws {
        try await withServer(services: [TestService()]) { path, _ in
            let raw = try RawConnection(path: path, sendHello: hello)
            raw.send(bytes: bytes)
            let frames = try await raw.receiveUntilClosed()
            let goAway = frames.compactMap { if case .goAway(let g) = $0 { g } else { nil } }.first
            #expect(goAway?.errorCode == code, "\(name)")
            #expect(raw.closedByPeer, "\(name)")
        }
    }

    @Test("malformed metadata fails only its call; the connection and later calls go on")
    func callErrorsKeepConnection() async throws {
        try await withServer(services: [TestService()]) { path, _ in
            let raw = try RawConnection(path: path)
            // REQUEST on call 1 whose metadata has no :method.
            let metadata: [UInt8] = [13] + Array("authorization".utf8) + [0, 8] + Array("Bearer x".utf8)
            var payload = ByteBuffer()
            payload.writeInteger(UInt32(metadata.count))
            payload.writeBytes(metadata)
            raw.send(.request(callID: 1, payload: payload))
            // An unknown method on call 2, then a good call on 3.
            try raw.send(callID: 2, request("/test.v1.Test/Nope"))
            try raw.send(callID: 3, request(TestService.echo, [9]))
            var answers: [UInt32: Response] = [:]
            while answers.count < 3, let frame = try await raw.receiveSkippingHello() {
                if let (id, response) = frame.response { answers[id] = response }
            }
            #expect(answers[1]?.code == StatusCode.invalidArgument.rawValue)
            #expect(answers[1]?.message == "REQUEST has no :method")
            // The reason, for programs: status-details-bin holds a Status with an ErrorInfo naming it.
            let details = try Feedback_Rpc_V1_Status(serializedBytes: try #require(answers[1]?.metadata.firstBinary("status-details-bin")))
            #expect(details.code == Int32(StatusCode.invalidArgument.rawValue))
            #expect(details.message == "REQUEST has no :method")
            #expect(details.details.first?.typeURL == "type.googleapis.com/google.rpc.ErrorInfo")
            let info = try Feedback_Rpc_V1_ErrorInfo(serializedBytes: try #require(details.details.first?.value))
            #expect(info.reason == "MISSING_METHOD")
            #expect(info.domain == "feedback-rpc")
            #expect(answers[2]?.code == StatusCode.unimplemented.rawValue)
            #expect(answers[3]?.code == 0)
        }
    }

    @Test("call ids must strictly increase: a reused id is a connection error")
    func callIDsIncrease() async throws {
        try await withServer(services: [TestService()]) { path, _ in
            let raw = try RawConnection(path: path)
            try raw.send(callID: 5, request(TestService.echo))
            try raw.send(callID: 5, request(TestService.echo))
            let frames = try await raw.receiveUntilClosed()
            let goAway = frames.compactMap { if case .goAway(let g) = $0 { g } else { nil } }.first
            #expect(goAway?.errorCode == .protocolError)
            #expect(goAway?.lastCallID == 5)
        }
    }

    @Test("PING is answered with PONG carrying the same bytes")
    func ping() async throws {
        try await withServer(services: [TestService()]) { path, _ in
            let raw = try RawConnection(path: path)
            raw.send(.ping(0xDEAD_BEEF_0102_0304))
            #expect(try await raw.receiveSkippingHello() == .pong(0xDEAD_BEEF_0102_0304))
        }
    }

    @Test("a handler's unexpected error is INTERNAL with a generic message; the cause is not sent")
    func internalErrorsDoNotLeak() async throws {
        try await withServer(services: [TestService()]) { path, _ in
            let raw = try RawConnection(path: path)
            try raw.send(callID: 1, request(TestService.boom))
            let response = try #require(try await raw.receiveSkippingHello()?.response?.response)
            #expect(response.code == StatusCode.internal.rawValue)
            #expect(response.message == "Internal error.")
        }
    }

    @Test("the request id is echoed, or made when missing")
    func requestID() async throws {
        try await withServer(services: [TestService()]) { path, _ in
            let raw = try RawConnection(path: path)
            try raw.send(callID: 1, request(TestService.echo, metadata: [("x-request-id", "abc-123")]))
            try raw.send(callID: 2, request(TestService.echo))
            try raw.send(callID: 3, request(TestService.echo))
            var ids: [UInt32: String] = [:]
            while ids.count < 3, let frame = try await raw.receiveSkippingHello() {
                if let (id, response) = frame.response { ids[id] = response.metadata.first("x-request-id") }
            }
            #expect(ids[1] == "abc-123")
            for made in [ids[2], ids[3]] {
                #expect(made?.count == 16)
                #expect(made?.allSatisfy(\.isHexDigit) == true)
            }
            #expect(ids[2] != ids[3], "each call gets an id of its own")
        }
    }

    @Test("a response over the client's announced frame limit fails that call only, with RESOURCE_EXHAUSTED")
    func clientLimitsHonoured() async throws {
        try await withServer(services: [TestService()]) { path, _ in
            let raw = try RawConnection(path: path, sendHello: false)
            raw.send(.hello(Hello(limits: WireLimits(maxFrameSize: 16_384, maxMetadataSize: 1024))))
            try raw.send(callID: 1, request(TestService.echo, Array(repeating: 7, count: 20_000)))
            try raw.send(callID: 2, request(TestService.echo, [1, 2, 3]))
            var answers: [UInt32: Response] = [:]
            while answers.count < 2, let frame = try await raw.receiveSkippingHello() {
                if let (id, response) = frame.response { answers[id] = response }
            }
            #expect(answers[1]?.code == StatusCode.resourceExhausted.rawValue)
            #expect(answers[1]?.message.contains("over the client's limits") == true)
            #expect(answers[2]?.code == 0, "the connection and its other calls go on")
            #expect(!raw.closedByPeer)
        }
    }

    @Test("a frame cut off by the end of the stream: GOAWAY PROTOCOL_ERROR (TRUNCATED), then close")
    func truncatedAtEndOfStream() async throws {
        try await withServer(services: [TestService()]) { path, _ in
            let raw = try RawConnection(path: path)
            var bytes = ByteBuffer()
            try bytes.writeRequestFrame(callID: 1, request(TestService.echo, [1, 2, 3]))
            raw.send(bytes: Array(bytes.readableBytesView.prefix(bytes.readableBytes - 2)))
            raw.shutdownWrite()
            let frames = try await raw.receiveUntilClosed()
            let goAway = frames.compactMap { frame -> GoAway? in if case .goAway(let g) = frame { g } else { nil } }.first
            #expect(goAway?.errorCode == .protocolError, "GOAWAY before the close, as SPEC.md 9.1 says")
        }
    }

    @Test("a peer that shuts down its sending side still gets the answers to the calls it sent")
    func halfClose() async throws {
        try await withServer(services: [TestService()]) { path, _ in
            let raw = try RawConnection(path: path)
            try raw.send(callID: 1, request(TestService.sleep, [50, 9]))
            raw.shutdownWrite()
            let frames = try await raw.receiveUntilClosed()
            let answers = frames.compactMap { $0.response }
            #expect(answers.count == 1)
            #expect(answers.first?.1.code == 0)
        }
    }

    @Test("a connection error with a call running: GOAWAY names it, it is answered, then the connection closes")
    func connectionErrorAnswersRunningCalls() async throws {
        let service = TestService()
        try await withServer(services: [service]) { path, _ in
            let raw = try RawConnection(path: path)
            try raw.send(callID: 5, request(TestService.gated, [5]))
            raw.send(.ping(1))
            #expect(try await raw.receiveSkippingHello() == .pong(1))  // call 5 is running
            try raw.send(callID: 5, request(TestService.echo))  // not above 5: a connection error
            guard case .goAway(let goAway)? = try await raw.receive() else {
                Issue.record("no GOAWAY first")
                return
            }
            #expect(goAway.errorCode == .protocolError)
            #expect(goAway.lastCallID == 5)
            service.gate.open()
            let frames = try await raw.receiveUntilClosed()
            #expect(frames.compactMap { $0.response }.map { $0.0 } == [5], "the call GOAWAY named was answered")
            #expect(frames.compactMap { $0.response }.first?.1.code == 0)
        }
    }

    @Test("at the call limit CANCEL and PING are still read: a full connection is never stuck")
    func cancelAtTheLimit() async throws {
        try await withServer(services: [TestService()], configure: { $0.maxConcurrentCallsPerConnection = 1 }) { path, _ in
            let raw = try RawConnection(path: path)
            try raw.send(callID: 1, request(TestService.hang))
            raw.send(.ping(1))
            #expect(try await raw.receiveSkippingHello() == .pong(1))  // the only slot is taken
            try raw.send(callID: 2, request(TestService.echo))
            #expect(try await raw.receive()?.response?.response.code == StatusCode.resourceExhausted.rawValue)
            raw.send(.ping(2))
            #expect(try await raw.receive() == .pong(2))
            raw.send(.cancel(callID: 1))
            #expect(try await raw.receive()?.response?.response.code == StatusCode.cancelled.rawValue)
        }
    }

    @Test("CANCEL stops the handler; the call is answered CANCELLED")
    func cancel() async throws {
        try await withServer(services: [TestService()]) { path, _ in
            let raw = try RawConnection(path: path)
            try raw.send(callID: 1, request(TestService.hang))
            // Frames are handled in order: once the PONG is back, the call is running.
            raw.send(.ping(1))
            #expect(try await raw.receiveSkippingHello() == .pong(1))
            raw.send(.cancel(callID: 1))
            // The handler runs until cancelled: only the CANCEL can end it.
            let response = try #require(try await raw.receiveSkippingHello()?.response?.response)
            #expect(response.code == StatusCode.cancelled.rawValue)
        }
    }

    @Test("a call past its :timeout is answered DEADLINE_EXCEEDED; a zero timeout at once")
    func deadline() async throws {
        try await withServer(services: [TestService()]) { path, _ in
            let raw = try RawConnection(path: path)
            try raw.send(callID: 1, request(TestService.hang, timeoutMs: 50))
            try raw.send(callID: 2, request(TestService.echo, timeoutMs: 0))
            var answers: [UInt32: Response] = [:]
            while answers.count < 2, let frame = try await raw.receiveSkippingHello() {
                if let (id, response) = frame.response { answers[id] = response }
            }
            #expect(answers[1]?.code == StatusCode.deadlineExceeded.rawValue)
            #expect(answers[2]?.code == StatusCode.deadlineExceeded.rawValue)
        }
    }

    @Test("calls over MAX_CONCURRENT_CALLS get RESOURCE_EXHAUSTED, echoing their x-request-id (or one made for them); the others complete")
    func concurrencyLimit() async throws {
        let service = TestService()
        try await withServer(services: [service], configure: { $0.maxConcurrentCallsPerConnection = 3 }) { path, _ in
            let raw = try RawConnection(path: path)
            for id in UInt32(1)...5 {
                try raw.send(callID: id, request(TestService.gated, metadata: id == 4 ? [("x-request-id", "refused-4")] : []))
            }
            var answers: [UInt32: Response] = [:]
            while answers.count < 2, let frame = try await raw.receiveSkippingHello() {
                if let (id, response) = frame.response { answers[id] = response }
            }
            #expect((4...5).allSatisfy { answers[$0]?.code == StatusCode.resourceExhausted.rawValue })
            #expect(answers[4]?.metadata.first("x-request-id") == "refused-4", "SPEC.md 7.2: the server echoes it")
            #expect(answers[5]?.metadata.first("x-request-id")?.isEmpty == false, "one made for a call that sent none")
            service.gate.open()
            while answers.count < 5, let frame = try await raw.receiveSkippingHello() {
                if let (id, response) = frame.response { answers[id] = response }
            }
            #expect((1...3).allSatisfy { answers[$0]?.code == 0 })
        }
    }

    @Test("the server-wide bound on calls in flight: over it RESOURCE_EXHAUSTED on any connection, health still answered; freed when answered")
    func globalCallBound() async throws {
        let service = TestService()
        let health = HealthService(store: InMemoryFeedbackStore(interactionIDs: []))
        try await withServer(services: [service, health], configure: { $0.maxCallsInFlight = 2 }) { path, _ in
            let first = try RawConnection(path: path)
            let second = try RawConnection(path: path)
            try first.send(callID: 1, request(TestService.gated))
            try second.send(callID: 1, request(TestService.gated))
            for raw in [first, second] {
                raw.send(.ping(1))
                #expect(try await raw.receiveSkippingHello() == .pong(1))  // its call is in flight
            }
            let third = try RawConnection(path: path)
            try third.send(callID: 1, request(TestService.echo, [1]))
            let refused = try await third.receiveSkippingHello()?.response
            #expect(refused?.response.code == StatusCode.resourceExhausted.rawValue)
            #expect(refused?.response.message == "The server is at its limit of 2 calls in flight; retry later.")
            try third.send(callID: 2, request(HealthService.checkPath))  // health takes no slot: still answered
            #expect(try await third.receiveSkippingHello()?.response?.response.code == 0)

            service.gate.open()
            #expect(try await first.receiveSkippingHello()?.response?.response.code == 0)
            #expect(try await second.receiveSkippingHello()?.response?.response.code == 0)
            try third.send(callID: 3, request(TestService.echo, [3]))
            #expect(try await third.receiveSkippingHello()?.response?.response.code == 0, "the units came back")
        }
    }

    @Test("a call still running when its connection is reset keeps its unit of the server-wide bound until it really ends")
    func budgetOfAbandonedCalls() async throws {
        let service = TestService()
        try await withServer(services: [service], configure: { $0.maxCallsInFlight = 4 }) { path, server in
            let peer = try RawConnection(path: path)
            try peer.send(callID: 1, request(TestService.gated))
            peer.send(.ping(1))
            #expect(try await peer.receiveSkippingHello() == .pong(1))
            #expect(server.server.callsInFlight == 1)
            peer.send(.ping(2))
            try await peer.waitUntilReadable()  // the PONG waits unread: closing now resets the connection
            peer.closeNow()
            try await waitUntil { server.server.connectionCount == 0 }
            #expect(server.server.callsInFlight == 1, "the handler still runs: its unit is not free yet")
            service.gate.open()
            try await waitUntil { server.server.callsInFlight == 0 }
        }
    }

    @Test("1,000 pipelined calls on one connection all complete, out of order")
    func pipelined() async throws {
        try await withServer(services: [TestService()], configure: { $0.maxConcurrentCallsPerConnection = 1000 }) { path, _ in
            let raw = try RawConnection(path: path)
            var bytes = ByteBuffer()
            for id in UInt32(1)...1000 {
                try bytes.writeRequestFrame(callID: id, request(TestService.sleep, [UInt8((id * 37) % 50), UInt8(id % 256)]))
            }
            raw.send(bytes: Array(bytes.readableBytesView))
            var order: [UInt32] = []
            while order.count < 1000, let frame = try await raw.receiveSkippingHello() {
                guard let (id, response) = frame.response else { continue }
                #expect(response.code == 0)
                #expect(response.body.getInteger(at: response.body.readerIndex + 1, as: UInt8.self) == UInt8(id % 256))
                order.append(id)
            }
            #expect(Set(order) == Set(1...1000))
            #expect(order != order.sorted(), "responses came back in request order")
        }
    }

    @Test("graceful shutdown: GOAWAY with the last call id, in-flight calls finish, later calls are not processed")
    func goAwayDrain() async throws {
        let service = TestService()
        try await withServer(services: [service]) { path, server in
            let raw = try RawConnection(path: path)
            try raw.send(callID: 1, request(TestService.gated))
            try raw.send(callID: 2, request(TestService.gated))
            // Frames are handled in order: once the PONG is back, both calls are in flight.
            raw.send(.ping(7))
            #expect(try await raw.receiveSkippingHello() == .pong(7))
            await server.triggerShutdown()
            guard case .goAway(let goAway) = try await raw.receive() else {
                Issue.record("no GOAWAY")
                return
            }
            #expect(goAway.errorCode == .noError)
            #expect(goAway.lastCallID == 2)
            try raw.send(callID: 3, request(TestService.echo))  // after GOAWAY: not processed
            raw.send(.ping(8))
            #expect(try await raw.receive() == .pong(8))  // call 3 was read (and ignored)
            service.gate.open()
            let rest = try await raw.receiveUntilClosed()
            #expect(Set(rest.compactMap { $0.response?.callID }) == [1, 2])
            #expect(rest.compactMap(\.response).allSatisfy { $0.response.code == 0 })
            #expect(rest.allSatisfy { $0.response?.callID != 3 })
        }
    }

    @Test("no HELLO within the handshake timeout: GOAWAY HANDSHAKE_FAILED")
    func handshakeTimeout() async throws {
        try await withServer(services: [TestService()], configure: { $0.handshakeTimeout = .milliseconds(100) }) { path, _ in
            let raw = try RawConnection(path: path, sendHello: false)
            let frames = try await raw.receiveUntilClosed()
            #expect(frames.contains { if case .goAway(let g) = $0 { g.errorCode == .handshakeFailed } else { false } })
        }
    }

    @Test("a client GOAWAY before its HELLO: the server closes at once, without waiting for the handshake timeout")
    func goAwayBeforeHello() async throws {
        try await withServer(services: [TestService()], configure: { $0.handshakeTimeout = .seconds(5) }) { path, _ in
            let raw = try RawConnection(path: path, sendHello: false)
            raw.send(.goAway(GoAway(lastCallID: 0, errorCode: .noError)))
            let frames = try await raw.receiveUntilClosed()
            // Only the server's HELLO: no GOAWAY HANDSHAKE_FAILED, which would come after the timeout.
            #expect(frames.count == 1)
            #expect(frames.allSatisfy { if case .hello = $0 { true } else { false } }, "\(frames)")
            #expect(raw.closedByPeer)
        }
    }

    @Test("SPEC.md 7.3: :method is checked before :timeout; a REQUEST whose only entry is ':timeout: x' is MISSING_METHOD")
    func methodCheckedBeforeTimeout() async throws {
        try await withServer(services: [TestService()]) { path, _ in
            let raw = try RawConnection(path: path)
            for (callID, entries) in [(UInt32(1), [(":timeout", "x")]), (2, [(":timeout", "x"), (":method", "nope")])] {
                var block: [UInt8] = []
                for (key, value) in entries {
                    block += [UInt8(key.utf8.count)] + Array(key.utf8) + [0, UInt8(value.utf8.count)] + Array(value.utf8)
                }
                var payload = ByteBuffer()
                payload.writeInteger(UInt32(block.count))
                payload.writeBytes(block)
                raw.send(.request(callID: callID, payload: payload))
            }
            var reasons: [UInt32: String] = [:]
            while reasons.count < 2, let frame = try await raw.receiveSkippingHello() {
                guard let (id, response) = frame.response else { continue }
                #expect(response.code == StatusCode.invalidArgument.rawValue)
                let details = try Feedback_Rpc_V1_Status(serializedBytes: try #require(response.metadata.firstBinary("status-details-bin")))
                reasons[id] = try Feedback_Rpc_V1_ErrorInfo(serializedBytes: try #require(details.details.first?.value)).reason
            }
            #expect(reasons == [1: "MISSING_METHOD", 2: "INVALID_METHOD"])
        }
    }

    @Test("SPEC.md 5: at MAX_CONCURRENT_CALLS, Health/Check and Reflection/ListServices are still answered and take no slot; a malformed REQUEST gets its own error")
    func exemptFromTheCallLimit() async throws {
        let service = TestService()
        let health = HealthService(store: InMemoryFeedbackStore(interactionIDs: []))
        let reflection = ReflectionService(describing: RPCRouter(services: [service, health]))
        try await withServer(services: [service, health, reflection], configure: { $0.maxConcurrentCallsPerConnection = 1 }) { path, _ in
            let raw = try RawConnection(path: path)
            try raw.send(callID: 1, request(TestService.gated))
            raw.send(.ping(1))
            #expect(try await raw.receiveSkippingHello() == .pong(1))  // the only slot is taken
            try raw.send(callID: 2, request(TestService.echo))
            try raw.send(callID: 3, request(HealthService.checkPath))
            try raw.send(callID: 4, request(ReflectionService.listServicesPath))
            var payload = ByteBuffer()
            payload.writeInteger(UInt32(0))  // no :method
            raw.send(.request(callID: 5, payload: payload))
            var answers: [UInt32: Response] = [:]
            while answers.count < 4, let frame = try await raw.receive() {
                if let (id, response) = frame.response { answers[id] = response }
            }
            #expect(answers[2]?.code == StatusCode.resourceExhausted.rawValue)
            #expect(answers[3]?.code == 0)
            #expect(answers[4]?.code == 0)
            #expect(answers[5]?.code == StatusCode.invalidArgument.rawValue)
            service.gate.open()
            #expect(try await raw.receive()?.response?.response.code == 0)
        }
    }

    @Test("an idle connection is closed with GOAWAY NO_ERROR")
    func idleTimeout() async throws {
        try await withServer(services: [TestService()], configure: { $0.idleTimeout = .milliseconds(100) }) { path, _ in
            let raw = try RawConnection(path: path)
            let frames = try await raw.receiveUntilClosed()
            #expect(frames.contains { if case .goAway(let g) = $0 { g.errorCode == .noError } else { false } })
        }
    }

    @Test("connections over the limit when none is idle, and peers not on the allow-list, get GOAWAY REFUSED")
    func refused() async throws {
        try await withServer(services: [TestService()], configure: { $0.maxConnections = 1 }) { path, _ in
            let first = try RawConnection(path: path)
            try first.send(callID: 1, request(TestService.hang))
            first.send(.ping(1))
            #expect(try await first.receiveSkippingHello() == .pong(1))  // busy: it cannot be evicted
            let second = try RawConnection(path: path)
            let frames = try await second.receiveUntilClosed()
            #expect(frames.contains { if case .goAway(let g) = $0 { g.errorCode == .refused } else { false } })
            first.send(.cancel(callID: 1))
            #expect(try await first.receive()?.response?.response.code == StatusCode.cancelled.rawValue)
        }
        try await withServer(services: [TestService()], configure: { $0.allowedUIDs = [getuid() + 1] }) { path, _ in
            let raw = try RawConnection(path: path)
            let frames = try await raw.receiveUntilClosed()
            #expect(frames.contains { if case .goAway(let g) = $0 { g.errorCode == .refused } else { false } })
        }
        try await withServer(services: [TestService()], configure: { $0.allowedGIDs = [getgid()] }) { path, _ in
            let raw = try RawConnection(path: path)
            guard case .hello = try await raw.receive() else { Issue.record("allowed gid refused"); return }
        }
    }
}
