/// Publishing to queues and exchanges, validated in full before anything is stored.
extension BrokerStateMachine {
    /// Messages and bytes a plan will add to a queue's ready set (for `rejectPublish` checks across one command
    /// or one transaction).
    struct QueueLoad: Sendable {
        var count: UInt64 = 0
        var bytes: UInt64 = 0
    }

    /// A validated publish: the queues each message goes to.
    struct PublishPlan: Sendable {
        var messages: [OutgoingMessage]
        var routes: [[UInt32]]
    }

    func checkMessage(_ message: OutgoingMessage) throws(BrokerError) {
        guard message.id.utf8.count <= BrokerLimits.clientIDBytesMax else { throw limit("message id too long") }
        guard message.body.count <= BrokerLimits.bodyBytesMax else {
            throw limit("body of \(message.body.count) bytes exceeds \(BrokerLimits.bodyBytesMax)")
        }
        try checkHeaders(message.headers)
        guard message.priority <= BrokerLimits.priorityMax else {
            throw invalid("priority \(message.priority) outside 0...\(BrokerLimits.priorityMax)")
        }
        if let ttl = message.ttlMs, ttl < 1 || ttl > BrokerLimits.ttlMsMax {
            throw invalid("ttlMs \(ttl) outside 1...\(BrokerLimits.ttlMsMax)")
        }
        switch message.deliveryTime {
        case .now: break
        case .delayMs(let delay):
            guard delay >= 0, delay <= BrokerLimits.delayMsMax else {
                throw invalid("delayMs \(delay) outside 0...\(BrokerLimits.delayMsMax)")
            }
        case .at(let time):
            guard time <= now + BrokerLimits.delayMsMax else { throw invalid("deliver-at \(time) is too far ahead") }
        }
    }

    func visibleAt(_ message: OutgoingMessage) -> Int64 {
        switch message.deliveryTime {
        case .now: return now
        case .delayMs(let delay): return now + delay
        case .at(let time): return max(now, min(time, now + BrokerLimits.delayMsMax))
        }
    }

    func planPublish(_ request: PublishRequest, load: inout [UInt32: QueueLoad]) throws(BrokerError) -> PublishPlan {
        let namespace = try namespaceState(request.namespace)
        let count = request.messages.count
        guard count >= 1, count <= BrokerLimits.messagesPerCommandMax else {
            throw invalid("message count \(count) outside 1...\(BrokerLimits.messagesPerCommandMax)")
        }
        for message in request.messages { try checkMessage(message) }
        var routes: [[UInt32]] = []
        routes.reserveCapacity(count)
        switch request.target {
        case .queue(let name):
            guard let id = namespace.queues[name] else {
                throw BrokerError(.queueNotFound, "queue '\(name)' not found in namespace '\(request.namespace)'")
            }
            routes = Array(repeating: [id], count: count)
        case .exchange(let name, let routingKey):
            guard let id = namespace.exchanges[name] else {
                throw BrokerError(.exchangeNotFound, "exchange '\(name)' not found in namespace '\(request.namespace)'")
            }
            guard routingKey.utf8.count <= BrokerLimits.routingKeyBytesMax else { throw limit("routing key too long") }
            for message in request.messages {
                routes.append(try route(exchange: id, routingKey: routingKey, headers: message.headers, depth: 0))
            }
        }
        try checkCapacity(request.messages, routes, load: &load)
        return PublishPlan(messages: request.messages, routes: routes)
    }

    /// Refuses the plan if a `rejectPublish` queue would exceed its limits with all messages visible now.
    func checkCapacity(
        _ messages: [OutgoingMessage], _ routes: [[UInt32]], load: inout [UInt32: QueueLoad]
    )
        throws(BrokerError)
    {
        for (message, targets) in zip(messages, routes) where visibleAt(message) <= now {
            for id in targets {
                let queue = queues[id]!
                guard queue.arguments.overflow == .rejectPublish else { continue }
                var added = load[id] ?? QueueLoad()
                added.count += 1
                added.bytes += UInt64(message.body.count)
                if let maxLength = queue.arguments.maxLength, queue.readyCount + added.count > maxLength {
                    throw BrokerError(.queueFull, "queue '\(queue.name)' is at its max length \(maxLength)")
                }
                if let maxBytes = queue.arguments.maxBytes, queue.readyBytes + added.bytes > maxBytes {
                    throw BrokerError(.queueFull, "queue '\(queue.name)' is at its max bytes \(maxBytes)")
                }
                load[id] = added
            }
        }
    }

    /// Stores a validated plan. Cannot fail.
    mutating func performPublish(_ plan: PublishPlan) -> PublishReceipt {
        var sequences: [MessageSeq] = []
        sequences.reserveCapacity(plan.messages.count)
        var routed: [UInt32] = []
        routed.reserveCapacity(plan.messages.count)
        for (message, targets) in zip(plan.messages, plan.routes) {
            let visible = visibleAt(message)
            let payload = Payload(id: message.id, body: message.body, headers: message.headers, key: nil)
            for id in targets {
                let seq = allocateSeq()
                sequences.append(MessageSeq(seq))
                store(message, payload: payload, seq: seq, visibleAt: visible, queue: id)
            }
            routed.append(UInt32(targets.count))
        }
        return PublishReceipt(sequences: sequences, routedQueues: routed)
    }

    private mutating func store(
        _ message: OutgoingMessage, payload: Payload, seq: UInt64, visibleAt: Int64, queue id: UInt32
    ) {
        // Read through the index: `queues[id]!` would copy the whole queue state for one field.
        let queueTTL = queues.values[queues.index(forKey: id)!].arguments.messageTTLMs
        let ttl: Int64? =
            switch (message.ttlMs, queueTTL) {
            case (let a?, let b?): min(a, b)
            case (let a?, nil): a
            case (nil, let b?): b
            case (nil, nil): nil
            }
        let stored = QueuedMessage(
            seq: seq, expiresAt: ttl.map { visibleAt + $0 } ?? Int64.max, size: UInt32(message.body.count),
            originQueue: 0, deliveries: 0, priority: message.priority, deadLetterHops: 0, deathReason: 0)
        queues[id]!.published += 1
        tracker.entities.insert(.queue(id))
        if visibleAt > now {
            queues[id]!.delayed[seq] = DelayedMessage(visibleAt: visibleAt, message: stored)
            queues[id]!.heldBytes += UInt64(stored.size)
            tracker.messages[seq] = MessageRow(
                queue: id, message: stored, place: .delayed(visibleAt: visibleAt), payload: payload)
            arm(.delayedVisible, at: visibleAt, owner: id, id: seq)
        } else {
            tracker.messages[seq] = MessageRow(queue: id, message: stored, place: .ready, payload: payload)
            enqueueReady(stored, queue: id, tracked: true)
        }
    }

    mutating func publish(_ request: PublishRequest) throws(BrokerError) -> ResultValue {
        var load: [UInt32: QueueLoad] = [:]
        let plan = try planPublish(request, load: &load)
        return .published(performPublish(plan))
    }

    /// A delayed message's time came.
    mutating func makeVisible(queue id: UInt32, seq: UInt64, at: Int64) -> Bool {
        guard let delayed = queues[id]?.delayed[seq], delayed.visibleAt == at else { return false }
        queues[id]!.delayed[seq] = nil
        queues[id]!.heldBytes -= UInt64(delayed.message.size)
        enqueueReady(delayed.message, queue: id)
        return true
    }
}
