/// Topics: partitioned append-only streams with retention and key compaction.
extension BrokerStateMachine {
    func checkTopicArguments(_ arguments: TopicArguments) throws(BrokerError) {
        guard arguments.partitions >= 1, arguments.partitions <= BrokerLimits.partitionsMax else {
            throw invalid("partitions \(arguments.partitions) outside 1...\(BrokerLimits.partitionsMax)")
        }
        if let retention = arguments.retentionMs, retention < 1 || retention > BrokerLimits.retentionMsMax {
            throw invalid("retentionMs \(retention) outside 1...\(BrokerLimits.retentionMsMax)")
        }
        if let bytes = arguments.retentionBytes, bytes < 1 { throw invalid("retentionBytes must be >= 1") }
        guard arguments.tombstoneRetentionMs >= 0, arguments.tombstoneRetentionMs <= BrokerLimits.ttlMsMax else {
            throw invalid("tombstoneRetentionMs outside 0...\(BrokerLimits.ttlMsMax)")
        }
    }

    mutating func createTopic(
        _ namespace: String, _ name: String, _ arguments: TopicArguments
    ) throws(BrokerError)
        -> ResultValue
    {
        try checkName(name, "topic")
        try checkTopicArguments(arguments)
        let state = try namespaceState(namespace)
        if let existing = state.topics[name] {
            guard topics[existing]!.arguments == arguments else {
                throw BrokerError(.topicExists, "topic '\(name)' exists with different arguments")
            }
            return .none
        }
        try checkEntityRoom(state)
        let id = allocateEntityID()
        let partitions = Array(repeating: PartitionState(), count: Int(arguments.partitions))
        topics[id] = TopicState(id: id, namespace: namespace, name: name, arguments: arguments, partitions: partitions)
        namespaces[namespace]!.topics[name] = id
        tracker.entities.insert(.topic(id))
        tracker.entities.insert(.namespace(namespace))
        return .none
    }

    mutating func deleteTopic(_ namespace: String, _ name: String) throws(BrokerError) -> ResultValue {
        let id = try topicID(namespace, name)
        let topic = topics[id]!
        for partition in topic.partitions {
            for record in partition.records { forgetRecord(record.seq) }
        }
        for group in topic.groups.values {
            groups[group] = nil
            tracker.entities.insert(.group(group))
        }
        topics[id] = nil
        namespaces[namespace]!.topics[name] = nil
        tracker.entities.insert(.topic(id))
        tracker.entities.insert(.namespace(namespace))
        return .none
    }

    mutating func forgetRecord(_ seq: UInt64) {
        if tracker.records.removeValue(forKey: seq) == nil {
            tracker.recordDeletes.append(seq)
        }
    }

    /// A validated append: the partition of each record.
    struct AppendPlan: Sendable {
        var topic: UInt32
        var records: [OutgoingRecord]
        var partitions: [UInt32]
    }

    /// Validates an append. `cursor` is the round-robin position to continue from (transactions chain it).
    func planAppend(_ request: AppendRequest, cursor: inout UInt64?) throws(BrokerError) -> AppendPlan {
        let id = try topicID(request.namespace, request.topic)
        let topic = topics[id]!
        let count = request.records.count
        guard count >= 1, count <= BrokerLimits.messagesPerCommandMax else {
            throw invalid("record count \(count) outside 1...\(BrokerLimits.messagesPerCommandMax)")
        }
        var next = cursor ?? topic.roundRobin
        var partitions: [UInt32] = []
        partitions.reserveCapacity(count)
        for record in request.records {
            if let key = record.key, key.count > BrokerLimits.keyBytesMax { throw limit("record key too long") }
            if let value = record.value, value.count > BrokerLimits.bodyBytesMax {
                throw limit("record value too long")
            }
            try checkHeaders(record.headers)
            if record.value == nil {
                guard topic.arguments.compact, record.key != nil else {
                    throw invalid("a tombstone (nil value) needs a key and a compacted topic")
                }
            }
            if topic.arguments.compact, record.key == nil { throw invalid("records of a compacted topic need a key") }
            let partition: UInt32
            if let explicit = record.partition {
                guard explicit < topic.arguments.partitions else {
                    throw BrokerError(
                        .partitionNotFound, "partition \(explicit) of topic '\(topic.name)' does not exist")
                }
                partition = explicit
            } else if let key = record.key {
                partition = Self.partition(forKey: key, partitions: topic.arguments.partitions)
            } else {
                partition = UInt32(next % UInt64(topic.arguments.partitions))
                next += 1
            }
            partitions.append(partition)
        }
        cursor = next
        return AppendPlan(topic: id, records: request.records, partitions: partitions)
    }

