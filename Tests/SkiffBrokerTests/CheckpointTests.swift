import Testing

@testable import SkiffBroker

private func sql(_ statements: [StoreStatement], mentioning seq: MessageSeq) -> [StoreStatement] {
    statements.filter { $0.bindings.first == .int(Int64(bitPattern: seq.rawValue)) }
}

/// A message published and acked between two checkpoints never reaches the checkpoint tables; one that is
/// still pending is written once with its payload, and its ack later becomes a delete of both rows.
@Test func checkpointDeltaSkipsShortLivedMessages() {
    var h = queueHarness()
    let store = FakeStore()
    h.machine.payloadSource = store
    store.execute(h.machine.takeCheckpointDelta())
    let gone = h.publish("q", ["short"])[0]
    let got = h.receive("q")
    h.ok(.ack(namespace: "ns", queue: "q", leases: got.map(\.lease)))
    let kept = h.publish("q", ["long"])[0]
    let delta = h.machine.takeCheckpointDelta()
    #expect(sql(delta, mentioning: gone).isEmpty)
    #expect(
        sql(delta, mentioning: kept).map(\.sql).sorted()
            == [
                BrokerStateMachine.upsertMessage, BrokerStateMachine.upsertPayload,
            ].sorted())
    store.execute(delta)
    #expect(store.rows("broker_messages") == 1 && store.rows("broker_payloads") == 1)
    let viaTrailingClosure = try? BrokerStateMachine.restore { sql in try store.query(sql) }
    #expect(viaTrailingClosure?.stateHash() == h.machine.stateHash())
    #expect(h.machine.tracker.messages.isEmpty)
    #expect(h.machine.takeCheckpointDelta().count == 1)  // only the global row

    let again = h.receive("q")
    #expect(again.map(text) == ["long"])  // body read back through the payload source
    let leasedDelta = h.machine.takeCheckpointDelta()
    #expect(sql(leasedDelta, mentioning: kept).map(\.sql) == [BrokerStateMachine.upsertMessage])
    store.execute(leasedDelta)
    h.ok(.ack(namespace: "ns", queue: "q", leases: again.map(\.lease)))
    let ackDelta = h.machine.takeCheckpointDelta()
    #expect(
        sql(ackDelta, mentioning: kept).map(\.sql).sorted()
            == [
                BrokerStateMachine.deleteMessage, BrokerStateMachine.deletePayload,
            ].sorted())
    store.execute(ackDelta)
    #expect(store.rows("broker_messages") == 0 && store.rows("broker_payloads") == 0)
}

/// Topic records, compaction removals and metadata all round-trip through checkpoint and restore.
@Test func topicCheckpointRoundTrip() throws {
    var h = topicHarness(TopicArguments(partitions: 2, compact: true))
    let store = FakeStore()
    h.machine.payloadSource = store
    h.append([OutgoingRecord(key: [1], value: [1]), OutgoingRecord(key: [2], value: [2])])
    store.execute(h.machine.takeCheckpointDelta())
    h.append([OutgoingRecord(key: [1], value: [3]), OutgoingRecord(key: [2], value: nil)])
    h.ok(.joinGroup(GroupRef(namespace: "ns", topic: "t", group: "g"), member: "m", sessionTimeoutMs: 1_000))
    store.execute(h.machine.takeCheckpointDelta())
    var restored = try BrokerStateMachine.restore(query: store.query)
    restored.payloadSource = store
    #expect(restored.stateHash() == h.machine.stateHash())
    for partition: UInt32 in 0..<2 {
        let original = try h.machine.fetch(namespace: "ns", topic: "t", partition: partition, offset: Offset(0))
        let copy = try restored.fetch(namespace: "ns", topic: "t", partition: partition, offset: Offset(0))
        #expect(original == copy)
    }
    #expect(store.rows("broker_records") == 2)
}

/// Corrupt checkpoint rows are reported as errors, not crashes.
@Test func restoreRejectsCorruptRows() {
    let garbage: (String) throws -> [[StoreValue]] = { sql in
        sql.contains("broker_meta") ? [[.text("q/1"), .blob([1, 0xff])]] : []
    }
    #expect(throws: BrokerError.self) { try BrokerStateMachine.restore(query: garbage) }
    let wrongShape: (String) throws -> [[StoreValue]] = { _ in [[.int(1)]] }
    #expect(throws: BrokerError.self) { try BrokerStateMachine.restore(query: wrongShape) }
    let orphan: (String) throws -> [[StoreValue]] = { sql in
        sql.contains("broker_messages") ? [[.int(1), .int(9), .blob([1, 0, 0, 0, 0, 0, 0, 0, 0])]] : []
    }
    #expect(throws: BrokerError.self) { try BrokerStateMachine.restore(query: orphan) }
}

