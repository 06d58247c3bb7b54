import ChaosCheck
import SkiffClient
import Testing

@testable import skiff_chaos

@Suite("Workload outcome classification")
struct OutcomeTests {
    /// Only errors that prove the request did not take effect are recorded as `fail`; everything that may
    /// hide a committed write (timeouts, lost connections, a leader that stepped down) is `unknown`.
    @Test func definiteFailuresOnly() {
        let definite: [SkiffClientError] = [
            SkiffClientError(.server(WireError(.queueFull, "full"))),
            SkiffClientError(.server(WireError(.badRequest, "bad"))),
            SkiffClientError(.unavailable("no leader")),
            SkiffClientError(.invalidArgument("empty")),
        ]
        let indefinite: [SkiffClientError] = [
            SkiffClientError(.timeout), SkiffClientError(.connectionLost), SkiffClientError(.closed),
            SkiffClientError(.server(WireError(.notLeader, "moved"))),
            SkiffClientError(.server(WireError(.timeout, "slow"))),
            SkiffClientError(.server(WireError(.internalError, "oops"))),
        ]
        for error in definite { #expect(WorkloadContext.outcome(of: error) == .fail, "\(error)") }
        for error in indefinite { #expect(WorkloadContext.outcome(of: error) == .unknown, "\(error)") }
        #expect(WorkloadContext.outcome(of: CancellationError()) == .unknown)
    }
}
