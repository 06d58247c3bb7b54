/// A full consistency check of the replicated state, for tests and for a shell's debug mode. It recomputes every
/// counter and index from the primary collections; an empty result means the invariants hold.
extension BrokerStateMachine {
    /// Describes every violated invariant (empty when the state is consistent). O(state): not for the hot path.
    public func invariantViolations() -> [String] {
        var problems: [String] = []
        for (name, namespace) in namespaces {
            for (queue, id) in namespace.queues where queues[id]?.name != queue || queues[id]?.namespace != name {
                problems.append("namespace \(name) maps queue \(queue) to q/\(id), which disagrees")
            }
            for (topic, id) in namespace.topics where topics[id]?.name != topic {
                problems.append("namespace \(name) maps topic \(topic) to t/\(id), which disagrees")
            }
        }
        for queue in queues.values { problems += queueViolations(queue) }
        for topic in topics.values { problems += topicViolations(topic) }
        for group in groups.values {
            if !group.owners.allSatisfy({ $0 == nil || group.members[$0!] != nil }) {
                problems.append("group g/\(group.id) assigns a partition to a non-member")
            }
            if !group.members.isEmpty && group.owners.contains(nil) {
                problems.append("group g/\(group.id) has members but an unowned partition")
            }
        }
        return problems
    }

    private func queueViolations(_ queue: QueueState) -> [String] {
        var problems: [String] = []
        var ready: UInt64 = 0
        var readyBytes: UInt64 = 0
        var expiring = 0
        var seen: Set<UInt64> = []
        for (level, messages) in queue.levels.enumerated() {
            var previous: UInt64 = 0
            for message in messages {
                if message.seq <= previous {
                    problems.append("q/\(queue.id) level \(level) not sorted at m\(message.seq)")
                }
                if Int(message.priority) != level { problems.append("q/\(queue.id) m\(message.seq) in wrong level") }
                previous = message.seq
                ready += 1
                readyBytes += UInt64(message.size)
                if message.expiresAt != Int64.max { expiring += 1 }
                seen.insert(message.seq)
            }
        }
        let delayedBytes = queue.delayed.values.reduce(0) { $0 + UInt64($1.message.size) }
        let leasedBytes = queue.leases.values.reduce(0) { $0 + UInt64($1.message.size) }
        for seq in queue.delayed.keys where !seen.insert(seq).inserted {
            problems.append("q/\(queue.id) m\(seq) twice")
        }
        for held in queue.leases.values where !seen.insert(held.message.seq).inserted {
            problems.append("q/\(queue.id) m\(held.message.seq) leased and held elsewhere")
        }
        if ready != queue.readyCount || readyBytes != queue.readyBytes || expiring != queue.readyWithExpiry {
            problems.append(
                "q/\(queue.id) ready counters \(queue.readyCount)/\(queue.readyBytes) vs \(ready)/\(readyBytes)")
        }
        if readyBytes + delayedBytes + leasedBytes != queue.heldBytes {
            problems.append("q/\(queue.id) heldBytes \(queue.heldBytes) != \(readyBytes + delayedBytes + leasedBytes)")
        }
        if let active = queue.activeConsumer, activeConsumerQueues[active]?.contains(queue.id) != true {
            problems.append("q/\(queue.id) active consumer \(active) missing from the index")
        }
        for (consumer, _) in queue.leases.values.map({ ($0.consumer, 0) })
        where consumerQueues[consumer]?.contains(queue.id) != true {
            problems.append("q/\(queue.id) lease of \(consumer) missing from the consumer index")
        }
        return problems
    }

    private func topicViolations(_ topic: TopicState) -> [String] {
        var problems: [String] = []
        for (index, partition) in topic.partitions.enumerated() {
            var previous: UInt64?
            var bytes: UInt64 = 0
            for record in partition.records {
                if let previous, record.offset <= previous {
                    problems.append("t/\(topic.id)/\(index) offsets not increasing")
                }
                if record.offset < partition.logStart || record.offset >= partition.nextOffset {
                    problems.append("t/\(topic.id)/\(index) offset \(record.offset) outside the log")
                }
                previous = record.offset
                bytes += UInt64(record.size)
            }
            if bytes != partition.bytes {
                problems.append("t/\(topic.id)/\(index) bytes \(partition.bytes) != \(bytes)")
            }
            if topic.arguments.compact {
                for (key, offset) in partition.keyIndex {
                    let position = partition.index(atOrAfter: offset)
                    if position >= partition.records.count || partition.records[position].key != key {
                        problems.append("t/\(topic.id)/\(index) key index points at a missing record \(offset)")
                    }
                }
            }
        }
        return problems
    }
}
