import Foundation
import NIOCore
import RPCCodec

/// `protocol/vectors/frames.json`, read by every codec test.
struct GoldenVectors: Decodable {
    struct Limits: Decodable {
        var maxFrameSize: Int?
        var maxMetadataSize: Int?
    }

    struct MetadataEntry: Decodable {
        var key: String
        var value: String?
        var valueHex: String?
    }

    struct HelloFields: Decodable {
        struct Setting: Decodable {
            var id: UInt16
            var value: UInt32
        }
        var version: UInt16
        var settings: [Setting]
    }

    struct RequestFields: Decodable {
        var method: String
        var timeoutMs: UInt32?
        var metadata: [MetadataEntry]
        var messageHex: String
    }

    struct ResponseFields: Decodable {
        var code: UInt32
        var message: String
        var metadata: [MetadataEntry]
        var messageHex: String
    }

    struct Opaque: Decodable {
        var opaqueHex: String
    }

    struct CreditFields: Decodable {
        var increment: UInt32
    }

    struct StreamMessageFields: Decodable {
        var messageHex: String
    }

    struct GoAwayFields: Decodable {
        var lastCallId: UInt32
        var errorCode: UInt32
        var debug: String
    }

    struct FrameFields: Decodable {
        var type: String
        var callId: UInt32
        var flags: UInt8
        var length: Int
        var hello: HelloFields?
        var request: RequestFields?
        var response: ResponseFields?
        var ping: Opaque?
        var pong: Opaque?
        var goaway: GoAwayFields?
        var credit: CreditFields?
        var streamMessage: StreamMessageFields?
        /// A REQUEST with the STREAM flag.
        var stream: Bool?
    }

    struct Valid: Decodable, CustomTestStringConvertible, Sendable {
        var name: String
        var role: String
        var state: String
        var version: UInt16
        var hex: String
        var canonical: Bool
        var frame: FrameFields
        var testDescription: String { self.name }
    }

    struct Invalid: Decodable, CustomTestStringConvertible, Sendable {
        var name: String
        var role: String
        var state: String
        var version: UInt16
        var hex: String
        var error: String
        var scope: String
        var status: UInt32?
        var goaway: UInt32?
        var callId: UInt32?
        var limits: Limits?
        var testDescription: String { self.name }
    }

    /// The limits of SPEC.md sections 2.1 and 4.1.
    struct Defaults: Decodable {
        var handshakeMaxFrameSize: Int
        var maxFrameSizeBeforePeerHello: Int
        var maxFrameSize: Int
        var maxMetadataSize: Int
        var maxConcurrentCalls: UInt32
    }

    var defaults: Defaults
    var valid: [Valid]
    var invalid: [Invalid]

    static let shared: GoldenVectors = {
        let url = URL(fileURLWithPath: #filePath)
            .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("protocol/vectors/frames.json")
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        do {
            return try decoder.decode(GoldenVectors.self, from: Data(contentsOf: url))
        } catch {
            fatalError("cannot read \(url.path): \(error)")
        }
    }()
}

import Testing


extension ByteBuffer {
    init(hex: String) {
        var bytes: [UInt8] = []
        var index = hex.startIndex
        while index < hex.endIndex {
            let next = hex.index(index, offsetBy: 2)
            bytes.append(UInt8(hex[index..<next], radix: 16)!)
            index = next
        }
        self.init(bytes: bytes)
    }

    var hex: String {
        self.readableBytesView.map { String(format: "%02x", $0) }.joined()
    }
}

extension GoldenVectors.MetadataEntry {
    static func metadata(_ entries: [Self]) throws -> WireMetadata {
        var metadata = WireMetadata()
        for entry in entries {
            if let hex = entry.valueHex {
                try metadata.add(entry.key, binary: ByteBuffer(hex: hex).readableBytesView)
            } else {
                try metadata.add(entry.key, entry.value!)
            }
        }
        return metadata
    }
}

extension GoldenVectors.Valid {
    var decoder: FrameDecoder {
        FrameDecoder(role: self.role == "server" ? .server : .client, helloReceived: self.state == "open", version: self.version)
    }
    var bytes: ByteBuffer { ByteBuffer(hex: self.hex) }

    /// The frame the vector's fields describe, built with the codec's own types.
    func expectedFrame() throws -> Frame {
        let fields = self.frame
        switch fields.type {
        case "HELLO":
            let hello = fields.hello!
            return .hello(Hello(version: hello.version, settings: hello.settings.map { .init(id: $0.id, value: $0.value) }))
        case "REQUEST":
            var payload = ByteBuffer()
            try payload.writeRequestFrame(callID: fields.callId, self.expectedRequest()!)
            payload.moveReaderIndex(forwardBy: Frame.headerSize)
            return fields.stream == true ? .streamRequest(callID: fields.callId, payload: payload) : .request(callID: fields.callId, payload: payload)
        case "RESPONSE":
            var payload = ByteBuffer()
            try payload.writeResponseFrame(callID: fields.callId, self.expectedResponse()!)
            payload.moveReaderIndex(forwardBy: Frame.headerSize)
            return .response(callID: fields.callId, payload: payload)
        case "CANCEL":
            return .cancel(callID: fields.callId)
        case "STREAM_MESSAGE":
            return .streamMessage(callID: fields.callId, payload: ByteBuffer(hex: fields.streamMessage!.messageHex))
        case "CREDIT":
            return .credit(callID: fields.callId, increment: fields.credit!.increment)
        case "PING":
            return .ping(ByteBuffer(hex: fields.ping!.opaqueHex).getInteger(at: 0, as: UInt64.self)!)
        case "PONG":
            return .pong(ByteBuffer(hex: fields.pong!.opaqueHex).getInteger(at: 0, as: UInt64.self)!)
        case "GOAWAY":
            let goAway = fields.goaway!
            return .goAway(GoAway(lastCallID: goAway.lastCallId, errorCode: .init(rawValue: goAway.errorCode), debug: goAway.debug))
        default:
            throw VectorError.unknownType(fields.type)
        }
    }

    func expectedRequest() throws -> Request? {
        guard let request = self.frame.request else { return nil }
        return Request(
            method: request.method,
            timeoutMilliseconds: request.timeoutMs,
            metadata: try GoldenVectors.MetadataEntry.metadata(request.metadata),
            body: ByteBuffer(hex: request.messageHex),
            isStream: self.frame.stream == true
        )
    }

    func expectedResponse() throws -> Response? {
        guard let response = self.frame.response else { return nil }
        return Response(
            code: response.code,
            message: response.message,
            metadata: try GoldenVectors.MetadataEntry.metadata(response.metadata),
            body: ByteBuffer(hex: response.messageHex)
        )
    }
}

extension GoldenVectors.Invalid {
    var decoder: FrameDecoder {
        var limits = WireLimits.defaults
        if let max = self.limits?.maxFrameSize { limits.maxFrameSize = max }
        if let max = self.limits?.maxMetadataSize { limits.maxMetadataSize = max }
        return FrameDecoder(
            role: self.role == "server" ? .server : .client, limits: limits, helloReceived: self.state == "open", version: self.version
        )
    }
    var bytes: ByteBuffer { ByteBuffer(hex: self.hex) }
}

enum VectorError: Error {
    case unknownType(String)
}
