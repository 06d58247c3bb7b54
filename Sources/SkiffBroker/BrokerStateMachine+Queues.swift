/// Namespaces and queues: declaration, delivery, leases, dead-lettering and limits.
extension BrokerStateMachine {
    mutating func createNamespace(_ name: String) throws(BrokerError) -> ResultValue {
        try checkName(name, "namespace")
        guard namespaces[name] == nil else { throw BrokerError(.namespaceExists, "namespace '\(name)' exists") }
        guard namespaces.count < BrokerLimits.namespacesMax else { throw limit("\(namespaces.count) namespaces") }
        namespaces[name] = NamespaceState()
        tracker.entities.insert(.namespace(name))
        return .none
    }

    mutating func deleteNamespace(_ name: String) throws(BrokerError) -> ResultValue {
        guard try namespaceState(name).isEmpty else {
            throw BrokerError(.namespaceNotEmpty, "namespace '\(name)' still has queues, exchanges or topics")
        }
        namespaces[name] = nil
        tracker.entities.insert(.namespace(name))
        return .none
    }

    func checkQueueArguments(_ arguments: QueueArguments) throws(BrokerError) {
        if let maxLength = arguments.maxLength, maxLength == 0 { throw invalid("maxLength must be >= 1") }
        if let maxBytes = arguments.maxBytes, maxBytes == 0 { throw invalid("maxBytes must be >= 1") }
        if let ttl = arguments.messageTTLMs, ttl < 1 || ttl > BrokerLimits.ttlMsMax {
            throw invalid("messageTTLMs \(ttl) outside 1...\(BrokerLimits.ttlMsMax)")
        }
        if let dlq = arguments.deadLetterQueue { try checkName(dlq, "dead-letter queue") }
        if let maxDeliveries = arguments.maxDeliveries,
            maxDeliveries == 0 || maxDeliveries > BrokerLimits.maxDeliveriesMax
        {
            throw invalid("maxDeliveries \(maxDeliveries) outside 1...\(BrokerLimits.maxDeliveriesMax)")
        }
    }

    func checkEntityRoom(_ state: NamespaceState) throws(BrokerError) {
        let count = state.queues.count + state.exchanges.count + state.topics.count
        guard count < BrokerLimits.entitiesPerNamespaceMax else { throw limit("\(count) entities in namespace") }
    }

    mutating func declareQueue(
        _ namespace: String, _ name: String, _ arguments: QueueArguments
    ) throws(BrokerError)
        -> ResultValue
    {
        try checkName(name, "queue")
        try checkQueueArguments(arguments)
        let state = try namespaceState(namespace)
        if let existing = state.queues[name] {
            guard queues[existing]!.arguments == arguments else {
                throw BrokerError(.queueExists, "queue '\(name)' exists with different arguments")
            }
            return .none
        }
        try checkEntityRoom(state)
        let id = allocateEntityID()
        queues[id] = QueueState(id: id, namespace: namespace, name: name, arguments: arguments)
        namespaces[namespace]!.queues[name] = id
        tracker.entities.insert(.queue(id))
        tracker.entities.insert(.namespace(namespace))
        return .none
    }

    mutating func deleteQueue(_ namespace: String, _ name: String, _ ifEmpty: Bool) throws(BrokerError) -> ResultValue {
        let id = try queueID(namespace, name)
        let queue = queues[id]!
        guard !ifEmpty || queue.isEmpty else { throw BrokerError(.queueNotEmpty, "queue '\(name)' is not empty") }
        for message in queues[id]!.removeAllReady() { forgetMessage(message.seq) }
        for seq in queue.delayed.keys { forgetMessage(seq) }
        for held in queue.leases.values { forgetMessage(held.message.seq) }
        if let active = queue.activeConsumer { removeActive(active, queue: id) }
        for exchangeID in namespaces[namespace]!.exchanges.values {
            let before = exchanges[exchangeID]!.bindings.count
            exchanges[exchangeID]!.bindings.removeAll { $0.queue == id }
            if exchanges[exchangeID]!.bindings.count != before { tracker.entities.insert(.exchange(exchangeID)) }
        }
        queues[id] = nil
        namespaces[namespace]!.queues[name] = nil
        tracker.entities.insert(.queue(id))
        tracker.entities.insert(.namespace(namespace))
        return .none
    }

