import Testing

@testable import SkiffBroker

func topicHarness(_ arguments: TopicArguments = TopicArguments(partitions: 3)) -> Harness {
    var h = Harness()
    h.ok(.createNamespace("ns"))
    h.ok(.createTopic(namespace: "ns", topic: "t", arguments: arguments))
    return h
}

extension Harness {
    @discardableResult
    mutating func append(_ records: [OutgoingRecord], at time: Int64? = nil) -> [RecordPosition] {
        guard
            case .appended(let positions) = ok(
                .append(AppendRequest(namespace: "ns", topic: "t", records: records)), at: time)
        else { preconditionFailure("append returned something else") }
        return positions
    }

    func fetch(_ partition: UInt32, from offset: UInt64, max: Int = 100) -> FetchResult {
        try! machine.fetch(namespace: "ns", topic: "t", partition: partition, offset: Offset(offset), maxRecords: max)
    }
}

/// Keyed records land on FNV-1a(key) % N and keep per-key order; offsets are dense per partition.
@Test func keyedPartitioningAndOffsets() {
    var h = topicHarness()
    var expected: [UInt32: [UInt64]] = [:]
    for i in 0..<30 {
        let key = Array("key-\(i % 7)".utf8)
        let position = h.append([OutgoingRecord(key: key, value: [UInt8(i)])])[0]
        #expect(position.partition == BrokerStateMachine.partition(forKey: key, partitions: 3))
        expected[position.partition, default: []].append(position.offset.rawValue)
    }
    for (partition, offsets) in expected {
        #expect(offsets == Array(0..<UInt64(offsets.count)))
        let fetched = h.fetch(partition, from: 0)
        #expect(fetched.records.map(\.offset.rawValue) == offsets)
        #expect(fetched.endOffset.rawValue == UInt64(offsets.count))
    }
}

/// Explicit partitions win over keys; unkeyed records go round-robin; bad partitions are errors.
@Test func explicitAndRoundRobin() {
    var h = topicHarness()
    #expect(h.append([OutgoingRecord(key: [1], value: [1], partition: 2)])[0].partition == 2)
    let spread = h.append((0..<6).map { _ in OutgoingRecord(value: [0]) }).map(\.partition)
    #expect(spread == [0, 1, 2, 0, 1, 2])
    let bad = AppendRequest(namespace: "ns", topic: "t", records: [OutgoingRecord(value: [1], partition: 3)])
    #expect(h.code(.append(bad)) == .partitionNotFound)
    let tombstone = AppendRequest(namespace: "ns", topic: "t", records: [OutgoingRecord(key: [1], value: nil)])
    #expect(h.code(.append(tombstone)) == .invalidArgument)
}

/// Fetch honours maxRecords, reports out-of-range offsets, and returns record contents.
@Test func fetchBounds() throws {
    var h = topicHarness(TopicArguments(partitions: 1))
    h.append((0..<10).map { OutgoingRecord(key: [UInt8($0)], value: [UInt8($0)], headers: [Header("h", "\($0)")]) })
    let page = h.fetch(0, from: 4, max: 3)
    #expect(page.records.map(\.offset.rawValue) == [4, 5, 6])
    #expect(page.records[0].value == [4] && page.records[0].key == [4] && page.records[0].headers == [Header("h", "4")])
    #expect(h.fetch(0, from: 10).records.isEmpty)
    #expect(throws: BrokerError.self) {
        try h.machine.fetch(namespace: "ns", topic: "t", partition: 0, offset: Offset(11))
    }
}

/// Time retention removes old records and advances the log start; size retention keeps the partition bounded.
@Test func retention() {
    var h = topicHarness(TopicArguments(partitions: 1, retentionMs: 1_000))
    h.append([OutgoingRecord(value: [1])], at: 1_000)
    h.append([OutgoingRecord(value: [2])], at: 1_500)
    h.ok(.tick, at: 2_000)
    #expect(h.fetch(0, from: 1).logStartOffset.rawValue == 1)
    h.ok(.tick, at: 2_500)
    let empty = h.fetch(0, from: 2)
    #expect(empty.records.isEmpty && empty.logStartOffset.rawValue == 2 && empty.endOffset.rawValue == 2)
    #expect(throws: BrokerError.self) {
        try h.machine.fetch(namespace: "ns", topic: "t", partition: 0, offset: Offset(0))
    }

    var s = topicHarness(TopicArguments(partitions: 1, retentionBytes: 10))
    for _ in 0..<5 { s.append([OutgoingRecord(value: [UInt8](repeating: 0, count: 4))]) }
    let kept = s.fetch(0, from: 3)
    #expect(kept.logStartOffset.rawValue == 3 && kept.records.count == 2)
}