    /// The documented stable partitioner: FNV-1a 64 of the key bytes, modulo the partition count.
    public static func partition(forKey key: [UInt8], partitions: UInt32) -> UInt32 {
        UInt32(FNV1a64.hash(key) % UInt64(partitions))
    }

    /// Stores a validated append. Cannot fail.
    mutating func performAppend(_ plan: AppendPlan, cursor: UInt64) -> [RecordPosition] {
        let id = plan.topic
        let compact = topics[id]!.arguments.compact
        var positions: [RecordPosition] = []
        positions.reserveCapacity(plan.records.count)
        for (record, partition) in zip(plan.records, plan.partitions) {
            let seq = allocateSeq()
            let index = Int(partition)
            let offset = topics[id]!.partitions[index].nextOffset
            let size = UInt32((record.value?.count ?? 0) + (record.key?.count ?? 0))
            let meta = RecordMeta(
                offset: offset, seq: seq, timestamp: now, size: size, tombstone: record.value == nil,
                key: compact ? record.key : nil)
            let payload = Payload(id: "", body: record.value ?? [], headers: record.headers, key: record.key)
            tracker.records[seq] = RecordRow(topic: id, partition: partition, meta: meta, payload: payload)
            topics[id]!.partitions[index].nextOffset += 1
            topics[id]!.partitions[index].records.append(meta)
            topics[id]!.partitions[index].bytes += UInt64(size)
            if compact, let key = record.key {
                if let previous = topics[id]!.partitions[index].keyIndex.updateValue(offset, forKey: key) {
                    removeRecord(topic: id, partition: index, offset: previous)
                }
            }
            enforceRetentionBytes(topic: id, partition: index)
            appendedPartitions.insert(PartitionKey(topic: id, partition: partition))
            positions.append(RecordPosition(partition: partition, offset: Offset(offset)))
        }
        topics[id]!.roundRobin = cursor
        tracker.entities.insert(.topic(id))
        armRetentionAfterAppend(topic: id, plan: plan)
        return positions
    }

    mutating func append(_ request: AppendRequest) throws(BrokerError) -> ResultValue {
        var cursor: UInt64?
        let plan = try planAppend(request, cursor: &cursor)
        return .appended(performAppend(plan, cursor: cursor!))
    }

    /// Removes one record from the middle or head of a partition (compaction or retention).
    private mutating func removeRecord(topic id: UInt32, partition: Int, offset: UInt64) {
        let position = topics[id]!.partitions[partition].index(atOrAfter: offset)
        guard position < topics[id]!.partitions[partition].records.count,
            topics[id]!.partitions[partition].records[position].offset == offset
        else { return }
        let record = topics[id]!.partitions[partition].records.remove(at: position)
        topics[id]!.partitions[partition].bytes -= UInt64(record.size)
        forgetRecord(record.seq)
    }

    /// Removes the head record, advancing the log start and unindexing its key if it was the latest.
    private mutating func dropHead(topic id: UInt32, partition: Int) {
        let record = topics[id]!.partitions[partition].records.removeFirst()
        topics[id]!.partitions[partition].bytes -= UInt64(record.size)
        topics[id]!.partitions[partition].logStart = record.offset + 1
        if let key = record.key, topics[id]!.partitions[partition].keyIndex[key] == record.offset {
            topics[id]!.partitions[partition].keyIndex[key] = nil
        }
        forgetRecord(record.seq)
    }

    private mutating func enforceRetentionBytes(topic id: UInt32, partition: Int) {
        guard let limit = topics[id]!.arguments.retentionBytes else { return }
        // The newest record always stays, so an append is readable at least until the next one.
        while topics[id]!.partitions[partition].bytes > limit, topics[id]!.partitions[partition].records.count > 1 {
            dropHead(topic: id, partition: partition)
        }
    }

    /// The next time retention has work: the oldest record's expiry, or a compacted topic's oldest tombstone.
    func nextRetentionTime(_ topic: TopicState) -> Int64? {
        var earliest: Int64?
        for partition in topic.partitions {
            if let retention = topic.arguments.retentionMs, let head = partition.records.first {
                earliest = min(earliest ?? Int64.max, head.timestamp + retention)
            }
            if topic.arguments.compact, let tombstone = partition.records.first(where: \.tombstone) {
                earliest = min(earliest ?? Int64.max, tombstone.timestamp + topic.arguments.tombstoneRetentionMs)
            }
        }
        return earliest
    }

