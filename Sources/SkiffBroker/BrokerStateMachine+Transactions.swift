/// Atomic transactions across queues, exchanges, topics and group offsets, and RocketMQ-style half messages.
extension BrokerStateMachine {
    mutating func beginTransaction(_ producer: ProducerID, _ timeoutMs: Int64) throws(BrokerError) -> ResultValue {
        guard producers[producer.rawValue] != nil else {
            throw BrokerError(.producerNotFound, "producer \(producer) unknown")
        }
        guard timeoutMs >= BrokerLimits.transactionTimeoutMsMin, timeoutMs <= BrokerLimits.transactionTimeoutMsMax
        else {
            throw invalid(
                "timeoutMs \(timeoutMs) outside \(BrokerLimits.transactionTimeoutMsMin)...\(BrokerLimits.transactionTimeoutMsMax)"
            )
        }
        guard transactions.count < BrokerLimits.openTransactionsMax else {
            throw limit("\(BrokerLimits.openTransactionsMax) open transactions")
        }
        let id = nextTransaction
        nextTransaction += 1
        transactions[id] = TransactionState(producer: producer.rawValue, deadline: now + timeoutMs)
        arm(.transactionTimeout, at: now + timeoutMs, id: id)
        tracker.entities.insert(.transaction(id))
        return .transaction(TransactionID(id))
    }

    private func closedError(_ id: TransactionID) -> BrokerError {
        switch finishedTransactions[id.rawValue] {
        case true?: return BrokerError(.transactionCommitted, "transaction \(id) already committed")
        case false?: return BrokerError(.transactionAborted, "transaction \(id) was aborted")
        case nil: return BrokerError(.transactionNotFound, "transaction \(id) unknown")
        }
    }

    /// Buffers one operation after validating it against the current state (it is validated again at commit).
    ///
    /// A staged publish or append may carry a stamp of the transaction's producer whose sequence numbers the
    /// stamped operations of this transaction from 0. A resend of an operation already staged (its reply was
    /// lost) is recognised by its sequence and staged only once; a sequence beyond the next one is a gap.
    mutating func addToTransaction(_ id: TransactionID, _ operation: Command) throws(BrokerError) -> ResultValue {
        guard let state = transactions[id.rawValue] else { throw closedError(id) }
        if let stamp = operation.transactionStamp {
            guard stamp.producer.rawValue == state.producer else {
                throw invalid("stamp of producer \(stamp.producer) in a transaction of producer \(state.producer)")
            }
            let next = UInt64(state.operations.count(where: { $0.transactionStamp != nil }))
            if stamp.sequence < next { return .none }
            guard stamp.sequence == next else {
                throw BrokerError(
                    .sequenceGap, "transaction \(id) expects staged sequence \(next), got \(stamp.sequence)")
            }
        }
        guard state.operations.count < BrokerLimits.transactionOpsMax else {
            throw limit("transaction \(id) holds \(BrokerLimits.transactionOpsMax) operations")
        }
        switch operation {
        case .publish(var request):
            var load: [UInt32: QueueLoad] = [:]
            request.producer = nil
            _ = try planPublish(request, load: &load)
        case .append(var request):
            var cursor: UInt64?
            request.producer = nil
            _ = try planAppend(request, cursor: &cursor)
        case .commitOffsets(let commit):
            _ = try planOffsetCommit(commit, pendingAppends: [:])
        default:
            preconditionFailure("addToTransaction: unexpected operation \(operation)")
        }
        let bytes = operation.encoded().count
        guard state.bytes + bytes <= BrokerLimits.transactionBytesMax else {
            throw limit("transaction \(id) would exceed \(BrokerLimits.transactionBytesMax) bytes")
        }
        transactions[id.rawValue]!.operations.append(operation)
        transactions[id.rawValue]!.bytes += bytes
        tracker.entities.insert(.transaction(id.rawValue))
        return .none
    }

    private enum TransactionStep {
        case publish(PublishPlan)
        case append(AppendPlan, cursor: UInt64)
        case offsets(OffsetCommitPlan)
    }

    /// Validates every buffered operation against the current state (with the earlier operations' effects on
    /// queue capacity, round-robin cursors and partition ends), then applies all of them. A failed validation
    /// changes nothing and leaves the transaction open, so the producer can abort it.
    mutating func commitTransaction(_ id: TransactionID) throws(BrokerError) -> ResultValue {
        guard let state = transactions[id.rawValue] else {
            if finishedTransactions[id.rawValue] == true { return .none }
            throw closedError(id)
        }
        var load: [UInt32: QueueLoad] = [:]
        var cursors: [UInt32: UInt64] = [:]
        var pending: [PartitionKey: UInt64] = [:]
        var steps: [TransactionStep] = []
        for operation in state.operations {
            switch operation {
            case .publish(var request):
                request.producer = nil
                steps.append(.publish(try planPublish(request, load: &load)))
            case .append(var request):
                request.producer = nil
                let topic = try topicID(request.namespace, request.topic)
                var cursor = cursors[topic]
                let plan = try planAppend(request, cursor: &cursor)
                cursors[topic] = cursor
                for partition in plan.partitions {
                    pending[PartitionKey(topic: topic, partition: partition), default: 0] += 1
                }
                steps.append(.append(plan, cursor: cursor!))
            case .commitOffsets(let commit):
                steps.append(.offsets(try planOffsetCommit(commit, pendingAppends: pending)))
            default:
                preconditionFailure("commitTransaction: unexpected buffered operation \(operation)")
            }
        }
        for step in steps {
            switch step {
            case .publish(let plan): _ = performPublish(plan)
            case .append(let plan, let cursor): _ = performAppend(plan, cursor: cursor)
            case .offsets(let plan): performOffsetCommit(plan)
            }
        }
        finishTransaction(id.rawValue, committed: true)
        return .count(UInt64(steps.count))
    }

