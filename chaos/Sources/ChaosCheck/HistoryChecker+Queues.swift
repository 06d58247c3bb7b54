/// Why a message was delivered more than once.
public enum DuplicateClass: String, Sendable, CaseIterable {
    /// Allowed: the previous holder crashed without acking.
    case afterCrash = "after-crash"
    /// Allowed: the previous holder's connection was lost and it re-subscribed (its leases were released)
    /// before it acked, or its ack's outcome is unknown.
    case afterDisconnect = "after-disconnect"
    /// Allowed: the previous holder's ack failed or timed out, which only happens when its connection broke.
    case afterAckFailure = "after-ack-failure"
    /// Allowed: the previous holder returned it with a nack.
    case afterNack = "after-nack"
    /// Allowed: the previous holder did not ack within the lease.
    case afterLeaseExpiry = "after-lease-expiry"
    /// Allowed: an old grant seen late. Its delivery count is not above one already observed, so the broker
    /// leased it before that later grant (counts rise by one per grant); it sat in a consumer's buffer, and
    /// its lease had ended. Whether its ack wrongly succeeded is checked separately (`superseded-ack`).
    case staleGrant = "stale-grant"
    /// Violation: redelivered although the previous holder's ack succeeded.
    case afterAck = "after-ack"
    /// Violation: the broker stored one client message twice (idempotence failure).
    case storedTwice = "stored-twice"
    /// Violation: redelivered within the lease with no crash, disconnect, nack or failed ack.
    case unexplained

    /// True when the class is allowed by the delivery contract.
    public var isAllowed: Bool {
        switch self {
        case .afterCrash, .afterDisconnect, .afterAckFailure, .afterNack, .afterLeaseExpiry, .staleGrant: true
        case .afterAck, .storedTwice, .unexplained: false
        }
    }
}

extension HistoryChecker {
    /// Duplicate deliveries are counted and classified; only the allowed classes may occur.
    func checkDuplicates() -> CheckResult {
        var classes: [DuplicateClass: Int] = [:]
        var anomalies: [String] = []
        let settle = settlementsByMsg()
        let interruptions = interruptionsByProcess()
        let leaderChanges = index.observations(.leader)
        var deliveries: [String: [HistoryEvent]] = [:]
        for event in index.observations(.deliver) {
            if let msg = event.msg { deliveries[msg, default: []].append(event) }
        }
        for msg in deliveries.keys.sorted() {
            let list = deliveries[msg, default: []]
            var serverIds = Set(list.prefix(1).compactMap(\.serverId))
            var highestCount = list.first?.deliveries ?? 0
            for position in list.indices.dropFirst() {
                let current = list[position]
                let previous = list[position - 1]
                let kind: DuplicateClass
                if let id = current.serverId, !serverIds.isEmpty, !serverIds.contains(id) {
                    kind = .storedTwice
                    serverIds.insert(id)
                } else if let count = current.deliveries, count > 0, count <= highestCount {
                    kind = .staleGrant
                } else {
                    kind = classify(
                        previous, current, settle[msg, default: []], interruptions, leaderChanges: leaderChanges)
                }
                highestCount = max(highestCount, current.deliveries ?? 0)
                classes[kind, default: 0] += 1
                if !kind.isAllowed {
                    anomalies.append("\(msg) delivered again at t=\(ms(current.t)) (\(kind.rawValue))")
                }
            }
        }
        for (msg, places) in topicPlacesByMsg() where places.count > 1 {
            classes[.storedTwice, default: 0] += places.count - 1
            anomalies.append("\(msg) stored at several topic positions: \(places.sorted().joined(separator: ","))")
        }
        var info: [String: Int64] = [:]
        for kind in DuplicateClass.allCases { info[kind.rawValue] = Int64(classes[kind, default: 0]) }
        let ackAnomalies = impossibleAcks(settle, deliveries)
        info["acked-twice"] = Int64(ackAnomalies.ackedTwice.count)
        info["superseded-ack"] = Int64(ackAnomalies.superseded.count)
        anomalies += ackAnomalies.ackedTwice + ackAnomalies.superseded
        return CheckResult(name: "duplicates", anomalies: anomalies.sorted(), info: info)
    }

    /// Acks that a correct broker can never confirm, whatever the timing:
    /// - two successful acks of one message (after the first, the message is gone and no lease on it exists);
    /// - a successful ack of a grant that a later grant had already superseded before the ack was sent (a
    ///   delivery with a higher count was observed first, so the acked lease had ended).
    /// These catch a client or server that reports an ack as done when the broker refused it.
    private func impossibleAcks(
        _ settle: [String: [Operation]], _ deliveries: [String: [HistoryEvent]]
    ) -> (ackedTwice: [String], superseded: [String]) {
        var ackedTwice: [String] = []
        var superseded: [String] = []
        for msg in settle.keys.sorted() {
            let acks = settle[msg, default: []].filter { $0.kind == .ack && $0.outcome == .ok }
            if acks.count > 1 {
                let times = acks.map { "\(ms($0.endT))" }.joined(separator: ",")
                ackedTwice.append("\(msg) acked successfully \(acks.count) times (t=\(times))")
            }
            let seen = deliveries[msg, default: []]
            for ack in acks {
                // The grant this ack settles: the holder's latest delivery of the message before the ack.
                guard let grant = seen.last(where: { $0.process == ack.process && $0.t <= ack.invoke.t }),
                    let count = grant.deliveries,
                    let newer = seen.first(where: { ($0.deliveries ?? 0) > count && $0.t < ack.invoke.t })
                else { continue }
                superseded.append(
                    "\(msg) ack of delivery #\(count) succeeded at t=\(ms(ack.endT)) although delivery "
                        + "#\(newer.deliveries ?? 0) was seen at t=\(ms(newer.t))")
            }
        }
        return (ackedTwice, superseded)
    }

