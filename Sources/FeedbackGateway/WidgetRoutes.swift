import Foundation
import HTTPTypes
import Hummingbird
import NIOCore

/// The widget script and the demo page, read from the widget directory at start-up.
struct WidgetRoutes<Context: RequestContext>: Sendable {
    let script: String
    let demoPage: String

    /// - Throws: when `directory` lacks `feedback.js` or `demo.html`.
    init(directory: String) throws {
        self.script = try String(contentsOfFile: directory + "/feedback.js", encoding: .utf8)
        self.demoPage = try String(contentsOfFile: directory + "/demo.html", encoding: .utf8)
    }

    func register(on router: Router<Context>) {
        let script = self.script
        let page = self.demoPage
        router.get("/widget/feedback.js") { _, _ in
            Response(
                status: .ok,
                headers: [.contentType: "text/javascript; charset=utf-8", .cacheControl: "no-cache", .accessControlAllowOrigin: "*"],
                body: ResponseBody(byteBuffer: ByteBuffer(string: script))
            )
        }
        router.get("/") { _, _ in
            Response(
                status: .ok,
                headers: [.contentType: "text/html; charset=utf-8", .cacheControl: "no-cache"],
                body: ResponseBody(byteBuffer: ByteBuffer(string: page))
            )
        }
    }
}