    mutating func abortTransaction(_ id: TransactionID) throws(BrokerError) -> ResultValue {
        guard transactions[id.rawValue] != nil else {
            if finishedTransactions[id.rawValue] == false { return .none }
            throw closedError(id)
        }
        finishTransaction(id.rawValue, committed: false)
        return .none
    }

    private mutating func finishTransaction(_ id: UInt64, committed: Bool) {
        transactions[id] = nil
        tracker.entities.insert(.transaction(id))
        finishedTransactions[id] = committed
        if finishedTransactions.count > BrokerLimits.finishedTransactionsRemembered {
            finishedTransactions.removeFirst()
        }
    }

    mutating func timeOutTransaction(_ id: UInt64, at: Int64) -> Bool {
        guard let state = transactions[id], state.deadline == at else { return false }
        finishTransaction(id, committed: false)
        events.append(.transactionTimedOut(TransactionID(id), producer: ProducerID(state.producer)))
        return true
    }

    // MARK: Half messages

    mutating func prepareHalf(_ prepare: HalfPrepare) throws(BrokerError) -> ResultValue {
        try checkName(prepare.producerGroup, "producer group")
        guard prepare.checkIntervalMs >= BrokerLimits.checkIntervalMsMin,
            prepare.checkIntervalMs <= BrokerLimits.checkIntervalMsMax
        else {
            throw invalid(
                "checkIntervalMs \(prepare.checkIntervalMs) outside \(BrokerLimits.checkIntervalMsMin)...\(BrokerLimits.checkIntervalMsMax)"
            )
        }
        guard prepare.maxChecks >= 1, prepare.maxChecks <= BrokerLimits.halfChecksMax else {
            throw invalid("maxChecks \(prepare.maxChecks) outside 1...\(BrokerLimits.halfChecksMax)")
        }
        // A resent prepare (its reply was lost) names the same message id: answer with the open half.
        if !prepare.message.id.isEmpty, let open = halves.filter({ $0.value.prepare == prepare }).keys.min() {
            return .halfMessage(HalfMessageID(open))
        }
        guard halves.count < BrokerLimits.halfMessagesMax else {
            throw limit("\(BrokerLimits.halfMessagesMax) half messages")
        }
        var load: [UInt32: QueueLoad] = [:]
        let request = PublishRequest(namespace: prepare.namespace, target: prepare.target, messages: [prepare.message])
        _ = try planPublish(request, load: &load)
        let id = nextHalf
        nextHalf += 1
        halves[id] = HalfState(prepare: prepare, nextCheckAt: now + prepare.checkIntervalMs)
        arm(.halfCheck, at: now + prepare.checkIntervalMs, id: id)
        tracker.entities.insert(.half(id))
        return .halfMessage(HalfMessageID(id))
    }

    mutating func resolveHalf(_ id: HalfMessageID, _ resolution: HalfResolution) throws(BrokerError) -> ResultValue {
        guard let half = halves[id.rawValue] else {
            throw BrokerError(
                .halfMessageNotFound, "half message \(id) unknown (resolved, rolled back or never prepared)")
        }
        switch resolution {
        case .unknown:
            return .none
        case .rollback:
            halves[id.rawValue] = nil
            tracker.entities.insert(.half(id.rawValue))
            return .none
        case .commit:
            let request = PublishRequest(
                namespace: half.prepare.namespace, target: half.prepare.target, messages: [half.prepare.message])
            var load: [UInt32: QueueLoad] = [:]
            let plan = try planPublish(request, load: &load)
            halves[id.rawValue] = nil
            tracker.entities.insert(.half(id.rawValue))
            return .published(performPublish(plan))
        }
    }

    /// The check interval passed without an outcome: ask the producer group again, or roll back after the last.
    mutating func checkHalf(_ id: UInt64, at: Int64) -> Bool {
        guard let half = halves[id], half.nextCheckAt == at else { return false }
        tracker.entities.insert(.half(id))
        if half.checks >= half.prepare.maxChecks {
            halves[id] = nil
            events.append(.halfMessageRolledBack(HalfMessageID(id), producerGroup: half.prepare.producerGroup))
            return true
        }
        halves[id]!.checks += 1
        halves[id]!.nextCheckAt = now + half.prepare.checkIntervalMs
        arm(.halfCheck, at: now + half.prepare.checkIntervalMs, id: id)
        events.append(
            .checkback(
                HalfCheck(
                    half: HalfMessageID(id), producerGroup: half.prepare.producerGroup,
                    namespace: half.prepare.namespace,
                    target: half.prepare.target, messageID: half.prepare.message.id, message: half.prepare.message,
                    check: half.checks + 1)))
        return true
    }
}

extension Command {
    /// The staging stamp of a buffered transactional publish or append (nil for other operations).
    var transactionStamp: ProducerStamp? {
        switch self {
        case .publish(let request): request.producer
        case .append(let request): request.producer
        default: nil
        }
    }
}
