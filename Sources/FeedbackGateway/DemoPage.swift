import Foundation
import HTTPTypes
import Hummingbird
import NIOCore

/// The demo page at `/`, served under a Content-Security-Policy that allows what the page needs and nothing
/// else: its own inline script and style and the widget's script, by a nonce made for each response; the
/// widget's `<style>` (which takes the nonce of the script that loaded it); requests to this gateway; the
/// `data:` icon. No `'unsafe-inline'`, no plugins, no `<base>`, no forms, and no framing by any site.
///
/// Every ``noncePlaceholder`` in the page is replaced by the response's nonce: a page from `--widget-dir`
/// marks its `<script>` and `<style>` elements `nonce="{{csp-nonce}}"` as `clients/widget/demo.html` does.
struct DemoPage: Sendable {
    static let noncePlaceholder = "{{csp-nonce}}"

    /// The page, cut at each placeholder.
    private let parts: [ByteBuffer]
    private let byteCount: Int

    init(html: ByteBuffer) {
        let bytes = Array(html.readableBytesView)
        let placeholder = Array(Self.noncePlaceholder.utf8)
        var parts: [ByteBuffer] = []
        var start = 0
        var index = 0
        while index + placeholder.count <= bytes.count {
            if bytes[index..<index + placeholder.count].elementsEqual(placeholder) {
                parts.append(ByteBuffer(bytes: bytes[start..<index]))
                index += placeholder.count
                start = index
            } else {
                index += 1
            }
        }
        parts.append(ByteBuffer(bytes: bytes[start...]))
        self.parts = parts
        self.byteCount = bytes.count
    }

    /// The page with a new nonce, and the policy that names it.
    func response() -> Response {
        let nonce = Self.makeNonce()
        var body = ByteBuffer()
        body.reserveCapacity(self.byteCount + self.parts.count * nonce.utf8.count)
        for (index, part) in self.parts.enumerated() {
            if index > 0 { body.writeString(nonce) }
            body.writeImmutableBuffer(part)
        }
        return Response(
            status: .ok,
            headers: [.contentType: "text/html; charset=utf-8", .cacheControl: "no-cache", .contentSecurityPolicy: Self.policy(nonce: nonce)],
            body: ResponseBody(byteBuffer: body)
        )
    }

    /// The policy for a response whose nonce is `nonce`.
    static func policy(nonce: String) -> String {
        "default-src 'none'; script-src 'nonce-\(nonce)'; style-src 'nonce-\(nonce)'; connect-src 'self'; img-src data:; "
            + "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    }

    /// 128 random bits, base64: what CSP asks of a nonce.
    private static func makeNonce() -> String {
        var generator = SystemRandomNumberGenerator()
        let words = (generator.next() as UInt64, generator.next() as UInt64)
        return withUnsafeBytes(of: words) { Data($0).base64EncodedString() }
    }
}