    private func classify(
        _ previous: HistoryEvent, _ current: HistoryEvent, _ settlements: [Operation],
        _ interruptions: [Int: [HistoryEvent]], leaderChanges: [HistoryEvent]
    ) -> DuplicateClass {
        let holder = previous.process
        let window = { (t: Int64) in t > previous.t && t <= current.t }
        let mine = settlements.filter { $0.process == holder && $0.invoke.t >= previous.t && $0.invoke.t <= current.t }
        let events = interruptions[holder, default: []]
        // A consumer notices a lost connection only when it re-subscribes, which may be observed a little
        // after the broker already redelivered; an ack sent on the dead connection cannot have settled.
        // A leader change drops every consumer connection to the old leader.
        let graceNs = (index.meta.disconnectGraceMs ?? HistoryMeta.disconnectGraceMsDefault) * 1_000_000
        let disconnected = (events + leaderChanges).contains {
            $0.op == .resubscribe || $0.op == .leader ? $0.t > previous.t && $0.t <= current.t + graceNs : false
        }
        // An ack the client reported as done was applied by the broker (an ack the broker refused, for
        // example because the lease went with a lost connection, is reported as failed), so it is final.
        let acked = mine.contains { $0.kind == .ack && $0.outcome == .ok && $0.endT <= current.t }
        if acked { return .afterAck }
        if events.contains(where: { $0.op == .crash && window($0.t) }) { return .afterCrash }
        if disconnected { return .afterDisconnect }
        if mine.contains(where: { $0.kind == .nack && $0.outcome != .fail }) { return .afterNack }
        if mine.contains(where: { $0.kind == .ack && $0.outcome != .ok }) { return .afterAckFailure }
        let leaseNs = (index.meta.leaseMs - index.meta.leaseSlackMs) * 1_000_000
        if current.t - previous.t >= leaseNs { return .afterLeaseExpiry }
        return .unexplained
    }

    private func settlementsByMsg() -> [String: [Operation]] {
        var result: [String: [Operation]] = [:]
        for operation in index.operations where operation.kind == .ack || operation.kind == .nack {
            if let msg = operation.invoke.msg { result[msg, default: []].append(operation) }
        }
        return result
    }

    private func interruptionsByProcess() -> [Int: [HistoryEvent]] {
        var result: [Int: [HistoryEvent]] = [:]
        for event in index.observations where event.op == .crash || event.op == .resubscribe {
            result[event.process, default: []].append(event)
        }
        return result
    }

    /// Message id → the distinct `partition:offset` places it was acknowledged at or read from.
    func topicPlacesByMsg() -> [String: Set<String>] {
        var places: [String: Set<String>] = [:]
        for event in index.observations(.consume) {
            guard let msg = event.msg, let partition = event.partition, let offset = event.offset else { continue }
            places[msg, default: []].insert("\(event.topic ?? "")/\(partition):\(offset)")
        }
        for operation in index.operations(.produce) where operation.outcome == .ok {
            guard let msg = operation.invoke.msg, let partition = operation.value(\.partition),
                let offset = operation.value(\.offset)
            else { continue }
            places[msg, default: []].insert("\(operation.invoke.topic ?? "")/\(partition):\(offset)")
        }
        return places
    }

    /// Per consumer, first deliveries of one producer's undelayed messages at one priority arrive in the
    /// producer's sequence order; per topic partition, one producer's acknowledged offsets follow its sequence.
    func checkFIFO() -> CheckResult {
        var anomalies: [String] = []
        var lastSeq: [String: (seq: Int64, msg: String)] = [:]
        for event in index.observations(.deliver) where event.deliveries == 1 {
            guard let msg = event.msg, let publish = publishOf[msg], let producer = publish.producer,
                let seq = publish.seq, (publish.delayMs ?? 0) == 0
            else { continue }
            let key =
                "consumer \(event.process) queue \(publish.queue ?? "") producer \(producer) "
                + "priority \(publish.priority ?? 0)"
            if let last = lastSeq[key], last.seq >= seq {
                anomalies.append("\(key): \(msg) (seq \(seq)) delivered after \(last.msg) (seq \(last.seq))")
            }
            lastSeq[key] = (seq, msg)
        }
        anomalies.append(contentsOf: topicProducerOrder())
        return CheckResult(name: "fifo", anomalies: anomalies)
    }

    private func topicProducerOrder() -> [String] {
        var byKey: [String: [(seq: Int64, offset: Int64, msg: String)]] = [:]
        for operation in index.operations(.produce) where operation.outcome == .ok {
            guard let msg = operation.invoke.msg, let producer = operation.invoke.producer,
                let seq = operation.invoke.seq, let partition = operation.value(\.partition),
                let offset = operation.value(\.offset)
            else { continue }
            byKey["topic \(operation.invoke.topic ?? "")/\(partition) producer \(producer)", default: []]
                .append((seq, offset, msg))
        }
        var anomalies: [String] = []
        for key in byKey.keys.sorted() {
            let sorted = byKey[key, default: []].sorted { $0.seq < $1.seq }
            for (earlier, later) in zip(sorted, sorted.dropFirst()) where later.offset <= earlier.offset {
                anomalies.append(
                    "\(key): \(later.msg) (seq \(later.seq)) at offset \(later.offset) <= "
                        + "\(earlier.msg) (seq \(earlier.seq)) at offset \(earlier.offset)")
            }
        }
        return anomalies
    }
}

/// Nanoseconds to whole milliseconds, for messages.
func ms(_ ns: Int64) -> Int64 { ns / 1_000_000 }