    mutating func purgeQueue(_ namespace: String, _ name: String) throws(BrokerError) -> ResultValue {
        let id = try queueID(namespace, name)
        var count: UInt64 = 0
        for message in queues[id]!.removeAllReady() {
            forgetMessage(message.seq)
            count += 1
        }
        for (seq, delayed) in queues[id]!.delayed {
            queues[id]!.heldBytes -= UInt64(delayed.message.size)
            forgetMessage(seq)
            count += 1
        }
        queues[id]!.delayed.removeAll()
        return .count(count)
    }

    // MARK: Message tracking (checkpoint rows)

    /// Records a message's current place for the next checkpoint.
    mutating func trackMessage(_ message: QueuedMessage, queue: UInt32, place: MessagePlace) {
        let updated: Void? = tracker.messages.modify(message.seq) { row in
            row.queue = queue
            row.message = message
            row.place = place
        }
        if updated == nil {
            tracker.messages[message.seq] = MessageRow(queue: queue, message: message, place: place, payload: nil)
        }
    }

    /// A message left the broker (acked, discarded, purged): drop its RAM payload or delete its rows.
    mutating func forgetMessage(_ seq: UInt64) {
        // A row that still holds its payload was never checkpointed: nothing to delete.
        if tracker.messages.removeValue(forKey: seq)?.payload == nil {
            tracker.messageDeletes.append(seq)
        }
    }

    // MARK: Enqueueing

    /// Makes a message ready in `queue` (after publish, delay, requeue): expires it if due, enforces limits.
    /// `tracked` says the caller already recorded the message's ready row.
    mutating func enqueueReady(_ message: QueuedMessage, queue id: UInt32, tracked: Bool = false) {
        if message.expiresAt <= now {
            deadLetter([(message, id, .expired)])
            return
        }
        let overLimit = queues[id]!.insertReady(message)
        if !tracked { trackMessage(message, queue: id, place: .ready) }
        if message.expiresAt != Int64.max {
            arm(.messageExpiry, at: message.expiresAt, owner: id, id: Self.expiryTimerID(message))
        }
        noteAvailable(id)
        if overLimit { enforceLimits(id) }
    }

    static func expiryTimerID(_ message: QueuedMessage) -> UInt64 { message.seq | UInt64(message.priority) << 58 }

    /// Drops or dead-letters overflow victims until the queue is within its limits. `rejectPublish` queues are
    /// checked before publishing instead; requeues and delayed arrivals may exceed them.
    mutating func enforceLimits(_ id: UInt32) {
        var victims: [(QueuedMessage, UInt32, DeathReason)] = []
        while queues[id]!.isOverLimit {
            let policy = queues[id]!.arguments.overflow
            guard policy != .rejectPublish, let victim = queues[id]!.popOverflowHead() else { break }
            if policy == .deadLetter {
                victims.append((victim, id, .maxLength))
            } else {
                discard(victim, from: id)
            }
        }
        if !victims.isEmpty { deadLetter(victims) }
    }

    mutating func discard(_ message: QueuedMessage, from id: UInt32) {
        queues[id]!.discarded += 1
        tracker.entities.insert(.queue(id))
        forgetMessage(message.seq)
    }

