import FeedbackTestSupport
import Testing

@testable import RPCUnixTransport

@Suite("Connection caps fitted to the descriptor limit")
struct DescriptorLimitTests {
    @Test("every listener's cap comes out of one budget: the metrics port's is taken from the socket's")
    func oneBudget() {
        #expect(DescriptorLimit.cap(requested: 1024, descriptors: 1024, reserve: 64, otherListeners: 0) == 960)
        #expect(DescriptorLimit.cap(requested: 1024, descriptors: 1024, reserve: 64, otherListeners: 16) == 944)
        #expect(DescriptorLimit.cap(requested: 100, descriptors: 1024, reserve: 64, otherListeners: 16) == 100, "asked for fewer: as asked")
        #expect(DescriptorLimit.cap(requested: 4096, descriptors: 65536, reserve: 64, otherListeners: 16) == 4096)
        #expect(DescriptorLimit.cap(requested: 1024, descriptors: 50, reserve: 64, otherListeners: 16) == 16, "never below 16")
    }
}
