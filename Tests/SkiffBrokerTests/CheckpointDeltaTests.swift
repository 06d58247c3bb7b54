import SkiffBroker
import Testing

/// Serves released payloads from a detached delta, as the node does while the delta's transaction runs.
private struct DeltaSource: PayloadSource {
    let delta: CheckpointDelta
    func payload(for sequence: MessageSeq) -> Payload? { delta.payload(for: sequence) }
}

/// A queue and a compacted topic with some history: messages published, one acked, records appended.
private func busyHarnesses() -> (Harness, Harness) {
    var queues = queueHarness()
    _ = queues.publish("q", ["a", "b", "c"])
    let got = queues.receive("q", max: 1)
    queues.ok(.ack(namespace: "ns", queue: "q", leases: got.map(\.lease)))
    _ = queues.publish("q", ["d"])
    var topics = topicHarness(TopicArguments(partitions: 2, compact: true))
    topics.append([OutgoingRecord(key: [1], value: [1]), OutgoingRecord(key: [2], value: [2])])
    return (queues, topics)
}

/// A detached delta writes exactly the statements `takeCheckpointDelta` gives for the same state, in the same
/// order, and both reset the tracker the same way.
@Test func detachedDeltaWritesTheSameStatements() {
    for (original, label) in [(busyHarnesses().0, "queue"), (busyHarnesses().1, "topic")] {
        var taken = original
        var detached = original
        let expected = taken.machine.takeCheckpointDelta()
        let delta = detached.machine.detachCheckpointDelta()
        #expect(delta.statements() == expected, "\(label)")
        #expect(!expected.isEmpty && delta.rowCount > 0, "\(label)")
        var streamed: [StoreStatement] = []
        delta.write { streamed.append($0) }
        #expect(streamed == expected, "\(label)")
        #expect(taken.machine.takeCheckpointDelta() == detached.machine.takeCheckpointDelta(), "\(label)")
    }
}

/// A detached delta is a value: later applies change neither its statements nor its payloads, and while it is
/// the payload source the broker still delivers the messages it released from RAM.
@Test func detachedDeltaIsStableAndServesReleasedPayloads() throws {
    var h = queueHarness()
    let store = FakeStore()
    h.machine.payloadSource = store
    store.execute(h.machine.takeCheckpointDelta())
    let sequences = h.publish("q", ["one", "two"])
    let delta = h.machine.detachCheckpointDelta()
    let before = delta.statements()
    #expect(delta.payload(for: sequences[0])?.body == Array("one".utf8))
    #expect(delta.payload(for: MessageSeq(sequences[1].rawValue + 100)) == nil)
    h.machine.payloadSource = DeltaSource(delta: delta)
    let got = h.receive("q", max: 2)
    #expect(got.map(text) == ["one", "two"])
    h.ok(.ack(namespace: "ns", queue: "q", leases: got.map(\.lease)))
    _ = h.publish("q", ["three"])
    #expect(delta.statements() == before)
    // Once written, the store serves them; the next delta deletes the acked rows.
    store.execute(before)
    h.machine.payloadSource = store
    let next = h.machine.takeCheckpointDelta()
    #expect(next.contains { $0.sql.hasPrefix("DELETE FROM broker_payloads") })
    store.execute(next)
    #expect(h.receive("q", max: 5).map(text) == ["three"])
}
