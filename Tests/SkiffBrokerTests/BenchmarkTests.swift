import Testing

@testable import SkiffBroker

/// The benchmark runs end to end on a small scale and reports every measurement without failed commands.
@Test func benchmarkSmoke() {
    let report = BrokerBenchmark.run(
        clock: ContinuousClock(), residentBytes: { 1 }, commandsPerRun: 5, backlogMessages: 100_000)
    for label in [
        "publish batches", "receive (lease) batches", "ack batches", "topic append batches", "checkpoint delta",
        "backlog of 100000 messages", "measured RSS growth",
    ] {
        #expect(report.contains(label), "missing \(label) in \(report)")
    }
    #expect(!report.contains("failed"))
}

/// Queued-message metadata stays at 32 bytes, the basis of the <= 100 bytes per queued message budget.
@Test func compactMessageMetadata() {
    #expect(MemoryLayout<QueuedMessage>.stride == 32)
}