/// Compaction keeps the latest value per key; a tombstone deletes the key and itself expires later.
@Test func compactionWithTombstones() {
    var h = topicHarness(TopicArguments(partitions: 1, compact: true, tombstoneRetentionMs: 1_000))
    h.append([OutgoingRecord(key: [1], value: [10]), OutgoingRecord(key: [2], value: [20])], at: 1_000)
    h.append([OutgoingRecord(key: [1], value: [11])], at: 1_100)
    var page = h.fetch(0, from: 0)
    #expect(page.records.map(\.offset.rawValue) == [1, 2])
    #expect(page.records.map(\.value) == [[20], [11]])
    h.append([OutgoingRecord(key: [2], value: nil)], at: 1_200)
    page = h.fetch(0, from: 0)
    #expect(page.records.map(\.offset.rawValue) == [2, 3])
    #expect(page.records[1].value == nil && page.records[1].key == [2])
    h.ok(.tick, at: 2_200)
    page = h.fetch(0, from: 0)
    #expect(page.records.map(\.offset.rawValue) == [2])
    #expect(page.endOffset.rawValue == 4 && page.logStartOffset.rawValue == 0)
    h.append([OutgoingRecord(key: [2], value: [22])])
    #expect(h.fetch(0, from: 0).records.map(\.value) == [[11], [22]])
}

/// Groups: joins bump the generation, every partition has exactly one owner, timeouts and leaves rebalance.
@Test func groupMembership() {
    var h = topicHarness(TopicArguments(partitions: 5))
    let group = GroupRef(namespace: "ns", topic: "t", group: "g")
    guard case .assignment(let a1) = h.ok(.joinGroup(group, member: "m1", sessionTimeoutMs: 1_000), at: 1_000) else {
        Issue.record("join failed")
        return
    }
    #expect(a1.generation == 1 && a1.partitions == [0, 1, 2, 3, 4])
    h.ok(.joinGroup(group, member: "m2", sessionTimeoutMs: 5_000), at: 1_000)
    var info = try! h.machine.groupInfo(group)
    #expect(info.generation == 2)
    #expect(info.assignment["m1"]! + info.assignment["m2"]! == [0, 1, 2, 3, 4])
    guard case .assignment(let beat) = h.ok(.heartbeat(group, member: "m2", generation: 1), at: 1_500) else { return }
    #expect(beat.generation == 2 && beat.partitions == info.assignment["m2"]!)
    h.ok(.heartbeat(group, member: "m1", generation: 2), at: 1_900)
    h.ok(.tick, at: 2_800)
    #expect(try! h.machine.groupInfo(group).generation == 2)
    h.ok(.tick, at: 2_900)
    info = try! h.machine.groupInfo(group)
    #expect(info.generation == 3 && info.assignment == ["m2": [0, 1, 2, 3, 4]])
    #expect(h.events.contains(.groupRebalanced(group, generation: 3, assignment: ["m2": [0, 1, 2, 3, 4]])))
    h.ok(.leaveGroup(group, member: "m2"))
    #expect(h.code(.leaveGroup(group, member: "m2")) == .memberNotFound)
    #expect(try! h.machine.groupInfo(group).assignment.isEmpty)
}

/// Offset commits need the current generation and ownership; resets move offsets by time, bounds or value.
@Test func offsetsCommitAndReset() {
    var h = topicHarness(TopicArguments(partitions: 2))
    h.append([OutgoingRecord(value: [0], partition: 0)], at: 1_000)
    h.append([OutgoingRecord(value: [1], partition: 0)], at: 2_000)
    let group = GroupRef(namespace: "ns", topic: "t", group: "g")
    h.ok(.joinGroup(group, member: "a", sessionTimeoutMs: 60_000))
    h.ok(.joinGroup(group, member: "b", sessionTimeoutMs: 60_000))
    let commit = { (member: String, generation: UInt64, partition: UInt32, offset: UInt64) in
        Command.commitOffsets(
            OffsetCommit(
                group: group, member: member, generation: generation,
                offsets: [PartitionOffset(partition: partition, offset: Offset(offset))]))
    }
    #expect(h.code(commit("a", 1, 0, 1)) == .staleGeneration)
    #expect(h.code(commit("b", 2, 0, 1)) == .notPartitionOwner)
    #expect(h.code(commit("a", 2, 0, 3)) == .offsetOutOfRange)
    #expect(h.code(commit("zz", 2, 0, 1)) == .memberNotFound)
    h.ok(commit("a", 2, 0, 2))
    #expect(try! h.machine.groupInfo(group).committed == [Offset(2), nil])
    h.ok(.resetOffsets(group, partition: 0, to: .timestamp(1_500)))
    #expect(try! h.machine.groupInfo(group).committed[0] == Offset(1))
    h.ok(.resetOffsets(group, partition: nil, to: .earliest))
    #expect(try! h.machine.groupInfo(group).committed == [Offset(0), Offset(0)])
    h.ok(.resetOffsets(group, partition: nil, to: .latest))
    #expect(try! h.machine.groupInfo(group).committed == [Offset(2), Offset(0)])
    #expect(h.code(.resetOffsets(group, partition: 1, to: .offset(Offset(1)))) == .offsetOutOfRange)
    h.ok(.deleteGroup(group))
    #expect(h.code(.deleteGroup(group)) == .groupNotFound)
}
