import Testing

@testable import SkiffBroker

/// Tallies what the random workload achieves, so the property tests are known to exercise every feature.
struct WorkloadTally {
    var kinds: [String: Int] = [:]

    mutating func add(_ command: Command, _ result: CommandResult) {
        if case .batch(let commands) = command, case .ok(.batch(let results)) = result {
            for (command, result) in zip(commands, results) { add(command, result) }
            return
        }
        let name = String(String(describing: command).prefix { $0 != "(" })
        switch result {
        case .ok(.delivered(let messages)) where !messages.isEmpty: kinds["delivered", default: 0] += 1
        case .ok: kinds[name + ".ok", default: 0] += 1
        case .error: kinds[name + ".error", default: 0] += 1
        }
    }
}

/// The workload succeeds at every kind of operation and also produces errors, dead letters and checkbacks.
@Test func workloadCoversFeatures() {
    var machine = setUpMachine()
    var workload = Workload(seed: 5)
    var tally = WorkloadTally()
    var index = UInt64(Workload.setup.count)
    var events: [String: Int] = [:]
    for _ in 0..<3_000 {
        let command = workload.next()
        index += 1
        let (result, emitted) = machine.apply(command, index: index, time: workload.time)
        tally.add(command, result)
        workload.observe(command, result)
        for event in emitted { events[String(String(describing: event).prefix { $0 != "(" }), default: 0] += 1 }
    }
    for kind in [
        "delivered", "publish.ok", "ack.ok", "nack.ok", "extendLeases.ok", "append.ok", "joinGroup.ok",
        "commitOffsets.ok", "commitTransaction.ok", "abortTransaction.ok", "resolveHalfMessage.ok", "publish.error",
        "ack.error", "commitOffsets.error",
    ] {
        #expect((tally.kinds[kind] ?? 0) > 0, "workload never produced \(kind): \(tally.kinds)")
    }
    for kind in ["messagesAvailable", "leasesExpired", "groupRebalanced", "checkback", "recordsAppended"] {
        #expect((events[kind] ?? 0) > 0, "workload never emitted \(kind): \(events)")
    }
    #expect(machine.invariantViolations() == [])
    let dlq = try! machine.queueStats(namespace: "ns", queue: "q2")
    #expect(dlq.deadLettered > 0)
}
