import FeedbackTestSupport
import Testing

/// feedbackd and feedback-gateway declare their logging and metrics flags once (ObservabilityOptions):
/// the same values are refused the same way by both, before anything starts.
@Suite("The servers' shared logging and metrics flags", .timeLimit(.minutes(1)))
struct ObservabilityFlagsTests {
    /// Before: the gateway took any --log-format (and both any --log-level) and ran with its default.
    @Test(
        "a value outside the flag's choices exits 64 naming the flag, for both servers",
        arguments: ["feedbackd", "feedback-gateway"], [["--log-level", "loud"], ["--log-format", "xml"], ["--metrics-listen", "nowhere"]]
    )
    func refused(binary: String, flag: [String]) throws {
        let extra = binary == "feedback-gateway" ? ["--listen", "127.0.0.1:0"] : ["--socket", uniqueSocketPath()]
        let run = try runProcessWithOutputs(productsDirectory + "/" + binary, extra + flag)
        #expect(run.status == 64)
        #expect(run.errors.contains(flag[0]), "\(run.errors)")
    }
}