/// The time model: timers fire only when a command's time reaches them, at the same log position on replicas,
/// and a clock that goes backwards is clamped.
@Test func timeComesOnlyFromCommands() {
    var h = queueHarness()
    let delayed = OutgoingMessage(body: [1], deliveryTime: .delayMs(1_000))
    h.ok(.publish(PublishRequest(namespace: "ns", target: .queue("q"), messages: [delayed])), at: 10_000)
    #expect(h.machine.nextTimerDeadline == 11_000)
    h.ok(.tick, at: 5_000)  // a stale leader clock: clamped, nothing fires
    #expect(h.machine.currentTime == 10_000 && h.stats("q").ready == 0)
    h.ok(.tick, at: 10_999)
    #expect(h.stats("q").ready == 0)
    h.ok(.tick, at: 11_000)
    #expect(h.stats("q").ready == 1 && h.machine.nextTimerDeadline == nil)
    h.ok(.tick, at: Int64.max)
    #expect(h.machine.currentTime == BrokerLimits.timeMsMax)
}

/// One apply fires at most `timersPerApplyMax` timers; the rest stay due (`nextTimerDeadline <= currentTime`, the
/// leader's cue to tick) and fire on the next command.
@Test func timerWorkPerApplyIsBounded() {
    var h = queueHarness()
    let batch = (0..<1_000).map { _ in OutgoingMessage(body: [], deliveryTime: .delayMs(10)) }
    let commands = BrokerLimits.timersPerApplyMax / 1_000 + 1
    for _ in 0..<commands {
        h.ok(.publish(PublishRequest(namespace: "ns", target: .queue("q"), messages: batch)), at: 1_000)
    }
    h.ok(.tick, at: 1_010)
    #expect(h.stats("q").ready == UInt64(BrokerLimits.timersPerApplyMax))
    #expect(h.machine.nextTimerDeadline! <= h.machine.currentTime)
    h.ok(.tick, at: 1_010)
    #expect(h.stats("q").ready == UInt64(commands * 1_000) && h.stats("q").delayed == 0)
}

private struct WriteFailed: Error {}

/// A checkpoint write that fails midway forgets nothing: the next delta is complete and restores the same state.
@Test func failedCheckpointWriteKeepsTheDelta() throws {
    var h = queueHarness()
    h.publish("q", ["a", "b", "c"])
    var written = 0
    #expect(throws: WriteFailed.self) {
        try h.machine.writeCheckpointDelta { _ in
            written += 1
            if written == 3 { throw WriteFailed() }
        }
    }
    let store = FakeStore()
    store.execute(h.machine.takeCheckpointDelta())
    #expect(store.rows("broker_messages") == 3 && store.rows("broker_payloads") == 3)
    var restored = try BrokerStateMachine.restore(query: store.query)
    restored.payloadSource = store
    #expect(restored.stateHash() == h.machine.stateHash())
}

/// Timers act in canonical (due time, kind, owner, id) order even when the heap holds early entries: a lease
/// extended from 50 to 100 expires after a lease due at 90, in an original and in a restored machine alike.
@Test func timersFireInCanonicalOrder() throws {
    var h = queueHarness()
    h.publish("q", ["a", "b"])
    let a = h.receive("q", max: 1, visibilityMs: 50, at: 1_000)[0].lease
    h.ok(.extendLeases(namespace: "ns", queue: "q", leases: [a], visibilityMs: 90), at: 1_010)
    let b = h.receive("q", max: 1, visibilityMs: 80, at: 1_010)[0].lease
    let store = FakeStore()
    var copy = h.machine
    store.execute(copy.takeCheckpointDelta())
    var restored = try BrokerStateMachine.restore(query: store.query)
    restored.payloadSource = store
    let original = h.machine.apply(.tick, index: h.index + 1, time: 1_120)
    let again = restored.apply(.tick, index: h.index + 1, time: 1_120)
    let expected = BrokerEvent.leasesExpired(namespace: "ns", queue: "q", consumer: "c1", leases: [b, a])
    #expect(original.events.first == expected)
    #expect(again.events == original.events)
}

/// Per-queue counters (stored, leases granted, acked, dead-lettered in) are part of the replicated state: they
/// count each event once, including a dead-letter move into another queue, and survive checkpoint and restore.
@Test func queueCountersCountAndRoundTrip() throws {
    var h = queueHarness()
    h.ok(
        .declareQueue(
            namespace: "ns", queue: "work", arguments: QueueArguments(deadLetterQueue: "q", maxDeliveries: 1)))
    let store = FakeStore()
    h.machine.payloadSource = store
    _ = h.publish("work", ["a", "b", "c"])
    let first = h.receive("work", max: 2)
    h.ok(.ack(namespace: "ns", queue: "work", leases: [first[0].lease]))
    h.ok(.nack(namespace: "ns", queue: "work", leases: [first[1].lease], requeue: true))  // dead-lettered: max 1
    let stats = try h.machine.queueStats(namespace: "ns", queue: "work")
    #expect((stats.published, stats.delivered, stats.acked, stats.deadLettered) == (3, 2, 1, 1))
    let dlq = try h.machine.queueStats(namespace: "ns", queue: "q")
    #expect((dlq.published, dlq.delivered, dlq.acked, dlq.ready) == (1, 0, 0, 1))
    store.execute(h.machine.takeCheckpointDelta())
    let restored = try BrokerStateMachine.restore(query: store.query)
    #expect(restored.stateHash() == h.machine.stateHash())
    let again = try restored.queueStats(namespace: "ns", queue: "work")
    #expect((again.published, again.delivered, again.acked) == (3, 2, 1))
}