    /// Dead-letters messages, following overflow chains iteratively.
    ///
    /// Termination (DLQ loops): a message is discarded instead when its queue has no (existing) dead-letter
    /// queue, when that queue is the message's current queue, or after `deadLetterHopsMax` hops. Every move
    /// raises the moved message's hop count, so the loop ends after at most messages x hops moves.
    mutating func deadLetter(_ initial: [(QueuedMessage, UInt32, DeathReason)]) {
        var work = initial
        while let (message, from, reason) = work.popLast() {
            let source = queues[from]!
            guard let dlqName = source.arguments.deadLetterQueue,
                let target = namespaces[source.namespace]?.queues[dlqName], target != from,
                message.deadLetterHops < BrokerLimits.deadLetterHopsMax
            else {
                discard(message, from: from)
                continue
            }
            let targetQueue = queues[target]!
            if targetQueue.arguments.overflow == .rejectPublish {
                let fitsLength = targetQueue.arguments.maxLength.map { targetQueue.readyCount < $0 } ?? true
                let fitsBytes =
                    targetQueue.arguments.maxBytes.map { targetQueue.readyBytes + UInt64(message.size) <= $0 } ?? true
                guard fitsLength && fitsBytes else {
                    discard(message, from: from)
                    continue
                }
            }
            queues[from]!.deadLettered += 1
            tracker.entities.insert(.queue(from))
            var moved = message
            moved.deliveries = 0
            moved.deadLetterHops += 1
            moved.deathReason = reason.rawValue
            moved.originQueue = from
            moved.expiresAt = targetQueue.arguments.messageTTLMs.map { now + $0 } ?? Int64.max
            _ = queues[target]!.insertReady(moved)
            queues[target]!.published += 1
            tracker.entities.insert(.queue(target))
            trackMessage(moved, queue: target, place: .ready)
            if moved.expiresAt != Int64.max {
                arm(.messageExpiry, at: moved.expiresAt, owner: target, id: Self.expiryTimerID(moved))
            }
            noteAvailable(target)
            while queues[target]!.isOverLimit, queues[target]!.arguments.overflow != .rejectPublish,
                let victim = queues[target]!.popOverflowHead()
            {
                if queues[target]!.arguments.overflow == .deadLetter {
                    work.append((victim, target, .maxLength))
                } else {
                    discard(victim, from: target)
                }
            }
        }
    }

    /// Returns an unacked message to its queue after a nack, lease expiry or release.
    mutating func requeue(_ message: QueuedMessage, queue id: UInt32) {
        if let maxDeliveries = queues[id]!.arguments.maxDeliveries, message.deliveries >= maxDeliveries {
            deadLetter([(message, id, .maxDeliveries)])
        } else {
            enqueueReady(message, queue: id)
        }
    }

    // MARK: Receiving and leases

    mutating func receive(
        _ namespace: String, _ name: String, _ consumer: String, _ maxMessages: UInt32, _ visibilityMs: Int64
    ) throws(BrokerError) -> ResultValue {
        let id = try queueID(namespace, name)
        try checkName(consumer, "consumer")
        guard maxMessages >= 1, maxMessages <= BrokerLimits.receiveMessagesMax else {
            throw invalid("maxMessages \(maxMessages) outside 1...\(BrokerLimits.receiveMessagesMax)")
        }
        try checkVisibility(visibilityMs)
        if queues[id]!.arguments.singleActiveConsumer {
            if let active = queues[id]!.activeConsumer, active != consumer {
                throw BrokerError(.notActiveConsumer, "queue '\(name)' is consumed by its single active consumer")
            }
            if queues[id]!.activeConsumer == nil {
                queues[id]!.activeConsumer = consumer
                activeConsumerQueues[consumer, default: []].insert(id)
                tracker.entities.insert(.queue(id))
            }
        }
        var taken: [LeasedMessage] = []
        let deadline = now + visibilityMs
        if queues[id]!.readyCount > 0 { consumerQueues[consumer, default: []].insert(id) }
        while taken.count < Int(maxMessages), var message = queues[id]!.popNextReady() {
            if message.expiresAt <= now {
                deadLetter([(message, id, .expired)])
                continue
            }
            message.deliveries = message.deliveries == UInt16.max ? UInt16.max : message.deliveries + 1
            let lease = nextLease
            nextLease += 1
            queues[id]!.leases[lease] = Lease(message: message, consumer: consumer, deadline: deadline)
            queues[id]!.heldBytes += UInt64(message.size)
            let place = MessagePlace.leased(lease: lease, consumer: consumer, deadline: deadline)
            let resident = trackLeased(message, queue: id, place: place)
            arm(.leaseExpiry, at: deadline, owner: id, id: lease)
            taken.append(LeasedMessage(message: message, lease: lease, resident: resident))
        }
        if !taken.isEmpty {
            queues[id]!.delivered += UInt64(taken.count)
            tracker.entities.insert(.queue(id))
        }
        guard materializesDeliveries else {
            return .delivered(taken.map { unmaterialized($0.message, lease: $0.lease, deadline: deadline) })
        }
        let payloads = batchedPayloads(taken)
        return .delivered(
            zip(taken, payloads).map { item, payload in
                materialize(item.message, lease: item.lease, deadline: deadline, resident: payload)
            })
    }

