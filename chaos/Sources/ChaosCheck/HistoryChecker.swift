/// Checks a chaos history for lost, phantom and duplicated messages, ordering, offset, transaction and
/// availability anomalies. It reads nothing but the history.
public struct HistoryChecker: Sendable {
    let index: HistoryIndex
    /// Message id → the earliest time a consumer saw it.
    let firstVisibleT: [String: Int64]
    /// Message ids a client ever tried to write (publish, produce, transaction, half message).
    let invokedMsgs: Set<String>
    /// Message id → its acknowledged publish invoke (queue messages only), for ordering checks. A publish
    /// whose outcome is unknown may be retried later by the client, so it promises no order.
    let publishOf: [String: HistoryEvent]

    public init(events: [HistoryEvent]) {
        self.init(index: HistoryIndex(events: events))
    }

    public init(index: HistoryIndex) {
        self.index = index
        var visible: [String: Int64] = [:]
        for event in index.observations where event.op == .deliver || event.op == .consume {
            guard let msg = event.msg else { continue }
            visible[msg] = min(visible[msg] ?? Int64.max, event.t)
        }
        firstVisibleT = visible
        var invoked = Set<String>()
        var publishes: [String: HistoryEvent] = [:]
        for operation in index.operations {
            let event = operation.invoke
            switch event.op {
            case .publish, .produce, .halfPublish:
                if let msg = event.msg { invoked.insert(msg) }
                if event.op == .publish, operation.outcome == .ok, let msg = event.msg { publishes[msg] = event }
            case .txn:
                invoked.formUnion(event.msgs ?? [])
            default:
                break
            }
        }
        invokedMsgs = invoked
        publishOf = publishes
    }

    /// Runs every check.
    public func verdict() -> Verdict {
        let checks = [
            checkHistory(), checkLost(), checkPhantom(), checkDuplicates(), checkFIFO(), checkTopicOrder(),
            checkCommittedOffsets(), checkTransactions(), checkHalfMessages(), checkDrain(), checkAvailability(),
        ]
        return Verdict(
            valid: checks.allSatisfy(\.valid), seed: index.meta.seed, nodes: index.meta.nodes,
            faults: index.meta.faults, checks: checks, counts: counts())
    }

    func counts() -> [String: [String: Int]] {
        var counts: [String: [String: Int]] = [:]
        for operation in index.operations {
            counts[operation.kind.rawValue, default: [:]][operation.outcome.rawValue, default: 0] += 1
        }
        for event in index.observations {
            counts[event.op.rawValue, default: [:]]["ok", default: 0] += 1
        }
        for event in index.nemesis where event.op == .start {
            counts["nemesis", default: [:]][event.fault ?? "?", default: 0] += 1
        }
        return counts
    }

    /// The history is well formed: a header, and every completion matches exactly one invoke.
    func checkHistory() -> CheckResult {
        CheckResult(name: "history", anomalies: index.malformed)
    }

    /// Messages that are acknowledged as written (publish/produce/transaction ok, half message committed)
    /// must be seen by a consumer at least once.
    func checkLost() -> CheckResult {
        var acknowledged: [(msg: String, why: String)] = []
        for operation in index.operations where operation.outcome == .ok {
            switch operation.kind {
            case .publish, .produce:
                if let msg = operation.invoke.msg { acknowledged.append((msg, operation.kind.rawValue)) }
            case .txn:
                for msg in operation.invoke.msgs ?? [] {
                    acknowledged.append((msg, "txn \(operation.invoke.tx ?? "")"))
                }
            default:
                break
            }
        }
        for (tx, msg) in committedHalfMessages() { acknowledged.append((msg, "half-commit \(tx)")) }
        var seen = Set<String>()
        var anomalies: [String] = []
        for (msg, why) in acknowledged where seen.insert(msg).inserted && firstVisibleT[msg] == nil {
            anomalies.append("\(msg) acknowledged (\(why)) but never delivered")
        }
        return CheckResult(name: "lost", anomalies: anomalies, info: ["acknowledged": Int64(seen.count)])
    }

    /// Every delivered message was written by some client, and none whose every write definitely failed.
    func checkPhantom() -> CheckResult {
        var attempts: [String: [EventType]] = [:]
        for operation in index.operations {
            switch operation.kind {
            case .publish, .produce:
                if let msg = operation.invoke.msg { attempts[msg, default: []].append(operation.outcome) }
            case .txn:
                for msg in operation.invoke.msgs ?? [] { attempts[msg, default: []].append(operation.outcome) }
            default:
                break
            }
        }
        var anomalies: [String] = []
        for msg in firstVisibleT.keys.sorted() {
            if !invokedMsgs.contains(msg) {
                anomalies.append("\(msg) delivered but never published")
            } else if let outcomes = attempts[msg], !outcomes.isEmpty, outcomes.allSatisfy({ $0 == .fail }) {
                anomalies.append("\(msg) delivered although every write of it failed")
            }
        }
        return CheckResult(name: "phantom", anomalies: anomalies, info: ["delivered": Int64(firstVisibleT.count)])
    }

    /// Every queue or topic that received acknowledged messages was read to its end after healing.
    func checkDrain() -> CheckResult {
        var targets = Set<String>()
        for operation in index.operations where operation.outcome == .ok {
            if operation.kind == .publish, let queue = operation.invoke.queue { targets.insert("queue \(queue)") }
            if operation.kind == .produce, let topic = operation.invoke.topic { targets.insert("topic \(topic)") }
        }
        var drained = Set<String>()
        for operation in index.operations(.drain) where operation.outcome == .ok {
            if let queue = operation.invoke.queue { drained.insert("queue \(queue)") }
            if let topic = operation.invoke.topic { drained.insert("topic \(topic)") }
        }
        let anomalies = targets.subtracting(drained).sorted().map { "\($0) was not read to its end" }
        return CheckResult(name: "drain", anomalies: anomalies, info: ["targets": Int64(targets.count)])
    }
}
