import FastAPICompat
import HTTPTypes
import Hummingbird
import NIOCore

/// The JSON responses of the original endpoint.
enum GatewayResponse {
    /// `{"detail": "<message>"}`.
    static func detail(_ status: HTTPResponse.Status, _ message: String, headers: HTTPFields = [:]) -> Response {
        self.json(status, JSONValue.object([("detail", .string(message))]), headers: headers)
    }

    /// `{"detail": [<validation issues>]}`.
    static func issues(_ issues: [ValidationIssue]) -> Response {
        self.json(.unprocessableContent, .object([("detail", .array(issues.map(\.json)))]))
    }

    static func json(_ status: HTTPResponse.Status, _ value: JSONValue, headers: HTTPFields = [:]) -> Response {
        var headers = headers
        headers[.contentType] = "application/json"
        return Response(status: status, headers: headers, body: ResponseBody(byteBuffer: ByteBuffer(string: value.pythonJSON)))
    }
}