    /// A message leased by a `receive`, with its payload when still in RAM.
    struct LeasedMessage: Sendable {
        var message: QueuedMessage
        var lease: UInt64
        var resident: Payload?
    }

    /// The payloads of `taken` that one batched read can supply (RAM-resident ones as they are), in order; nil
    /// where `materialize` must look the payload up itself. The batched read is used only when the source
    /// supports it and the released sequences are ascending (one priority level: the usual case).
    func batchedPayloads(_ taken: [LeasedMessage]) -> [Payload?] {
        var payloads = taken.map(\.resident)
        let released = taken.indices.filter { taken[$0].resident == nil }
        guard released.count > 1, let source = payloadSource as? any BatchPayloadSource else { return payloads }
        let sequences = released.map { MessageSeq(taken[$0].message.seq) }
        guard zip(sequences, sequences.dropFirst()).allSatisfy({ $0.rawValue < $1.rawValue }) else { return payloads }
        let fetched = source.payloads(for: sequences)
        precondition(fetched.count == sequences.count, "\(fetched.count) payloads for \(sequences.count) sequences")
        for (index, payload) in zip(released, fetched) { payloads[index] = payload }
        return payloads
    }

    func checkVisibility(_ visibilityMs: Int64) throws(BrokerError) {
        guard visibilityMs >= BrokerLimits.visibilityMsMin, visibilityMs <= BrokerLimits.visibilityMsMax else {
            throw invalid(
                "visibilityMs \(visibilityMs) outside \(BrokerLimits.visibilityMsMin)...\(BrokerLimits.visibilityMsMax)"
            )
        }
    }

    /// Records a leased message's row and returns its resident payload, if any (one lookup for both).
    private mutating func trackLeased(_ message: QueuedMessage, queue: UInt32, place: MessagePlace) -> Payload? {
        let resident: Payload?? = tracker.messages.modify(message.seq) { row in
            row.message = message
            row.place = place
            return row.payload
        }
        if let resident { return resident }
        tracker.messages[message.seq] = MessageRow(queue: queue, message: message, place: place, payload: nil)
        return nil
    }

    func materialize(_ message: QueuedMessage, lease: UInt64, deadline: Int64, resident: Payload?) -> DeliveredMessage {
        let stored = resident ?? payload(message.seq)
        var headers = stored.headers
        if message.deadLetterHops > 0, let reason = DeathReason(rawValue: message.deathReason) {
            headers.append(Header("x-death-reason", reason.headerValue))
            headers.append(Header("x-original-queue", queues[message.originQueue]?.name ?? ""))
            headers.append(Header("x-death-count", String(message.deadLetterHops)))
        }
        return DeliveredMessage(
            lease: LeaseID(lease), sequence: MessageSeq(message.seq), id: stored.id, body: stored.body,
            headers: headers, priority: message.priority, deliveryCount: message.deliveries, leaseDeadline: deadline)
    }

    /// A delivery without its payload (id, body and headers left empty): what `receive` returns when
    /// `materializesDeliveries` is off, so a replica that discards the result reads no payload.
    func unmaterialized(_ message: QueuedMessage, lease: UInt64, deadline: Int64) -> DeliveredMessage {
        DeliveredMessage(
            lease: LeaseID(lease), sequence: MessageSeq(message.seq), id: "", body: [], headers: [],
            priority: message.priority, deliveryCount: message.deliveries, leaseDeadline: deadline)
    }

    /// Validates a lease list against a queue: non-empty, bounded, no duplicates, all held.
    func checkLeases(_ leases: [LeaseID], queue id: UInt32) throws(BrokerError) {
        guard !leases.isEmpty, leases.count <= BrokerLimits.leaseIDsPerCommandMax else {
            throw invalid("lease count \(leases.count) outside 1...\(BrokerLimits.leaseIDsPerCommandMax)")
        }
        guard !Self.namesALeaseTwice(leases) else { throw invalid("duplicate lease ids") }
        let queue = queues[id]!
        let unknown = leases.filter { queue.leases[$0.rawValue] == nil }
        guard unknown.isEmpty else {
            let list = unknown.prefix(8).map(\.description).joined(separator: ",")
            throw BrokerError(.leaseNotFound, "\(unknown.count) unknown lease(s) in queue '\(queue.name)': \(list)")
        }
    }

