import SkiffWire

/// One record handed out by a group consumer.
public struct TopicGroupRecord: Sendable, Hashable {
    public var partition: UInt32
    public var record: TopicRecord
}

/// Consumes a topic as a member of a consumer group: joins, heartbeats, fetches its partitions round-robin
/// and commits offsets (automatically per fetched batch, or when `commit()` is called). Rejoins after
/// rebalances and failovers.
public actor TopicGroupConsumer: AsyncSequence {
    public typealias Element = TopicGroupRecord

    /// Idle partitions are polled at this interval.
    static let pollIntervalMs: UInt64 = 50
    /// Records asked for per fetch.
    static let fetchRecordsMax: UInt32 = 500

    let client: SkiffClient
    let namespace: String
    let topic: String
    let group: String
    let autoCommit: Bool
    let sessionTimeoutMs: UInt32
    /// This member's name in the group, chosen once so rejoins after failovers keep the same identity.
    let memberName: String
    private var assignment: GroupAssignment?
    /// Next offset to fetch per owned partition.
    private var fetchPositions: [UInt32: Offset] = [:]
    /// Next offset after the last record handed out, per partition (what a commit stores).
    private var consumedPositions: [UInt32: Offset] = [:]
    private var committedPositions: [UInt32: Offset] = [:]
    private var buffer: [TopicGroupRecord] = []
    private var bufferIndex = 0
    private var lastHeartbeat = ContinuousClock.now
    private var cursor = 0

    init(
        client: SkiffClient, namespace: String, topic: String, group: String, autoCommit: Bool, sessionTimeoutMs: UInt32
    ) {
        self.client = client
        self.namespace = namespace
        self.topic = topic
        self.group = group
        self.autoCommit = autoCommit
        self.sessionTimeoutMs = sessionTimeoutMs
        let suffix = String(UInt64.random(in: 0...UInt64.max), radix: 16)
        self.memberName = "\(client.core.configuration.clientID.prefix(100))-\(suffix)"
    }

    /// The current assignment, once joined.
    public var currentAssignment: GroupAssignment? { assignment }

    /// The next record; waits for one. Returns nil only when the task is cancelled.
    public func next() async throws -> TopicGroupRecord? {
        while bufferIndex >= buffer.count {
            if Task.isCancelled { return nil }
            if autoCommit { try await commit() }
            try await refill()
            if bufferIndex >= buffer.count {
                try? await Task.sleep(nanoseconds: Self.pollIntervalMs * 1_000_000)
            }
        }
        let item = buffer[bufferIndex]
        bufferIndex += 1
        consumedPositions[item.partition] = Offset(item.record.offset.rawValue + 1)
        return item
    }

    /// Commits the position after every record handed out so far.
    public func commit() async throws {
        guard let assignment else { return }
        let offsets = consumedPositions.filter { committedPositions[$0.key] != $0.value }
            .map { PartitionOffset(topic: topic, partition: $0.key, offset: $0.value) }
        guard !offsets.isEmpty else { return }
        do {
            try await client.commitOffsets(
                group: group, offsets: offsets, memberID: assignment.memberID, generation: assignment.generation,
                namespace: namespace)
            for offset in offsets { committedPositions[offset.partition] = offset.offset }
        } catch let error as SkiffClientError where error.code == .unknownGroup {
            self.assignment = nil
        }
    }

    /// Commits (when auto-committing) and leaves the group.
    public func leave() async throws {
        if autoCommit { try await commit() }
        guard let assignment else { return }
        self.assignment = nil
        let request = GroupMemberRequest(
            namespace: namespace, group: group, memberID: assignment.memberID, generation: assignment.generation,
            topic: topic)
        try await client.sendExpectingOK(.groupLeave(request))
    }

    private func refill() async throws {
        try await ensureJoined()
        try await heartbeatIfDue()
        guard let partitions = assignment?.partitions, !partitions.isEmpty else { return }
        buffer = []
        bufferIndex = 0
        for step in 0..<partitions.count {
            let partition = partitions[(cursor + step) % partitions.count]
            let position = fetchPositions[partition] ?? Offset(0)
            let result = try await client.fetch(
                topic: topic, partition: partition, offset: position, maxRecords: Self.fetchRecordsMax,
                namespace: namespace)
            if result.records.isEmpty {
                if position < result.logStartOffset { fetchPositions[partition] = result.logStartOffset }
                continue
            }
            buffer = result.records.map { TopicGroupRecord(partition: partition, record: $0) }
            fetchPositions[partition] = Offset(result.records.last!.offset.rawValue + 1)
            cursor = (cursor + step + 1) % partitions.count
            return
        }
    }

    private func ensureJoined() async throws {
        guard assignment == nil else { return }
        let request = Request.groupJoin(
            GroupJoinRequest(
                namespace: namespace, group: group, topic: topic, memberID: memberName,
                sessionTimeoutMs: sessionTimeoutMs))
        let response = try await client.send(request)
        guard case .assignment(let joined) = response else { throw SkiffClientError.unexpected(response, for: request) }
        try await adopt(joined)
    }

    /// Takes a (new) assignment: positions restart from the committed offsets.
    private func adopt(_ new: GroupAssignment) async throws {
        assignment = new
        lastHeartbeat = .now
        buffer = []
        bufferIndex = 0
        let offsets = try await client.groupOffsets(group: group, topic: topic, namespace: namespace)
        fetchPositions = [:]
        consumedPositions = [:]
        committedPositions = [:]
        for lag in offsets.partitions where new.partitions.contains(lag.partition) {
            let start = Swift.max(lag.committed ?? lag.logStartOffset, lag.logStartOffset)
            fetchPositions[lag.partition] = start
            committedPositions[lag.partition] = lag.committed
        }
    }

    private func heartbeatIfDue() async throws {
        guard let current = assignment,
            ContinuousClock.now - lastHeartbeat > .milliseconds(Int64(sessionTimeoutMs / 3))
        else { return }
        let request = Request.groupHeartbeat(
            GroupMemberRequest(
                namespace: namespace, group: group, memberID: current.memberID, generation: current.generation,
                topic: topic))
        do {
            let response = try await client.send(request)
            guard case .assignment(let latest) = response else {
                throw SkiffClientError.unexpected(response, for: request)
            }
            lastHeartbeat = .now
            if latest.generation != current.generation || latest.partitions != current.partitions {
                try await adopt(latest)
            }
        } catch let error as SkiffClientError where error.code == .unknownGroup {
            assignment = nil
        }
    }

    public nonisolated func makeAsyncIterator() -> Iterator { Iterator(consumer: self) }

    /// Iterates a group consumer.
    public struct Iterator: AsyncIteratorProtocol {
        let consumer: TopicGroupConsumer

        public mutating func next() async throws -> TopicGroupRecord? { try await consumer.next() }
    }
}