    /// Arms the retention timer from a full scan (after a retention pass, and on restore).
    mutating func armRetention(topic id: UInt32) {
        guard let topic = topics[id] else { return }
        guard topic.arguments.retentionMs != nil || topic.arguments.compact else { return }
        guard let at = nextRetentionTime(topic) else { return }
        armRetention(topic: id, at: at)
    }

    /// Arms the retention timer for the records just appended, without scanning the partitions.
    private mutating func armRetentionAfterAppend(topic id: UInt32, plan: AppendPlan) {
        let arguments = topics[id]!.arguments
        if let retention = arguments.retentionMs {
            for partition in Set(plan.partitions).sorted() {
                if let head = topics[id]!.partitions[Int(partition)].records.first {
                    armRetention(topic: id, at: head.timestamp + retention)
                }
            }
        }
        if arguments.compact, plan.records.contains(where: { $0.value == nil }) {
            armRetention(topic: id, at: now + arguments.tombstoneRetentionMs)
        }
    }

    mutating func armRetention(topic id: UInt32, at: Int64) {
        if let armed = topics[id]!.retentionTimerAt, armed <= at { return }
        topics[id]!.retentionTimerAt = at
        arm(.topicRetention, at: at, owner: id, id: 0)
    }

    /// Time-based retention and tombstone expiry for one topic, when `at` is the topic's next retention time;
    /// an early timer re-arms at that time instead (canonical firing order, see `fireDueTimers`).
    mutating func enforceRetention(topic id: UInt32, at: Int64) -> Bool {
        guard let topic = topics[id] else { return false }
        if topics[id]!.retentionTimerAt == at { topics[id]!.retentionTimerAt = nil }
        guard let due = nextRetentionTime(topic) else { return false }
        guard due <= at else {
            armRetention(topic: id, at: due)
            return false
        }
        topics[id]!.retentionTimerAt = nil
        var changed = false
        for index in topic.partitions.indices {
            if let retention = topic.arguments.retentionMs {
                while let head = topics[id]!.partitions[index].records.first, head.timestamp + retention <= now {
                    dropHead(topic: id, partition: index)
                    changed = true
                }
            }
            if topic.arguments.compact {
                let expired = topics[id]!.partitions[index].records.filter {
                    $0.tombstone && $0.timestamp + topic.arguments.tombstoneRetentionMs <= now
                }
                for tombstone in expired {
                    if let key = tombstone.key, topics[id]!.partitions[index].keyIndex[key] == tombstone.offset {
                        topics[id]!.partitions[index].keyIndex[key] = nil
                    }
                    removeRecord(topic: id, partition: index, offset: tombstone.offset)
                    changed = true
                }
            }
        }
        if changed { tracker.entities.insert(.topic(id)) }
        armRetention(topic: id)
        return changed
    }

    // MARK: Reads

    /// Reads records from `offset` on (skipping offsets removed by compaction), at most `maxRecords` and about
    /// `maxBytes` (at least one record is returned when any is available). Non-mutating: followers serve it.
    public func fetch(
        namespace: String, topic: String, partition: UInt32, offset: Offset, maxRecords: Int = 500,
        maxBytes: Int = 1 << 20
    ) throws(BrokerError) -> FetchResult {
        let id = try topicID(namespace, topic)
        let state = topics[id]!
        guard partition < state.arguments.partitions else {
            throw BrokerError(.partitionNotFound, "partition \(partition) of topic '\(topic)' does not exist")
        }
        let log = state.partitions[Int(partition)]
        guard offset.rawValue >= log.logStart, offset.rawValue <= log.nextOffset else {
            throw BrokerError(
                .offsetOutOfRange,
                "offset \(offset.rawValue) outside [\(log.logStart), \(log.nextOffset)] of partition \(partition)")
        }
        let limit = min(max(maxRecords, 1), BrokerLimits.fetchRecordsMax)
        var records: [TopicRecord] = []
        var bytes = 0
        var index = log.index(atOrAfter: offset.rawValue)
        while index < log.records.count, records.count < limit, records.isEmpty || bytes < maxBytes {
            let meta = log.records[index]
            let stored = payload(meta.seq)
            records.append(
                TopicRecord(
                    offset: Offset(meta.offset), timestamp: meta.timestamp, key: stored.key,
                    value: meta.tombstone ? nil : stored.body, headers: stored.headers))
            bytes += Int(meta.size)
            index += 1
        }
        return FetchResult(records: records, logStartOffset: Offset(log.logStart), endOffset: Offset(log.nextOffset))
    }
}