    /// Whether a lease list names a lease twice. Without hashing: clients send leases in ascending order, which
    /// is checked in one pass; any other order is sorted first.
    static func namesALeaseTwice(_ leases: [LeaseID]) -> Bool {
        guard leases.count > 1 else { return false }
        if zip(leases, leases.dropFirst()).allSatisfy({ $0.rawValue < $1.rawValue }) { return false }
        let sorted = leases.map(\.rawValue).sorted()
        return zip(sorted, sorted.dropFirst()).contains { $0 == $1 }
    }

    /// Removes a lease and its index entry, returning the leased message.
    mutating func takeLease(_ lease: UInt64, queue id: UInt32) -> Lease {
        guard let held = queues[id]!.leases.removeValue(forKey: lease) else {
            preconditionFailure("lease l\(lease) vanished from queue \(id) after validation")
        }
        queues[id]!.heldBytes -= UInt64(held.message.size)
        return held
    }

    mutating func ack(_ namespace: String, _ name: String, _ leases: [LeaseID]) throws(BrokerError) -> ResultValue {
        let id = try queueID(namespace, name)
        try checkLeases(leases, queue: id)
        for lease in leases {
            let held = takeLease(lease.rawValue, queue: id)
            forgetMessage(held.message.seq)
        }
        queues[id]!.acked += UInt64(leases.count)
        tracker.entities.insert(.queue(id))
        return .count(UInt64(leases.count))
    }

    mutating func nack(
        _ namespace: String, _ name: String, _ leases: [LeaseID], requeue: Bool
    ) throws(BrokerError)
        -> ResultValue
    {
        let id = try queueID(namespace, name)
        try checkLeases(leases, queue: id)
        for lease in leases {
            let held = takeLease(lease.rawValue, queue: id)
            if requeue {
                self.requeue(held.message, queue: id)
            } else {
                deadLetter([(held.message, id, .rejected)])
            }
        }
        return .count(UInt64(leases.count))
    }

    mutating func extendLeases(
        _ namespace: String, _ name: String, _ leases: [LeaseID], _ visibilityMs: Int64
    )
        throws(BrokerError) -> ResultValue
    {
        let id = try queueID(namespace, name)
        try checkVisibility(visibilityMs)
        try checkLeases(leases, queue: id)
        let deadline = now + visibilityMs
        for lease in leases {
            let old = queues[id]!.leases[lease.rawValue]!
            queues[id]!.leases[lease.rawValue]!.deadline = deadline
            trackMessage(
                old.message, queue: id,
                place: .leased(lease: lease.rawValue, consumer: old.consumer, deadline: deadline))
            // A later deadline is picked up when the old timer fires; an earlier one needs its own timer.
            if deadline < old.deadline { arm(.leaseExpiry, at: deadline, owner: id, id: lease.rawValue) }
        }
        return .count(UInt64(leases.count))
    }

    mutating func releaseConsumer(_ consumer: String) throws(BrokerError) -> ResultValue {
        try checkName(consumer, "consumer")
        var held: [LeaseKey] = []
        for id in (consumerQueues.removeValue(forKey: consumer) ?? []).sorted() {
            guard let queue = queues[id] else { continue }
            for (lease, entry) in queue.leases where entry.consumer == consumer {
                held.append(LeaseKey(queue: id, lease: lease))
            }
        }
        held.sort { ($0.queue, $0.lease) < ($1.queue, $1.lease) }
        for key in held {
            let lease = takeLease(key.lease, queue: key.queue)
            requeue(lease.message, queue: key.queue)
        }
        for id in (activeConsumerQueues[consumer] ?? []).sorted() {
            removeActive(consumer, queue: id)
        }
        return .count(UInt64(held.count))
    }

    mutating func removeActive(_ consumer: String, queue id: UInt32) {
        if queues[id]?.activeConsumer == consumer {
            queues[id]!.activeConsumer = nil
            tracker.entities.insert(.queue(id))
            noteAvailable(id)
        }
        activeConsumerQueues[consumer]?.remove(id)
        if activeConsumerQueues[consumer]?.isEmpty == true { activeConsumerQueues[consumer] = nil }
    }
}
