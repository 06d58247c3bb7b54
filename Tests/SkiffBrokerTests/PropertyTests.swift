import Testing

@testable import SkiffBroker

/// Applies the workload's setup to a fresh machine.
func setUpMachine() -> BrokerStateMachine {
    var machine = BrokerStateMachine()
    for (offset, command) in Workload.setup.enumerated() {
        let (result, _) = machine.apply(command, index: UInt64(offset + 1), time: 1_000)
        precondition(result.error == nil, "setup \(command) failed: \(result)")
    }
    return machine
}

/// Same commands, same (index, time): same results, events and state hash, for several seeds.
@Test(arguments: [1, 2, 3] as [UInt64])
func determinism(seed: UInt64) {
    var a = setUpMachine()
    var b = setUpMachine()
    var workload = Workload(seed: seed)
    var index = UInt64(Workload.setup.count)
    var errors = 0
    for _ in 0..<1_500 {
        let command = workload.next()
        index += 1
        let first = a.apply(command, index: index, time: workload.time)
        let second = b.apply(command, index: index, time: workload.time)
        #expect(first.result == second.result)
        #expect(first.events == second.events)
        if first.result.error != nil { errors += 1 }
        workload.observe(command, first.result)
        if index % 25 == 0 { #expect(a.invariantViolations() == []) }
    }
    #expect(a.stateHash() == b.stateHash())
    #expect(errors > 0 && errors < 1_400)
}

/// Apply, checkpoint at random points, restore from the checkpoint tables at random points, continue: every
/// result, event and the final state hash equal those of a run that never checkpoints. Payloads come back through
/// the payload source.
@Test(arguments: Array(UInt64(11)...UInt64(18)))
func checkpointRestoreEquivalence(seed: UInt64) throws {
    var reference = setUpMachine()
    var subject = setUpMachine()
    let store = FakeStore()
    for statement in BrokerStateMachine.schema { #expect(statement.hasPrefix("CREATE TABLE")) }
    subject.payloadSource = store
    var workload = Workload(seed: seed)
    var points = SplitMix64(seed: seed ^ 0xc0ffee)
    var index = UInt64(Workload.setup.count)
    var restores = 0
    for step in 0..<1_500 {
        let command = workload.next()
        index += 1
        let expected = reference.apply(command, index: index, time: workload.time)
        let actual = subject.apply(command, index: index, time: workload.time)
        #expect(expected.result == actual.result, "step \(step): \(command)")
        #expect(expected.events == actual.events, "step \(step)")
        workload.observe(command, expected.result)
        if points.chance(3) { store.execute(subject.takeCheckpointDelta()) }
        if points.chance(1) || step == 700 {
            store.execute(subject.takeCheckpointDelta())
            subject = try BrokerStateMachine.restore(query: store.query)
            subject.payloadSource = store
            restores += 1
            #expect(subject.stateHash() == reference.stateHash(), "after restore at step \(step)")
        }
        if step % 50 == 0 { #expect(subject.invariantViolations() == []) }
    }
    #expect(restores >= 1)
    #expect(subject.stateHash() == reference.stateHash())
    store.execute(subject.takeCheckpointDelta())
    let final = try BrokerStateMachine.restore(query: store.query)
    #expect(final.stateHash() == reference.stateHash())
}

/// A restored machine's derived timers fire exactly like the original's: run far into the future on both.
@Test func restoredTimersMatch() throws {
    var reference = setUpMachine()
    var workload = Workload(seed: 77)
    var index = UInt64(Workload.setup.count)
    for _ in 0..<600 {
        let command = workload.next()
        index += 1
        workload.observe(command, reference.apply(command, index: index, time: workload.time).result)
    }
    let store = FakeStore()
    var copy = reference
    store.execute(copy.takeCheckpointDelta())
    var restored = try BrokerStateMachine.restore(query: store.query)
    restored.payloadSource = store
    for step in 1...30 {
        let time = workload.time + Int64(step) * 400
        let expected = reference.apply(.tick, index: index + UInt64(step), time: time)
        let actual = restored.apply(.tick, index: index + UInt64(step), time: time)
        #expect(expected.events == actual.events)
    }
    #expect(restored.stateHash() == reference.stateHash())
}

/// Rebuilding the timer heap from live state at arbitrary points never changes results, events or state.
@Test func timerRebuildIsInvisible() {
    var reference = setUpMachine()
    var subject = setUpMachine()
    var workload = Workload(seed: 99)
    var index = UInt64(Workload.setup.count)
    for step in 0..<1_500 {
        let command = workload.next()
        index += 1
        let expected = reference.apply(command, index: index, time: workload.time)
        let actual = subject.apply(command, index: index, time: workload.time)
        #expect(expected.result == actual.result && expected.events == actual.events, "step \(step)")
        workload.observe(command, expected.result)
        if step % 7 == 0 { subject.rebuildTimers() }
    }
    #expect(subject.stateHash() == reference.stateHash())
    #expect(subject.timers.count <= reference.timers.count)
}

/// Stale timers of acked leases do not pile up: the heap stays near the live count under receive/ack churn.
@Test func staleTimersStayBounded() {
    var h = queueHarness()
    let batch = (0..<100).map { OutgoingMessage(body: [UInt8($0)]) }
    for _ in 0..<1_500 {
        h.ok(.publish(PublishRequest(namespace: "ns", target: .queue("q"), messages: batch)))
        let got = h.receive("q", max: 100, visibilityMs: 3_600_000)
        h.ok(.ack(namespace: "ns", queue: "q", leases: got.map(\.lease)))
    }
    #expect(h.machine.timers.count <= BrokerStateMachine.timerSlack + 100)
    #expect(h.stats("q").ready == 0)
}
