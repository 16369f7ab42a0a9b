import Foundation
import HTTPTypes
import Hummingbird
import NIOCore

/// The widget script and the demo page: those compiled into the gateway (`clients/widget`, embedded as
/// SwiftPM resources), or those read from a directory at start-up (`--widget-dir`).
///
/// The script is readable from any origin (pages elsewhere embed it with `<script src>`) and carries no
/// policy of its own; the demo page carries ``DemoPage``'s.
struct WidgetRoutes<Context: RequestContext>: Sendable {
    let script: ByteBuffer
    let demoPage: DemoPage

    /// The widget the gateway was built with.
    static var embedded: Self {
        Self(script: ByteBuffer(bytes: PackageResources.feedback_js), demoPage: ByteBuffer(bytes: PackageResources.demo_html))
    }

    private init(script: ByteBuffer, demoPage: ByteBuffer) {
        self.script = script
        self.demoPage = DemoPage(html: demoPage)
    }

    /// - Throws: ``MissingFile`` when `directory` lacks `feedback.js` or `demo.html`.
    init(directory: String) throws(MissingFile) {
        func read(_ name: String) throws(MissingFile) -> ByteBuffer {
            let path = (directory as NSString).appendingPathComponent(name)
            guard let contents = FileManager.default.contents(atPath: path) else { throw MissingFile(path: path) }
            return ByteBuffer(bytes: contents)
        }
        self.script = try read("feedback.js")
        self.demoPage = DemoPage(html: try read("demo.html"))
    }

    /// A widget file that cannot be read.
    struct MissingFile: Error, CustomStringConvertible {
        var path: String
        var description: String { "cannot read \(self.path)" }
    }

    /// `/widget/feedback.js`, and the demo page at `/` when `demoPage`.
    func register(on router: Router<Context>, demoPage: Bool) {
        let script = self.script
        let page = self.demoPage
        router.get("/widget/feedback.js") { _, _ in
            Response(
                status: .ok,
                headers: [.contentType: "text/javascript; charset=utf-8", .cacheControl: "no-cache", .accessControlAllowOrigin: "*"],
                body: ResponseBody(byteBuffer: script)
            )
        }
        if demoPage { router.get("/") { _, _ in page.response() } }
    }
}
