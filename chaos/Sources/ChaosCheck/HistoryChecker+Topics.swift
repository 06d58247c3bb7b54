extension HistoryChecker {
    /// Per consumer and partition, offsets strictly increase (until a seek) and no acknowledged record is
    /// skipped; one position never holds two different records.
    func checkTopicOrder() -> CheckResult {
        var anomalies: [String] = []
        let acked = ackedOffsets()
        var last: [String: Int64] = [:]
        var holder: [String: String] = [:]
        for event in index.observations where event.op == .consume || event.op == .seek {
            guard let partition = event.partition else { continue }
            let place = "\(event.topic ?? "")/\(partition)"
            let stream = "consumer \(event.process) \(place)"
            if event.op == .seek {
                // A seek to an unknown position (a group rebalance) starts a fresh stream.
                last[stream] = event.offset.map { $0 - 1 }
                continue
            }
            guard let offset = event.offset else { continue }
            if let msg = event.msg {
                if let other = holder["\(place):\(offset)"], other != msg {
                    anomalies.append("\(place):\(offset) read as both \(other) and \(msg)")
                }
                holder["\(place):\(offset)"] = msg
            }
            if let previous = last[stream] {
                if offset <= previous {
                    anomalies.append("\(stream): offset \(offset) read after \(previous)")
                } else if let skipped = acked[place]?.first(where: { $0.key > previous && $0.key < offset }) {
                    anomalies.append(
                        "\(stream): jumped \(previous) -> \(offset), skipping acknowledged "
                            + "\(skipped.value) at \(skipped.key)")
                }
            }
            last[stream] = offset
        }
        anomalies.append(contentsOf: ackConflicts(acked: acked, holder: holder))
        return CheckResult(name: "topic-order", anomalies: anomalies)
    }

    /// `topic/partition` → offset → message, from acknowledged produces.
    private func ackedOffsets() -> [String: [Int64: String]] {
        var result: [String: [Int64: String]] = [:]
        for operation in index.operations(.produce) where operation.outcome == .ok {
            guard let msg = operation.invoke.msg, let partition = operation.value(\.partition),
                let offset = operation.value(\.offset)
            else { continue }
            result["\(operation.invoke.topic ?? "")/\(partition)", default: [:]][offset] = msg
        }
        return result
    }

    private func ackConflicts(acked: [String: [Int64: String]], holder: [String: String]) -> [String] {
        var anomalies: [String] = []
        for place in acked.keys.sorted() {
            for (offset, msg) in acked[place, default: [:]].sorted(by: { $0.key < $1.key }) {
                if let read = holder["\(place):\(offset)"], read != msg {
                    anomalies.append("\(place):\(offset) acknowledged for \(msg) but holds \(read)")
                }
            }
        }
        return anomalies
    }

    /// A consumer group's committed offset, once a commit of it is acknowledged, never reads lower
    /// (unless the group was explicitly reset with a seek carrying the group).
    func checkCommittedOffsets() -> CheckResult {
        struct Step {
            var t: Int64
            var isRead: Bool
            var offset: Int64
            var readStartT: Int64
        }
        var steps: [String: [Step]] = [:]
        for operation in index.operations where operation.outcome == .ok {
            guard operation.kind == .commitOffset || operation.kind == .readOffset,
                let group = operation.invoke.group, let offset = operation.value(\.offset)
            else { continue }
            let key = "group \(group) \(operation.invoke.topic ?? "")/\(operation.invoke.partition ?? 0)"
            let isRead = operation.kind == .readOffset
            steps[key, default: []].append(
                Step(t: operation.endT, isRead: isRead, offset: offset, readStartT: operation.invoke.t))
        }
        for event in index.observations(.seek) {
            guard let group = event.group, let offset = event.offset else { continue }
            let key = "group \(group) \(event.topic ?? "")/\(event.partition ?? 0)"
            steps[key, default: []].append(Step(t: event.t, isRead: false, offset: offset, readStartT: event.t))
        }
        var anomalies: [String] = []
        for key in steps.keys.sorted() {
            anomalies.append(
                contentsOf: backwardsReads(
                    key: key,
                    steps: steps[key, default: []].map {
                        ($0.t, $0.isRead, $0.offset, $0.readStartT)
                    }))
        }
        return CheckResult(name: "committed-offsets", anomalies: anomalies)
    }

    /// Reads lower than a commit that completed before the read began. Commits are applied in completion
    /// order; a seek (recorded as a non-read step without a prior read) resets the floor.
    private func backwardsReads(key: String, steps: [(Int64, Bool, Int64, Int64)]) -> [String] {
        let commits = steps.filter { !$0.1 }.sorted { $0.0 < $1.0 }
        var anomalies: [String] = []
        for read in steps where read.1 {
            // The floor is the latest commit (or reset) completed before this read was invoked.
            guard let floor = commits.last(where: { $0.0 < read.3 }) else { continue }
            if read.2 < floor.2 {
                anomalies.append(
                    "\(key): read \(read.2) at t=\(ms(read.0)) after commit of \(floor.2) " + "at t=\(ms(floor.0))")
            }
        }
        return anomalies
    }
}
