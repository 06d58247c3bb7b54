/// Consumer groups: membership with session timeouts, generation-numbered range assignment, committed offsets.
extension BrokerStateMachine {
    func groupID(_ ref: GroupRef) throws(BrokerError) -> UInt32 {
        let topic = try topicID(ref.namespace, ref.topic)
        guard let id = topics[topic]!.groups[ref.group] else {
            throw BrokerError(.groupNotFound, "group '\(ref.group)' of topic '\(ref.topic)' not found")
        }
        return id
    }

    /// Finds or creates the group (creation is recorded for the checkpoint).
    private mutating func ensureGroup(_ ref: GroupRef) throws(BrokerError) -> UInt32 {
        try checkName(ref.group, "group")
        let topic = try topicID(ref.namespace, ref.topic)
        if let id = topics[topic]!.groups[ref.group] { return id }
        let id = allocateEntityID()
        groups[id] = GroupState(id: id, topic: topic, name: ref.group, partitions: topics[topic]!.partitions.count)
        topics[topic]!.groups[ref.group] = id
        tracker.entities.insert(.topic(topic))
        tracker.entities.insert(.group(id))
        return id
    }

    private mutating func rebalance(_ id: UInt32) {
        groups[id]!.generation += 1
        groups[id]!.reassign()
        tracker.entities.insert(.group(id))
        let group = groups[id]!
        let topic = topics[group.topic]!
        let ref = GroupRef(namespace: topic.namespace, topic: topic.name, group: group.name)
        events.append(.groupRebalanced(ref, generation: group.generation, assignment: group.assignment))
    }

    mutating func joinGroup(_ ref: GroupRef, _ member: String, _ timeoutMs: Int64) throws(BrokerError) -> ResultValue {
        try checkName(member, "member")
        guard timeoutMs >= BrokerLimits.sessionTimeoutMsMin, timeoutMs <= BrokerLimits.sessionTimeoutMsMax else {
            throw invalid(
                "sessionTimeoutMs \(timeoutMs) outside \(BrokerLimits.sessionTimeoutMsMin)...\(BrokerLimits.sessionTimeoutMsMax)"
            )
        }
        if let topic = try? topicID(ref.namespace, ref.topic), let existing = topics[topic]!.groups[ref.group],
            groups[existing]!.members[member] == nil, groups[existing]!.members.count >= BrokerLimits.groupMembersMax
        {
            throw limit("group '\(ref.group)' has \(BrokerLimits.groupMembersMax) members")
        }
        let id = try ensureGroup(ref)
        if groups[id]!.members[member] != nil {
            // A rejoin (e.g. a retry) refreshes the session and keeps the generation. A shorter session needs an
            // earlier timer; a later deadline is picked up when the armed timer fires.
            let old = groups[id]!.members[member]!
            if now + timeoutMs < old.lastSeen + old.sessionTimeoutMs {
                arm(.memberTimeout, at: now + timeoutMs, owner: id, id: old.serial)
            }
            groups[id]!.members[member]!.sessionTimeoutMs = timeoutMs
            groups[id]!.members[member]!.lastSeen = now
        } else {
            let serial = nextMemberSerial
            nextMemberSerial += 1
            groups[id]!.members[member] = MemberState(serial: serial, sessionTimeoutMs: timeoutMs, lastSeen: now)
            arm(.memberTimeout, at: now + timeoutMs, owner: id, id: serial)
            rebalance(id)
        }
        tracker.entities.insert(.group(id))
        let group = groups[id]!
        return .assignment(GroupAssignment(generation: group.generation, partitions: group.partitions(of: member)))
    }

    mutating func leaveGroup(_ ref: GroupRef, _ member: String) throws(BrokerError) -> ResultValue {
        let id = try groupID(ref)
        guard groups[id]!.members.removeValue(forKey: member) != nil else {
            throw BrokerError(.memberNotFound, "member '\(member)' is not in group '\(ref.group)'")
        }
        rebalance(id)
        return .none
    }

    /// Refreshes the member's session and returns its current assignment; a changed generation tells the member
    /// that a rebalance happened.
    mutating func heartbeat(_ ref: GroupRef, _ member: String, _ generation: UInt64) throws(BrokerError) -> ResultValue
    {
        let id = try groupID(ref)
        guard groups[id]!.members[member] != nil else {
            throw BrokerError(.memberNotFound, "member '\(member)' is not in group '\(ref.group)'")
        }
        groups[id]!.members[member]!.lastSeen = now
        tracker.entities.insert(.group(id))
        let group = groups[id]!
        return .assignment(GroupAssignment(generation: group.generation, partitions: group.partitions(of: member)))
    }

