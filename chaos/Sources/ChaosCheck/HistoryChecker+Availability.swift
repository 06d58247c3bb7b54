extension HistoryChecker {
    /// Times of successful client operations and observations, sorted.
    func successTimes() -> [Int64] {
        var times = index.operations.compactMap { operation -> Int64? in
            guard operation.outcome == .ok, operation.kind != .drain else { return nil }
            return operation.completion?.t
        }
        times.append(contentsOf: index.observations.filter { $0.op == .deliver || $0.op == .consume }.map(\.t))
        return times.sorted()
    }

    /// After the last fault is healed, the longest window without a successful operation stays under the
    /// bound in the header. Every started fault must also have been stopped.
    func checkAvailability() -> CheckResult {
        var anomalies: [String] = []
        var open: [String: Int] = [:]
        for event in index.nemesis {
            let key = "\(event.fault ?? "?")#\(event.opId ?? -1)"
            open[key, default: 0] += event.op == .start ? 1 : (event.op == .stop ? -1 : 0)
        }
        for (key, balance) in open.sorted(by: { $0.key < $1.key }) where balance > 0 {
            anomalies.append("fault \(key) was never healed")
        }
        let endT =
            index.operations(.workloadEnd).first?.invoke.t
            ?? index.observations(.workloadEnd).first?.t ?? index.endT
        // The final heal-everything step runs after the workload; the window is judged from the last heal
        // that happened while clients were still working.
        let healT = index.nemesis.filter { $0.op == .stop && $0.t <= endT }.map(\.t).max() ?? 0
        let times = successTimes()
        let afterHeal = longestGap(times.filter { $0 >= healT && $0 <= endT }, from: healT, to: endT)
        let overall = longestGap(times.filter { $0 <= endT }, from: 0, to: endT)
        let boundNs = index.meta.unavailabilityBoundMs * 1_000_000
        if afterHeal > boundNs {
            anomalies.append(
                "no successful operation for \(ms(afterHeal)) ms after healing at t=\(ms(healT)) "
                    + "(bound \(index.meta.unavailabilityBoundMs) ms)")
        }
        var info: [String: Int64] = [
            "longest-after-heal-ms": ms(afterHeal), "longest-overall-ms": ms(overall),
            "bound-ms": index.meta.unavailabilityBoundMs, "healed-at-ms": ms(healT),
        ]
        for kind in Self.availabilityKinds {
            guard let gap = longestGapAfterHeal(kind, healT: healT, endT: endT) else { continue }
            info["longest-after-heal-\(kind.rawValue)-ms"] = ms(gap)
            if gap >= endT - healT && endT - healT >= Self.recoveryWindowNsMin {
                anomalies.append("no successful \(kind.rawValue) at all in the \(ms(endT - healT)) ms after healing")
            } else if gap > boundNs {
                anomalies.append(
                    "no successful \(kind.rawValue) for \(ms(gap)) ms after healing at t=\(ms(healT)) "
                        + "(bound \(index.meta.unavailabilityBoundMs) ms)")
            }
        }
        return CheckResult(name: "availability", anomalies: anomalies, info: info)
    }

    /// Writes that must each recover on their own after healing: one client stuck on an old sequence
    /// number is unavailable even while other clients succeed.
    static let availabilityKinds: [OpKind] = [.publish, .produce]
    /// Shortest healed period in which a write kind with no success at all counts as never recovered.
    static let recoveryWindowNsMin: Int64 = 5_000_000_000

    /// The longest window after healing without a successful operation of `kind`, if that kind was
    /// attempted after healing at all.
    func longestGapAfterHeal(_ kind: OpKind, healT: Int64, endT: Int64) -> Int64? {
        let operations = index.operations(kind).filter { $0.invoke.t >= healT && $0.invoke.t <= endT }
        guard !operations.isEmpty else { return nil }
        let times = index.operations(kind).compactMap { operation -> Int64? in
            guard operation.outcome == .ok, let t = operation.completion?.t, t >= healT, t <= endT else { return nil }
            return t
        }
        return longestGap(times.sorted(), from: healT, to: endT)
    }

    /// Longest interval in [from, to] not containing any of `times` (sorted).
    func longestGap(_ times: [Int64], from: Int64, to: Int64) -> Int64 {
        guard to > from else { return 0 }
        var previous = from
        var longest: Int64 = 0
        for t in times {
            longest = max(longest, t - previous)
            previous = max(previous, t)
        }
        return max(longest, to - previous)
    }
}
