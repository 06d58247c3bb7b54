/// Idempotent producers: cluster-allocated ids and per-(producer, target) sequence numbers.
extension BrokerStateMachine {
    /// Targets one producer may track at once.
    static let producerTargetsMax = 1_000

    mutating func initProducer(_ group: String) throws(BrokerError) -> ResultValue {
        if !group.isEmpty { try checkName(group, "producer group") }
        if producers.count >= BrokerLimits.producersMax { evictIdleProducer() }
        guard producers.count < BrokerLimits.producersMax else {
            throw limit("\(BrokerLimits.producersMax) producers, all in transactions")
        }
        let id = nextProducer
        nextProducer += 1
        producers[id] = ProducerState(group: group, lastUsed: now)
        tracker.entities.insert(.producer(id))
        return .producer(ProducerID(id))
    }

    /// Forgets the least recently used producer without an open transaction (ties: lowest id).
    private mutating func evictIdleProducer() {
        let busy = Set(transactions.values.map(\.producer))
        var victim: (id: UInt64, lastUsed: Int64)?
        for (id, producer) in producers where !busy.contains(id) {
            if let current = victim, (current.lastUsed, current.id) < (producer.lastUsed, id) { continue }
            victim = (id, producer.lastUsed)
        }
        if let victim {
            producers[victim.id] = nil
            tracker.entities.insert(.producer(victim.id))
        }
    }

    static func targetKey(_ namespace: String, _ target: PublishTarget) -> String {
        switch target {
        case .queue(let name): return "q:\(namespace)/\(name)"
        case .exchange(let name, _): return "x:\(namespace)/\(name)"
        }
    }

    mutating func publishIdempotent(_ request: PublishRequest) throws(BrokerError) -> ResultValue {
        guard let stamp = request.producer else { return try publish(request) }
        return try idempotent(stamp, target: Self.targetKey(request.namespace, request.target)) {
            (machine: inout Self) throws(BrokerError) -> ResultValue in try machine.publish(request)
        }
    }

    mutating func appendIdempotent(_ request: AppendRequest) throws(BrokerError) -> ResultValue {
        guard let stamp = request.producer else { return try append(request) }
        return try idempotent(stamp, target: "t:\(request.namespace)/\(request.topic)") {
            (machine: inout Self) throws(BrokerError) -> ResultValue in try machine.append(request)
        }
    }

    /// Runs `body` once per (producer, target, sequence). A duplicate within the window gets the original result;
    /// an older one `staleSequence`; a skipped number `sequenceGap`. Failed commands do not consume a sequence.
    ///
    /// The checks read the producer state without copying it, and the window is updated in place, so the
    /// bookkeeping costs O(window) per command whatever the number of targets.
    private mutating func idempotent(
        _ stamp: ProducerStamp, target: String, _ body: (inout Self) throws(BrokerError) -> ResultValue
    ) throws(BrokerError) -> ResultValue {
        let id = stamp.producer.rawValue
        guard let index = producers.index(forKey: id) else {
            throw BrokerError(.producerNotFound, "producer \(stamp.producer) unknown (expired or never allocated)")
        }
        if let stored = try checkSequence(stamp, target: target, producer: producers.values[index]) {
            switch stored {
            case .ok(let value): return value
            case .error(let error): throw error
            }
        }
        let value = try body(&self)
        // Looked up again: `body` may have changed the dictionary. The subscript's modify accessor works in place.
        producers[id]!.record(stamp.sequence, .ok(value), target: target, at: now)
        tracker.entities.insert(.producer(id))
        return value
    }

    /// The remembered result of a duplicate, nil for the next sequence, or the error for any other number.
    private func checkSequence(
        _ stamp: ProducerStamp, target: String, producer: borrowing ProducerState
    ) throws(BrokerError) -> CommandResult? {
        guard let window = producer.targets[target] else {
            guard stamp.sequence == 0 else {
                throw BrokerError(.sequenceGap, "sequence \(stamp.sequence) for \(target), expected 0")
            }
            guard producer.targets.count < Self.producerTargetsMax else {
                throw limit("producer \(stamp.producer) tracks \(Self.producerTargetsMax) targets")
            }
            return nil
        }
        if stamp.sequence <= window.lastSequence {
            if let stored = window.results.first(where: { $0.sequence == stamp.sequence }) { return stored.result }
            throw BrokerError(
                .staleSequence, "sequence \(stamp.sequence) is older than the remembered window for \(target)")
        }
        guard stamp.sequence == window.lastSequence &+ 1 else {
            throw BrokerError(
                .sequenceGap, "sequence \(stamp.sequence) for \(target), expected \(window.lastSequence &+ 1)")
        }
        return nil
    }
}

extension ProducerState {
    /// Remembers an accepted command's result for `target`, in place, keeping the last
    /// `BrokerLimits.producerResultWindow` results.
    mutating func record(_ sequence: UInt64, _ result: CommandResult, target: String, at now: Int64) {
        lastUsed = now
        targets[target, default: SequenceWindow(lastSequence: sequence, results: [])].advance(to: sequence, result)
    }
}

extension SequenceWindow {
    mutating func advance(to sequence: UInt64, _ result: CommandResult) {
        lastSequence = sequence
        if results.count >= BrokerLimits.producerResultWindow { results.removeFirst() }
        results.append(StoredResult(sequence: sequence, result: result))
    }
}