    mutating func expireMember(group id: UInt32, serial: UInt64, at: Int64) -> Bool {
        guard let group = groups[id], let (name, member) = group.members.first(where: { $0.value.serial == serial })
        else {
            return false
        }
        let deadline = member.lastSeen + member.sessionTimeoutMs
        guard deadline == at else {
            // Refreshed: follow the deadline. (A shorter session has its own timer, armed by the rejoin.)
            if deadline > at { arm(.memberTimeout, at: deadline, owner: id, id: serial) }
            return false
        }
        groups[id]!.members[name] = nil
        rebalance(id)
        return true
    }

    /// A validated offset commit: (group, partition, offset) triples.
    struct OffsetCommitPlan: Sendable {
        var group: UInt32
        var offsets: [PartitionOffset]
    }

    /// Validates a commit by a member of the current generation owning every named partition. `pendingAppends`
    /// counts records a transaction appends before this commit, which the offsets may already cover.
    func planOffsetCommit(
        _ commit: OffsetCommit, pendingAppends: [PartitionKey: UInt64]
    ) throws(BrokerError)
        -> OffsetCommitPlan
    {
        let id = try groupID(commit.group)
        let group = groups[id]!
        guard group.members[commit.member] != nil else {
            throw BrokerError(.memberNotFound, "member '\(commit.member)' is not in group '\(commit.group.group)'")
        }
        guard commit.generation == group.generation else {
            throw BrokerError(.staleGeneration, "generation \(commit.generation) is not current \(group.generation)")
        }
        guard !commit.offsets.isEmpty, commit.offsets.count <= BrokerLimits.partitionsMax else {
            throw invalid("offset count \(commit.offsets.count) outside 1...\(BrokerLimits.partitionsMax)")
        }
        let topic = topics[group.topic]!
        for entry in commit.offsets {
            guard entry.partition < topic.arguments.partitions else {
                throw BrokerError(.partitionNotFound, "partition \(entry.partition) does not exist")
            }
            guard group.owners[Int(entry.partition)] == commit.member else {
                throw BrokerError(.notPartitionOwner, "'\(commit.member)' does not own partition \(entry.partition)")
            }
            let pending = pendingAppends[PartitionKey(topic: group.topic, partition: entry.partition)] ?? 0
            let end = topic.partitions[Int(entry.partition)].nextOffset + pending
            guard entry.offset.rawValue <= end else {
                throw BrokerError(.offsetOutOfRange, "offset \(entry.offset.rawValue) beyond end \(end)")
            }
        }
        return OffsetCommitPlan(group: id, offsets: commit.offsets)
    }

    mutating func performOffsetCommit(_ plan: OffsetCommitPlan) {
        for entry in plan.offsets { groups[plan.group]!.committed[Int(entry.partition)] = entry.offset.rawValue }
        tracker.entities.insert(.group(plan.group))
    }

    mutating func resetOffsets(
        _ ref: GroupRef, _ partition: UInt32?, _ target: ResetTarget
    ) throws(BrokerError)
        -> ResultValue
    {
        let topicID = try topicID(ref.namespace, ref.topic)
        let topic = topics[topicID]!
        if let partition, partition >= topic.arguments.partitions {
            throw BrokerError(.partitionNotFound, "partition \(partition) does not exist")
        }
        let chosen = partition.map { [Int($0)] } ?? Array(topic.partitions.indices)
        var offsets: [(Int, UInt64)] = []
        for index in chosen {
            let log = topic.partitions[index]
            switch target {
            case .earliest: offsets.append((index, log.logStart))
            case .latest: offsets.append((index, log.nextOffset))
            case .timestamp(let time):
                let first = log.records.first { $0.timestamp >= time }
                offsets.append((index, first?.offset ?? log.nextOffset))
            case .offset(let offset):
                guard offset.rawValue >= log.logStart, offset.rawValue <= log.nextOffset else {
                    throw BrokerError(
                        .offsetOutOfRange, "offset \(offset.rawValue) outside [\(log.logStart), \(log.nextOffset)]")
                }
                offsets.append((index, offset.rawValue))
            }
        }
        let id = try ensureGroup(ref)
        for (index, offset) in offsets { groups[id]!.committed[index] = offset }
        tracker.entities.insert(.group(id))
        return .none
    }

    mutating func deleteGroup(_ ref: GroupRef) throws(BrokerError) -> ResultValue {
        let id = try groupID(ref)
        let topic = groups[id]!.topic
        groups[id] = nil
        topics[topic]!.groups[ref.group] = nil
        tracker.entities.insert(.group(id))
        tracker.entities.insert(.topic(topic))
        return .none
    }

    /// A group's generation, assignment and committed offsets (read-only).
    public func groupInfo(_ ref: GroupRef) throws(BrokerError) -> GroupInfo {
        let group = groups[try groupID(ref)]!
        return GroupInfo(
            generation: group.generation, assignment: group.assignment,
            committed: group.committed.map { $0.map { Offset($0) } })
    }
}
