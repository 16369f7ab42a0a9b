import HTTPTypes
import Hummingbird
import NIOCore

/// The OpenAPI 3.1 document of the gateway's HTTP API, as FastAPI published the original's: the checked-in
/// `Sources/FeedbackGateway/openapi.json`, compiled into the binary and served at `GET /openapi.json`
/// (readable from any origin, for Swagger UI and code generators).
enum OpenAPIDocument {
    static let json = ByteBuffer(bytes: PackageResources.openapi_json)

    static func register<Context: RequestContext>(on router: Router<Context>) {
        router.get("/openapi.json") { _, _ in
            Response(
                status: .ok,
                headers: [.contentType: "application/json", .cacheControl: "no-cache", .accessControlAllowOrigin: "*"],
                body: ResponseBody(byteBuffer: Self.json)
            )
        }
    }
}
