import Testing

@testable import SkiffBroker

private func row(_ seq: UInt64, queue: UInt32 = 1) -> MessageRow {
    let message = QueuedMessage(
        seq: seq, expiresAt: Int64.max, size: 1, originQueue: 0, deliveries: 0, priority: 0, deadLetterHops: 0,
        deathReason: 0)
    return MessageRow(queue: queue, message: message, place: .ready, payload: nil)
}

private func ascending(_ table: MessageRowTable) -> [(UInt64, MessageRow)] {
    var rows: [(UInt64, MessageRow)] = []
    table.forEachAscending { rows.append(($0, $1)) }
    return rows
}

/// Under a seeded mix of ascending publishes (with gaps small and large), updates of older rows, in-place
/// modifications and removals, the table holds exactly what a dictionary holds and lists it in ascending order.
@Test func messageRowTableMatchesADictionary() {
    for seed: UInt64 in [1, 2, 3, 0xC0FFEE] {
        var rng = SplitMix64(seed: seed)
        var table = MessageRowTable()
        var model: [UInt64: MessageRow] = [:]
        var next: UInt64 = 1_000
        for _ in 0..<20_000 {
            let draw = rng.next() % 100
            if draw < 45 {
                next += rng.next() % 50 == 0 ? MessageRowTable.appendGapMax + rng.next() % 10 : 1 + rng.next() % 3
                table[next] = row(next)
                model[next] = row(next)
            } else if draw < 55 {
                let old = rng.next() % next
                table[old] = row(old, queue: 2)
                model[old] = row(old, queue: 2)
            } else if draw < 65 {
                let seq = next - rng.next() % 64
                let changed = table.modify(seq) { $0.queue += 10 }
                #expect((changed != nil) == (model[seq] != nil))
                model[seq]?.queue += 10
            } else {
                let seq = draw < 90 ? next - rng.next() % 200 : rng.next() % next
                #expect(table.removeValue(forKey: seq) == model.removeValue(forKey: seq))
            }
        }
        #expect(table.count == model.count)
        let listed = ascending(table)
        #expect(listed.map(\.0) == model.keys.sorted())
        #expect(listed.allSatisfy { model[$0.0] == $0.1 })
        #expect(model.keys.allSatisfy { table[$0] == model[$0] })
    }
}

/// A queue drained in publish order keeps the append-ordered run short: acked rows at its front are trimmed, and
/// a run left mostly empty is compacted, so steady publish-and-ack does not grow the table without bound.
@Test func messageRowTableStaysBoundedUnderPublishAndAck() {
    var table = MessageRowTable()
    table[1] = row(1)  // one old message that is never acked
    for seq: UInt64 in 2..<200_000 {
        table[seq] = row(seq)
        if seq >= 10 { table[seq - 8] = nil }
    }
    #expect(table.count == 9)
    #expect(ascending(table).map(\.0) == [1] + Array(199_992..<200_000))
    #expect(table.denseSlots < MessageRowTable.compactionSlotsMin)
}

/// Queue messages far apart in the sequence space (many topic records between them) do not pad the run with
/// thousands of empty slots each: the run stays within its density bound and every row stays listed in order.
@Test func messageRowTableDoesNotPadSparseSequences() {
    var table = MessageRowTable()
    let stride = MessageRowTable.appendGapMax / 2
    let sequences = (0..<2_000).map { UInt64($0) * stride }
    for seq in sequences { table[seq] = row(seq) }
    #expect(table.count == sequences.count)
    #expect(table.denseSlots <= MessageRowTable.compactionSlotsMin)
    #expect(ascending(table).map(\.0) == sequences)
    #expect(sequences.allSatisfy { table[$0] == row($0) })
}

/// A checkpoint delta lists message rows by ascending sequence whether they sit in the dictionary (leases of
/// messages stored before the previous checkpoint) or in the append-ordered run (new messages), in either order
/// of arrival, and the checkpoint restores to the same state hash.
@Test func checkpointDeltaListsOldAndNewRowsInOrder() throws {
    var h = queueHarness()
    let store = FakeStore()
    h.machine.payloadSource = store
    let old = h.publish("q", ["a", "b", "c"])
    store.execute(h.machine.takeCheckpointDelta())
    let new = h.publish("q", ["d", "e"])  // the run starts at d; leases of a and b then go to the dictionary
    #expect(h.receive("q", max: 2).map(text) == ["a", "b"])
    let delta = h.machine.takeCheckpointDelta()
    let first = delta.filter { $0.sql == BrokerStateMachine.upsertMessage }
    #expect(first.map { $0.bindings[0] } == (old[0...1] + new).map { .int(Int64($0.rawValue)) })
    store.execute(delta)

    #expect(h.receive("q", max: 1).map(text) == ["c"])  // the run starts at an old message this time
    let later = h.publish("q", ["f"])
    let second = h.machine.takeCheckpointDelta()
    let upserts = second.filter { $0.sql == BrokerStateMachine.upsertMessage }
    #expect(upserts.map { $0.bindings[0] } == [old[2], later[0]].map { .int(Int64($0.rawValue)) })
    store.execute(second)
    let restored = try BrokerStateMachine.restore { sql in try store.query(sql) }
    #expect(restored.stateHash() == h.machine.stateHash())
}
