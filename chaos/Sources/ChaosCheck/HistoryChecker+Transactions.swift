extension HistoryChecker {
    /// A transaction's messages become visible all together or not at all, and never after a definite abort.
    func checkTransactions() -> CheckResult {
        var anomalies: [String] = []
        var committed: Int64 = 0
        for operation in index.operations(.txn) {
            let members = operation.invoke.msgs ?? []
            let visible = members.filter { firstVisibleT[$0] != nil }
            let name = operation.invoke.tx ?? "opId \(operation.invoke.opId ?? -1)"
            if operation.outcome == .ok { committed += 1 }
            if !visible.isEmpty && visible.count < members.count {
                anomalies.append(
                    "txn \(name) (\(operation.outcome.rawValue)) partially visible: "
                        + "\(visible.count) of \(members.count)")
            } else if operation.outcome == .fail && !visible.isEmpty {
                anomalies.append("txn \(name) failed but its messages are visible")
            }
        }
        return CheckResult(name: "transactions", anomalies: anomalies, info: ["committed": committed])
    }

    /// (tx, msg) of half messages whose commit is decided: an acknowledged commit, or a check answered commit.
    func committedHalfMessages() -> [(String, String)] {
        halfMessages().filter { $0.value.decidedCommit }.map { ($0.key, $0.value.msg) }.sorted { $0.0 < $1.0 }
    }

    struct HalfMessage {
        var msg: String
        var storedOk = false
        var publishT: Int64 = 0
        var commitInvokeT: Int64?
        var decidedCommit = false
        var decidedRollback = false
        var rollbackTried = false
    }

    func halfMessages() -> [String: HalfMessage] {
        var halves: [String: HalfMessage] = [:]
        for operation in index.operations(.halfPublish) {
            guard let tx = operation.invoke.tx, let msg = operation.invoke.msg else { continue }
            var half = HalfMessage(msg: msg)
            half.storedOk = operation.outcome == .ok
            half.publishT = operation.invoke.t
            halves[tx] = half
        }
        for operation in index.operations where operation.kind == .halfCommit || operation.kind == .halfRollback {
            guard let tx = operation.invoke.tx, halves[tx] != nil else { continue }
            if operation.kind == .halfCommit {
                let earlier = halves[tx]?.commitInvokeT ?? Int64.max
                halves[tx]?.commitInvokeT = min(earlier, operation.invoke.t)
                if operation.outcome == .ok { halves[tx]?.decidedCommit = true }
            } else {
                halves[tx]?.rollbackTried = true
                if operation.outcome == .ok { halves[tx]?.decidedRollback = true }
            }
        }
        for event in index.observations(.halfCheck) {
            guard let tx = event.tx, halves[tx] != nil else { continue }
            if event.decision == "commit" {
                let earlier = halves[tx]?.commitInvokeT ?? Int64.max
                halves[tx]?.decidedCommit = true
                halves[tx]?.commitInvokeT = min(earlier, event.t)
            } else if event.decision == "rollback" {
                halves[tx]?.decidedRollback = true
            }
        }
        return halves
    }

    /// Every stored half message ends committed (and visible, checked by `lost`) or rolled back (and never
    /// visible), and none is visible before its commit was requested.
    func checkHalfMessages() -> CheckResult {
        var anomalies: [String] = []
        let halves = halfMessages()
        for tx in halves.keys.sorted() {
            guard let half = halves[tx] else { continue }
            let visibleT = firstVisibleT[half.msg]
            if half.decidedRollback && !half.decidedCommit && visibleT != nil {
                anomalies.append("half \(tx) rolled back but \(half.msg) was delivered")
            } else if let visibleT, visibleT < (half.commitInvokeT ?? Int64.max) {
                anomalies.append("half \(tx): \(half.msg) visible before any commit")
            } else if half.storedOk && visibleT == nil && !half.decidedCommit && !half.decidedRollback
                && !half.rollbackTried
            {
                anomalies.append("half \(tx) neither committed nor rolled back")
            }
        }
        return CheckResult(name: "half-messages", anomalies: anomalies, info: ["half": Int64(halves.count)])
    }
}
